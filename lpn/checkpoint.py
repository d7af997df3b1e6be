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
