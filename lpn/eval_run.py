"""`lpn eval`'s driver: the resumable evaluation of ARC and JSON tasks (`Progress`, `predict`),
that of fresh generated tasks (`eval_generated`), and their printed scores and results files
(`score_and_print`, `write_results`). The metrics and predictions are `lpn.evaluate`'s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import numpy as np

from lpn.distributed import is_main
from lpn.evaluate import evaluate_batch, predict_tasks, tta_metrics
from lpn.files import atomic_write
from lpn.version import __version__


class Progress:
    """The tasks an ARC evaluation has predicted so far, kept in `path` (rewritten atomically after
    every batch), so that `lpn eval ... --resume` skips them after an interruption. Without
    `resume`, or when the evaluation's settings differ, it starts empty. The run time it records
    adds up the runs, each counted to its last saved batch (or to its end). A `resume` with no
    saved file, an unreadable one or one of other settings raises ValueError."""

    def __init__(self, path: Path, settings: dict, resume: bool):
        self.path, self.settings, self.tasks, self.runtime = path, settings, {}, 0.0
        self.started = time.perf_counter()
        if not resume:
            return
        try:
            saved = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"--resume: no earlier evaluation in {path.parent} (no {path.name})") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"--resume: {path} is not valid JSON ({err})") from None
        if saved.get("settings") != json.loads(json.dumps(settings)):
            raise ValueError(
                f"--resume: {path} was written by an evaluation with other settings "
                f"({saved.get('settings')}); drop --resume to start again"
            )
        self.tasks, self.runtime = saved["tasks"], float(saved["runtime_seconds"])

    def add(self, predictions: dict, evals: dict) -> None:
        for name, outputs in predictions.items():
            self.tasks[name] = {
                "attempts": [[np.asarray(a).tolist() for a in pair] for pair in outputs],
                "decoder_evaluations": evals[name],
            }
        self.write(self.elapsed())

    def elapsed(self) -> float:
        """Seconds of the earlier runs plus this one's so far."""
        return self.runtime + time.perf_counter() - self.started

    def save(self) -> float:
        """Writes the total run time so far and returns it."""
        total = self.elapsed()
        self.write(total)
        return total

    def write(self, runtime: float) -> None:
        if not is_main():  # several processes: process 0 writes (lpn.distributed)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(
            self.path, json.dumps({"settings": self.settings, "runtime_seconds": runtime, "tasks": self.tasks})
        )

    def predictions(self, tasks) -> tuple[dict, dict]:
        return (
            {
                t.name: [[np.asarray(a, np.uint8) for a in pair] for pair in self.tasks[t.name]["attempts"]]
                for t in tasks
            },
            {t.name: self.tasks[t.name]["decoder_evaluations"] for t in tasks},
        )


def predict(model, tasks, key, method, batch_size, options, on_batch=None, tta: int = 1):
    """`predict_tasks` with a progress bar, at most `batch_size` tasks a call."""
    return predict_tasks(
        model,
        tasks,
        key,
        method,
        batch_size=min(batch_size, len(tasks) * tta),
        progress=True,
        on_batch=on_batch,
        tta=tta,
        **options,
    )


def score_and_print(tasks, predictions, version: str, table: bool, out: Path):
    """Scores the tasks whose test outputs are known; prints both official averages, labelled, and
    writes the per-task table to `out`/tasks.txt. Returns the scores as a dict (None if none known)."""
    from lpn.scoring import score_predictions

    known = [t for t in tasks if all(p.output is not None for p in t.test)]
    if len(known) < len(tasks):
        print(f"{len(tasks) - len(known)} tasks have unknown test outputs: written to the submission, not scored")
    if not known:
        return None
    score = score_predictions(known, {t.name: predictions[t.name] for t in known})
    print(f"dataset version: {version}")
    print(score.summary())
    if table:
        print(score.table())
    out.mkdir(parents=True, exist_ok=True)
    (out / "tasks.txt").write_text(score.table() + "\n")
    return score.to_dict()


def write_results(out: Path, results: dict, predictions=None) -> None:
    """Writes `out`/results.json and, given predictions, `out`/submission.json; prints their paths.
    Only process 0 of several writes (`lpn.distributed`)."""
    from lpn.scoring import write_submission

    if not is_main():
        return

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if predictions is not None:
        written.append(write_submission(predictions, out / "submission.json"))
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    written.append(path)
    print("wrote " + ", ".join(map(str, written)))


def eval_generated(
    model,
    data: str,
    seed: int,
    num_tasks: int,
    method,
    options,
    head: dict,
    out: Path,
    density=None,
    pairs=None,
    tasks_per_call: int | None = None,
    tta: int = 1,
) -> None:
    """Metrics of the search on `num_tasks` fresh generated tasks (`data`: pattern, procedural or
    strings) of the model's own config, printed and written to `out`/results.json with `head`.
    `density` and `pairs` (default the config's) shape the generated tasks; `tasks_per_call` bounds
    the tasks of one compiled call (`evaluate_batch`). With `tta` > 1 the tasks are predicted as
    `Task`s under `tta` views that vote (`predict_tasks`) and scored by `lpn.scoring` (one test
    output a task, so its per-task scores are these metrics)."""
    from lpn.tasks.sources import query_batch

    cfg = model.config
    batch = query_batch(cfg, data, seed, num_tasks, density, pairs)
    pairs = batch.inputs.shape[1] - 1  # given pairs; the last slot is the query
    started = time.perf_counter()
    if tta > 1:
        metrics = tta_metrics(model, batch, jax.random.key(seed), method, tta, tasks_per_call or 16, **options)
    else:
        metrics = evaluate_batch(model, batch, jax.random.key(seed), method, tasks_per_call=tasks_per_call, **options)
    runtime = time.perf_counter() - started
    density = cfg.pattern_density if density is None else density
    version = f"generated by lpn {__version__} ({data}, seed {seed}" + (
        f", density {density})" if data == "pattern" else ")"
    )
    print(
        f"{num_tasks} fresh {data} tasks of {pairs} given pairs and a query, {version}"
        + (f"; {tta} views voting" if tta > 1 else "")
    )
    print(
        f"top-1 exact {metrics.top1:.2%}, pass@2 {metrics.top2:.2%}, shape {metrics.shape:.2%}, "
        f"pixel {metrics.pixel:.2%}; {metrics.num_evals:.0f} decoder evaluations per task; {runtime:.1f} s"
    )
    print(
        f"attempt 2 differs from attempt 1 on {metrics.differs:.2%} of tasks and solves {metrics.rescued:.2%} "
        f"that attempt 1 missed"
    )
    write_results(
        out,
        {
            "data": data,
            "dataset_version": version,
            "num_tasks": num_tasks,
            "given_pairs": pairs,
            "tta": tta,
            **head,
            "runtime_seconds": runtime,
            "scores": metrics._asdict(),
        },
    )
