"""Greedy decoding (paper §1.4, at test time): the decoder emits an output's row count, column
count and cells in raster order, each from the tokens before it, with a key/value cache: one pass
over the prefix (the input grid and the latent, or the in-context model's conditioning block), then
one incremental step per output cell. `next_positions` is the row-wrap rule that orders the cells
(the teacher-forced sequence of `lpn.model.Decoder` follows it too).

`decode_after` also returns what a second answer needs: each decision's margin between its two
most likely tokens and each cell's second colour, from which `runner_up` builds the decoder's
runner-up (attempt 2) without a second decoding. `generate_reference` re-runs the whole decoder for
every cell, as the authors' code does; it stays as the definition the cached decoder is tested
against. `lpn.model.generate` is the LPN entry point.

The functions take the model's parts as they are (`dec` a `lpn.model.Decoder`, `model` an
`lpn.model.LPN`), so this module does not import `lpn.model`, which imports it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lpn.attention import attend, run_blocks


def next_positions(shape, rows, cols):
    """For each padded output cell (raster order), the (row, col) of the next valid cell."""
    r, c = jnp.divmod(jnp.arange(rows * cols), cols)
    wrap = c >= shape[1] - 1
    return jnp.minimum(jnp.where(wrap, r + 1, r), rows - 1), jnp.where(wrap, 0, c + 1)


def generate_after(dec, prefix, grid_shape):
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


def decode_after(dec, prefix, grid_shape):
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


def runner_up_after(dec, prefix, grid_shape):
    """The greedy answer and the decoder's `runner_up` after a prefix, from one decoding:
    ((grid, shape, log_p), (grid, shape, log_p))."""
    grid, shape, margins, seconds, log_p = decode_after(dec, prefix, grid_shape)
    return (grid, shape, log_p), runner_up(grid, shape, margins, seconds, log_p)


def generate_reference(model, z_H, input_RC, input_shape):
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
