"""`lpn report RUN`: a training run's history in a few lines of text and a PNG of its curves, from the
lines of its metrics.jsonl (`lpn.runlog`), for a finished run or one still training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lpn.runlog import evaluation_names


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m{s:02d}s" if hours else f"{m}m{s:02d}s" if m else f"{s}s"


def run_summary(lines: Sequence[dict]) -> str:
    """A few lines on a run from its metrics (`lpn.runlog.read_metrics`): the steps done, the last
    chunk's loss terms, each evaluation score's best (highest) value and step, the pace and the
    wall time. The mean steps/s is the steps over the seconds spent in chunks, the compiling ones
    included; the last chunk's pace follows it."""
    if not lines:
        raise ValueError("no chunk has finished yet (a run writes a line of metrics.jsonl at the end of each chunk)")
    last = lines[-1]
    steps = np.diff([0] + [line["step"] for line in lines])
    seconds = sum(k / line["steps_per_second"] for k, line in zip(steps, lines))
    rate = "" if last["learning_rate"] is None else f", learning rate {last['learning_rate']:.3g}"
    text = [
        f"step {last['step']} after {len(lines)} chunks, {_duration(last['wall_time'])} of training; "
        f"{steps.sum() / seconds:.3g} steps/s on average, {last['steps_per_second']:.3g} in the last chunk",
        f"last chunk: loss {last['loss']:.4f}, reconstruction {last['reconstruction']:.4f}, kl {last['kl']:.4g}, "
        f"grad norm {last['grad_norm']:.3g}{rate}",
    ]
    names = list(dict.fromkeys(name for line in lines for name in evaluation_names(line)))
    evaluated = [line for line in lines if evaluation_names(line)]
    if names:
        best = [max((line for line in evaluated if name in line), key=lambda line: line[name]) for name in names]
        text.append(
            f"best of {len(evaluated)} evaluation{'s' * (len(evaluated) != 1)}: "
            + "; ".join(f"{name} {line[name]:.4g} at step {line['step']}" for name, line in zip(names, best))
        )
    else:
        text.append("no evaluation yet")
    text.append(f"last line written {last['time']}")
    return "\n".join(text)


def plot_run(lines: Sequence[dict], out_path, title: str = "") -> Path:
    """Writes a PNG of a run's curves against the step (its metrics.jsonl lines): the loss and the
    reconstruction term, the KL term, the gradient norm, the learning rate, the evaluation scores
    and the pace; returns the path. Drawn on the Agg canvas, leaving the global backend alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    step = np.array([line["step"] for line in lines])
    fig = Figure(figsize=(12.8, 6.4), dpi=100, layout="constrained")  # 1,280 px wide
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3, sharex=True).ravel()
    panels = [
        ("loss", ("loss", "reconstruction")),
        ("KL", ("kl",)),
        ("gradient norm", ("grad_norm",)),
        ("learning rate", ("learning_rate",)),
        ("evaluation", ()),
        ("steps per second (log scale)", ("steps_per_second",)),
    ]
    for ax, (name, fields) in zip(axes, panels):
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        for field in fields:
            values = np.array([np.nan if line[field] is None else line[field] for line in lines], float)
            if np.isnan(values).all():
                ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", color="grey")
                continue
            ax.plot(step, values, label=field, marker="." if len(step) < 30 else None)
        if len(fields) > 1:
            ax.legend(fontsize=8)
    if all(line["loss"] > 0 and line["reconstruction"] > 0 for line in lines):
        _plain_log_axis(axes[0])
        axes[0].set_title("loss (log scale)", fontsize=10)
    _plain_log_axis(axes[5])  # a chunk that compiles is orders of magnitude slower
    _evaluation_panel(axes[4], lines)
    for ax in axes[3:]:
        ax.set_xlabel("step")
    fig.suptitle(title or f"training run: step {step[-1]}", fontsize=11)
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=100)
    return out_path


def _plain_log_axis(ax) -> None:
    """A log y axis (set after the lines are drawn) labelled in plain numbers (0.5, 3, 20), not
    matplotlib's 5×10⁻¹, 3×10⁰, 2×10¹, which a class reads slowly on a projector; within two
    decades the minor ticks at 2, 3 and 5 times a power of ten are labelled too."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    low, high = ax.get_ylim()
    if high / low > 100:
        ax.yaxis.set_minor_formatter(NullFormatter())
        return
    ax.yaxis.set_minor_formatter(
        FuncFormatter(lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** np.floor(np.log10(v))) in (2, 3, 5) else "")
    )


def _evaluation_panel(ax, lines: Sequence[dict]) -> None:
    """Each evaluation score against the step, on a 0-100% axis where every score is a fraction
    (a run whose scores are all 0 draws a line at 0%, not an axis of -0.04 to 0.04)."""
    from matplotlib.ticker import PercentFormatter

    names = list(dict.fromkeys(name for line in lines for name in evaluation_names(line)))
    if not names:
        ax.text(0.5, 0.5, "no evaluation yet", transform=ax.transAxes, ha="center", color="grey")
        return
    values = []
    for name in names:
        points = [(line["step"], line[name]) for line in lines if name in line]
        values += [v for _, v in points]
        ax.plot(
            *zip(*points),
            marker="o",
            ms=4,
            label=name.replace("top1", "top-1").replace("top2", "pass@2").replace("_", " "),
        )
    if all(0 <= v <= 1 for v in values):
        ax.set_ylim(-0.03, 1.03)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8, loc="best")
