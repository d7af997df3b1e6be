"""Learning curves of the `pattern_2d` preset under several training recipes (issue 2's CPU target).

The model is the preset's; only training settings change (learning rate, batch size, beta, Grad K).
Every `--eval-every` steps the model is scored on the same 256 fresh tasks: mean latent, 100 Adam
steps of gradient search from it, and the same search with 7 extra random starts. One JSON line per
evaluation goes to `--out`. Run one recipe per process; steps, not seconds, are what transfer
between machines (multiply by the CPU's seconds per step at that batch size):

    python benchmarks/sweep_pattern_2d.py --name lr2e-3 --lr 2e-3 --steps 6000 --out sweep.jsonl
"""

import argparse
import json
import time

import jax

from lpn import PRESETS, evaluate_batch, gradient_search, no_search, pattern_batch
from lpn.train import train
from lpn.search import default_optimizer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--kl", type=float, default=None, help="beta (default: the preset's 1e-3)")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--grad-k", type=int, default=0)
    parser.add_argument("--search-lr", type=float, default=0.1)
    parser.add_argument("--tasks", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    changes = dict(batch_size=args.batch_size, learning_rate=args.lr, train_search_steps=args.grad_k,
                   micro_batch_size=min(32, args.batch_size))
    if args.kl is not None:
        changes["kl_coeff"] = args.kl
    if args.warmup is not None:
        changes["warmup_steps"] = args.warmup
    cfg = PRESETS["pattern_2d"].replace(**changes)
    tasks = pattern_batch(jax.random.key(10_000 + args.seed), cfg, args.tasks)  # never seen in training
    key = jax.random.key(1)
    adam = default_optimizer(args.search_lr)
    start = time.perf_counter()

    def eval_fn(model):
        mean = evaluate_batch(model, tasks, key, method=no_search)
        grad = evaluate_batch(model, tasks, key, method=gradient_search, steps=100, optimizer=adam)
        multi = evaluate_batch(model, tasks, key, method=gradient_search, steps=100, optimizer=adam,
                               num_random_starts=7, start_scale=1.0)
        return {"mean_top1": mean.top1, "grad_top1": grad.top1, "grad_top2": grad.top2,
                "grad_pixel": grad.pixel, "multi_top1": multi.top1, "multi_top2": multi.top2}

    def record(step, values, state):
        if "grad_top1" in values:
            line = {"name": args.name, "step": step, "seconds": round(time.perf_counter() - start, 1),
                    **{k: round(v, 4) for k, v in values.items() if k != "step"}}
            with open(args.out, "a") as f:
                f.write(json.dumps(line) + "\n")
            print(json.dumps(line), flush=True)

    train(cfg, args.steps, seed=args.seed, chunk=min(250, args.eval_every), eval_every=args.eval_every,
          eval_fn=eval_fn, callback=record, progress=False)


if __name__ == "__main__":
    main()
