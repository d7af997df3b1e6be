"""The markdown side of `lpn reproduce`: an experiment's results as a table beside the paper's, and
a verdict on each of the paper's orderings (paper §5, Tables 1-3 and 11, Figures 2-3).

`summary` reduces the seeds of `results.json` to mean and std per cell; `claims` judges the paper's
orderings on them; `write_table` writes OUT/table.md; `listing` is `lpn reproduce --list`. The
figure of the same numbers is `lpn.figures.plot_experiment`; the runs themselves are `lpn.reproduce`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lpn.experiment_spec import Experiment
from lpn.experiments import EXPERIMENTS

HOLDS, REVERSED, TOO_CLOSE, NOT_RUN = "holds", "reversed", "too close to call", "not run"


def summary(exp: Experiment, scale: str, results: dict) -> dict:
    """{row: {column: {"mean", "std", "n", "paper"}}} of top-1 exact match in %, over the seeds run."""
    table = {}
    for r, c in exp.cells(scale):
        values = [s[r.label][c.label]["top1"] * 100 for s in results["seeds"].values() if c.label in s.get(r.label, {})]
        paper = exp.paper.get((r.label, c.label))
        table.setdefault(r.label, {})[c.label] = {
            "mean": float(np.mean(values)) if values else None,
            "std": float(np.std(values)) if values else None,
            "n": len(values),
            "paper": None if paper is None else {"mean": paper[0], "std": paper[1]},
        }
    return table


def claims(exp: Experiment, table: dict) -> list[tuple[str, str, str]]:
    """(text, verdict, numbers) for each of the paper's orderings. The verdict is HOLDS where our
    better cell's mean exceeds the other's by more than their two stds added (the seeds' spreads
    do not overlap), REVERSED where it falls short by that much, TOO_CLOSE between, and NOT_RUN where
    a cell was not run at this scale."""
    found = []
    for claim in exp.claims:
        (br, bc), (wr, wc) = claim.better, claim.worse
        better, worse = table.get(br, {}).get(bc), table.get(wr, {}).get(wc)
        if better is None or worse is None or better["mean"] is None or worse["mean"] is None:
            found.append((claim.text, NOT_RUN, "not run"))
            continue
        gap, spread = better["mean"] - worse["mean"], better["std"] + worse["std"]
        verdict = HOLDS if gap > spread else REVERSED if -gap > spread else TOO_CLOSE
        paper = ""
        if better["paper"] and worse["paper"]:
            paper = f"; paper {better['paper']['mean']:.1f} vs {worse['paper']['mean']:.1f}"
        found.append((claim.text, verdict, f"ours {_mean_std(better)} vs {_mean_std(worse)}{paper}"))
    return found


def _mean_std(cell: dict) -> str:
    return f"{cell['mean']:.1f}" + (f" ± {cell['std']:.1f}" if cell["n"] > 1 else "")


def _cell_text(cell: dict) -> str:
    ours = (
        "–" if cell["mean"] is None else f"**{cell['mean']:.1f}**" + (f" ± {cell['std']:.1f}" if cell["n"] > 1 else "")
    )
    paper = cell["paper"]
    if paper is None:
        return ours
    std = "" if paper["std"] is None else f" ± {paper['std']:.1f}"
    return f"{ours}<br>paper {paper['mean']:.1f}{std}"


def write_table(path: Path, exp: Experiment, results: dict) -> None:
    scale = results["settings"]["scale"]
    table, sizes = results["summary"], exp.scales[scale]
    columns = [c for c in exp.columns if any(c.label in row for row in table.values())]
    seeds = len(results["seeds"])
    env = results["environment"]
    cfg = sizes.config()
    if "model" in results["settings"]:
        what = (
            f"Model `{results['settings']['model']}` (its own config), {sizes.tasks} test tasks a cell, "
            f"{_count(seeds, 'evaluation seed')} (test tasks and search keys; one model)"
        )
    else:
        what = (
            f"Scale `{scale}`: {cfg.max_rows}x{cfg.max_cols} grids"
            + (f", {cfg.pattern_size}x{cfg.pattern_size} patterns" if exp.data == "pattern" else "")
            + f", latent {cfg.latent_dim}, {cfg.enc_layers}+{cfg.dec_layers} layers of width {cfg.enc_width}, "
            f"{sizes.steps} training steps of {cfg.batch_size} tasks, {sizes.tasks} test tasks a cell, "
            f"{_count(seeds, 'seed')}"
        )
    lines = [
        f"# {exp.title}",
        "",
        f"`{results['command'] or f'lpn reproduce {exp.name} --scale {scale}'}`",
        "",
        f"{what}. Each cell: top-1 exact match %, the paper's metric for generated tasks, as mean ± std "
        f"over seeds (numpy's std, ddof 0). lpn {env['lpn']}, jax {env['jax']}, {env['devices']}; "
        f"{results.get('seconds', 0) / 60:.0f} min.",
        "",
        f"Paper: {exp.source}.",
        "",
        "| | " + " | ".join(c.label for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for row in exp.rows:
        cells = table[row.label]
        lines.append(
            f"| {row.label} | "
            + " | ".join(_cell_text(cells[c.label]) if c.label in cells else "" for c in columns)
            + " |"
        )
    for label, seeds in results.get("trainings", {}).items():
        for seed, record in seeds.items():
            if "diverged" in record:
                lines += [
                    "",
                    f"{label}, seed {seed}: {record['diverged'].split(';')[0]}; its cells use the "
                    f"checkpoint of step {record['step']}.",
                ]
    found = claims(exp, table)
    if found:
        lines += [
            "",
            "The paper's orderings at this scale (\"holds\" where the two cells' mean ± std do not "
            'overlap, "reversed" where they do not overlap the other way):',
            "",
        ]
        for text, verdict, numbers in found:
            lines.append(f"- {verdict}: {text} ({numbers})")
    path.write_text("\n".join(lines) + "\n")


def listing() -> str:
    """Each experiment, what it measures, and its estimated cost per scale."""
    lines = []
    for exp in EXPERIMENTS.values():
        lines.append(f"{exp.name:<8} {exp.title}")
        lines.append(f"{'':<8} measures {exp.measures}")
        lines.append(f"{'':<8} trains {len(exp.trainings)} model(s) a seed; {len(exp.cells('paper'))} cells")
        for scale, sizes in exp.scales.items():
            lines.append(
                f"{'':<8} --scale {scale:<6} about {_duration(sizes.minutes)} on {sizes.where} "
                f"({sizes.seeds} seed{'s' * (sizes.seeds > 1)}, {sizes.steps} steps, {sizes.tasks} test tasks)"
            )
    return "\n".join(lines)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _duration(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.0f} h"
