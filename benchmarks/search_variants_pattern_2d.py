"""Does a stronger test-time search rescue a `pattern_2d` model trained for 15 CPU minutes?

Scores one checkpoint on the 256 fresh tasks `train_pattern_2d.py --seed S` scores it on, with the
issue's search (100 Adam steps, lr 0.1) and variants of it: another rate, a decaying rate, more
steps, and extra starts (each pair's own latent, random perturbations of the mean). All rows run
on the same tasks with the same key (`lpn.compare.compare_methods`):

    python benchmarks/train_pattern_2d.py --batch-size 32 --num-pairs 4 --seed 3 --noise-warmup 300 --out runs/p2d-s3
    python benchmarks/search_variants_pattern_2d.py runs/p2d-s3 --seed 3

If every row lands within a point or two of the first, the tasks it misses are the model's
failures, not the search's, and a better recipe, not a bigger search, is what the 90% target needs.
"""

import argparse

import jax
import optax

from lpn import PRESETS, gradient_search, no_search, pattern_batch
from lpn.checkpoint import load_checkpoint
from lpn.compare import SearchMethod, compare_methods
from lpn.search import default_optimizer


def variants() -> list[SearchMethod]:
    adam = default_optimizer(0.1)
    cosine = optax.adam(optax.cosine_decay_schedule(0.1, 100, alpha=0.01), b2=0.9)
    rows = [
        ("mean latent", no_search, {}),
        ("gradient 100, lr 0.1 (the issue's)", gradient_search, {"steps": 100, "optimizer": adam}),
        ("gradient 100, lr 0.3", gradient_search, {"steps": 100, "optimizer": default_optimizer(0.3)}),
        ("gradient 100, lr 0.03", gradient_search, {"steps": 100, "optimizer": default_optimizer(0.03)}),
        ("gradient 100, lr 0.1 cosine to 0.001", gradient_search, {"steps": 100, "optimizer": cosine}),
        ("gradient 300, lr 0.1", gradient_search, {"steps": 300, "optimizer": adam}),
        ("gradient 100 + per-pair starts", gradient_search, {"steps": 100, "optimizer": adam, "per_pair_starts": True}),
        ("gradient 100 + 3 random starts (0.5)", gradient_search,
         {"steps": 100, "optimizer": adam, "num_random_starts": 3}),
        ("gradient 100 + 7 random starts (0.2)", gradient_search,
         {"steps": 100, "optimizer": adam, "num_random_starts": 7, "start_scale": 0.2}),
    ]
    return [SearchMethod(label, method, options) for label, method, options in rows]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint directory, or a run directory (its latest checkpoint)")
    parser.add_argument("--seed", type=int, default=0, help="the training seed: the tasks are those of key 10,000 + seed")
    parser.add_argument("--tasks", type=int, default=256)
    args = parser.parse_args()
    model, meta = load_checkpoint(args.checkpoint)
    batch = pattern_batch(jax.random.key(10_000 + args.seed), PRESETS["pattern_2d"], args.tasks)
    print(f"{args.checkpoint} (step {meta.get('step')})")
    print(compare_methods(model, batch, jax.random.key(1), variants(), progress=True))


if __name__ == "__main__":
    main()
