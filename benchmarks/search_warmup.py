"""Does a warm-up of the search's learning rate help? Adam at a constant rate against the same
Adam whose rate rises linearly from `lr / warmup` to `lr` over the first `warmup` steps, on the
same tasks, keys and starts, at equal decoder evaluations (every step costs the same).

Adam's first update moves every latent coordinate by about the full rate (its step is the
gradient divided by its own magnitude), so at a rate of 0.1 the first step of a search that
starts in a narrow basin overshoots: in `lpn demo` the objective drops at step 1 for most tasks
and recovers over the next steps. This measures how often the objective drops at step 1 under
each schedule, and the exact-match accuracy of the best latent at several budgets. It reports;
the default optimiser is not tuned to it.

    python benchmarks/search_warmup.py --model pattern_2d --tasks 256 --warmup 10
    python benchmarks/search_warmup.py --model pattern --tasks 128 --warmup 10
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import lpn
from lpn.evaluate import split_query
from lpn.model import generate
from lpn.pattern import pattern_batch
from lpn.search import gradient_search, truncate


def program(optimizer, steps: int, budgets: tuple[int, ...]):
    """One jitted program: each task's search, and whether each budget's best latent (the search
    cut to that many steps) decodes the query exactly; plus the objective at steps 0 and 1."""

    @eqx.filter_jit
    def run(model, batch, keys):
        spec, query = split_query(batch)

        def one(pairs, q, key):
            trace = gradient_search(model, pairs, key, steps=steps, optimizer=optimizer)
            solved = []
            for budget in budgets:
                grid, shape = generate(model, truncate(trace, budget).best, q.inputs, q.input_shapes)
                solved.append(jnp.all(grid == q.outputs) & jnp.all(shape == q.output_shapes))
            return jnp.stack(solved), trace.scores[:2, 0]

        return jax.vmap(one)(spec, query, keys)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pattern_2d", help="a shipped model name or a checkpoint")
    parser.add_argument("--tasks", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lr", type=float, default=None, help="the peak rate (default: the model's search_lr)")
    parser.add_argument("--warmup", type=int, default=10, help="steps of the linear warm-up")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from lpn.checkpoint import PRETRAINED, load_checkpoint

    model = lpn.load_pretrained(args.model) if args.model in PRETRAINED else load_checkpoint(args.model)[0]
    cfg = model.config
    lr = cfg.search_lr if args.lr is None else args.lr
    budgets = tuple(b for b in (1, 5, 10, 25, 50, 100) if b <= args.steps)
    schedules = {
        "constant": optax.adam(lr, b2=0.9),
        f"warm-up {args.warmup}": optax.adam(optax.linear_schedule(lr / args.warmup, lr, args.warmup), b2=0.9),
    }
    key = jax.random.key(args.seed)
    batch = pattern_batch(jax.random.fold_in(key, 0), cfg, args.tasks, num_pairs=cfg.num_pairs + 1)
    keys = jax.random.split(jax.random.fold_in(key, 1), args.tasks)
    print(f"{args.model}: {args.tasks} tasks, Adam (b2 0.9) at {lr}, {args.steps} steps, seed {args.seed}")
    results = {}
    for name, optimizer in schedules.items():
        run = program(optimizer, args.steps, budgets)
        start = time.perf_counter()
        solved, first_two = jax.device_get(run(model, batch, keys))
        results[name] = (np.asarray(solved).mean(0), np.asarray(first_two), time.perf_counter() - start)
    header = "schedule".ljust(14) + "drop at step 1  mean drop  " + "  ".join(f"top-1@{b:<3}" for b in budgets)
    print(header)
    for name, (accuracy, first_two, _) in results.items():
        drop = first_two[:, 0] - first_two[:, 1]
        print(
            name.ljust(14)
            + f"{np.mean(drop > 1e-3):>14.1%}  {np.mean(drop):>9.3f}  "
            + "  ".join(f"{a:>9.1%}" for a in accuracy)
        )
    (a, _, _), (b, _, _) = results.values()
    print(
        "difference (warm-up - constant), points: "
        + ", ".join(f"@{k} {100 * (y - x):+.1f}" for k, x, y in zip(budgets, a, b))
    )


if __name__ == "__main__":
    main()
