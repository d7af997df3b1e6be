"""Generated task sources sized to a model's config: the data `lpn train --data` trains on and
`lpn eval --data` scores, for the pattern task (§2.5, made on the device), the procedural families
and the string task (§4.3, both made on the host)."""

from __future__ import annotations

import jax
import numpy as np

from lpn.grids import batch_pairs, batch_tasks
from lpn.pattern import pattern_batch
from lpn.tasks.procedural import sample_tasks
from lpn.tasks.strings import sample_string_tasks

GENERATED = ("pattern", "procedural", "strings")


def generated_tasks(cfg, data: str, rng, n: int, num_test: int):
    """`n` tasks of `cfg.num_pairs` pairs plus `num_test` from a host generator, sized to the model:
    procedural families with grids up to the model's side, or string sequences as 1 x max_cols grids."""
    if data == "procedural":
        side = min(cfg.max_rows, cfg.max_cols)
        return sample_tasks(rng, n, num_pairs=cfg.num_pairs, num_test=num_test, max_side=side)
    return sample_string_tasks(rng, n, length=cfg.max_cols, num_pairs=cfg.num_pairs, num_test=num_test)


def host_batches(cfg, data: str, seed):
    """An endless stream of numpy `Batch`es of `cfg.batch_size` tasks (for `train(data=...)`)."""
    rng = np.random.default_rng(seed)
    while True:
        tasks = generated_tasks(cfg, data, rng, cfg.batch_size, num_test=0)
        yield batch_tasks(tasks, cfg.max_rows, cfg.max_cols, cfg.num_pairs)


def query_batch(cfg, data: str, seed: int, n: int, density=None, pairs=None):
    """`n` fresh tasks of `pairs` specification pairs (default `cfg.num_pairs`, the training tasks'
    count) plus a last one, the query (for `evaluate_batch`)."""
    pairs = cfg.num_pairs if pairs is None else pairs
    if data == "pattern":
        return pattern_batch(jax.random.key(seed), cfg, n, num_pairs=pairs + 1, density=density)
    tasks = generated_tasks(cfg.replace(num_pairs=pairs), data, np.random.default_rng(seed), n, num_test=1)
    return batch_pairs([t.train + t.test for t in tasks], cfg.max_rows, cfg.max_cols, pairs + 1)
