"""What a second attempt that differs costs: the old rule against `lpn.evaluate.attempts`.

The old rule decoded two latents, the best and the best one distinct from it in latent space (a
near-twin that almost always decoded to the same grid). `attempts` decodes the search's
`CANDIDATES` best latents (one vmapped decoding) and the best one's runner-up (one more). This
times one jitted search + attempts program per rule on the same tasks, compile and run apart, run
alternately (these machines are noisy), and prints the ratios and how often attempt 2 differs.

    python benchmarks/attempts_cost.py --model pattern --tasks 64 --steps 100
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import lpn
from lpn.evaluate import attempts, split_query
from lpn.model import generate
from lpn.search import gradient_search
from lpn.tasks.sources import query_batch


def old_attempts(model, trace, input_RC, input_shape):
    second = jnp.where(jnp.isfinite(trace.second_score), trace.second, trace.best)
    return jax.vmap(lambda z: generate(model, z, input_RC, input_shape))(jnp.stack([trace.best, second]))


def program(rule, steps):
    @eqx.filter_jit
    def run(model, batch, keys):
        spec, query = split_query(batch)

        def one(pairs, q, key):
            grids, shapes = rule(model, gradient_search(model, pairs, key, steps=steps), q.inputs, q.input_shapes)
            truth = jnp.all(grids == q.outputs, axis=(1, 2)) & jnp.all(shapes == q.output_shapes, axis=1)
            differs = jnp.any(grids[0] != grids[1]) | jnp.any(shapes[0] != shapes[1])
            return truth, differs

        return jax.vmap(one)(spec, query, keys)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pattern", help="a shipped model name or a checkpoint")
    parser.add_argument("--data", default="pattern", help="generated data of the model's size")
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model = (
        lpn.load_pretrained(args.model)
        if args.model in lpn.checkpoint.PRETRAINED
        else lpn.checkpoint.load_checkpoint(args.model)[0]
    )
    batch = jax.tree.map(jnp.asarray, query_batch(model.config, args.data, 0, args.tasks))
    keys = jax.random.split(jax.random.key(0), args.tasks)
    rules = {
        "old: best + distinct latent": program(old_attempts, args.steps),
        "attempts (candidates + runner-up)": program(attempts, args.steps),
    }
    compile_s, run_s, result = {}, {name: [] for name in rules}, {}
    for name, run in rules.items():
        start = time.perf_counter()
        result[name] = jax.block_until_ready(run(model, batch, keys))
        compile_s[name] = time.perf_counter() - start
    for _ in range(args.repeats):
        for name, run in rules.items():
            start = time.perf_counter()
            jax.block_until_ready(run(model, batch, keys))
            run_s[name].append(time.perf_counter() - start)
    print(f"{args.tasks} {args.data} tasks, gradient search {args.steps} steps, model {args.model}")
    print(f"{'rule':<36} {'first call s':>12} {'run s (min)':>12} {'top-1':>7} {'pass@2':>7} {'differs':>8}")
    for name in rules:
        truth, differs = (np.asarray(a) for a in result[name])
        print(
            f"{name:<36} {compile_s[name]:>12.1f} {min(run_s[name]):>12.2f} {truth[:, 0].mean():>7.1%} "
            f"{truth.any(1).mean():>7.1%} {differs.mean():>8.1%}"
        )
    old, new = rules
    print(
        f"ratio new/old: first call {compile_s[new] / compile_s[old]:.2f}x, run {min(run_s[new]) / min(run_s[old]):.2f}x"
    )


if __name__ == "__main__":
    main()
