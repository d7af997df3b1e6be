"""The Pattern task (paper §2.5), generated in JAX so it runs inside the jitted training step.

Each task hides one P x P pattern whose cells are non-black with probability `density`, coloured
uniformly in 1..9. Each pair's input is black with one blue (1) pixel at a random top-left corner;
its output is black with the pattern pasted at that corner. `density` is the knob of the OOD study
(§4.4): train at 0.5, test at 0.75 and 1.0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lpn.config import Config
from lpn.grids import Batch, Pair, Task

BLUE = 1


def sample_pattern(key, size: int, density: float):
    """(P, P) uint8 pattern: each cell black with probability 1 - density, else a colour 1..9."""
    k_on, k_colour = jax.random.split(key)
    on = jax.random.bernoulli(k_on, density, (size, size))
    colours = jax.random.randint(k_colour, (size, size), 1, 10)
    return jnp.where(on, colours, 0).astype(jnp.uint8)


def pattern_pair(key, pattern_PP, rows: int, cols: int):
    """One (input_RC, output_RC) pair for a pattern at a random corner."""
    size = pattern_PP.shape[0]
    k_r, k_c = jax.random.split(key)
    r = jax.random.randint(k_r, (), 0, rows - size + 1)
    c = jax.random.randint(k_c, (), 0, cols - size + 1)
    blank = jnp.zeros((rows, cols), jnp.uint8)
    return blank.at[r, c].set(BLUE), jax.lax.dynamic_update_slice(blank, pattern_PP, (r, c))


def without_full(key, pattern_PP):
    """`pattern_PP`, with one random cell made black where every cell is coloured."""
    size = pattern_PP.shape[0]
    cell = jax.random.randint(key, (), 0, size * size)
    holed = pattern_PP.reshape(-1).at[cell].set(0).reshape(size, size)
    return jnp.where(jnp.all(pattern_PP > 0), holed, pattern_PP)


def pattern_task(key, cfg: Config, num_pairs: int, density=None):
    """One task as a `Batch` without its task axis (N pairs of (R, C) grids, full shapes). At the
    config's density (`density` None: training's tasks), `cfg.pattern_exclude_full` keeps out patterns
    with every cell coloured; a density given (a test column) draws them as any other."""
    k_pattern, k_pairs = jax.random.split(key)
    pattern = sample_pattern(k_pattern, cfg.pattern_size, cfg.pattern_density if density is None else density)
    if density is None and cfg.pattern_exclude_full:
        pattern = without_full(jax.random.fold_in(k_pattern, 1), pattern)
    inputs, outputs = jax.vmap(lambda k: pattern_pair(k, pattern, cfg.max_rows, cfg.max_cols))(
        jax.random.split(k_pairs, num_pairs)
    )
    shapes = jnp.broadcast_to(jnp.array([cfg.max_rows, cfg.max_cols], jnp.int32), (num_pairs, 2))
    return Batch(inputs, outputs, shapes, shapes, jnp.ones(num_pairs, bool))


def pattern_batch(key, cfg: Config, batch_size: int, num_pairs=None, density=None) -> Batch:
    """B pattern tasks as a `Batch` of JAX arrays: inputs (B, N, R, C) and so on."""
    num_pairs = cfg.num_pairs if num_pairs is None else num_pairs
    if cfg.pattern_size > min(cfg.max_rows, cfg.max_cols):
        raise ValueError(
            f"pattern_size {cfg.pattern_size} does not fit the {cfg.max_rows}x{cfg.max_cols} grids "
            f"(max_rows x max_cols); lower pattern_size or enlarge the grids"
        )
    keys = jax.random.split(key, batch_size)
    return jax.vmap(lambda k: pattern_task(k, cfg, num_pairs, density))(keys)


def pattern_tasks(seed: int, cfg: Config, n: int, num_pairs=None, num_test=1, density=None) -> list[Task]:
    """n pattern tasks as `Task` objects (num_pairs train pairs, num_test test pairs)."""
    total = (cfg.num_pairs if num_pairs is None else num_pairs) + num_test
    batch = jax.device_get(pattern_batch(jax.random.key(seed), cfg, n, total, density))
    tasks = []
    for i in range(n):
        pairs = [Pair(np.asarray(batch.inputs[i, j]), np.asarray(batch.outputs[i, j])) for j in range(total)]
        tasks.append(
            Task(
                tuple(pairs[: total - num_test]),
                tuple(pairs[total - num_test :]),
                name=f"pattern-{seed}-{i}",
                meta={"source": "pattern", "seed": seed},
            )
        )
    return tasks
