"""The Latent Program Network (paper §1): an encoder from a pair to a Gaussian latent, and a decoder
that executes a latent on an input grid, autoregressively over the output's rows, columns and cells.

Functions are written for ONE pair or ONE task; batches come from `jax.vmap` at the call site.

Shape letters, for array names across the package (`grids_BNRC`, `z_KH`, `logits_RCV`); other
modules use these and do not redefine them:
    B tasks             N pairs of a task    M the pairs other than one (N - 1, leave-one-out)
    T test inputs of a task                  P the side of a Pattern task's pattern (lpn.pattern)
    R rows, C columns (of the padded grid)   V colours (10)
    D model width       F MLP hidden width   A heads      E head width (D = A·E)
    L tokens            Q query tokens       c a block of QUERY_BLOCK query tokens
    H latent dimension  S search steps       K candidates: latents searched or scored together
    G latents on a raster of the 2-D latent plane (lpn.demo)
A digit is a literal size: `shapes_B2` holds (rows, cols), `uv_K2` points on a plane, and the 3 of
`Block.w_qkv` stacks queries, keys and values. Einsum strings use the same letters in lower case.

Decoder sequence for one pair (length 2·R·C + 4, 1804 at 30x30), as in §1.4:
    [rows_in, cols_in, R·C input cells, latent, rows_out, cols_out, R·C - 1 output cells]
(the last cell's token would predict nothing and no token sees it: it is left out). Input tokens
see valid input tokens and the latent; output tokens see every valid input token and the valid
output tokens before them. Each output cell token carries the position of the cell it
predicts ("next position"), and the first cell of row r is predicted from the last *valid* cell
of row r-1 (the row-wrap rule), so padding never sits between two predicted cells.

Greedy decoding keeps a key/value cache: one pass over the prefix, then one incremental step per
output cell. `generate_reference` re-runs the whole decoder for every cell, as the authors' code
does; it stays here as the definition the cached decoder is tested against.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from lpn.config import Config

V = 10  # colours


def layer_norm(x):
    """LayerNorm without scale or bias (§1.5)."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + 1e-6)


def _normal(key, shape, std):
    return std * jax.random.normal(key, shape, jnp.float32)


class Block(eqx.Module):
    """Pre-LN transformer block: bias-free attention and a SiLU MLP, (4 + 2·mlp)·D² parameters."""

    w_qkv: jax.Array  # (D, 3, A, E)
    w_out: jax.Array  # (A, E, D)
    w_up: jax.Array  # (D, F)
    w_down: jax.Array  # (F, D)

    def __init__(self, width, heads, mlp_factor, num_layers, key):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        head_dim, hidden = width // heads, int(mlp_factor * width)
        residual_std = 1 / math.sqrt(2 * num_layers)  # keeps the residual stream's scale
        self.w_qkv = _normal(k1, (width, 3, heads, head_dim), 1 / math.sqrt(width))
        self.w_out = _normal(k2, (heads, head_dim, width), residual_std / math.sqrt(width))
        self.w_up = _normal(k3, (width, hidden), 1 / math.sqrt(width))
        self.w_down = _normal(k4, (hidden, width), residual_std / math.sqrt(hidden))

    def qkv(self, x_LD):
        return jnp.einsum("ld,dtae->tlae", layer_norm(x_LD), self.w_qkv)

    def finish(self, x_LD, attended_LAE):
        x_LD = x_LD + jnp.einsum("lae,aed->ld", attended_LAE, self.w_out)
        return x_LD + jax.nn.silu(layer_norm(x_LD) @ self.w_up) @ self.w_down

    def __call__(self, x_LD, mask_LL, keep=slice(None), qkv=None):
        """Full pass. Returns the new stream of the tokens in `keep` (a slice: a last layer need
        not compute tokens no head reads, nor their queries) and this layer's keys and values (for
        a cache). `qkv`: this layer's queries, keys and values if the caller has them already."""
        if qkv is not None:
            q, k, v = qkv
            q = q[keep]
        elif keep == slice(None):
            q, k, v = self.qkv(x_LD)
        else:
            h_LD = layer_norm(x_LD)
            q = jnp.einsum("ld,dae->lae", h_LD[keep], self.w_qkv[:, 0])
            k, v = jnp.einsum("ld,dtae->tlae", h_LD, self.w_qkv[:, 1:])
        return self.finish(x_LD[keep], attention(q, k, v, mask_LL[keep])), k, v


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


def cell_valid(shape, rows, cols):
    """(R·C,) True for the cells inside a grid of true `shape` = (rows, cols)."""
    r, c = jnp.divmod(jnp.arange(rows * cols), cols)
    return (r < shape[0]) & (c < shape[1])


class Embeddings(NamedTuple):
    """The token tables of the encoder or the decoder, built by `embedding_tables` for both. Each
    module keeps them as fields of its own, whose names the checkpoints use (the side table is the
    encoder's `channel` and the decoder's `half`); this view lets one set of functions use them."""

    colour: jax.Array  # (V, D)
    row: jax.Array  # (R, D) a cell's row
    col: jax.Array  # (C, D) a cell's column
    side: jax.Array  # (2, D) input / output
    shape_rows: jax.Array  # (R, D) a grid's row count s, as class s - 1
    shape_cols: jax.Array  # (C, D) a grid's column count


def embedding_tables(cfg: Config, width: int, keys) -> Embeddings:
    """Six tables of `width` columns, one key each, N(0, 1/width)."""
    sizes = (V, cfg.max_rows, cfg.max_cols, 2, cfg.max_rows, cfg.max_cols)
    return Embeddings(*(_normal(k, (n, width), 1 / math.sqrt(width)) for k, n in zip(keys, sizes, strict=True)))


def embed_grid(tables: Embeddings, grid_RC, side: int):
    """(R·C, D) cell tokens in raster order: colour + row + column + side. Grids may be padded to
    less than the tables' maximum."""
    rows, cols = grid_RC.shape
    cells_RCD = tables.colour[grid_RC] + tables.row[:rows, None] + tables.col[None, :cols] + tables.side[side]
    return cells_RCD.reshape(rows * cols, -1)


def embed_shape(tables: Embeddings, shape, side: int):
    """(2, D): the tokens of a grid's row count and column count."""
    return jnp.stack([tables.shape_rows[shape[0] - 1], tables.shape_cols[shape[1] - 1]]) + tables.side[side]


class Encoder(eqx.Module):
    """q(z | x, y): one pair to the mean and log-variance of a diagonal Gaussian (§1.2)."""

    colour: jax.Array  # the `Embeddings` tables, `side` named channel
    row: jax.Array
    col: jax.Array
    channel: jax.Array
    shape_rows: jax.Array
    shape_cols: jax.Array
    cls: jax.Array  # (D,)
    blocks: list
    w_mu: jax.Array  # (D, H)
    w_logvar: jax.Array | None  # (D, H), None when the encoder is not variational

    def __init__(self, cfg: Config, key):
        d, keys = cfg.enc_width, jax.random.split(key, 9 + cfg.enc_layers)
        std = 1 / math.sqrt(d)
        self.colour, self.row, self.col, self.channel, self.shape_rows, self.shape_cols = embedding_tables(
            cfg, d, keys[:6]
        )
        self.cls = _normal(keys[6], (d,), std)
        self.blocks = [Block(d, cfg.enc_heads, cfg.enc_mlp_factor, cfg.enc_layers, k) for k in keys[9:]]
        self.w_mu = _normal(keys[7], (d, cfg.latent_dim), std)
        self.w_logvar = _normal(keys[8], (d, cfg.latent_dim), std) if cfg.variational else None

    @property
    def tables(self) -> Embeddings:
        return Embeddings(self.colour, self.row, self.col, self.channel, self.shape_rows, self.shape_cols)

    def __call__(self, input_RC, output_RC, input_shape, output_shape):
        """Returns (mu_H, logvar_H); logvar is zeros for a non-variational encoder."""
        summary_D = self.summary(input_RC, output_RC, input_shape, output_shape)
        mu_H = summary_D @ self.w_mu
        logvar_H = jnp.zeros_like(mu_H) if self.w_logvar is None else summary_D @ self.w_logvar
        return mu_H.astype(jnp.float32), logvar_H.astype(jnp.float32)

    def summary(self, input_RC, output_RC, input_shape, output_shape):
        """(D,) the normalised CLS output: the pair's embedding, before the latent heads."""
        rows, cols = input_RC.shape
        tables = self.tables
        # Tokens [cls, rows_in, rows_out, cols_in, cols_out, input cells, output cells].
        shapes = jnp.stack([embed_shape(tables, input_shape, 0), embed_shape(tables, output_shape, 1)], 1)
        cells = [embed_grid(tables, grid, side) for side, grid in enumerate((input_RC, output_RC))]
        x_LD = jnp.concatenate([self.cls[None], shapes.reshape(4, -1), *cells])
        valid_L = jnp.concatenate(
            [
                jnp.ones(5, bool),
                cell_valid(input_shape, rows, cols),
                cell_valid(output_shape, rows, cols),
            ]
        )
        mask_LL = jnp.broadcast_to(valid_L, (valid_L.size, valid_L.size))
        x_LD, _ = run_blocks(self.blocks, x_LD, mask_LL, keep_last=slice(0, 1))
        return layer_norm(x_LD[0])


class Decoder(eqx.Module):
    """p(y | x, z): autoregressive over output rows, columns and cells (§1.4)."""

    colour: jax.Array  # the `Embeddings` tables, `side` named half (of the sequence)
    row: jax.Array
    col: jax.Array
    half: jax.Array
    shape_rows: jax.Array
    shape_cols: jax.Array
    w_latent: jax.Array  # (H, D)
    b_latent: jax.Array | None  # (D,), None without `latent_bias` (the paper)
    blocks: list
    head_rows: jax.Array  # (D, R)
    head_cols: jax.Array  # (D, C)
    head_cells: jax.Array  # (D, V)

    def __init__(self, cfg: Config, key):
        d, keys = cfg.dec_width, jax.random.split(key, 10 + cfg.dec_layers)
        std = 1 / math.sqrt(d)
        self.colour, self.row, self.col, self.half, self.shape_rows, self.shape_cols = embedding_tables(
            cfg, d, keys[:6]
        )
        self.w_latent = _normal(keys[6], (cfg.latent_dim, d), 1 / math.sqrt(cfg.latent_dim))
        # Initialised as one more row of w_latent: the token is [z, 1] @ [w_latent; b_latent].
        self.b_latent = (
            _normal(jax.random.fold_in(keys[6], 1), (d,), 1 / math.sqrt(cfg.latent_dim)) if cfg.latent_bias else None
        )
        self.blocks = [Block(d, cfg.dec_heads, cfg.dec_mlp_factor, cfg.dec_layers, k) for k in keys[10:]]
        self.head_rows = _normal(keys[7], (d, cfg.max_rows), std)
        self.head_cols = _normal(keys[8], (d, cfg.max_cols), std)
        self.head_cells = _normal(keys[9], (d, V), std)

    @property
    def tables(self) -> Embeddings:
        return Embeddings(self.colour, self.row, self.col, self.half, self.shape_rows, self.shape_cols)

    def latent_token(self, z_H):
        """The latent token: z @ w_latent, the paper's bias-free projection, plus b_latent if the model
        has one. Without it the first layer sees only z's direction (a pre-LN block normalises
        z @ w_latent, which scales with |z|), so regions of the latent plane far from the origin
        can only be wedges. With it, the first layer sees the direction of (z, 1): all of z."""
        token_D = z_H @ self.w_latent
        return token_D if self.b_latent is None else token_D + self.b_latent

    def cell_token(self, colour, row, col):
        """An output cell token: its colour, the position of the cell it predicts, the output half."""
        return self.colour[colour] + self.row[row] + self.col[col] + self.half[1]

    def prefix(self, z_H, input_RC, input_shape):
        """Tokens [rows_in, cols_in, input cells, latent] and their mask. Latent is the last; with
        `z_H` None its token is zeros."""
        latent_1D = jnp.zeros((1, self.head_cells.shape[0])) if z_H is None else self.latent_token(z_H)[None]
        return self.conditioned_prefix(latent_1D, jnp.ones(1, bool), input_RC, input_shape)

    def conditioned_prefix(self, cond_LD, cond_valid_L, input_RC, input_shape):
        """Tokens [rows_in, cols_in, input cells, conditioning block] and their validity. The
        block's last token is the one the row-count head reads: LPN's latent, or the in-context
        model's read token after its context tokens (lpn/in_context.py)."""
        rows, cols = input_RC.shape
        x_LD = jnp.concatenate(
            [embed_shape(self.tables, input_shape, 0), embed_grid(self.tables, input_RC, 0), cond_LD]
        )
        valid_L = jnp.concatenate([jnp.ones(2, bool), cell_valid(input_shape, rows, cols), cond_valid_L])
        return x_LD, valid_L

    def sequence(self, z_H, input_RC, input_shape, output_RC, output_shape):
        """The whole teacher-forced sequence (L = 2·R·C + 4, D) and its (L, L) attention mask.
        The token of the last padded cell is left out: it would predict nothing and no other token
        sees it (the authors' sequence keeps it, one token longer)."""
        return self.sequence_after(self.prefix(z_H, input_RC, input_shape), input_RC.shape, output_RC, output_shape)

    def sequence_after(self, prefix, grid_shape, output_RC, output_shape):
        """`sequence` from a prefix (tokens, validity) whose last token is the read (latent) token:
        prefix tokens see every valid prefix token; the output half, from the read token on, sees
        the valid prefix and, causally, itself."""
        rows, cols = grid_shape
        prefix_LD, prefix_valid = prefix
        next_r, next_c = next_positions(output_shape, rows, cols)
        cells = self.cell_token(output_RC.reshape(-1)[:-1], next_r[:-1], next_c[:-1])
        x_LD = jnp.concatenate([prefix_LD, embed_shape(self.tables, output_shape, 1), cells])
        valid_L = jnp.concatenate([prefix_valid, jnp.ones(2, bool), cell_valid(output_shape, rows, cols)[:-1]])
        length, latent_at = x_LD.shape[0], prefix_LD.shape[0] - 1
        idx = jnp.arange(length)
        out_q, out_k = idx[:, None] >= latent_at, idx[None, :] >= latent_at
        allowed = jnp.where(out_q, ~out_k | (idx[None, :] <= idx[:, None]), ~out_k | (idx[None, :] == latent_at))
        return x_LD, allowed & valid_L[None, :]

    def heads(self, h_D):
        h_D = layer_norm(h_D)
        return h_D @ self.head_rows, h_D @ self.head_cols, h_D @ self.head_cells

    def __call__(self, z_H, input_RC, input_shape, output_RC, output_shape):
        """Teacher-forced logits: rows (R,), cols (C,), cells (R, C, V) for every output cell.

        z enters through one token, so the first layer's queries, keys and values of all the others
        do not depend on it: they are computed apart from the latent token's. A search over z then
        computes them once (XLA hoists them out of its loop) and differentiates none of them."""
        x_LD, mask_LL = self.sequence(None, input_RC, input_shape, output_RC, output_shape)
        latent_at, latent_D = input_RC.size + 2, self.latent_token(z_H)
        first = self.blocks[0]
        qkv = first.qkv(x_LD).at[:, latent_at].set(first.qkv(latent_D[None])[:, 0])
        x_LD = x_LD.at[latent_at].set(latent_D)
        return self.logits(x_LD, mask_LL, output_shape, input_RC.shape, first_qkv=qkv)

    def logits(self, x_LD, mask_LL, output_shape, grid_shape, first_qkv=None, latent_at=None):
        """The heads' logits from a token sequence (split out so tests can differentiate by token).
        `latent_at`: the index of the read (latent) token, by default LPN's, R·C + 2."""
        rows, cols = grid_shape
        latent_at = rows * cols + 2 if latent_at is None else latent_at  # the last layer computes the output half only
        h_LD, _ = run_blocks(self.blocks, x_LD, mask_LL, keep_last=slice(latent_at, None), first_qkv=first_qkv)
        row_logits = self.heads(h_LD[0])[0]
        col_logits = self.heads(h_LD[1])[1]
        source_RC = 2 + predictor_index(output_shape, rows, cols)
        cell_logits = jax.vmap(lambda h: self.heads(h)[2])(h_LD[source_RC.reshape(-1)])
        return row_logits, col_logits, cell_logits.reshape(rows, cols, V)


def next_positions(shape, rows, cols):
    """For each padded output cell (raster order), the (row, col) of the next valid cell."""
    r, c = jnp.divmod(jnp.arange(rows * cols), cols)
    wrap = c >= shape[1] - 1
    return jnp.minimum(jnp.where(wrap, r + 1, r), rows - 1), jnp.where(wrap, 0, c + 1)


def predictor_index(shape, rows, cols):
    """(R, C) index of the token whose output predicts each cell, counted from the cols_out token
    (0): cell (0,0) from cols_out, (r, c) from (r, c-1), (r, 0) from (r-1, last valid column)."""
    r, c = jnp.divmod(jnp.arange(rows * cols).reshape(rows, cols), cols)
    previous = jnp.where(c > 0, r * cols + c - 1, (r - 1) * cols + shape[1] - 1)
    return jnp.where((r == 0) & (c == 0), 0, 1 + previous)


class LPN(eqx.Module):
    """Encoder and decoder of one Latent Program Network, built from a `Config`."""

    encoder: Encoder
    decoder: Decoder
    config: Config = eqx.field(static=True)

    def __init__(self, config: Config, key):
        k_enc, k_dec = jax.random.split(key)
        self.encoder = Encoder(config, k_enc)
        self.decoder = Decoder(config, k_dec)
        self.config = config


def num_params(model) -> int:
    """Parameter count; works on a shape-only model from `eqx.filter_eval_shape` too."""
    return sum(math.prod(x.shape) for x in jax.tree.leaves(model) if hasattr(x, "shape"))


def pair_log_prob(model: LPN, z_H, input_RC, input_shape, output_RC, output_shape):
    """log p(y | x, z) as in the authors' code (§3.1): row + column log-probabilities plus the MEAN
    log-probability of the valid output cells."""
    return output_log_prob(model.decoder(z_H, input_RC, input_shape, output_RC, output_shape), output_RC, output_shape)


def output_log_prob(logits, output_RC, output_shape):
    """`pair_log_prob` from the decoder's teacher-forced (row, column, cell) logits."""
    row_logits, col_logits, cell_logits = logits
    rows, cols = output_RC.shape
    lp_rows = jax.nn.log_softmax(row_logits)[output_shape[0] - 1]
    lp_cols = jax.nn.log_softmax(col_logits)[output_shape[1] - 1]
    lp_cells = jnp.take_along_axis(jax.nn.log_softmax(cell_logits), output_RC[..., None].astype(jnp.int32), -1)[..., 0]
    valid_RC = cell_valid(output_shape, rows, cols).reshape(rows, cols)
    return lp_rows + lp_cols + jnp.sum(lp_cells * valid_RC) / jnp.sum(valid_RC)


def encode_pairs(model: LPN, pairs):
    """Encodes every pair of one task (a `Batch` without its task axis): (mu_NH, logvar_NH)."""
    return jax.vmap(model.encoder)(pairs.inputs, pairs.outputs, pairs.input_shapes, pairs.output_shapes)


def generate(model: LPN, z_H, input_RC, input_shape):
    """Greedy decoding with a key/value cache. Returns (grid_RC, shape_2): the grid is zero
    outside the predicted shape."""
    return generate_after(model.decoder, model.decoder.prefix(z_H, input_RC, input_shape), input_RC.shape)


def generate_after(dec: Decoder, prefix, grid_shape):
    """Greedy decoding with a key/value cache after a prefix (tokens, validity) of
    `Decoder.conditioned_prefix`, whose last token the row-count head reads; `generate` for LPN."""
    grid, shape, _, _, _ = decode_after(dec, prefix, grid_shape)
    return grid, shape


def _choose(logits):
    """The most likely token at one decision, with the decision's margin (log-probability of the best
    token minus the second's), the chosen token's log-probability and the second most likely token."""
    log_p = jax.nn.log_softmax(logits)
    if logits.shape[-1] == 1:  # a one-choice head (the row count of 1-row grids): no second token
        zero = jnp.zeros((), jnp.int32)
        return zero, jnp.asarray(jnp.inf, log_p.dtype), log_p[0], zero
    top, token = jax.lax.top_k(log_p, 2)
    return token[0], top[0] - top[1], top[0], token[1]


def decode_after(dec: Decoder, prefix, grid_shape):
    """`generate_after`, with what a second answer needs. Decisions are numbered in decoding order:
    0 the row count, 1 the column count, 2 + t the t-th output cell in raster order. Returns
    (grid_RC, shape_2, margins, seconds_RC, log_p): `margins` (2 + R·C,) the log-probability gap
    between the two most likely tokens at each decision (+inf past the output's cells), `seconds_RC`
    each cell's second most likely colour (0 outside the output), `log_p` the summed log-probability
    of the greedy tokens (the answer's log-likelihood under the decoder)."""
    (rows, cols), (x_LD, valid_L) = grid_shape, prefix
    mask_LL = jnp.broadcast_to(valid_L, (valid_L.size, valid_L.size))  # all see valid input + latent
    h_LD, prefix_caches = run_blocks(dec.blocks, x_LD, mask_LL, keep_last=slice(-1, None))
    length = valid_L.size + 1 + rows * cols  # the prefix, rows_out, cols_out, R·C - 1 cells
    caches = [
        tuple(
            jnp.zeros((k.shape[1], length, k.shape[2]), k.dtype).at[:, : valid_L.size].set(k.swapaxes(0, 1)) for k in kv
        )  # (A, L, E)
        for kv in prefix_caches
    ]
    visible = jnp.zeros(length, bool).at[: valid_L.size].set(valid_L)
    margins = jnp.full(2 + rows * cols, jnp.inf)

    def step(x_D, slot, caches, visible):
        visible = visible.at[slot].set(True)
        new_caches = []
        for block, (k_cache, v_cache) in zip(dec.blocks, caches):
            q, k, v = block.qkv(x_D[None])
            k_cache, v_cache = k_cache.at[:, slot].set(k[0]), v_cache.at[:, slot].set(v[0])
            x_D = block.finish(x_D[None], attend(q, k_cache, v_cache, visible[None], keys="ale"))[0]
            new_caches.append((k_cache, v_cache))
        return dec.heads(x_D), new_caches, visible

    row_token, margin, log_p, _ = _choose(dec.heads(h_LD[-1])[0])
    out_rows, margins = row_token + 1, margins.at[0].set(margin)
    (_, col_logits, _), caches, visible = step(
        dec.shape_rows[out_rows - 1] + dec.half[1], valid_L.size, caches, visible
    )
    col_token, margin, lp, _ = _choose(col_logits)
    out_cols, margins, log_p = col_token + 1, margins.at[1].set(margin), log_p + lp
    shape = jnp.stack([out_rows, out_cols])
    (_, _, logits_V), caches, visible = step(
        dec.shape_cols[out_cols - 1] + dec.half[1], valid_L.size + 1, caches, visible
    )
    next_r, next_c = next_positions(shape, rows, cols)

    def body(t, carry):
        grid, seconds, logits_V, caches, visible, margins, log_p = carry
        r, c = t // out_cols, t % out_cols
        colour, margin, lp, second = _choose(logits_V)
        grid, seconds = grid.at[r, c].set(colour.astype(jnp.uint8)), seconds.at[r, c].set(second.astype(jnp.uint8))
        cell = r * cols + c
        (_, _, logits_V), caches, visible = step(
            dec.cell_token(colour.astype(jnp.uint8), next_r[cell], next_c[cell]),
            valid_L.size + 2 + cell,
            caches,
            visible,
        )
        return grid, seconds, logits_V, caches, visible, margins.at[2 + t].set(margin), log_p + lp

    # Every cell but the last feeds its token back; the last one's token would predict nothing.
    last = out_rows * out_cols - 1
    blank = jnp.zeros((rows, cols), jnp.uint8)
    init = (blank, blank, logits_V, caches, visible, margins, log_p)
    grid, seconds, logits_V, _, _, margins, log_p = jax.lax.fori_loop(0, last, body, init)
    colour, margin, lp, second = _choose(logits_V)
    r, c = last // out_cols, last % out_cols
    grid, seconds = grid.at[r, c].set(colour.astype(jnp.uint8)), seconds.at[r, c].set(second.astype(jnp.uint8))
    return grid, shape, margins.at[2 + last].set(margin), seconds, log_p + lp


def runner_up(grid_RC, shape, margins, seconds_RC, log_p):
    """The decoder's runner-up from one greedy decoding (`decode_after`'s outputs): the greedy answer
    with its least certain cell (the smallest margin) changed to that cell's second most likely
    colour. The cells after it are not re-decoded (that would be a second decoding loop, as costly
    again to compile and to run), so its `log_p` is the greedy one minus that cell's margin: the
    likelihood of that one changed decision, the later cells as they were decoded. Under a decoder
    that scored its cells independently this is the second most likely grid of that shape. Returns
    (grid_RC, shape, log_p); the grid always differs from the greedy one in exactly one cell."""
    t = jnp.argmin(margins[2:])
    r, c = t // shape[1], t % shape[1]
    return grid_RC.at[r, c].set(seconds_RC[r, c]), shape, log_p - margins[2 + t]


def runner_up_after(dec: Decoder, prefix, grid_shape):
    """The greedy answer and the decoder's `runner_up` after a prefix, from one decoding:
    ((grid, shape, log_p), (grid, shape, log_p))."""
    grid, shape, margins, seconds, log_p = decode_after(dec, prefix, grid_shape)
    return (grid, shape, log_p), runner_up(grid, shape, margins, seconds, log_p)


def generate_reference(model: LPN, z_H, input_RC, input_shape):
    """Greedy decoding by full recomputation: every cell re-runs the whole decoder (the authors'
    method). Slow by design; the cached `generate` must give the same grids."""
    rows, cols = input_RC.shape

    def logits(grid, shape):
        return model.decoder(z_H, input_RC, input_shape, grid, shape)

    blank = jnp.zeros((rows, cols), jnp.uint8)
    out_rows = jnp.argmax(logits(blank, jnp.array([1, 1]))[0]) + 1
    out_cols = jnp.argmax(logits(blank, jnp.stack([out_rows, 1]))[1]) + 1
    shape = jnp.stack([out_rows, out_cols])

    def body(t, grid):
        r, c = t // out_cols, t % out_cols
        return grid.at[r, c].set(jnp.argmax(logits(grid, shape)[2][r, c]).astype(jnp.uint8))

    return jax.lax.fori_loop(0, out_rows * out_cols, body, blank), shape
