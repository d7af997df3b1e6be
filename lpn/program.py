"""The one compiled program of test-time work: a method over tasks, then what is wanted of each
task's trace (its metrics on the query, its attempts on the test inputs, the trace itself).

    over_tasks(model, tasks, keys, method, options, then, split=split_query)

splits `tasks` into each task's specification and the rest (`split`; by default the last pair slot
of a generated `Batch` is the query, `split_query`), runs `method(model, pairs, key, **options)` on
every task's specification (vmapped, jitted), and returns `then(model, trace, rest)` per task, with a
leading task axis. `lpn.search.search_batch`, `lpn.evaluate.evaluate_batch` and `predict_tasks`,
`lpn.compare.compare_methods`, `lpn reproduce` and `lpn demo` all run it; `method`, `options`,
`then` and `split` are static (hashable: module-level functions or NamedTuples), so each
combination compiles once.
"""

from __future__ import annotations

import equinox as eqx
import jax


def split_query(batch):
    """(specification, query): the last pair slot of every task becomes the query."""
    spec = jax.tree.map(lambda a: a[:, :-1], batch)
    query = jax.tree.map(lambda a: a[:, -1], batch)
    return spec, query


def given(tasks):
    """A split for tasks already given as (specifications, the rest)."""
    return tasks


def alone(tasks):
    """A split for specifications with nothing beside them."""
    return tasks, None


def trace_only(model, trace, rest):
    """A `then` that keeps the whole trace."""
    return trace


def the_trace(model, trace, key):
    """A `method` for tasks that are traces already (to decode traces searched before)."""
    return trace


@eqx.filter_jit
def over_tasks(model, tasks, keys, method, options: tuple, then, split=split_query):
    """`then(model, method(model, pairs, key, **dict(options)), rest)` for every task, vmapped and
    jitted, where (pairs, rest) are the task's parts of `split(tasks)`; `options` is a tuple of
    (name, value) pairs."""
    spec, rest = split(tasks)
    return jax.vmap(lambda pairs, part, key: then(model, method(model, pairs, key, **dict(options)), part))(
        spec, rest, keys
    )
