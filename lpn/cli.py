"""The `lpn` command line: parameter counts, training, ARC-style evaluation, solving one task in the
terminal, and the procedural task families. Run `lpn --help`, or `lpn COMMAND --help`.

Each command is a thin layer over the library (`lpn.train.train`, `lpn.evaluate`, `lpn.scoring`,
`lpn.tasks`), imported by the command that needs it. Every failure is one line, `lpn: error: ...`,
on stderr and a non-zero exit status; set LPN_DEBUG=1 for the traceback instead. Compiled XLA
programs are kept on disk between commands (see `use_compile_cache`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import shutil
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

GENERATED = ("pattern", "procedural", "strings")
SEARCHES = ("none", "gradient", "prior-gradient", "random", "local", "sampling")
# The paper's reported sizes (lpn-paper.md §1.6): about 4x the true counts, as the authors counted a
# parameter tree replicated on 4 TPU devices.
PAPER_COUNTS = {"pattern_2d": "1M (Tab. 14)", "pattern": "973k (Tab. 13)", "pattern_ood": "1M (Tab. 15)",
                "arc": "178M (Tab. 16)"}


class UsageError(Exception):
    """A command line that cannot run as given."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors raised, so `main` prints them as one line like every other error."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def cmd_params(args) -> None:
    import equinox as eqx
    import jax

    from lpn.config import PRESETS
    from lpn.model import LPN, num_params

    print(f"{'preset':<12} {'grid':>6} {'latent':>6} {'parameters':>12} {'4 x parameters':>15}  paper reports")
    for name, cfg in PRESETS.items():
        count = num_params(eqx.filter_eval_shape(LPN, cfg, jax.random.key(0)))
        grid = f"{cfg.max_rows}x{cfg.max_cols}"
        print(f"{name:<12} {grid:>6} {cfg.latent_dim:>6} {count:>12,} {4 * count:>15,}  {PAPER_COUNTS.get(name, '-')}")
    print("\nThe paper's figures are about 4x the true counts: the authors counted the parameter tree "
          "replicated\non 4 TPU devices (lpn-paper.md §1.6). The ARC model has about 44.6M parameters, not 178M.")


def parse_value(raw: str, kind: type, name: str):
    """`raw` as the type of Config field `name` (bool, int or float)."""
    text = raw.strip()
    try:
        if kind is bool:
            words = {"true": True, "1": True, "yes": True, "on": True,
                     "false": False, "0": False, "no": False, "off": False}
            return words[text.lower()]
        if kind is int:
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        return kind(text)
    except (KeyError, ValueError):
        wants = {bool: "true or false", int: "an integer", float: "a number"}[kind]  # str takes any text
        raise UsageError(f"--set {name}={raw}: {name} takes {wants}, got {raw!r}") from None


def apply_overrides(cfg, items):
    """`cfg` with `--set key=value` items applied, each value converted to its field's type."""
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    changes = {}
    for item in items or ():
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"--set {item!r}: expected key=value, e.g. --set learning_rate=1e-3 batch_size=32")
        if name not in defaults:
            raise UsageError(f"--set {name}: unknown config field; known fields: {', '.join(defaults)}")
        changes[name] = parse_value(raw, type(defaults[name]), name)
    try:
        return cfg.replace(**changes)
    except ValueError as err:
        raise UsageError(f"--set: {err}") from None


def generated_tasks(cfg, data: str, rng, n: int, num_test: int):
    """`n` tasks of `cfg.num_pairs` pairs plus `num_test` from a host generator, sized to the model:
    procedural families with grids up to the model's side, or string sequences as 1 x max_cols grids."""
    from lpn.tasks import sample_string_tasks, sample_tasks

    if data == "procedural":
        side = min(cfg.max_rows, cfg.max_cols)
        return sample_tasks(rng, n, num_pairs=cfg.num_pairs, num_test=num_test, max_side=side)
    return sample_string_tasks(rng, n, length=cfg.max_cols, num_pairs=cfg.num_pairs, num_test=num_test)


def host_batches(cfg, data: str, seed):
    """An endless stream of numpy `Batch`es of `cfg.batch_size` tasks (for `train(host_batches=...)`)."""
    from lpn.grids import batch_tasks

    rng = np.random.default_rng(seed)
    while True:
        tasks = generated_tasks(cfg, data, rng, cfg.batch_size, num_test=0)
        yield batch_tasks(tasks, cfg.max_rows, cfg.max_cols, cfg.num_pairs)


def query_batch(cfg, data: str, seed: int, n: int, density=None, pairs=None):
    """`n` fresh tasks of `pairs` specification pairs (default `cfg.num_pairs`, the training tasks'
    count) plus a last one, the query (for `evaluate_batch`)."""
    import jax

    from lpn.grids import batch_pairs
    from lpn.pattern import pattern_batch

    pairs = cfg.num_pairs if pairs is None else pairs
    if data == "pattern":
        return pattern_batch(jax.random.key(seed), cfg, n, num_pairs=pairs + 1, density=density)
    tasks = generated_tasks(cfg.replace(num_pairs=pairs), data, np.random.default_rng(seed), n, num_test=1)
    return batch_pairs([t.train + t.test for t in tasks], cfg.max_rows, cfg.max_cols, pairs + 1)


def use_compile_cache() -> None:
    """Keeps XLA's compiled programs on disk between commands (a repeated `lpn solve` starts in
    seconds): in $LPN_COMPILE_CACHE, default ~/.cache/lpn/xla; LPN_COMPILE_CACHE= turns it off.
    A cache the caller configured already (e.g. the tests') is left alone."""
    import jax

    folder = os.environ.get("LPN_COMPILE_CACHE", str(Path.home() / ".cache" / "lpn" / "xla"))
    if folder and not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def search_method(name: str, cfg, steps: int = 100, lr=None, samples=None):
    """(method, options, settings): a search function of `lpn.search`, its keyword options, and a
    JSON-able description of both."""
    from lpn import search

    lr = cfg.search_lr if lr is None else lr
    if name == "none":
        return search.no_search, {}, {"search": name}
    if name in ("gradient", "prior-gradient"):
        options = {"steps": steps, "optimizer": search.default_optimizer(lr)}
        if name == "prior-gradient":
            options["from_prior"] = True
        return search.gradient_search, options, {"search": name, "steps": steps, "lr": lr, "optimizer": "adam(b2=0.9)"}
    if name == "local":
        return search.local_search, {"steps": steps}, {"search": name, "steps": steps}
    num = samples or (250 if name == "random" else 100)
    method = search.random_search if name == "random" else search.encoder_sampling
    return method, {"num_samples": num}, {"search": name, "samples": num}


def describe(settings: dict) -> str:
    rest = ", ".join(f"{k} {v}" for k, v in settings.items() if k not in ("search", "optimizer"))
    return settings["search"] + (f" ({rest})" if rest else "")


def training_plan(args):
    """(config, run directory, data source, first step) from the train arguments, checked."""
    from lpn.checkpoint import read_meta
    from lpn.config import Config, architecture_diff, get_preset
    from lpn.tasks.family import MIN_SIDE
    from lpn.train import learning_rate_schedule

    preset = get_preset(args.preset) if args.preset else None
    if args.out is None and preset is None:
        raise UsageError("lpn train needs --preset NAME (or --resume with --out DIR)")
    out = Path(args.out or Path("runs") / args.preset)
    run = read_run(out)
    if args.resume:
        if args.time_budget is not None:
            raise UsageError("--time-budget fits a fresh run; resume a fitted run with --steps (its checkpoint "
                             "keeps the fitted schedule)")
        meta = read_meta(out)
        base, start = Config.from_dict(meta["config"]), int(meta["step"])
        diff = architecture_diff(preset, base) if preset else {}
        if diff:
            raise UsageError(f"--preset {args.preset} does not match the checkpoint in {out} "
                             f"(preset vs checkpoint: {diff})")
    else:
        if (out / "latest").exists():
            raise UsageError(f"{out} already holds a training run; pass --resume to continue it, "
                             f"or --out DIR to start another")
        base, start = preset, 0
    data = args.data or run.get("data", "pattern")
    cfg = apply_overrides(base, args.set)
    changed = architecture_diff(base, cfg) if args.resume else {}
    if changed:
        raise UsageError(f"--set changes the architecture of the run in {out} (checkpoint vs requested: {changed}); "
                         f"a resumed run keeps its architecture")
    try:
        learning_rate_schedule(cfg)
    except ValueError as err:
        raise UsageError(f"--set: {err}") from None
    if data == "procedural" and min(cfg.max_rows, cfg.max_cols) < MIN_SIDE:
        raise UsageError(f"--data procedural needs grids of at least {MIN_SIDE} cells per side; this config has "
                         f"{cfg.max_rows}x{cfg.max_cols} (use --data pattern or strings, or a larger preset)")
    return cfg, out, data, start


def read_run(out: Path) -> dict:
    """The run description the CLI keeps beside the checkpoints (`run.json`), or {}."""
    try:
        return json.loads((out / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_run(out: Path, args, cfg, data: str, fresh: bool) -> None:
    """Records the preset, data and config of a run; `lpn eval` reads its training sources from it.
    A resumed run adds its data source to those of the run so far."""
    run = {} if fresh else read_run(out)
    sources = sorted(set(run.get("train_sources", [])) | {f"generated:{data}"})
    run.update({"preset": run.get("preset", args.preset), "data": data, "train_sources": sources,
                "seed": args.seed, "config": cfg.to_dict(),
                "overrides": run.get("overrides", []) + list(args.set or [])})
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".run.json.tmp"
    tmp.write_text(json.dumps(run, indent=2))
    os.replace(tmp, out / "run.json")


def make_eval_fn(cfg, data: str, args):
    """Top-1 on fresh tasks with the mean latent and with gradient search, for `train(eval_fn=...)`."""
    import jax

    from lpn.evaluate import evaluate_batch

    batch = query_batch(cfg, data, 1_000_003 + args.seed, args.eval_tasks, pairs=args.eval_pairs)
    key = jax.random.key(args.seed)
    method, options, _ = search_method("gradient", cfg, args.eval_search_steps)

    def eval_fn(model):
        model = as_loaded(model)
        mean = evaluate_batch(model, batch, key)
        searched = evaluate_batch(model, batch, key, method, **options)
        return {"top1_mean_latent": mean["top1"], "top1_gradient": searched["top1"], "top2_gradient": searched["top2"]}

    return eval_fn


def as_loaded(model):
    """The model with its arrays placed as a loaded checkpoint has them (uncommitted, on the default
    device; through the host, the only way to uncommit), so that evaluation during training and
    `lpn eval` afterwards in one process share their compiled programs."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    arrays, static = eqx.partition(model, eqx.is_array)
    return eqx.combine(jax.tree.map(jnp.asarray, jax.device_get(arrays)), static)


def format_metrics(values: dict, search_steps: int) -> str:
    text = f"loss {values['loss']:.4f}, reconstruction {values['reconstruction']:.4f}, kl {values['kl']:.4g}"
    if "top1_mean_latent" in values:
        text += (f"; top-1 mean latent {values['top1_mean_latent']:.1%}, gradient search ({search_steps} steps) "
                 f"{values['top1_gradient']:.1%} (pass@2 {values['top2_gradient']:.1%})")
    return text


def cmd_train(args) -> None:
    import equinox as eqx
    import jax
    from tqdm.auto import tqdm

    from lpn.model import LPN, num_params
    from lpn.train import train

    use_compile_cache()
    cfg, out, data, start = training_plan(args)
    batches = None
    if data != "pattern":
        batches = host_batches(cfg, data, [args.seed, start])
        batches = itertools.chain([next(batches)], batches)  # a generator that cannot fit fails before compiling
    eval_fn = make_eval_fn(cfg, data, args) if args.eval_every else None
    count = num_params(eqx.filter_eval_shape(LPN, cfg, jax.random.key(0)))
    devices = jax.local_devices()
    name = args.preset or read_run(out).get("preset") or "run"
    print(f"lpn train: {name}, {count:,} parameters, data {data}, {len(devices)} {devices[0].platform} "
          f"device(s), batch {cfg.batch_size}, checkpoints in {out}" + (f", resuming at step {start}" if start else ""))
    if args.set:
        print(f"  config overrides: {' '.join(args.set)}")
    if start >= args.steps:
        print(f"{out} is already at step {start} (--steps {args.steps}): nothing to do")
        return
    write_run(out, args, cfg, data, fresh=not args.resume)

    def report(step, values, state):
        if "top1_mean_latent" in values:
            tqdm.write(f"step {step}: {format_metrics(values, args.eval_search_steps)}")

    run = read_run(out)  # each checkpoint carries its run's data sources, so a copied one keeps them
    metadata = {"preset": run.get("preset"), "train_sources": run.get("train_sources", [])}
    state, history = train(cfg, args.steps, seed=args.seed, out_dir=out, resume=args.resume, chunk=args.chunk,
                           save_every=args.save_every, eval_every=args.eval_every, eval_fn=eval_fn,
                           callback=report, host_batches=batches, metadata=metadata,
                           time_limit=None if args.time_limit is None else 60 * args.time_limit,
                           time_budget=None if args.time_budget is None else 60 * args.time_budget)
    final, fitted = history[-1], state.model.config
    if args.time_budget is not None and final["step"] < args.steps:
        decay = f", its learning rate decayed by step {fitted.lr_decay_steps}" if fitted.lr_decay_steps else ""
        print(f"fitted to the time budget ({args.time_budget:g} min): {final['step']} of {args.steps} steps{decay}")
    elif final["step"] < args.steps:
        print(f"stopped at step {final['step']} of {args.steps}: the time limit ({args.time_limit:g} min) was reached")
    print(f"final (step {final['step']}): {format_metrics(final, args.eval_search_steps)}")
    print(f"checkpoint: {out} (continue with: lpn train --out {out} --resume --steps N)")


def load_model(path):
    """(model, checkpoint metadata, the checkpoint's absolute directory). A name of a shipped model
    ("pattern_2d", ...) that is not also a path loads that model."""
    from lpn.checkpoint import PRETRAINED, load_checkpoint, pretrained_path, resolve

    if path in PRETRAINED and not Path(path).exists():
        path = pretrained_path(path)
    model, meta = load_checkpoint(path)
    return model, meta, resolve(path).resolve()


def eval_dataset(data: str, cfg):
    """The tasks behind `--data` (an ARC split, a JSON file or a folder) as an `ArcDataset` filtered
    to the model's grid size."""
    from lpn.tasks import load_arc, load_json_tasks
    from lpn.tasks.arc import DATASETS, ArcDataset

    if data in DATASETS:
        dataset = load_arc(data)
    else:
        version = f"user tasks from {data}, sha1 {content_hash(Path(data))}"
        dataset = ArcDataset(data, version, tuple(load_json_tasks(data)))
    return dataset.filter_size(cfg.max_rows, cfg.max_cols)


def check_data_arg(data: str) -> None:
    from lpn.tasks.arc import DATASETS

    if data not in DATASETS and data not in GENERATED and not Path(data).exists():
        raise UsageError(f"--data {data}: not a file or folder, nor one of {', '.join([*DATASETS, *GENERATED])}")


def content_hash(path: Path) -> str:
    """The first 12 hex digits of a SHA-1 over a task file, or over a folder's .json files and names."""
    digest = hashlib.sha1()
    for file in sorted(path.rglob("*.json")) if path.is_dir() else [path]:
        digest.update(str(file.relative_to(path) if path.is_dir() else "").encode() + file.read_bytes())
    return digest.hexdigest()[:12]


def print_report(dataset, shown: int = 20) -> None:
    lines = dataset.report().splitlines()
    print("\n".join(lines[: shown + 1]))
    if len(lines) > shown + 1:
        print(f"  ... and {len(lines) - shown - 1} more skipped (all listed in results.json)")


def training_sources(meta: dict, checkpoint: Path) -> tuple[list[str], str]:
    """The data a checkpoint was trained on: those named in its metadata and in its run's run.json
    (both, to err on the side of refusing a leak), else assumed generated."""
    found, origins = set(meta.get("train_sources") or []), ["checkpoint metadata"] if meta.get("train_sources") else []
    run = read_run(checkpoint.parent)
    if run.get("train_sources"):
        found |= set(run["train_sources"])
        origins.append(str(checkpoint.parent / "run.json"))
    if not found:
        return ["generated"], "not recorded, so assumed generated"
    return sorted(found), " and ".join(origins)


def check_sources(meta: dict, checkpoint: Path, data: str, allow: bool) -> dict:
    """Refuses evaluating on tasks the checkpoint was trained on, unless `allow`; prints warnings.
    Returns {"train_sources": [...], "leaked": {source: [task ids]}} for the results."""
    from lpn.tasks import LeakageError, check_leakage
    from lpn.tasks.arc import OFFICIAL_SPLITS

    sources, origin = training_sources(meta, checkpoint)
    print(f"training sources: {', '.join(sources)} ({origin})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            found = check_leakage(sources, data, allow=allow)
        except LeakageError as err:
            raise LeakageError(str(err).replace("pass allow=True", "pass --allow-leakage")) from None
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"lpn: warning: {warning.message}", file=sys.stderr)
    for source, ids in found.items():
        if (source, data) not in OFFICIAL_SPLITS:
            print(f"lpn: warning: evaluating anyway (--allow-leakage): {len(ids)} of these tasks are in {source}",
                  file=sys.stderr)
    return {"train_sources": sources, "leaked": found}


def cmd_eval(args) -> None:
    import jax

    from lpn.model import num_params

    use_compile_cache()
    check_data_arg(args.data)
    model, meta, checkpoint = load_model(args.checkpoint)
    cfg = model.config
    method, options, settings = search_method(args.search, cfg, args.steps, args.lr, args.samples)
    out = Path(args.out or Path("runs") / "eval" / f"{_slug(args.data)}-{args.search}")
    devices = jax.local_devices()
    head = {"checkpoint": str(checkpoint), "step": meta.get("step"),
            "preset": read_run(checkpoint.parent).get("preset"), "parameters": num_params(model),
            "config": cfg.to_dict(), "search_settings": settings,
            "device": f"{len(devices)} x {devices[0].device_kind} ({devices[0].platform}), {os.cpu_count()} CPU cores"}
    print(f"model: {checkpoint} (step {meta.get('step')}); search: {describe(settings)}")
    if args.data in GENERATED:
        return eval_generated(model, args, method, options, head, out)
    dataset = eval_dataset(args.data, cfg)
    print_report(dataset)
    leakage = check_sources(meta, checkpoint, args.data, args.allow_leakage)
    tasks = list(dataset.tasks[: args.limit])
    if not tasks:
        raise UsageError(f"no task of {args.data} fits the model's {cfg.max_rows}x{cfg.max_cols} grids")
    progress = Progress(out / "progress.json", {"checkpoint": str(checkpoint), "data": args.data,
                                                 "dataset_version": dataset.version, "search_settings": settings,
                                                 "seed": args.seed}, resume=args.resume)
    todo = [t for t in tasks if t.name not in progress.tasks]
    if len(todo) < len(tasks):
        print(f"resuming: {len(tasks) - len(todo)} of {len(tasks)} tasks were predicted before ({progress.path})")
    try:
        if todo:
            predict(model, todo, jax.random.key(args.seed), method, args.batch_size, options, progress.add)
    except KeyboardInterrupt:
        progress.save()
        print(f"lpn: {len(progress.tasks)} of {len(tasks)} tasks saved in {progress.path}; "
              f"the same command with --resume continues", file=sys.stderr)
        raise
    runtime = progress.save()
    predictions, evals = progress.predictions(tasks)
    results = {"data": args.data, "dataset_version": dataset.version, "num_tasks": len(tasks), **head,
               **leakage, "runtime_seconds": runtime, "decoder_evaluations": sum(evals.values()),
               "skipped": [s._asdict() for s in dataset.skipped]}
    results["scores"] = score_and_print(tasks, predictions, dataset.version, args.table, out)
    print(f"runtime {runtime:.1f} s for {len(tasks)} tasks ({sum(evals.values()):,} decoder evaluations)")
    write_results(out, results, predictions)


class Progress:
    """The tasks an ARC evaluation has predicted so far, kept in `path` (rewritten atomically after
    every batch), so that `lpn eval ... --resume` skips them after an interruption. Without
    `resume`, or when the evaluation's settings differ, it starts empty. The run time it records
    adds up the runs, each counted to its last saved batch (or to its end)."""

    def __init__(self, path: Path, settings: dict, resume: bool):
        self.path, self.settings, self.tasks, self.runtime = path, settings, {}, 0.0
        self.started = time.perf_counter()
        if not resume:
            return
        try:
            saved = json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"--resume: no earlier evaluation in {path.parent} (no {path.name})") from None
        except json.JSONDecodeError as err:
            raise UsageError(f"--resume: {path} is not valid JSON ({err})") from None
        if saved.get("settings") != json.loads(json.dumps(settings)):
            raise UsageError(f"--resume: {path} was written by an evaluation with other settings "
                             f"({saved.get('settings')}); drop --resume to start again")
        self.tasks, self.runtime = saved["tasks"], float(saved["runtime_seconds"])

    def add(self, predictions: dict, evals: dict) -> None:
        for name, outputs in predictions.items():
            self.tasks[name] = {"attempts": [[np.asarray(a).tolist() for a in pair] for pair in outputs],
                                "decoder_evaluations": evals[name]}
        self.write(self.elapsed())

    def elapsed(self) -> float:
        """Seconds of the earlier runs plus this one's so far."""
        return self.runtime + time.perf_counter() - self.started

    def save(self) -> float:
        """Writes the total run time so far and returns it."""
        total = self.elapsed()
        self.write(total)
        return total

    def write(self, runtime: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"settings": self.settings, "runtime_seconds": runtime, "tasks": self.tasks}))
        os.replace(tmp, self.path)

    def predictions(self, tasks) -> tuple[dict, dict]:
        return ({t.name: [[np.asarray(a, np.uint8) for a in pair] for pair in self.tasks[t.name]["attempts"]]
                 for t in tasks},
                {t.name: self.tasks[t.name]["decoder_evaluations"] for t in tasks})


def predict(model, tasks, key, method, batch_size, options, on_batch=None):
    from lpn.evaluate import predict_tasks

    return predict_tasks(model, tasks, key, method, batch_size=min(batch_size, len(tasks)), progress=True,
                         on_batch=on_batch, **options)


def score_and_print(tasks, predictions, version: str, table: bool, out: Path):
    """Scores the tasks whose test outputs are known; prints both official averages, labelled."""
    from lpn.scoring import score_predictions

    known = [t for t in tasks if all(p.output is not None for p in t.test)]
    if len(known) < len(tasks):
        print(f"{len(tasks) - len(known)} tasks have unknown test outputs: written to the submission, not scored")
    if not known:
        return None
    score = score_predictions(known, {t.name: predictions[t.name] for t in known})
    print(f"dataset version: {version}")
    print(score.summary())
    if table:
        print(score.table())
    out.mkdir(parents=True, exist_ok=True)
    (out / "tasks.txt").write_text(score.table() + "\n")
    return score.to_dict()


def write_results(out: Path, results: dict, predictions=None) -> None:
    from lpn.scoring import write_submission

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if predictions is not None:
        written.append(write_submission(predictions, out / "submission.json"))
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    written.append(path)
    print("wrote " + ", ".join(map(str, written)))


def eval_generated(model, args, method, options, head: dict, out: Path) -> None:
    """Metrics of the search on fresh generated tasks of the checkpoint's own config."""
    import jax

    from lpn import __version__
    from lpn.evaluate import evaluate_batch

    cfg, n = model.config, args.limit or 256
    batch = query_batch(cfg, args.data, args.seed, n, args.density, args.pairs)
    pairs = batch.inputs.shape[1] - 1  # given pairs; the last slot is the query
    started = time.perf_counter()
    metrics = evaluate_batch(model, batch, jax.random.key(args.seed), method, **options)
    runtime = time.perf_counter() - started
    density = cfg.pattern_density if args.density is None else args.density
    version = f"generated by lpn {__version__} ({args.data}, seed {args.seed}" + (
        f", density {density})" if args.data == "pattern" else ")")
    print(f"{n} fresh {args.data} tasks of {pairs} given pairs and a query, {version}")
    print(f"top-1 exact {metrics['top1']:.2%}, pass@2 {metrics['top2']:.2%}, shape {metrics['shape']:.2%}, "
          f"pixel {metrics['pixel']:.2%}; {metrics['num_evals']:.0f} decoder evaluations per task; {runtime:.1f} s")
    write_results(out, {"data": args.data, "dataset_version": version, "num_tasks": n, "given_pairs": pairs, **head,
                        "runtime_seconds": runtime, "scores": metrics})


def _slug(data: str) -> str:
    """A folder name for results: the ARC split or generator name, or the task file's stem."""
    name = Path(data).stem if Path(data).exists() else data
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.") or "tasks"


def task_that_fits(path: str, cfg):
    from lpn.grids import GridError
    from lpn.tasks import load_json_task
    from lpn.tasks.arc import ArcDataset

    task = load_json_task(path)
    if not task.test:
        raise UsageError(f"{path}: the task has no test input to solve")
    skipped = ArcDataset(path, "", (task,)).filter_size(cfg.max_rows, cfg.max_cols).skipped
    if skipped:
        raise GridError(f"{path}: {skipped[0].reason}")
    return task


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def cmd_solve(args) -> None:
    import jax

    from lpn.evaluate import predict_tasks
    from lpn.report import draw_test, render_blocks, use_colour

    use_compile_cache()
    model, _, checkpoint = load_model(args.checkpoint)
    task = task_that_fits(args.task, model.config)
    method, options, settings = search_method(args.search, model.config, args.steps, args.lr, args.samples)
    predictions, evals = predict_tasks(model, [task], jax.random.key(args.seed), method, batch_size=1, **options)
    colour, width = use_colour(args.no_color), shutil.get_terminal_size((120, 24)).columns
    print(f"task {task.name}: {plural(len(task.train), 'train pair')}, {plural(len(task.test), 'test input')}; "
          f"model {checkpoint}; search {describe(settings)}, {evals[task.name]:,} decoder evaluations")
    for i, pair in enumerate(task.train):
        print(f"\ntrain pair {i}")
        print(render_blocks([("input", pair.input), ("output", pair.output)], colour, width))
    for i, (pair, attempts) in enumerate(zip(task.test, predictions[task.name])):
        print(f"\ntest {i}")
        print(draw_test(pair, attempts, colour, width))


def cmd_tasks_list(args) -> None:
    from lpn.tasks import FAMILIES

    width = max(map(len, FAMILIES))
    for name in sorted(FAMILIES):
        print(f"{name:<{width}}  {FAMILIES[name].doc}")
    print(f"\n{len(FAMILIES)} families; draw one with: lpn tasks gallery NAME --out NAME.png")


def cmd_tasks_gallery(args) -> None:
    from lpn.grids import MAX_SIDE
    from lpn.report import render_gallery
    from lpn.tasks.family import MIN_SIDE

    if not MIN_SIDE <= args.max_side <= MAX_SIDE:
        raise UsageError(f"--max-side must be between {MIN_SIDE} and {MAX_SIDE}, got {args.max_side}")
    out = Path(args.out or f"{args.family}.png")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    path = render_gallery(args.family, out, n_tasks=args.n, seed=args.seed, max_side=args.max_side)
    print(f"wrote {path}")


def paragraph(text: str) -> str:
    """A help paragraph wrapped by hand, since the raw formatters (kept for examples) do not wrap."""
    return textwrap.fill(text, 88)


def whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, 1)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def count(text: str) -> int:
    return whole_number(text, 0)


def add_search_args(parser, steps_help: str) -> None:
    parser.add_argument("--search", choices=SEARCHES, default="gradient",
                        help="test-time search (paper §3): none = the encoder's mean latent; gradient = Adam on "
                             "log p(y|x,z) from the mean latent; prior-gradient = the same from a prior sample; "
                             "random = samples around the mean latent; local = hill-climb; sampling = samples "
                             "from the encoder's posteriors (default gradient)")
    parser.add_argument("--steps", type=count, default=100, help=steps_help)
    parser.add_argument("--lr", type=float, default=None,
                        help="gradient search learning rate (default: the config's search_lr)")
    parser.add_argument("--samples", type=positive_int, default=None,
                        help="candidates for random (default 250) and sampling (default 100)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of the search and of generated tasks (default 0)")


MAIN_HELP = """\
Latent Program Networks in JAX: train, search and evaluate from the shell.

examples:
  lpn params
  lpn train --preset pattern_2d --steps 2000 --eval-every 500
  lpn train --preset pattern --data procedural --set learning_rate=1e-3 batch_size=32
  lpn eval runs/pattern_2d --data pattern --search gradient --steps 100
  lpn eval runs/arc --data arc-agi-1/evaluation --search gradient --steps 100
  lpn solve runs/arc task.json
  lpn tasks gallery gravity --out gravity.png

Failures print one line, `lpn: error: ...`, and exit with status 1 (2 for usage errors);
set LPN_DEBUG=1 to see the traceback. Compiled programs are cached in ~/.cache/lpn/xla
(LPN_COMPILE_CACHE=DIR to move it, LPN_COMPILE_CACHE= to turn it off)."""


def build_parser() -> Parser:
    parser = Parser(prog="lpn", description=MAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")

    p = commands.add_parser("params", help="parameter count of each preset, beside the paper's figure",
                            description="Prints each preset's true parameter count and the paper's reported figure, "
                                        "which is about 4x larger (lpn-paper.md §1.6).")
    p.set_defaults(run=cmd_params)

    add_demo_parser(commands)
    add_train_parser(commands)
    add_eval_parser(commands)
    add_solve_parser(commands)

    p = commands.add_parser("tasks", help="list the procedural task families or draw a gallery of one",
                            description="The procedural ARC-like task families (lpn.tasks).")
    sub = p.add_subparsers(dest="tasks_command", required=True, metavar="ACTION", title="actions")
    q = sub.add_parser("list", help="every family with what its hidden program does")
    q.set_defaults(run=cmd_tasks_list)
    q = sub.add_parser("gallery", help="a PNG of a few tasks of one family",
                       description="Draws N tasks of one family, pairs side by side, into a PNG.")
    q.add_argument("family", help="family name (see `lpn tasks list`)")
    q.add_argument("--out", help="PNG to write (default FAMILY.png)")
    q.add_argument("--n", type=positive_int, default=4, help="number of tasks (default 4)")
    q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    q.add_argument("--max-side", type=int, default=30, help="largest grid side, 6 to 30 (default 30)")
    q.set_defaults(run=cmd_tasks_gallery)
    return parser


def add_demo_parser(commands) -> None:
    p = commands.add_parser(
        "demo", help="the shipped 2-D model solves fresh tasks with and without search; writes an HTML report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraph(
            "Loads the shipped pattern_2d model (no download), draws fresh pattern tasks, solves each from its "
            "mean latent and with gradient search, prints both accuracies, and writes a self-contained HTML "
            "report: task grids with both answers, the 2-D latent landscape of one task with the search's path, "
            "and the objective along every search. Open the report in any browser."),
        epilog="examples:\n  lpn demo\n  lpn demo --seed 7 --tasks 256 --out report.html\n"
               "  lpn demo --model runs/pattern_2d")
    p.add_argument("--out", default="lpn-demo.html", help="HTML report to write (default lpn-demo.html)")
    p.add_argument("--tasks", type=positive_int, default=96, help="fresh tasks to solve (default 96)")
    p.add_argument("--steps", type=count, default=100, help="gradient search steps (default 100)")
    p.add_argument("--seed", type=int, default=None, help="seed of the tasks (default: a new one each run, printed)")
    p.add_argument("--model", default="pattern_2d",
                   help="a shipped model name or a checkpoint of a pattern model (default pattern_2d)")
    p.set_defaults(run=cmd_demo)


def cmd_demo(args) -> None:
    import secrets

    from lpn.demo import run_demo

    use_compile_cache()
    model, meta, checkpoint = load_model(args.model)
    seed = secrets.randbelow(10**6) if args.seed is None else args.seed
    print(f"lpn demo: model {args.model} ({model.config.latent_dim}-D latent, trained {meta.get('step')} steps); "
          f"solving {args.tasks} fresh {model.config.max_rows}x{model.config.max_cols} pattern tasks, seed {seed}")
    result = run_demo(model, num_tasks=args.tasks, steps=args.steps, seed=seed, out=args.out)
    print(f"done in {result.seconds:.1f} s; open {Path(args.out).resolve()} in a browser")


def add_train_parser(commands) -> None:
    p = commands.add_parser(
        "train", help="train a model from a preset, with a progress bar, evaluation and checkpoints",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraph(
            "Trains an LPN (paper §2) from a preset config (see `lpn params`), writing checkpoints to "
            "--out. Every --eval-every steps, and at the end, it reports top-1 accuracy on fresh tasks "
            "with the mean latent and with gradient search."),
        epilog="examples:\n  lpn train --preset pattern_2d --steps 2000\n"
               "  lpn train --preset pattern_2d --steps 4000 --resume\n"
               "  lpn train --preset pattern --set learning_rate=1e-3 batch_size=32 train_search_steps=1")
    p.add_argument("--preset", help="pattern_2d, pattern, pattern_ood or arc (optional with --resume --out)")
    p.add_argument("--steps", type=positive_int, default=1000,
                   help="total training steps, counting those of a resumed run (default 1000)")
    p.add_argument("--out", help="run directory for checkpoints (default runs/PRESET)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its latest checkpoint, with its config (plus any --set)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the model and the data (default 0)")
    p.add_argument("--data", choices=GENERATED, default=None,
                   help="training tasks: pattern (§2.5, generated on the device), procedural (the ARC-like families, "
                        "grids up to the model's side, which must be at least 6) or strings (§4.3, 1 x max_cols "
                        "sequences). Default pattern, or the resumed run's")
    p.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                   help="override config fields, e.g. --set learning_rate=1e-3 batch_size=32 train_search_steps=1")
    p.add_argument("--eval-every", type=count, default=500,
                   help="evaluate every N steps and at the end; 0 turns it off (default 500)")
    p.add_argument("--eval-tasks", type=positive_int, default=256, help="fresh tasks per evaluation (default 256)")
    p.add_argument("--eval-search-steps", type=count, default=100,
                   help="gradient search steps in evaluation (default 100)")
    p.add_argument("--eval-pairs", type=positive_int, default=None,
                   help="given pairs per evaluation task, before its query (default: the config's num_pairs)")
    p.add_argument("--save-every", type=positive_int, default=500,
                   help="checkpoint every N steps and at the end (default 500)")
    p.add_argument("--chunk", type=positive_int, default=50,
                   help="steps per compiled call between progress updates (default 50)")
    timing = p.add_mutually_exclusive_group()
    timing.add_argument("--time-limit", type=positive_float, default=None, metavar="MINUTES",
                        help="stop after this much wall-clock time (compilation included), at the end of a chunk, "
                             "with a checkpoint there; --steps stays the target a later --resume continues to")
    timing.add_argument("--time-budget", type=positive_float, default=None, metavar="MINUTES",
                        help="fit a fresh run to this much wall-clock time (compilation included): after two "
                             "chunks, --steps becomes the steps that fit (at most --steps) and a learning-rate "
                             "decay shrinks with them, so the run ends on time with its decay complete")
    p.set_defaults(run=cmd_train)


def add_eval_parser(commands) -> None:
    p = commands.add_parser(
        "eval", help="score a checkpoint on ARC-AGI, JSON tasks or fresh generated tasks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=paragraph(
            "Searches each task's latent program on its train pairs and predicts two attempts per test "
            "input. ARC data and JSON tasks are filtered to the model's grid size (skipped tasks are "
            "listed), checked for leakage against the checkpoint's training data, scored with the official "
            "pass@2 rule (both the per-task and the per-output average), and written to --out as "
            "submission.json and results.json. Generated data (pattern, procedural, strings) is made fresh "
            "for the checkpoint's config."),
        epilog="examples:\n  lpn eval runs/arc --data arc-agi-1/evaluation --search gradient --steps 100\n"
               "  lpn eval runs/pattern_2d --data pattern --search none\n"
               "  lpn eval runs/arc --data my_tasks/ --search random --samples 500")
    p.add_argument("checkpoint", help="a checkpoint directory, a run directory (its latest checkpoint), or the name "
                   "of a shipped model: pattern_2d, pattern, arc_small")
    p.add_argument("--data", required=True,
                   help="arc-agi-1/training, arc-agi-1/evaluation, arc-agi-2/training, arc-agi-2/evaluation, "
                        "pattern, procedural, strings, or a .json task file or a folder of them")
    add_search_args(p, "gradient or local search steps (default 100)")
    p.add_argument("--limit", type=positive_int, default=None,
                   help="the first N tasks only (generated data: N tasks, default 256)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="tasks searched at once at 10x10 and below (default 16); proportionally fewer for larger grids")
    p.add_argument("--density", type=float, default=None,
                   help="pattern density of generated pattern tasks (OOD study; default the config's)")
    p.add_argument("--pairs", type=positive_int, default=None,
                   help="given pairs per generated task, before its query (default: the config's num_pairs)")
    p.add_argument("--out", help="folder for submission.json and results.json (default runs/eval/DATA-SEARCH)")
    p.add_argument("--table", action="store_true", help="also print a row per task (always written to tasks.txt)")
    p.add_argument("--allow-leakage", action="store_true",
                   help="evaluate even if the training data contains evaluation tasks (reported)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted ARC/JSON evaluation with the same settings and --out: the tasks "
                        "it saved (progress.json, after every batch) are not searched again")
    p.set_defaults(run=cmd_eval)


def add_solve_parser(commands) -> None:
    p = commands.add_parser(
        "solve", help="solve one JSON task and draw its grids in the terminal",
        description=paragraph(
            "Searches the latent program of one ARC JSON task ({\"train\": [...], \"test\": [...]}) and "
            "prints its pairs, both attempts and, if known, the expected output, as coloured grids "
            "(plain digits when the output is not a terminal, with NO_COLOR set, or with --no-color)."))
    p.add_argument("checkpoint", help="a checkpoint directory, a run directory (its latest checkpoint), or the name "
                   "of a shipped model: pattern_2d, pattern, arc_small")
    p.add_argument("task", help="a .json file holding one task")
    add_search_args(p, "gradient or local search steps (default 100)")
    p.add_argument("--no-color", action="store_true", help="print digits instead of colours")
    p.set_defaults(run=cmd_solve)


def one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        text = f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    else:
        text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or type(err).__name__


def expected_errors() -> tuple[type, ...]:
    """Errors that describe bad input rather than a bug (the modules defining them may be unloaded)."""
    known = [UsageError, ValueError, OSError]
    for module, name in (("lpn.checkpoint", "CheckpointError"), ("lpn.train", "TrainingDiverged")):
        if module in sys.modules:
            known.append(getattr(sys.modules[module], name))
    return tuple(known)


def main(argv=None) -> int:
    """Runs one command; returns the exit status (0 ok, 1 failed, 2 bad usage, 130 interrupted)."""
    try:
        args = build_parser().parse_args(argv)
        args.run(args)
        return 0
    except SystemExit as exit:  # --help
        return exit.code if isinstance(exit.code, int) else 0
    except KeyboardInterrupt:
        print("lpn: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("LPN_DEBUG") == "1":
            raise
        if isinstance(err, expected_errors()):
            print(f"lpn: error: {one_line(err)}", file=sys.stderr)
        else:
            print(f"lpn: error: internal error, {type(err).__name__}: {one_line(err)} "
                  f"(rerun with LPN_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1
