"""Masked softmax attention for the transformer blocks of `lpn.model`: `attend`, and for long
sequences `blockwise_attend`, the same result computed a block of query rows at a time with its own
backward pass; `attention` picks one by the sequence's length. `run_blocks` runs a stack of blocks
and returns every layer's keys and values, the prefix of the decoding cache (`lpn.decoding`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def attend(q_QAE, k_LAE, v_LAE, mask_QL, keys="lae"):
    """Masked softmax attention. `keys` names the layout of k and v: "lae", or "ale" for the
    decoding cache, stored heads-first so that each step reads it without a transpose."""
    scores = jnp.einsum(f"qae,{keys}->aql", q_QAE, k_LAE) / math.sqrt(q_QAE.shape[-1])
    scores = jnp.where(mask_QL[None], scores.astype(jnp.float32), -1e30)
    return jnp.einsum(f"aql,{keys}->qae", jax.nn.softmax(scores, axis=-1).astype(v_LAE.dtype), v_LAE)


# Long sequences (ARC-size grids: 1804 tokens at 30x30) use blockwise attention: the same result,
# computed QUERY_BLOCK query rows at a time so that the score block stays in cache instead of
# streaming an (A, L, L) array through memory several times. It pays off on large grids and not on
# small ones, hence the threshold; `python benchmarks/bench_attention.py` measures both versions.
QUERY_BLOCK = 32
BLOCKWISE_FROM = 256  # keys per query row at which `attention` switches to blockwise


def attention(q_QAE, k_LAE, v_LAE, mask_QL):
    """Masked softmax attention: `attend`, or `blockwise_attend` for long sequences."""
    if k_LAE.shape[0] >= BLOCKWISE_FROM:
        return blockwise_attend(q_QAE, k_LAE, v_LAE, mask_QL)
    return attend(q_QAE, k_LAE, v_LAE, mask_QL)


def _query_blocks(x_Q, block):
    """Pads the leading (query) axis to a multiple of `block` and splits it: (n, block, ...)."""
    n = -(-x_Q.shape[0] // block)
    pad = [(0, n * block - x_Q.shape[0])] + [(0, 0)] * (x_Q.ndim - 1)
    return jnp.pad(x_Q, pad).reshape(n, block, *x_Q.shape[1:])


@jax.custom_vjp
def blockwise_attend(q_QAE, k_LAE, v_LAE, mask_QL):
    """`attend` computed QUERY_BLOCK query rows at a time, forward and backward (the backward pass
    recomputes each block's probabilities from the saved softmax normaliser instead of storing them, as
    FlashAttention does). Equal to `attend` up to float rounding, fully masked rows included
    (both attend uniformly). Reverse mode only: no jax.jvp through it."""
    return _blockwise_fwd(q_QAE, k_LAE, v_LAE, mask_QL)[0]


def _block_scores(q_cAE, k_LAE, mask_cL):
    scores = jnp.einsum("qae,lae->aql", q_cAE, k_LAE) / math.sqrt(q_cAE.shape[-1])
    return jnp.where(mask_cL[None], scores, -1e30)


def _blockwise_fwd(q_QAE, k_LAE, v_LAE, mask_QL):
    def one(blocks):
        q_cAE, mask_cL = blocks
        scores = _block_scores(q_cAE, k_LAE, mask_cL)
        peak = jnp.max(scores, -1, keepdims=True)
        p = jnp.exp(scores - peak)
        total = jnp.sum(p, -1, keepdims=True)
        # Kept apart: peak + log(total) would round to the peak on a fully masked row (-1e30).
        return jnp.einsum("aql,lae->qae", p / total, v_LAE), (peak[..., 0], jnp.log(total[..., 0]))

    out, norm = jax.lax.map(one, (_query_blocks(q_QAE, QUERY_BLOCK), _query_blocks(mask_QL, QUERY_BLOCK)))
    out_QAE = out.reshape(-1, *q_QAE.shape[1:])[: q_QAE.shape[0]]
    return out_QAE, (q_QAE, k_LAE, v_LAE, mask_QL, out_QAE, norm)


def _blockwise_bwd(saved, d_out_QAE):
    q_QAE, k_LAE, v_LAE, mask_QL, out_QAE, (peak, log_total) = saved
    scale = 1 / math.sqrt(q_QAE.shape[-1])
    delta_QA = jnp.sum(d_out_QAE * out_QAE, -1)  # sum_l p·dp, per query and head

    def step(carry, blocks):
        dk_LAE, dv_LAE = carry
        q_cAE, mask_cL, d_out_cAE, delta_cA, peak_Ac, log_total_Ac = blocks
        p = jnp.exp(_block_scores(q_cAE, k_LAE, mask_cL) - peak_Ac[..., None] - log_total_Ac[..., None])  # (A, c, L)
        dv_LAE = dv_LAE + jnp.einsum("aql,qae->lae", p, d_out_cAE)
        dp = jnp.einsum("qae,lae->aql", d_out_cAE, v_LAE)
        d_scores = jnp.where(mask_cL[None], p * (dp - delta_cA.T[..., None]) * scale, 0.0)  # masked: no gradient
        dk_LAE = dk_LAE + jnp.einsum("aql,qae->lae", d_scores, q_cAE)
        return (dk_LAE, dv_LAE), jnp.einsum("aql,lae->qae", d_scores, k_LAE)

    blocks = tuple(_query_blocks(x, QUERY_BLOCK) for x in (q_QAE, mask_QL, d_out_QAE, delta_QA))
    (dk_LAE, dv_LAE), dq = jax.lax.scan(
        step, (jnp.zeros_like(k_LAE), jnp.zeros_like(v_LAE)), (*blocks, peak, log_total)
    )
    return dq.reshape(-1, *q_QAE.shape[1:])[: q_QAE.shape[0]], dk_LAE, dv_LAE, None


blockwise_attend.defvjp(_blockwise_fwd, _blockwise_bwd)


def run_blocks(blocks, x_LD, mask_LL, keep_last=slice(None), first_qkv=None):
    """Runs the blocks; the last one only for the tokens in `keep_last`, the first one with
    `first_qkv` if given. Returns the stream and every layer's (keys, values)."""
    caches = []
    for i, block in enumerate(blocks):
        x_LD, k, v = block(
            x_LD, mask_LL, keep_last if i == len(blocks) - 1 else slice(None), first_qkv if i == 0 else None
        )
        caches.append((k, v))
    return x_LD, caches
