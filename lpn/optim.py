"""The optimisers (optax transformations, passed around as values): training's AdamW after
gradient clipping on a warm-up then constant or cosine learning rate (§2.4, `make_optimizer`), the
rate a run's step had (`learning_rate_at`), and `cached_adam`, the one Adam object per rate that
the searches, TTT and the evolution strategies share, so that their compiled programs are reused.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import optax

from lpn.config import Config


def learning_rate_schedule(cfg: Config) -> optax.Schedule:
    """Linear warm-up to the peak rate, then constant (§2.4), or, with `cfg.lr_decay_steps`, a
    cosine decay to 1% of the peak at that step (constant after it)."""
    warmup = max(cfg.warmup_steps, 1)
    if not cfg.lr_decay_steps:
        return optax.linear_schedule(0.0, cfg.learning_rate, warmup)
    if cfg.lr_decay_steps <= warmup:
        raise ValueError(f"lr_decay_steps ({cfg.lr_decay_steps}) must exceed warmup_steps ({warmup})")
    return optax.warmup_cosine_decay_schedule(
        0.0, cfg.learning_rate, warmup, cfg.lr_decay_steps, end_value=cfg.learning_rate / 100
    )


def make_optimizer(cfg: Config) -> optax.GradientTransformation:
    """AdamW after global-norm clipping, on `learning_rate_schedule(cfg)`."""
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.adamw(learning_rate_schedule(cfg), b2=cfg.adam_b2, weight_decay=cfg.weight_decay),
    )


def learning_rate_at(cfg: Config, optimizer: optax.GradientTransformation | None, opt_state, step: int) -> float | None:
    """The learning rate of optimiser step `step` (counted from 0): `learning_rate_schedule(cfg)`'s
    for the default optimiser. For a passed-in one, the `learning_rate` its state holds, which an
    `optax.inject_hyperparams` optimiser keeps as that of its last step; None if it holds none (or
    several)."""
    if optimizer is None:
        return float(learning_rate_schedule(cfg)(step))
    found = [v for _, v in optax.tree_utils.tree_get_all_with_path(opt_state, "learning_rate") if eqx.is_array(v)]
    return float(found[0]) if len(found) == 1 else None


def cached_adam(learning_rate, b2: float = 0.999) -> optax.GradientTransformation:
    """`optax.adam(learning_rate, b2=b2)`, one object per rate given as a number: search options are
    static arguments of the jitted programs, compared by identity, so reusing the object reuses their
    compiled code. A traced rate (inside a jit) gets a new object."""
    if isinstance(learning_rate, jax.Array):
        return optax.adam(learning_rate, b2=b2)
    return _adam(float(learning_rate), float(b2))


@functools.cache
def _adam(learning_rate: float, b2: float) -> optax.GradientTransformation:
    return optax.adam(learning_rate, b2=b2)
