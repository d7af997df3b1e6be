"""What a run was trained on, and the leakage guard built on it. `lpn train` records a run's
data sources (with its preset, seed, config and overrides) in `run.json` beside its checkpoints
(`write_run`, `read_run`), and each checkpoint carries them in its metadata too. Before `lpn eval`
evaluates a checkpoint, `check_sources` refuses tasks it was trained on (`lpn.tasks.check_leakage`:
ARC datasets and task files that share tasks with the evaluation data), unless allowed, and prints
the training sources and its warnings.
"""

from __future__ import annotations

import json
from pathlib import Path

from lpn.config import Config
from lpn.files import atomic_write


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
    atomic_write(out / "run.json", json.dumps(run, indent=2))


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
