"""Checkpoints: safetensors weights plus a JSON sidecar (config, step, metrics, hashes, format version).

A run directory holds numbered checkpoints and a `latest` file naming the newest. Each checkpoint is
written into a temporary directory, renamed into place, and only then named by `latest` (an atomic
replace), so a crash at any moment leaves the previous checkpoint whole and loadable. The folders
are made with `mkdir`, so they honour the umask (`tempfile.mkdtemp` would make them 0700).

Loading trusts nothing it reads; every failure is a `CheckpointError` naming the file and what is
wrong with it:
- `config.json` records every `Config` field and loading fills none with a default (the one
  exception, the fields format 3 added to a format-2 file, is below): each field
  changes the parameters, the training, the generated tasks or the search, so a default that moved
  would silently change what the checkpoint means (a missing `pattern_size` once meant evaluating a
  2x2-pattern model on 4x4 patterns). Unknown fields and values of the wrong type are refused too.
- `config.json` records the SHA-256 of each weights file; loading checks it, so a truncated or
  bit-flipped file is refused instead of predicting garbage. Tensor names, shapes and dtypes must
  be those the config's model has.
- `latest` must hold the plain name of a checkpoint folder inside its own run directory: no path,
  no `..`, no symlink leading out of the run directory.
- Format version 1 (before the hashes) is refused with the command that upgrades it:
  `upgrade_checkpoint` checks the weights load into the config's model, completes the config with
  fields given explicitly (those format 3 added as for format 2, below), and records the hashes of
  the files as they are then.
- Format version 2 (before Sample N and no-encoder training, and `ttt_lr`) loads as it is: its
  config gains exactly the four fields format 3 added (`FORMAT_3_FIELDS`), with the values that
  reproduce its run, as neither mode existed (train_samples=0, train_sample_sigma=0.5 unused,
  train_prior_latents=False) and the TTT rate lpn used before format 3 (ttt_lr=1e-4, the paper's for
  pattern and ARC; a version-2 checkpoint of a `pattern_ood` config gets it too, where a fresh one
  gets the paper's 1e-5 for OOD). A version-2 config lacking any other field, or already recording
  one of the four, is refused. The file stays as it is; the metadata read from it says version 3.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from lpn.config import Config, architecture_diff
from lpn.in_context import ARCHITECTURES, architecture_name
from lpn.model import LPN

FORMAT = "lpn-checkpoint"
FORMAT_VERSION = 3  # 2 added the weights' SHA-256 and a config with every field; 3 added train_samples,
# train_sample_sigma, train_prior_latents and ttt_lr
FORMAT_3_FIELDS = {"train_samples": 0, "train_sample_sigma": 0.5, "train_prior_latents": False, "ttt_lr": 1e-4}
KEEP = 2  # checkpoints kept in a run directory
WEIGHTS, OPTIMIZER, META = "model.safetensors", "optimizer.safetensors", "config.json"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read: missing, of an unknown version, corrupt, or not matching."""


def _named_arrays(tree) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(tree, eqx.is_array))[0]
    return {_name(path): np.asarray(leaf) for path, leaf in leaves}


def _name(path) -> str:
    return jax.tree_util.keystr(path, simple=True, separator=".")


def _check_like(arrays: dict[str, np.ndarray], expected: dict, where) -> None:
    """Refuses `arrays` unless its names, shapes and dtypes are those of `expected` (shape-dtype leaves)."""
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{where}: tensors do not match the model (missing {missing[:5]}, unexpected {extra[:5]})"
        )
    for name, want in expected.items():
        if arrays[name].shape != tuple(want.shape):
            raise CheckpointError(
                f"{where}: tensor {name} has shape {arrays[name].shape}, expected {tuple(want.shape)}"
            )
        if arrays[name].dtype != want.dtype:
            raise CheckpointError(f"{where}: tensor {name} has dtype {arrays[name].dtype}, expected {want.dtype}")


def _fill(template, arrays: dict[str, np.ndarray], where):
    """Puts `arrays` into the leaves of `template` (a shape-only model), checking names, shapes and dtypes."""
    _check_like(arrays, {_name(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(template)[0]}, where)
    return jax.tree_util.tree_map_with_path(lambda p, _: jax.numpy.asarray(arrays[_name(p)]), template)


def _write_tensors(file: Path, arrays: dict[str, np.ndarray]) -> str:
    """Writes `arrays` to `file` as safetensors; returns the file's SHA-256."""
    data = safetensors.numpy.save(arrays, metadata={"format_version": str(FORMAT_VERSION)})
    file.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _read_tensors(file: Path, sha256: str | None) -> dict[str, np.ndarray]:
    """The tensors in `file`, which must be whole: present, a safetensors file, and (unless `sha256`
    is None, when upgrading) the one whose SHA-256 the checkpoint recorded."""
    if not file.is_file():
        raise CheckpointError(f"{file}: missing")
    data = file.read_bytes()
    if not data:
        raise CheckpointError(f"{file}: empty (0 bytes)")
    try:
        arrays = safetensors.numpy.load(data)
    except SafetensorError as err:
        raise CheckpointError(f"{file}: not a safetensors file, or truncated ({len(data):,} bytes; {err})") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise CheckpointError(
            f"{file}: corrupt, its SHA-256 differs from the one recorded in {META} "
            f"(the file changed after it was saved)"
        )
    return arrays


def save_checkpoint(run_dir, model: LPN, *, step: int = 0, opt_state=None, metrics=None, extra=None) -> Path:
    """Writes checkpoint `step` into `run_dir` atomically and returns its directory. The partial
    checkpoints of an earlier save that failed or was killed (`.step-*` folders) are removed first:
    a run folder has one writer (`lpn.runlock`). An OSError (a full disk, a lost mount) removes
    this save's partial folder and names the path it failed on; the previous checkpoint stays."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_partial_checkpoints(run_dir)
    final = run_dir / f"step-{step:08d}"
    tmp = run_dir / f".{final.name}-{uuid.uuid4().hex[:12]}"
    try:
        tmp.mkdir()  # not tempfile.mkdtemp, whose folders are 0700 whatever the umask (the rename keeps the mode)
        sha256 = {WEIGHTS: _write_tensors(tmp / WEIGHTS, _named_arrays(model))}
        if opt_state is not None:
            sha256[OPTIMIZER] = _write_tensors(
                tmp / OPTIMIZER, {f"{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(opt_state))}
            )
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "step": int(step),
            "config": model.config.to_dict(),
            "metrics": metrics or {},
            **(extra or {}),
            "sha256": sha256,
        }
        if not isinstance(model, LPN):  # an LPN checkpoint stays as it was: no key means LPN
            meta["architecture"] = architecture_name(model)
        (tmp / META).write_text(json.dumps(meta, indent=2, default=float) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        pointer = run_dir / ".latest.tmp"
        pointer.write_text(final.name + "\n")
        os.replace(pointer, run_dir / "latest")
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(
            err.errno,
            f"could not save checkpoint {final.name}: {err.strerror or err}"
            f"{f' ({err.filename})' if err.filename else ''}; the run's previous checkpoint stays as it was",
            str(run_dir),
        ) from err
    for old in sorted(run_dir.glob("step-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_partial_checkpoints(run_dir) -> list[Path]:
    """Removes the `.step-*` folders in `run_dir`, the partial checkpoints of saves that failed or
    were killed (a finished save renames its folder into place); returns them."""
    stale = sorted(p for p in Path(run_dir).glob(".step-*") if p.is_dir())
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def resolve(path) -> Path:
    """A checkpoint directory from itself or from a run directory (through its `latest`)."""
    path = Path(path)
    if (path / "latest").is_file():
        path = _follow_latest(path)
    if not (path / META).is_file():
        raise CheckpointError(f"{path}: no checkpoint here (expected {META} or a run directory with 'latest')")
    return path


def _follow_latest(run_dir: Path) -> Path:
    """The checkpoint that `run_dir/latest` names: a plain folder name, of a folder inside `run_dir`."""
    pointer = run_dir / "latest"
    try:
        name = pointer.read_text().strip()
    except UnicodeDecodeError:
        raise CheckpointError(f"{pointer}: not a text file naming a checkpoint") from None
    target = run_dir / name
    if not name or name in (".", "..") or Path(name).name != name or target.resolve().parent != run_dir.resolve():
        raise CheckpointError(
            f"{pointer}: names {name!r}, which is not a checkpoint folder of this run directory "
            f"(it must hold the plain name of one, like step-00000100)"
        )
    return target


def _read_json(file: Path) -> dict:
    try:
        meta = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file}: not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{file}: holds a JSON {type(meta).__name__}, not an object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{file}: not an lpn checkpoint (format {meta.get('format')!r})")
    return meta


def _check_config(meta: dict, file: Path) -> Config:
    if "config" not in meta:
        raise CheckpointError(f"{file}: has no 'config'")
    try:
        return Config.from_dict(meta["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{file}: config does not fit this lpn ({err})") from None


def with_format_3_fields(config):
    """A config of an older format (a dict of its fields) completed with the fields format 3 added,
    each with the value that reproduces the run (`FORMAT_3_FIELDS`), where it lacks them; no other."""
    if not isinstance(config, dict):
        return config  # refused by `_check_config`
    return {**config, **{name: value for name, value in FORMAT_3_FIELDS.items() if name not in config}}


def read_meta(path) -> dict:
    """The checkpoint's metadata (`config.json`), checked: format, version, a complete and well-typed
    config, the step, and the hashes of the weight files (checked against the files by the loaders).
    A version-2 file is read as version 3: its config gains the four fields version 3 added, with the
    values that reproduce its run (`FORMAT_3_FIELDS`), and the returned metadata says version 3."""
    path = resolve(path)
    file = path / META
    meta = _read_json(file)
    version = meta.get("format_version")
    if version == 1:
        raise CheckpointError(
            f"{file}: checkpoint format version 1 records no hash of its weights; upgrade it once with "
            f'python -c "from lpn.checkpoint import upgrade_checkpoint; upgrade_checkpoint({str(path)!r})"'
        )
    if version == 2 and isinstance(meta.get("config"), dict):
        early = [name for name in FORMAT_3_FIELDS if name in meta["config"]]
        if early:
            raise CheckpointError(
                f"{file}: says format version 2, but its config records {', '.join(early)}, "
                f"which version 3 added; the file was edited or written by another tool"
            )
        meta = dict(meta, format_version=FORMAT_VERSION, config=with_format_3_fields(meta["config"]))
    if version not in (2, FORMAT_VERSION):
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r} is unknown; this lpn reads versions 2 and {FORMAT_VERSION}"
        )
    _check_config(meta, file)
    architecture = meta.get("architecture", "lpn")
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        raise CheckpointError(
            f"{file}: 'architecture' is {architecture!r}, which this lpn does not know; "
            f"known: {', '.join(ARCHITECTURES)}"
        )
    step, sha256 = meta.get("step"), meta.get("sha256")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"{file}: 'step' must be a whole number >= 0, got {step!r}")
    if not isinstance(meta.get("metrics"), dict):
        raise CheckpointError(f"{file}: 'metrics' must be an object, got {meta.get('metrics')!r}")
    if (
        not isinstance(sha256, dict)
        or not isinstance(sha256.get(WEIGHTS), str)
        or not all(isinstance(v, str) for v in sha256.values())
    ):
        raise CheckpointError(f"{file}: 'sha256' must map {WEIGHTS} (and {OPTIMIZER}, if saved) to its SHA-256")
    return meta


def load_checkpoint(path, config: Config | None = None) -> tuple[LPN, dict]:
    """Loads (model, metadata). If `config` is given, its architecture must equal the checkpoint's,
    and the model carries `config` (so training settings may change, e.g. to fine-tune). The model's
    class is the one the metadata's "architecture" names in `ARCHITECTURES` (none: `LPN`)."""
    path = resolve(path)
    meta = read_meta(path)
    saved = Config.from_dict(meta["config"])
    if config is not None:
        diff = architecture_diff(saved, config)
        if diff:
            raise CheckpointError(f"{path}: architecture does not match the config; checkpoint vs requested: {diff}")
        saved = config
    template = eqx.filter_eval_shape(ARCHITECTURES[meta.get("architecture", "lpn")], saved, jax.random.key(0))
    model = _fill(template, _read_tensors(path / WEIGHTS, meta["sha256"][WEIGHTS]), path / WEIGHTS)
    return model, meta


def load_opt_state(path, template):
    """The optimiser state saved beside the weights, shaped like `template`."""
    path = resolve(path)
    file = path / OPTIMIZER
    sha256 = read_meta(path)["sha256"].get(OPTIMIZER)
    if sha256 is None:
        raise CheckpointError(
            f"{file}: not saved (or not recorded in {META}), so training cannot resume from this checkpoint"
        )
    leaves, treedef = jax.tree.flatten(template)
    arrays = _read_tensors(file, sha256)
    _check_like(arrays, {f"{i}": leaf for i, leaf in enumerate(leaves)}, file)
    return jax.tree.unflatten(treedef, [jax.numpy.asarray(arrays[str(i)]) for i in range(len(leaves))])


def upgrade_checkpoint(path, **fields) -> Path:
    """Rewrites a format-1 checkpoint's `config.json` as the current format and returns its folder.

    The config is completed with `fields`, which must be exactly the fields it lacks (nothing is filled
    by default: pass the values the run used), except the four that format 3 added, filled as for a
    format-2 checkpoint (`FORMAT_3_FIELDS`) unless given. The weights must load into that config's
    model, and the SHA-256 of each weights file is recorded as the file is now. The weights files stay
    byte-identical.
    """
    path = resolve(path)
    file = path / META
    meta = _read_json(file)
    if meta.get("format_version") != 1:
        raise CheckpointError(f"{file}: format version {meta.get('format_version')!r}; only version 1 is upgraded")
    saved = meta.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{file}: 'config' must be an object, got {type(saved).__name__}")
    given = sorted(set(fields) & set(saved))
    if given:
        raise CheckpointError(f"{file}: the config already records {', '.join(given)}; pass only the fields it lacks")
    lacking = [f for f in Config().to_dict() if f not in saved and f not in fields and f not in FORMAT_3_FIELDS]
    if lacking:
        raise CheckpointError(
            f"{file}: the config lacks {', '.join(lacking)}; pass the values the run used, "
            f"as upgrade_checkpoint(path, {lacking[0]}=...)"
        )
    meta = dict(meta, format_version=FORMAT_VERSION, config=with_format_3_fields({**saved, **fields}))
    cfg = _check_config(meta, file)
    _fill(eqx.filter_eval_shape(LPN, cfg, jax.random.key(0)), _read_tensors(path / WEIGHTS, None), path / WEIGHTS)
    sha256 = {
        name: hashlib.sha256((path / name).read_bytes()).hexdigest()
        for name in (WEIGHTS, OPTIMIZER)
        if (path / name).is_file()
    }
    meta = dict(meta, config=cfg.to_dict(), sha256=sha256)
    tmp = path / f".{META}.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, file)
    read_meta(path)
    return path


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


def write_run(
    out: Path,
    cfg: Config,
    data: str,
    *,
    preset: str | None,
    seed: int,
    overrides=(),
    fresh: bool = True,
    architecture: str = "lpn",
    mix=None,
    augment: bool | None = None,
) -> None:
    """Records the architecture (its `ARCHITECTURES` name), preset, data sources, seed, config and
    `--set` overrides of a run in `run.json`; `lpn eval` reads its training sources from it (ARC
    dataset names and task files' absolute paths as they are, generated ones as "generated:NAME").
    Unless `fresh`, the run so far keeps its preset and adds its data sources and overrides to those
    recorded. `mix` (the sources' weights) and `augment` (of ARC tasks) are kept when given."""
    from lpn.tasks.sources import recorded_sources

    run = {} if fresh else read_run(out)
    sources = sorted(set(run.get("train_sources", [])) | set(recorded_sources(data)))
    run.update({k: v for k, v in (("mix", mix), ("augment", augment)) if v is not None})
    run.update(
        {
            "architecture": architecture,
            "preset": run.get("preset", preset),
            "data": data,
            "train_sources": sources,
            "seed": seed,
            "config": cfg.to_dict(),
            "overrides": run.get("overrides", []) + list(overrides or []),
        }
    )
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
            print(
                f"lpn: warning: evaluating anyway (--allow-leakage): {len(ids)} of these tasks are in {source}",
                file=sys.stderr,
            )
    return {"train_sources": sources, "leaked": found}


def content_hash(path: Path) -> str:
    """The first 12 hex digits of a SHA-1 over a task file, or over a folder's .json files and names."""
    digest = hashlib.sha1()
    for file in sorted(path.rglob("*.json")) if path.is_dir() else [path]:
        digest.update(str(file.relative_to(path) if path.is_dir() else "").encode() + file.read_bytes())
    return digest.hexdigest()[:12]
