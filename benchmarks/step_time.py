"""Training-step cost of config variants, timed side by side in one process.

For recipe questions of the form "what does a step of this cost against that": each variant is a
preset plus `key=value` changes (the `lpn train --set` syntax), compiled once, then timed in
alternating rounds of `train_chunk` (these machines are noisy). Prints each variant's best time
a step, tasks and pairs a second, and the median of the rounds' ratios to the first variant.

    python benchmarks/step_time.py "batch_size=64" "batch_size=32" \\
        --set num_pairs=2 micro_batch_size=32          # pattern_2d: 64 tasks a step against 32

Every variant uses every local device, as lpn does by default.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax

from lpn.config import PRESETS, apply_overrides
from lpn.train import init_state, replicate, train_chunk


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "variants", nargs="+", help='each a quoted list of key=value changes, e.g. "batch_size=32"; "" is the preset'
    )
    parser.add_argument("--preset", default="pattern_2d", choices=sorted(PRESETS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="changes applied to every variant")
    parser.add_argument("--steps", type=int, default=200, help="steps a timed chunk")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    try:
        base = apply_overrides(PRESETS[args.preset], args.set)
        configs = {text or "(preset)": apply_overrides(base, text.split()) for text in args.variants}
    except ValueError as err:
        parser.error(str(err))
    states, seconds = {}, {name: [] for name in configs}
    for name, cfg in configs.items():  # compile each, outside the clock
        state, metrics = train_chunk(replicate(init_state(cfg, jax.random.key(0))), cfg, args.steps)
        states[name] = jax.block_until_ready((state, metrics))[0]
    for _ in range(args.rounds):
        for name, cfg in configs.items():
            start = time.perf_counter()
            states[name], metrics = train_chunk(states[name], cfg, args.steps)
            jax.block_until_ready(metrics)
            seconds[name].append((time.perf_counter() - start) / args.steps)

    print(f"{args.preset}, {len(jax.devices())} device(s), {args.rounds} rounds of {args.steps} steps each")
    first = next(iter(configs))
    for name, cfg in configs.items():
        best = min(seconds[name])
        ratio = statistics.median(a / b for a, b in zip(seconds[first], seconds[name]))
        print(
            f"{name:>32}: {best * 1e3:7.1f} ms a step, {cfg.batch_size / best:7.0f} tasks/s, "
            f"{cfg.batch_size * cfg.num_pairs / best:7.0f} pairs/s, {ratio:.2f}x the first's steps/s"
        )


if __name__ == "__main__":
    main()
