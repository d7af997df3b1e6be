"""Evolution strategies against gradient search at equal decoder evaluations (issue 25).

Runs `lpn.compare.compare_methods` on fresh tasks of a model's own task family: the mean latent,
gradient search (Adam, b2 0.9, at the config's search_lr) at each budget of steps, and the rows of
`lpn.compare.es_methods` at the same budgets (CMA-ES, SNES, and CMA-ES for half the budget then
gradient), whose budgets count gradient-step equivalents, so each sits at the evaluations of
gradient search at that many steps. Prints the table; with --out, writes table.md (the command at
its top) and figure.png (`lpn.figures.plot_comparison`, pass@2 against evaluations per task).

    python benchmarks/es_vs_gradient.py --tasks 32 --budgets 10 50 --out docs/results/es

Needs evosax: pip install "lpn[es]".
"""

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

# One CPU device: the ES searches stalled (no progress, the process idle) when lpn split the tasks
# over several CPU devices (its default, lpn/devices.py); on one device they run. Not yet understood.
os.environ.setdefault("LPN_CPU_DEVICES", "1")

import jax  # noqa: E402

import lpn  # noqa: E402
from lpn.compare import SearchMethod, compare_methods, es_methods
from lpn.evolution import POPULATION, generations, hybrid_search
from lpn.figures import plot_comparison


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pattern", help="a shipped model name or a checkpoint (default pattern)")
    parser.add_argument("--tasks", type=int, default=128, help="fresh pattern tasks (default 128)")
    parser.add_argument(
        "--budgets", type=int, nargs="+", default=[10, 50, 100], help="budgets in gradient steps (default 10 50 100)"
    )
    parser.add_argument(
        "--population",
        type=int,
        default=POPULATION,
        help=f"ES candidates a generation (default {POPULATION}; CMA-ES's usual 4 + 3 ln(latent_dim) "
        "is 14 for a 32-D latent): fewer, longer generations at the same evaluations",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for table.md and figure.png")
    args = parser.parse_args()

    if args.model in lpn.checkpoint.PRETRAINED:
        model = lpn.load_pretrained(args.model)
    else:
        model = lpn.checkpoint.load_checkpoint(args.model)[0]
    batch = lpn.pattern_batch(jax.random.key(args.seed), model.config, args.tasks)
    methods = [
        SearchMethod.named("none"),
        *(SearchMethod.named("gradient", b) for b in args.budgets),
        *(with_population(m, args.population) for m in es_methods(args.budgets)),
    ]
    start = time.perf_counter()
    result = compare_methods(model, batch, jax.random.key(args.seed + 1), methods, progress=True)
    minutes = (time.perf_counter() - start) / 60
    print(result.table())
    if args.out is None:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    (args.out / "table.md").write_text(
        f"# Evolution strategies against gradient search at equal decoder evaluations\n\n`{command}`\n\n"
        f"Model `{args.model}`, {args.tasks} fresh tasks of its family (seed {args.seed}), each with "
        f"{model.config.num_pairs - 1} given pairs and a query. Budgets are gradient steps; an ES row at budget B "
        f"runs 3B/{args.population} generations of {args.population} candidates, the same evaluations (rounded down). lpn {lpn.__version__}, jax {jax.__version__}, "
        f"{jax.device_count()} x {jax.devices()[0].platform} ({platform.machine()}); {minutes:.0f} min.\n\n"
        f"```\n{result.table()}\n```\n"
    )
    plot_comparison(result).savefig(args.out / "figure.png", dpi=120, bbox_inches="tight")
    print(f"wrote {args.out / 'table.md'} and {args.out / 'figure.png'}")


def with_population(method: SearchMethod, population: int) -> SearchMethod:
    """An ES row of `es_methods` with `population` candidates a generation, at the same budget: the
    "cma" and "es" rows run budget x 3 // population generations, the hybrid splits its budget so."""
    if population == POPULATION:
        return method
    options = dict(method.options, population=population)
    if method.method is not hybrid_search:  # cma / es: "steps" counts generations of the default population
        options["steps"] = generations(method.budget, population)
    return method._replace(
        label=f"{method.family} (K={population}) {method.budget}",
        options=options,
        family=f"{method.family} (K={population})",
    )


if __name__ == "__main__":
    main()
