"""Which programs does a `pattern_2d` model's latent plane hold, and are its misses among the others?

A `pattern_2d` task is one 2x2 pattern of colours 1-9: 9^4 = 6,561 programs, which the decoder must
lay out over a 2-D latent plane. This script decodes a G x G grid of latents over the box that the
encoder's means of the scored tasks span (10% margin each side), for the input whose blue pixel sits
at each of the 9 corners, and reads which patterns come out (shape 4x4, the 2x2 block at the corner
all non-black, every other cell black). Then, on the 256 fresh tasks that `train_pattern_2d.py --seed
S` scores, it runs the issue's search (100 Adam steps, lr 0.1) and splits the tasks it gets right and
wrong by whether the query's output appears anywhere on the plane:

    python benchmarks/latent_coverage_pattern_2d.py runs/p2d-s1 --seed 1
    python benchmarks/latent_coverage_pattern_2d.py pattern_2d --plot maps.png

If the misses are patterns the plane does not hold, no search from any start can find them: they
are the training's. A pattern whose region is narrower than the grid's step counts as absent, so
the held fraction is a lower bound (the "hits absent" column shows how much the grid misses).
"""

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from lpn import PRESETS, gradient_search, pattern_batch
from lpn.cli import load_model
from lpn.evaluate import exact, split_query
from lpn.grids import PALETTE
from lpn.model import encode_pairs, generate
from lpn.search import default_optimizer, search_batch

PLACES = np.array([1000, 100, 10, 1])  # a 2x2 pattern (raster order) as one 4-digit code


def pattern_codes(grids_B44, shapes_B2, corners_B2):
    """The 2x2 block at each corner as a code, or -1 where the grid is not a pattern grid there."""
    rows = corners_B2[:, :1, None] + jnp.arange(2)[None, :, None]
    cols = corners_B2[:, None, 1:] + jnp.arange(2)[None, None, :]
    block = grids_B44[jnp.arange(grids_B44.shape[0])[:, None, None], rows, cols].reshape(-1, 4).astype(jnp.int32)
    rest = grids_B44.astype(jnp.int32).sum((1, 2)) - block.sum(1)
    valid = jnp.all(shapes_B2 == 4, 1) & (rest == 0) & jnp.all(block > 0, 1)
    return jnp.where(valid, block @ jnp.asarray(PLACES), -1)


@eqx.filter_jit
def plane_codes(model, latents_K2, corner):
    """The code decoded at each latent for the input whose blue pixel is at `corner`."""
    grid = jnp.zeros((4, 4), jnp.uint8).at[corner[0], corner[1]].set(1)
    shape = jnp.array([4, 4], jnp.int32)
    grids, shapes = jax.lax.map(lambda z: generate(model, z, grid, shape), latents_K2, batch_size=1024)
    return pattern_codes(grids, shapes, jnp.broadcast_to(corner, (latents_K2.shape[0], 2)))


@eqx.filter_jit
def encoder_means(model, batch):
    return jax.vmap(lambda pairs: encode_pairs(model, pairs)[0])(batch)


@eqx.filter_jit
def decode(model, latents_BH, inputs_BRC, shapes_B2):
    return jax.vmap(lambda z, x, s: generate(model, z, x, s))(latents_BH, inputs_BRC, shapes_B2)


def coverage(model, batch, key, grid_size: int, search_steps: int):
    spec, query = split_query(batch)
    points = np.asarray(encoder_means(model, batch)).reshape(-1, 2)
    lo, hi = points.min(0), points.max(0)
    lo, hi = lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)
    axes = [np.linspace(lo[i], hi[i], grid_size, dtype=np.float32) for i in range(2)]
    latents = jnp.asarray(np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2))

    held, planes = {}, {}
    for r in range(3):
        for c in range(3):
            planes[r, c] = np.asarray(plane_codes(model, latents, jnp.array([r, c]))).reshape(grid_size, grid_size)
            held[r, c] = set(planes[r, c][planes[r, c] >= 0].tolist())

    trace = search_batch(gradient_search, model, spec, key, steps=search_steps, optimizer=default_optimizer(0.1))
    grids, shapes = decode(model, trace.best, query.inputs, query.input_shapes)
    hit = np.asarray(jax.vmap(exact)(grids, shapes, query.outputs, query.output_shapes))
    corners = np.argwhere(np.asarray(query.inputs) == 1)[:, 1:]  # one blue pixel per query input
    truth = np.asarray(pattern_codes(query.outputs, query.output_shapes, jnp.asarray(corners)))
    present = np.array([t in held[tuple(rc)] for t, rc in zip(truth, corners)])
    return {
        "held": np.mean([len(s) for s in held.values()]) / 9**4,
        "search": hit.mean(),
        "misses_absent": np.mean(~present[~hit]) if (~hit).any() else float("nan"),
        "hits_absent": np.mean(~present[hit]) if hit.any() else float("nan"),
        "misses": int((~hit).sum()),
        "box": (lo, hi), "plane": planes[0, 0],
    }


def plot(results: dict, path: str):
    """One row per model: each latent coloured by the colour it decodes in each pattern cell
    (corner (0, 0); black where the output is not a pattern grid)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    arc = ListedColormap(PALETTE)
    fig, axes = plt.subplots(len(results), 4, figsize=(12, 3 * len(results)), squeeze=False)
    for row, (name, result) in enumerate(results.items()):
        codes, (lo, hi) = result["plane"], result["box"]
        for cell in range(4):
            colours = np.where(codes >= 0, codes // PLACES[cell] % 10, 0)
            ax = axes[row, cell]
            ax.imshow(colours.T, origin="lower", cmap=arc, vmin=0, vmax=9, interpolation="nearest",
                      extent=(lo[0], hi[0], lo[1], hi[1]), aspect="auto")
            ax.set_title(f"{name}: cell {cell}" if cell == 0 else f"cell {cell}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+",
                        help="checkpoint or run directories, or the name of a shipped model (pattern_2d)")
    parser.add_argument("--seed", type=int, nargs="+", default=[0],
                        help="training seed of each checkpoint (one for all, or one each): its tasks are those of key 10,000 + seed")
    parser.add_argument("--grid", type=int, default=256, help="latents per side of the plane")
    parser.add_argument("--search-steps", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=256)
    parser.add_argument("--plot", default=None, help="write the plane of each model to this image file")
    args = parser.parse_args()
    seeds = args.seed * len(args.checkpoints) if len(args.seed) == 1 else args.seed
    if len(seeds) != len(args.checkpoints):
        parser.error(f"--seed: {len(seeds)} seeds for {len(args.checkpoints)} checkpoints")

    print(f"| checkpoint | seed | programs on the plane ({args.grid}x{args.grid}) | gradient search | "
          "misses absent from the plane | hits absent |")
    print("|---|---|---|---|---|---|")
    results = {}
    for path, seed in zip(args.checkpoints, seeds):
        model, _, _ = load_model(path)
        if model.config.latent_dim != 2 or model.config.max_rows != 4:
            parser.error(f"{path}: not a pattern_2d model (latent {model.config.latent_dim}, {model.config.max_rows} rows)")
        batch = pattern_batch(jax.random.key(10_000 + seed), PRESETS["pattern_2d"], args.tasks, num_pairs=4)
        result = coverage(model, batch, jax.random.key(1), args.grid, args.search_steps)
        results[path] = result
        print(f"| {path} | {seed} | {result['held']:.1%} | {result['search']:.1%} | "
              f"{result['misses_absent']:.0%} of {result['misses']} | {result['hits_absent']:.1%} |", flush=True)
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
