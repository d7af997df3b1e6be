"""Checkpoints: safetensors weights plus a JSON sidecar (config, step, metrics, format version).

A run directory holds numbered checkpoints and a `latest` file naming the newest. Each checkpoint is
written into a temporary directory, renamed into place, and only then named by `latest` (an atomic
replace), so a crash at any moment leaves the previous checkpoint whole and loadable.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from safetensors.numpy import load_file, save_file

from lpn.config import Config, architecture_diff
from lpn.model import LPN

FORMAT = "lpn-checkpoint"
FORMAT_VERSION = 1
KEEP = 2  # checkpoints kept in a run directory


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read: missing, of an unknown version, or not matching."""


def _named_arrays(tree) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(tree, eqx.is_array))[0]
    return {_name(path): np.asarray(leaf) for path, leaf in leaves}


def _name(path) -> str:
    return jax.tree_util.keystr(path, simple=True, separator=".")


def _fill(template, arrays: dict[str, np.ndarray], where: str):
    """Puts `arrays` into the leaves of `template` (a shape-only model), checking names and shapes."""
    expected = {_name(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(template)[0]}
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{where}: tensors do not match the config (missing {missing[:5]}, unexpected {extra[:5]})")
    for name, want in expected.items():
        if arrays[name].shape != tuple(want.shape):
            raise CheckpointError(f"{where}: tensor {name} has shape {arrays[name].shape}, the config needs {tuple(want.shape)}")
    return jax.tree_util.tree_map_with_path(lambda p, _: jax.numpy.asarray(arrays[_name(p)]), template)


def save_checkpoint(run_dir, model: LPN, *, step: int = 0, opt_state=None, metrics=None, extra=None) -> Path:
    """Writes checkpoint `step` into `run_dir` atomically and returns its directory."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / f"step-{step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=run_dir))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": int(step),
            "config": model.config.to_dict(), "metrics": metrics or {}, **(extra or {})}
    save_file(_named_arrays(model), tmp / "model.safetensors", metadata={"format_version": str(FORMAT_VERSION)})
    if opt_state is not None:
        save_file({f"{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(opt_state))}, tmp / "optimizer.safetensors")
    (tmp / "config.json").write_text(json.dumps(meta, indent=2, default=float))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    pointer = run_dir / ".latest.tmp"
    pointer.write_text(final.name + "\n")
    os.replace(pointer, run_dir / "latest")
    for old in sorted(run_dir.glob("step-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def resolve(path) -> Path:
    """A checkpoint directory from itself or from a run directory (through its `latest`)."""
    path = Path(path)
    if (path / "latest").is_file():
        path = path / (path / "latest").read_text().strip()
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path}: no checkpoint here (expected config.json or a run directory with 'latest')")
    return path


def read_meta(path) -> dict:
    path = resolve(path)
    try:
        meta = json.loads((path / "config.json").read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path / 'config.json'}: not valid JSON ({err})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an lpn checkpoint (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {meta.get('format_version')!r} is unknown; this lpn reads version {FORMAT_VERSION}"
        )
    return meta


def load_checkpoint(path, config: Config | None = None) -> tuple[LPN, dict]:
    """Loads (model, metadata). If `config` is given, its architecture must equal the checkpoint's,
    and the model carries `config` (so training settings may change, e.g. to fine-tune)."""
    path = resolve(path)
    meta = read_meta(path)
    try:
        saved = Config.from_dict(meta["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: config does not fit this lpn ({err})") from None
    if config is not None:
        diff = architecture_diff(saved, config)
        if diff:
            raise CheckpointError(f"{path}: architecture does not match the config; checkpoint vs requested: {diff}")
        saved = config
    template = eqx.filter_eval_shape(LPN, saved, jax.random.key(0))
    model = _fill(template, load_file(path / "model.safetensors"), str(path))
    return model, meta


def load_opt_state(path, template):
    """The optimiser state saved beside the weights, shaped like `template`."""
    file = resolve(path) / "optimizer.safetensors"
    if not file.is_file():
        raise CheckpointError(f"{file}: missing, so training cannot resume from this checkpoint")
    arrays = load_file(file)
    leaves, treedef = jax.tree.flatten(template)
    if len(arrays) != len(leaves):
        raise CheckpointError(f"{file}: {len(arrays)} optimiser tensors, expected {len(leaves)}")
    return jax.tree.unflatten(treedef, [jax.numpy.asarray(arrays[str(i)]) for i in range(len(leaves))])


PRETRAINED_DIR = Path(__file__).parent / "pretrained"
PRETRAINED = {
    "pattern_2d": "2-D latent, 4x4 pattern tasks (the paper's latent-space demo); for the latent explorer",
    "pattern": "latent 32, 10x10 pattern tasks, trained with one inner gradient step (Grad 1)",
    "arc_small": "latent 64, ARC-style 30x30 grids, trained briefly on the procedural families",
}


def pretrained_path(name: str) -> Path:
    """The folder of a shipped checkpoint (see lpn/pretrained/README.md for how each was trained)."""
    if name not in PRETRAINED:
        raise CheckpointError(f"no shipped model named {name!r}; choose one of {', '.join(PRETRAINED)}")
    return PRETRAINED_DIR / name


def load_pretrained(name: str) -> LPN:
    """A model shipped inside the package, loaded offline: "pattern_2d", "pattern" or "arc_small".
    `load_checkpoint(pretrained_path(name))` gives its metadata (step, final metrics) too."""
    return load_checkpoint(pretrained_path(name))[0]


def load_model(path):
    """(model, checkpoint metadata, the checkpoint's absolute directory). A name of a shipped model
    ("pattern_2d", ...) that is not also a path loads that model."""
    if path in PRETRAINED and not Path(path).exists():
        path = pretrained_path(path)
    model, meta = load_checkpoint(path)
    return model, meta, resolve(path).resolve()


def as_loaded(model):
    """The model with its arrays placed as a loaded checkpoint has them (uncommitted, on the default
    device; through the host, the only way to uncommit), so that evaluation during training and
    `lpn eval` afterwards in one process share their compiled programs."""
    import jax.numpy as jnp

    arrays, static = eqx.partition(model, eqx.is_array)
    return eqx.combine(jax.tree.map(jnp.asarray, jax.device_get(arrays)), static)


def read_run(out: Path) -> dict:
    """The run description `lpn train` keeps beside the checkpoints (`run.json`), or {}."""
    try:
        return json.loads((out / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_run(out: Path, cfg: Config, data: str, *, preset: str | None, seed: int, overrides=(),
              fresh: bool = True) -> None:
    """Records the preset, data source, seed, config and `--set` overrides of a run in `run.json`;
    `lpn eval` reads its training sources from it. Unless `fresh`, the run so far keeps its preset
    and adds its data source and overrides to those recorded."""
    run = {} if fresh else read_run(out)
    sources = sorted(set(run.get("train_sources", [])) | {f"generated:{data}"})
    run.update({"preset": run.get("preset", preset), "data": data, "train_sources": sources,
                "seed": seed, "config": cfg.to_dict(),
                "overrides": run.get("overrides", []) + list(overrides or [])})
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".run.json.tmp"
    tmp.write_text(json.dumps(run, indent=2))
    os.replace(tmp, out / "run.json")


def training_sources(meta: dict, checkpoint: Path) -> tuple[list[str], str]:
    """The data a checkpoint was trained on: those named in its metadata and in its run's run.json
    (both, to err on the side of refusing a leak), else assumed generated. Also says where from."""
    found, origins = set(meta.get("train_sources") or []), ["checkpoint metadata"] if meta.get("train_sources") else []
    run = read_run(checkpoint.parent)
    if run.get("train_sources"):
        found |= set(run["train_sources"])
        origins.append(str(checkpoint.parent / "run.json"))
    if not found:
        return ["generated"], "not recorded, so assumed generated"
    return sorted(found), " and ".join(origins)


def check_sources(meta: dict, checkpoint: Path, data: str, allow: bool) -> dict:
    """Refuses (`lpn.tasks.LeakageError`) evaluating on tasks the checkpoint was trained on, unless
    `allow`; prints the training sources, and warnings on stderr. Returns {"train_sources": [...],
    "leaked": {source: [task ids]}} for the results."""
    import sys
    import warnings

    from lpn.tasks import check_leakage
    from lpn.tasks.arc import OFFICIAL_SPLITS

    sources, origin = training_sources(meta, checkpoint)
    print(f"training sources: {', '.join(sources)} ({origin})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        found = check_leakage(sources, data, allow=allow)
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"lpn: warning: {warning.message}", file=sys.stderr)
    for source, ids in found.items():
        if (source, data) not in OFFICIAL_SPLITS:
            print(f"lpn: warning: evaluating anyway (--allow-leakage): {len(ids)} of these tasks are in {source}",
                  file=sys.stderr)
    return {"train_sources": sources, "leaked": found}


def content_hash(path: Path) -> str:
    """The first 12 hex digits of a SHA-1 over a task file, or over a folder's .json files and names."""
    import hashlib

    digest = hashlib.sha1()
    for file in sorted(path.rglob("*.json")) if path.is_dir() else [path]:
        digest.update(str(file.relative_to(path) if path.is_dir() else "").encode() + file.read_bytes())
    return digest.hexdigest()[:12]
