"""`lpn/model.py` at a git revision against the working tree's, timed side by side in one process.

For changes to the model's speed: both versions run the same workload, alternating round by round
(these machines are noisy), and the script prints each one's best time, their ratio, and the median
of the rounds' ratios (each round times both back to back). Only `model.py` is swapped; the
search, training and task code are the working tree's for both.

    python benchmarks/ab_model.py --baseline HEAD~1                  # search and pattern_2d training
    python benchmarks/ab_model.py --baseline HEAD~1 --only search --rounds 5

Workloads: `search` is bench_core's 100-step gradient search over 32 pattern_2d tasks; `pattern_2d`
and `pattern` are training steps at batch 128 (bench_core's `train_chunk` timing). All use every
local device, as lpn does by default.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import jax

import lpn.model
import lpn.train
from lpn.config import PRESETS

sys.path.insert(0, str(Path(__file__).parent))
import bench_core  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def load_model_at(revision: str):
    """The module lpn/model.py as it was at `revision`, imported under its own name."""
    source = subprocess.run(
        ["git", "show", f"{revision}:lpn/model.py"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_model.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_model", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_model"] = module  # dataclasses (equinox modules) look their module up
    spec.loader.exec_module(module)
    return module


def time_workload(name: str, model_module) -> float:
    """Seconds for one `search` call or one training step, with `model_module`'s LPN."""
    bench_core.LPN = lpn.train.LPN = model_module.LPN
    if name == "search":
        return bench_core.bench_search(100, 32, 5, jax.devices())["best_s"]
    cfg = PRESETS[name].replace(batch_size=128)
    steps = 5 if name == "pattern_2d" else 2
    return bench_core.bench_training(name, cfg, steps, 3, tuple(jax.devices()))["s_per_step"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="git revision whose lpn/model.py is the baseline")
    parser.add_argument(
        "--only", nargs="+", choices=["search", "pattern_2d", "pattern"], default=["search", "pattern_2d"]
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternations of baseline and working tree")
    args = parser.parse_args(argv)
    versions = {args.baseline: load_model_at(args.baseline), "working tree": lpn.model}
    print(f"{len(jax.devices())} device(s); baseline lpn/model.py at {args.baseline}", flush=True)
    for workload in args.only:
        best, ratios = {}, []
        for round_ in range(args.rounds):
            seconds = {label: time_workload(workload, module) for label, module in versions.items()}
            for label, s in seconds.items():
                best[label] = min(best.get(label, float("inf")), s)
            ratios.append(seconds[args.baseline] / seconds["working tree"])
            print(
                f"  {workload} round {round_}: "
                + ", ".join(f"{k} {v:.4f} s" for k, v in seconds.items())
                + f": {ratios[-1]:.3f}x",
                flush=True,
            )
        print(
            f"{workload}: baseline {best[args.baseline]:.4f} s, working tree {best['working tree']:.4f} s "
            f"(best of {args.rounds} rounds): {best[args.baseline] / best['working tree']:.3f}x; "
            f"median of the rounds' ratios {statistics.median(ratios):.3f}x"
        )


if __name__ == "__main__":
    main()
