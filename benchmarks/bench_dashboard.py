"""What the training dashboard costs training: the same `pattern_2d` run with and without
`lpn.widgets.training_dashboard` as its callback, side by side in one process (issue 4: "costing
training no more than a few percent").

    python benchmarks/bench_dashboard.py [--steps 400] [--chunk 50]
"""

import argparse
import time

from lpn import PRESETS, pattern_tasks
from lpn.train import train
from lpn.widgets import training_dashboard


def timed(cfg, steps, chunk, callback):
    start = time.perf_counter()
    train(cfg, steps, chunk=chunk, callback=callback, progress=False)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--samples-every-s", type=float, default=10.0, help="the dashboard's default")
    args = parser.parse_args()
    cfg = PRESETS["pattern_2d"].replace(batch_size=32)
    timed(cfg, args.chunk, args.chunk, None)  # compile once
    tasks = pattern_tasks(0, cfg, 4)
    for every in (args.samples_every_s, 0.0):
        plain, shown, share = [], [], []
        for _ in range(args.repeats):  # interleaved, so load drifts hit both
            dashboard = training_dashboard(tasks, samples_every_s=every)
            plain.append(timed(cfg, args.steps, args.chunk, None))
            shown.append(timed(cfg, args.steps, args.chunk, dashboard))
            share.append(dashboard.spent_s / shown[-1])
        print(
            f"pattern_2d, batch 32, {args.steps} steps in chunks of {args.chunk}, sample predictions at most "
            f"every {every:g} s: without dashboard {min(plain):.1f} s, with {min(shown):.1f} s "
            f"(overhead {min(shown) / min(plain) - 1:+.1%}); time inside the callback {min(share):.1%}"
        )


if __name__ == "__main__":
    main()
