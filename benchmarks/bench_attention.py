"""Plain against blockwise attention in one search step of an ARC-size model, side by side.

One step of gradient search (the objective and its gradient in z, the work `lpn eval` repeats 100
times per task) on two tasks of three random pairs, at several grid sizes, with `attention` forced
to the plain path and to the blockwise path in turn (alternating, repeated; the minimum counts).
The model is the shipped `arc_small` (2 + 2 layers of width 64, 4 heads).

    python benchmarks/bench_attention.py              # 10x10, 15x15, 20x20, 30x30
    python benchmarks/bench_attention.py --sizes 30
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import lpn
import lpn.attention
from lpn.grids import Pair, batch_pairs
from lpn.search import log_prob


def step_seconds(model, spec, z, repeats):
    step = jax.jit(jax.vmap(jax.value_and_grad(lambda z, pairs: log_prob(model, z, pairs))))
    compiled = step.lower(z, spec).compile()
    jax.block_until_ready(compiled(z, spec))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(z, spec))
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 15, 20, 30])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model = lpn.load_pretrained("arc_small")
    rng = np.random.default_rng(0)
    print(
        f"arc_small, one search step (value and gradient in z), 2 tasks x 3 pairs; "
        f"{jax.devices()[0].platform}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'grid':>6} {'tokens':>7} {'plain ms':>9} {'blockwise ms':>13} {'speed-up':>9}")
    for side in args.sizes:
        pairs = [
            [
                Pair(
                    rng.integers(0, 10, (side, side)).astype(np.uint8),
                    rng.integers(0, 10, (side, side)).astype(np.uint8),
                )
                for _ in range(3)
            ]
            for _ in range(2)
        ]
        spec = jax.tree.map(jnp.asarray, batch_pairs(pairs, side, side, 3))
        z = jnp.zeros((2, model.config.latent_dim))
        best = {"plain": float("inf"), "blockwise": float("inf")}
        default = lpn.attention.BLOCKWISE_FROM
        try:
            for _ in range(2):  # alternate, so that a change of load hits both
                for name, threshold in (("plain", 10**9), ("blockwise", 1)):
                    lpn.attention.BLOCKWISE_FROM = threshold
                    best[name] = min(best[name], step_seconds(model, spec, z, args.repeats))
        finally:
            lpn.attention.BLOCKWISE_FROM = default
        print(
            f"{side:>3}x{side:<2} {2 * side * side + 5:>7} {best['plain'] * 1e3:9.1f} "
            f"{best['blockwise'] * 1e3:13.1f} {best['plain'] / best['blockwise']:8.2f}x",
            flush=True,
        )
    print(f"`attention` uses the blockwise path from {lpn.attention.BLOCKWISE_FROM} tokens")


if __name__ == "__main__":
    main()
