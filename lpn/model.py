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

Greedy decoding (`generate`) keeps a key/value cache: one pass over the prefix, then one
incremental step per output cell (`lpn.decoding`, with the reference it is tested against). The
attention, plain or blockwise for long sequences, is `lpn.attention`'s.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from lpn.attention import attention, run_blocks
from lpn.config import Config
from lpn.decoding import generate_after, next_positions

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
