"""The markdown side of `lpn reproduce`: an experiment's results as a table beside the paper's, and
a verdict on each of the paper's orderings (paper §5, Tables 1-3 and 11, Figures 2-3).

`summary` reduces the seeds of `results.json` to mean and std per cell, keeping each seed's number
(the verdicts pair them); `claims` judges the paper's orderings seed by seed (`verdict`, the rule of
docs/calibration.md); `write_table` writes OUT/table.md; `listing` is `lpn reproduce --list`. The
figure of the same numbers is `lpn.figures.plot_experiment`; the runs themselves are `lpn.reproduce`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from lpn.experiment_spec import Experiment
from lpn.experiments import EXPERIMENTS

HOLDS, REVERSED, TOO_CLOSE, NOT_RUN = "holds", "reversed", "too close to call", "not run"
FLOOR, CEILING = "floor: uninformative", "ceiling: uninformative"
ONE_SEED = "one seed: no verdict"
UNCALIBRATED = "no verdict (uncalibrated scale)"
FLOOR_PERCENT, CEILING_PERCENT = 5.0, 95.0
RULE = (
    'Verdicts are paired over seeds (every cell of a seed shares its tasks and search keys): "holds" when '
    "every seed's difference A − B is positive and their mean exceeds one standard error of the differences, "
    f'"reversed" for the mirror, "too close to call" otherwise; "{FLOOR}" or "{CEILING}" when both cells\' '
    f'means lie below {FLOOR_PERCENT:.0f}% or above {CEILING_PERCENT:.0f}%, and "{ONE_SEED}" from a single '
    "seed (docs/calibration.md). Seeds where either cell's training diverged are left out."
)


def summary(exp: Experiment, scale: str, results: dict) -> dict:
    """{row: {column: {"mean", "std", "n", "seeds", "diverged", "paper"}}}: top-1 exact match in %,
    mean and std (ddof 0) over the `n` seeds with a number, each seed's number in "seeds" ({seed:
    %}, what `claims` pairs), and [{"seed", "step"}] of the seeds whose training diverged (no
    number, left out of the mean)."""
    table = {}
    for r, c in exp.cells(scale):
        by_seed, diverged = {}, []
        for seed, cells in results["seeds"].items():
            cell = cells.get(r.label, {}).get(c.label)
            if cell is None:
                continue
            if cell.get("diverged"):
                diverged.append({"seed": int(seed), "step": cell.get("step")})
            else:
                by_seed[seed] = cell["top1"] * 100
        values = list(by_seed.values())
        paper = exp.paper.get((r.label, c.label))
        table.setdefault(r.label, {})[c.label] = {
            "mean": float(np.mean(values)) if values else None,
            "std": float(np.std(values)) if values else None,
            "n": len(values),
            "seeds": by_seed,
            "diverged": diverged,
            "paper": None if paper is None else {"mean": paper[0], "std": paper[1]},
        }
    return table


class Verdict(NamedTuple):
    """One claim's verdict: the word, each shared seed's difference A − B in points ({seed:
    points}), the two cells' means over those seeds, and the standard error of the differences
    (None under two seeds)."""

    word: str
    differences: dict
    better: float | None = None
    worse: float | None = None
    stderr: float | None = None


def verdict(better: dict, worse: dict) -> Verdict:
    """The paired verdict on "`better` beats `worse`", two cells of `summary` (their "seeds":
    {seed: %}), over the seeds both have a number for (docs/calibration.md's "Verdicts")."""
    shared = sorted(set(better.get("seeds", {})) & set(worse.get("seeds", {})), key=int)
    if not shared:
        return Verdict(NOT_RUN, {})
    a = np.array([better["seeds"][s] for s in shared], float)
    b = np.array([worse["seeds"][s] for s in shared], float)
    d = a - b
    differences = {s: float(x) for s, x in zip(shared, d)}
    means = float(a.mean()), float(b.mean())
    if max(means) < FLOOR_PERCENT:
        return Verdict(FLOOR, differences, *means)
    if min(means) > CEILING_PERCENT:
        return Verdict(CEILING, differences, *means)
    if len(d) == 1:
        return Verdict(ONE_SEED, differences, *means)
    stderr = float(d.std(ddof=1) / np.sqrt(len(d)))
    if np.all(d > 0) and d.mean() > stderr:
        word = HOLDS
    elif np.all(d < 0) and -d.mean() > stderr:
        word = REVERSED
    else:
        word = TOO_CLOSE
    return Verdict(word, differences, *means, stderr)


def claims(exp: Experiment, table: dict, scale: str | None = None) -> list[tuple[str, str, str]]:
    """(text, verdict, numbers) for each of the paper's orderings, judged by `verdict` on the cells
    of `table` (a `summary`); NOT_RUN where a cell was not run (or every seed of it diverged), and
    UNCALIBRATED at a `scale` no setting of whose ladder passed the calibration rule."""
    uncalibrated = scale is not None and exp.scales[scale].uncalibrated is not None
    found = []
    for claim in exp.claims:
        (br, bc), (wr, wc) = claim.better, claim.worse
        better, worse = table.get(br, {}).get(bc), table.get(wr, {}).get(wc)
        judged = verdict(better or {}, worse or {})
        if judged.word == NOT_RUN:
            found.append((claim.text, NOT_RUN, "not run" if better is None or worse is None else "no seed with both"))
            continue
        per_seed = ", ".join(f"{d:+.1f}" for d in judged.differences.values())
        numbers = f"A − B per seed: {per_seed}"
        if judged.stderr is not None:
            numbers += f"; mean {np.mean(list(judged.differences.values())):+.1f}, s.e. {judged.stderr:.1f}"
        numbers += f"; ours {judged.better:.1f} vs {judged.worse:.1f}"
        left_out = sorted({d["seed"] for cell in (better, worse) for d in cell["diverged"]})
        if left_out:
            numbers += f"; left out (diverged): seed{'s' * (len(left_out) > 1)} {', '.join(map(str, left_out))}"
        if better["paper"] and worse["paper"]:
            numbers += f"; paper {better['paper']['mean']:.1f} vs {worse['paper']['mean']:.1f}"
        found.append((claim.text, UNCALIBRATED if uncalibrated else judged.word, numbers))
    return found


def verdicts(exp: Experiment, table: dict, scale: str | None = None) -> list[dict]:
    """`claims` as JSON for results.json: each claim's cells, verdict and per-seed differences."""
    out = []
    for claim, (text, word, numbers) in zip(exp.claims, claims(exp, table, scale)):
        better = table.get(claim.better[0], {}).get(claim.better[1]) or {}
        worse = table.get(claim.worse[0], {}).get(claim.worse[1]) or {}
        out.append(
            {
                "claim": text,
                "better": list(claim.better),
                "worse": list(claim.worse),
                "verdict": word,
                "differences": verdict(better, worse).differences,
                "numbers": numbers,
            }
        )
    return out


def _cell_text(cell: dict) -> str:
    diverged = ", ".join(
        f"seed {d['seed']}" + ("" if d["step"] is None else f", step {d['step']}") for d in cell["diverged"]
    )
    if cell["mean"] is None:
        ours = f"diverged ({diverged})" if diverged else "–"
    else:
        ours = f"**{cell['mean']:.1f}**" + (f" ± {cell['std']:.1f}" if cell["n"] > 1 else "")
        if diverged:
            ours += f" ({_count(cell['n'], 'seed')}; diverged: {diverged})"
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
        f"{results.get('seconds', 0) / 60:.0f} min{_minutes(results)}.",
        "",
        f"Paper: {exp.source}.",
        "",
        *([f"**Uncalibrated scale**: {sizes.uncalibrated}", ""] if sizes.uncalibrated else []),
        "| | " + " | ".join(c.label for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for row in exp.rows_at(scale):
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
                    f"{label}, seed {seed}: {record['diverged'].split(';')[0]}; its cells hold no numbers and are "
                    "left out of the means over seeds (a cell's count of seeds is given where it has fewer).",
                ]
    found = claims(exp, table, scale)
    if found:
        lines += ["", "The paper's orderings at this scale (A − B: the claim's better cell minus its worse):", ""]
        for text, verdict_word, numbers in found:
            lines.append(f"- {verdict_word}: {text} ({numbers})")
        lines += ["", RULE]
    path.write_text("\n".join(lines) + "\n")


def _minutes(results: dict) -> str:
    """ " (training N, evaluating M)" from results.json's "minutes" (none in a results file from before them)."""
    minutes = results.get("minutes")
    if not minutes:
        return ""
    return f" (training {minutes['training']:.0f}, evaluating {minutes['evaluation']:.0f})"


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
