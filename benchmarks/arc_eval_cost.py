"""What `lpn eval MODEL --data arc-agi-1/evaluation --search gradient --steps 100` costs, size by size.

`predict_tasks` pads each task to the smallest size bucket its grids fit (5, 10, ..., 30 cells a
side). This times, for each bucket, a few of the evaluation set's tasks twice (the first call
compiles), and projects the whole set's run time from the per-task cost and the bucket's count.
Buckets not timed (see --largest) are projected from the largest timed one by the s^4 rule, which
attention over 2·s² tokens follows (measured: the 20-bucket costs 3.05x the 15-bucket, s^4 says 3.16).

    python benchmarks/arc_eval_cost.py --model arc_small --largest 20
"""

import argparse
import collections
import time

import jax

import lpn
from lpn.evaluate import _bucket, _needed_side, _predict_padded
from lpn.search import default_optimizer, gradient_search
from lpn.tasks.arc import load_arc


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="arc_small", help="a shipped model name or a checkpoint")
    parser.add_argument("--data", default="arc-agi-1/evaluation")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--per-bucket", type=int, default=2, help="tasks timed per bucket")
    parser.add_argument("--largest", type=int, default=30, help="largest bucket side to time (the rest are projected)")
    args = parser.parse_args()

    if args.model in lpn.checkpoint.PRETRAINED:
        model = lpn.load_pretrained(args.model)
    else:
        model = lpn.checkpoint.load_checkpoint(args.model)[0]
    cfg = model.config
    dataset = load_arc(args.data)
    groups = collections.defaultdict(list)
    for task in dataset.tasks:
        groups[_bucket(_needed_side(task), cfg)].append(task)
    options = {"steps": args.steps, "optimizer": default_optimizer(cfg.search_lr)}
    print(
        f"{args.data} ({dataset.version}), {len(dataset.tasks)} tasks; {args.model}; gradient search, "
        f"{args.steps} steps; {jax.devices()[0].platform}"
    )
    print(f"{'bucket':>8} {'tasks':>6} {'compile+run s':>14} {'s per task':>11} {'bucket total s':>15}")
    per_task, total, timed = {}, 0.0, None
    for size in sorted(groups):
        sample, count = groups[size][: args.per_bucket], len(groups[size])
        if size[0] <= args.largest:
            start = time.perf_counter()
            _predict_padded(model, sample, jax.random.key(0), gradient_search, len(sample), size, options)
            first = time.perf_counter() - start
            start = time.perf_counter()
            _predict_padded(model, sample, jax.random.key(1), gradient_search, len(sample), size, options)
            per_task[size] = (time.perf_counter() - start) / len(sample)
            timed = size
            note = f"{first:14.1f}"
        else:
            per_task[size] = per_task[timed] * (size[0] * size[1] / (timed[0] * timed[1])) ** 2
            note = f"{'projected':>14}"
        total += count * per_task[size]
        print(
            f"{size[0]:>5}x{size[1]:<2} {count:>6} {note} {per_task[size]:11.1f} {count * per_task[size]:15.0f}",
            flush=True,
        )
    print(f"projected run time for all {len(dataset.tasks)} tasks: {total / 3600:.1f} h (compilation not included)")


if __name__ == "__main__":
    main()
