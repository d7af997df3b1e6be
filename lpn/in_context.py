"""The in-context (transductive) baseline and its test-time training (paper §3.6, v3 App H).

`InContext` is LPN without the latent bottleneck: LPN's per-pair encoder gives one embedding per
given pair (its normalised CLS output, projected to the decoder's width by a bias-free matrix), and
the embeddings enter LPN's decoder as M context tokens, followed by a learned read token that takes
the place of LPN's latent token (the row-count head reads it):

    [rows_in, cols_in, R·C input cells, M context tokens, read, rows_out, cols_out, R·C - 1 cells]

Context tokens carry no position and see the valid input tokens, each other and the read token,
masked by the pair mask; everything else is LPN's decoder at the same config. Attention treats the
context tokens as a set, so the model is invariant to the order of the given pairs (up to float
rounding) and takes any number of them, counts never seen in training included; masked slots are
invisible. It keeps LPN's encoder and decoder modules minus the latent heads (`w_mu`, `w_logvar`,
`w_latent`, `b_latent` are None), so its parameter count is LPN's minus those plus the projection
and the read token.

Training uses the leave-one-out objective of `lpn.train` with no KL term: pair i is predicted from
x_i and the embeddings of the other valid pairs (pair i's own context token is masked out).
`ttt` (TTT) fine-tunes every parameter on one task's given pairs with that loss, and `answer`
predicts a test input with the tuned copy. `ttt` has the signature of the `lpn.search` methods and
its `TTTTrace` is decoded by `lpn.evaluate.attempts`, so TTT (and, at 0 steps, the plain in-context
prediction) runs wherever a search does: `evaluate_batch`, `predict_tasks`, `compare_methods`,
`lpn eval --search ttt`, vmapped over tasks and spread over the devices, each task with its own
copy of the parameters and their Adam moments (memory grows with the tasks of one call).

`KIND` describes the model to the rest of lpn (`lpn.kind`), with `IN_CONTEXT`, its table of methods.
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from lpn.config import Config
from lpn.decoding import generate_after, runner_up_after
from lpn.kind import Kind, Search
from lpn.model import Decoder, Encoder, _normal, output_log_prob
from lpn.optim import cached_adam
from lpn.search import GRADIENT_COST

# TTT holds a copy of the parameters and their Adam moments per task: 32 tasks a call bound it.
TASKS_PER_CALL = 32


class InContext(eqx.Module):
    """The in-context model, built from a `Config` like `LPN` (see the module docstring). Invariant
    to the order of the given pairs (their context tokens carry no position); takes any number of
    them through the pair mask."""

    encoder: Encoder
    decoder: Decoder
    w_context: jax.Array  # (D_enc, D_dec) pair embedding -> context token
    read: jax.Array  # (D_dec,) the token the row-count head reads
    config: Config = eqx.field(static=True)

    def __init__(self, config: Config, key):
        k_enc, k_dec, k_ctx, k_read = jax.random.split(key, 4)
        encoder, decoder = Encoder(config, k_enc), Decoder(config, k_dec)
        self.encoder = eqx.tree_at(lambda e: (e.w_mu, e.w_logvar), encoder, (None, None), is_leaf=lambda x: x is None)
        self.decoder = eqx.tree_at(
            lambda d: (d.w_latent, d.b_latent), decoder, (None, None), is_leaf=lambda x: x is None
        )
        self.w_context = _normal(k_ctx, (config.enc_width, config.dec_width), 1 / math.sqrt(config.enc_width))
        self.read = _normal(k_read, (config.dec_width,), 1 / math.sqrt(config.dec_width))
        self.config = config

    # The Config fields this model trains with only, and their one value: its leave-one-out loss
    # predicts every pair and has no latent to search, sample or draw from the prior. `lpn train`
    # checks them before compiling.
    TRAINS_WITH: ClassVar[dict] = {
        "train_targets": "all",
        "train_search_steps": 0,
        "train_samples": 0,
        "train_prior_latents": False,
    }

    def task_loss(self, pairs, key, cfg: Config, noise_scale=1.0):
        """`lpn.train`'s task loss for this architecture: (leave-one-out reconstruction, KL = 0).
        `key` and `noise_scale` are unused (nothing is sampled)."""
        wrong = {f: getattr(cfg, f) for f, v in self.TRAINS_WITH.items() if getattr(cfg, f) != v}
        if wrong:
            raise ValueError(
                "the in-context model trains with "
                + ", ".join(f"{f}={v!r}" for f, v in self.TRAINS_WITH.items())
                + "; got "
                + ", ".join(f"{f}={v!r}" for f, v in wrong.items())
            )
        recon = leave_one_out_loss(self, pairs)
        return recon, jnp.zeros_like(recon)


def embed_pairs(model: InContext, pairs):
    """(N, D_dec) one context token per pair slot of one task."""
    summary_ND = jax.vmap(model.encoder.summary)(pairs.inputs, pairs.outputs, pairs.input_shapes, pairs.output_shapes)
    return summary_ND @ model.w_context


def prefix(model: InContext, context_ND, context_mask_N, input_RC, input_shape):
    """The decoder's prefix (tokens, validity) for one input given the context tokens."""
    cond_LD = jnp.concatenate([context_ND, model.read[None]])
    cond_valid_L = jnp.concatenate([context_mask_N.astype(bool), jnp.ones(1, bool)])
    return model.decoder.conditioned_prefix(cond_LD, cond_valid_L, input_RC, input_shape)


def pair_log_prob(model: InContext, context_ND, context_mask_N, input_RC, input_shape, output_RC, output_shape):
    """log p(y | x, context), the same terms as `lpn.model.pair_log_prob`."""
    start = prefix(model, context_ND, context_mask_N, input_RC, input_shape)
    x_LD, mask_LL = model.decoder.sequence_after(start, input_RC.shape, output_RC, output_shape)
    logits = model.decoder.logits(x_LD, mask_LL, output_shape, input_RC.shape, latent_at=start[0].shape[0] - 1)
    return output_log_prob(logits, output_RC, output_shape)


def leave_one_out_loss(model: InContext, pairs, weights_N=None):
    """Mean over the pairs selected by `weights_N` (default: the pair mask) of -log p(y_i | x_i, the
    other selected pairs' embeddings)."""
    mask_N = (pairs.pair_mask if weights_N is None else weights_N > 0).astype(bool)
    context_ND = embed_pairs(model, pairs)
    others_NN = mask_N[None, :] & ~jnp.eye(mask_N.size, dtype=bool)
    lp_N = jax.vmap(pair_log_prob, in_axes=(None, None, 0, 0, 0, 0, 0))(
        model, context_ND, others_NN, pairs.inputs, pairs.input_shapes, pairs.outputs, pairs.output_shapes
    )
    return -jnp.sum(jnp.where(mask_N, lp_N, 0.0)) / jnp.maximum(mask_N.sum(), 1)


def predict(model: InContext, pairs, input_RC, input_shape, weights_N=None):
    """Greedy prediction for one test input from one task's given pairs: (grid_RC, shape_2)."""
    mask_N = pairs.pair_mask if weights_N is None else weights_N > 0
    start = prefix(model, embed_pairs(model, pairs), mask_N, input_RC, input_shape)
    return generate_after(model.decoder, start, input_RC.shape)


class TTTTrace(NamedTuple):
    """One task's test-time training, and what its prediction needs.

    model: the tuned `InContext` model.
    context, context_mask: (N, D_dec) the given pairs' context tokens under the tuned model, and
        (N,) which of them are given; `answer` decodes a test input from them.
    losses: (S + 1,) the leave-one-out loss before each of the S Adam steps and after the last.
    num_evals: () decoder evaluations spent, on `lpn.search`'s rule: each of the S gradients costs
        GRADIENT_COST per given pair, the last loss one per given pair (so 0 steps spend as many as
        LPN's mean latent, which is scored once).
    """

    model: InContext
    context: jax.Array
    context_mask: jax.Array
    losses: jax.Array
    num_evals: jax.Array

    # The trace protocol of `lpn.kind`.
    @property
    def own_model(self) -> InContext:
        """The tuned model, which decodes this trace whatever model is given."""
        return self.model

    def attempts(self, model=None, input_RC=None, input_shape=None, candidates: int = 0):
        """Attempts 1 and 2 on one input, grids (2, R, C) and shapes (2, 2): the tuned model's
        greedy answer and its runner-up (`lpn.decoding.runner_up_after`). `model` and `candidates`
        are unused (the trace carries its model; there is one answer to start from)."""
        start = prefix(self.model, self.context, self.context_mask, input_RC, input_shape)
        (grid, shape, _), (grid2, shape2, _) = runner_up_after(self.model.decoder, start, input_RC.shape)
        return jnp.stack([grid, grid2]), jnp.stack([shape, shape2])

    def confidence(self):
        """Minus the final leave-one-out loss (for voting across TTA views)."""
        return -self.losses[-1]

    def for_decoding(self, candidates: int = 0) -> TTTTrace:
        """What `attempts` reads: the trace without its losses (whose length is the budget)."""
        return self._replace(losses=None)


def ttt_optimizer(learning_rate):
    """Adam at `learning_rate` (the paper's TTT optimiser). One object per rate given as a number:
    options are static arguments of the jitted programs, so reusing the object reuses their compiled
    code (as `lpn.search.default_optimizer`)."""
    return cached_adam(learning_rate)


def ttt(model: InContext, pairs, key=None, *, steps: int = 100, optimizer=None, weights_N=None) -> TTTTrace:
    """TTT (§3.6): `steps` updates of every parameter by `optimizer` (any optax transformation;
    default Adam at the config's `ttt_lr`, the paper's 1e-4) on the leave-one-out loss of one task's
    given pairs (`weights_N`, default the pair mask). `key` is unused (the loss samples nothing); it
    keeps the search methods' signature, so `ttt` is a row of `lpn.methods` beside them. With
    steps=0 the model is unchanged and `answer` gives the in-context prediction."""
    optimizer = ttt_optimizer(model.config.ttt_lr) if optimizer is None else optimizer
    params, static = eqx.partition(model, eqx.is_array)

    def loss(params):
        return leave_one_out_loss(eqx.combine(params, static), pairs, weights_N)

    def step(carry, _):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    (params, _), losses_S = jax.lax.scan(step, (params, optimizer.init(params)), length=steps)
    tuned = eqx.combine(params, static)
    mask_N = pairs.pair_mask if weights_N is None else weights_N > 0
    losses = jnp.concatenate([losses_S, loss(params)[None]])
    num_evals = (jnp.sum(mask_N) * (GRADIENT_COST * steps + 1)).astype(jnp.int32)
    return TTTTrace(tuned, embed_pairs(tuned, pairs), mask_N.astype(bool), losses, num_evals)


def answer(trace: TTTTrace, input_RC, input_shape):
    """The tuned model's greedy prediction for one test input: (grid_RC, shape_2)."""
    start = prefix(trace.model, trace.context, trace.context_mask, input_RC, input_shape)
    return generate_after(trace.model.decoder, start, input_RC.shape)


IN_CONTEXT: dict[str, Search] = {  # the in-context baseline (§3.6): its prediction, and TTT
    "none": Search(ttt, "in-context", "the in-context model's prediction (in-context model)", fixed={"steps": 0}),
    "ttt": Search(
        ttt,
        "TTT",
        "test-time training: Adam on every parameter (in-context model)",
        "steps",
        optimizer=ttt_optimizer,
        optimizer_name="adam",
        lr_field="ttt_lr",
        tasks_per_call=TASKS_PER_CALL,
    ),
}


def _training_metrics(plain, searched) -> dict:
    """`lpn train`'s evaluation: top-1 of the in-context prediction and of TTT."""
    return {"top1_in_context": plain.top1, "top1_ttt": searched.top1}


KIND = Kind(
    name="in-context",
    model=InContext,
    words="an in-context model",
    methods=IN_CONTEXT,
    searched="ttt",
    compared=("ttt",),
    loss=lambda cfg: InContext.task_loss,
    trains_with=InContext.TRAINS_WITH,
    tasks_per_call=TASKS_PER_CALL,
    training_metrics=_training_metrics,
    latent=False,
)
