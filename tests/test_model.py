import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import TINY
from lpn.attention import attend
from lpn.config import PRESETS
from lpn.decoding import generate_reference
from lpn.model import (
    LPN,
    encode_pairs,
    generate,
    num_params,
    pair_log_prob,
    predictor_index,
)
from lpn.search import log_prob, mean_latent


@pytest.mark.parametrize(
    "name, count",
    [
        ("pattern_2d", 254_664),
        ("pattern", 243_360),
        ("pattern_ood", 154_496),
        ("arc", 44_604_928),
    ],
)
def test_preset_parameter_counts_match_the_paper(name, count):
    """§1.6: the true counts (the paper's are 4x, a replicated tree)."""
    model = eqx.filter_eval_shape(LPN, PRESETS[name], jax.random.key(0))
    assert num_params(model) == count


def test_latent_bias_adds_one_vector_and_lets_the_first_layer_see_the_latents_length():
    """Without the bias, a pre-LN first layer gets the same keys and values from z and 3z."""
    cfg = PRESETS["pattern_2d"]
    biased = LPN(cfg.replace(latent_bias=True), jax.random.key(0))
    assert num_params(biased) == 254_664 + cfg.dec_width
    plain = eqx.tree_at(lambda m: m.decoder.b_latent, biased, None, is_leaf=lambda x: x is None)
    z = jnp.array([0.7, -1.3])
    for model, same in ((plain, True), (biased, False)):
        first = model.decoder.blocks[0]
        k1, v1 = first.qkv(model.decoder.latent_token(z)[None])[1:]
        k3, v3 = first.qkv(model.decoder.latent_token(3 * z)[None])[1:]
        assert (np.allclose(k1, k3, atol=1e-4) and np.allclose(v1, v3, atol=1e-4)) == same


def permute_pairs(pairs, order):
    return jax.tree.map(lambda a: a[jnp.array(order)], pairs)


mean_latent_jit = eqx.filter_jit(mean_latent)
log_prob_jit = eqx.filter_jit(log_prob)


def test_permutation_invariance_over_pairs(tiny_model, random_pairs):
    z = mean_latent_jit(tiny_model, random_pairs)
    lp = log_prob_jit(tiny_model, z, random_pairs)
    shuffled = permute_pairs(random_pairs, [2, 0, 3, 1])
    np.testing.assert_allclose(mean_latent_jit(tiny_model, shuffled), z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_prob_jit(tiny_model, z, shuffled), lp, rtol=1e-5)


def test_padding_content_and_empty_slots_are_invisible(tiny_model, random_pairs):
    rng = np.random.default_rng(3)
    rows, cols = TINY.max_rows, TINY.max_cols
    r, c = np.arange(rows)[:, None], np.arange(cols)[None, :]

    def scramble(grids, shapes):
        noise = rng.integers(0, 10, grids.shape)
        inside = (r < shapes[:, 0, None, None]) & (c < shapes[:, 1, None, None])
        return jnp.where(inside, grids, noise).astype(jnp.uint8)

    noisy = random_pairs._replace(
        inputs=scramble(random_pairs.inputs, random_pairs.input_shapes),
        outputs=scramble(random_pairs.outputs, random_pairs.output_shapes),
    )
    encode = eqx.filter_jit(encode_pairs)
    mu, logvar = encode(tiny_model, random_pairs)
    mu2, logvar2 = encode(tiny_model, noisy)
    valid = np.asarray(random_pairs.pair_mask)
    np.testing.assert_allclose(mu2[valid], mu[valid], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvar2[valid], logvar[valid], rtol=1e-5, atol=1e-6)
    z = jnp.ones(TINY.latent_dim)
    np.testing.assert_allclose(log_prob_jit(tiny_model, z, noisy), log_prob_jit(tiny_model, z, random_pairs), rtol=1e-5)
    assert not valid.all()  # the fixture has an empty slot, which must not count
    np.testing.assert_allclose(
        mean_latent_jit(tiny_model, noisy), mean_latent_jit(tiny_model, random_pairs), rtol=1e-5, atol=1e-6
    )


def token_gradients(model, pairs, index):
    """A jitted g(which, r, c) -> (L,) |d logit / d token| summed over the width and the logits,
    where which is 0 rows, 1 cols, 2 cell (r, c)."""
    dec, rows, cols = model.decoder, TINY.max_rows, TINY.max_cols
    x_LD, mask_LL = dec.sequence(
        jnp.ones(TINY.latent_dim),
        pairs.inputs[index],
        pairs.input_shapes[index],
        pairs.outputs[index],
        pairs.output_shapes[index],
    )

    @jax.jit
    def g(which, r, c):
        def f(x):
            row_l, col_l, cell_l = dec.logits(x, mask_LL, pairs.output_shapes[index], (rows, cols))
            return jnp.stack([row_l.sum(), col_l.sum(), cell_l[r, c].sum()])[which]

        return jnp.abs(jax.grad(f)(x_LD)).sum(-1)

    return g


def test_decoder_is_causal_by_gradients(tiny_model, random_pairs):
    rows, cols = TINY.max_rows, TINY.max_cols
    latent_at, first_cell = rows * cols + 2, rows * cols + 5
    g = token_gradients(tiny_model, random_pairs, 1)
    out_rows, out_cols = (int(v) for v in random_pairs.output_shapes[1])
    in_rows, in_cols = (int(v) for v in random_pairs.input_shapes[1])
    padded_in = np.array([2 + i * cols + j for i in range(rows) for j in range(cols) if i >= in_rows or j >= in_cols])
    # The row count sees the input and the latent only; the column count adds rows_out.
    d_rows, d_cols = g(0, 0, 0), g(1, 0, 0)
    assert d_rows[latent_at + 1 :].max() == 0 and d_rows[latent_at] > 0 and d_rows[2] > 0
    assert d_cols[latent_at + 2 :].max() == 0 and d_cols[latent_at + 1] > 0
    for r in range(out_rows):
        for c in range(out_cols):
            d = g(2, r, c)
            here = first_cell + r * cols + c
            assert d[here:].max() == 0, f"cell ({r},{c}) sees itself or a later cell"
            if (r, c) != (0, 0):
                predictor = here - 1 if c else first_cell + (r - 1) * cols + out_cols - 1
                assert d[predictor] > 0, f"cell ({r},{c}) does not see the token that predicts it"
            if len(padded_in):
                assert d[padded_in].max() == 0, "a padded input cell is visible"
            assert d[2] > 0 and d[latent_at] > 0  # a valid input cell and the latent are seen


def test_decoder_shortcuts_equal_a_plain_pass_over_the_authors_sequence(tiny_model, random_pairs):
    """The decoder skips work: the last cell's token, the last block's queries that no head reads,
    and the first block's z-free projections, computed apart from the latent's. A plain pass over
    the authors' sequence, one token longer (the last cell's), every block on every token, gives
    the same logits."""
    dec, rows, cols = tiny_model.decoder, TINY.max_rows, TINY.max_cols
    z = jnp.array([0.4, -1.1, 0.8, 0.3])[: TINY.latent_dim]
    for i in range(3):
        x, x_shape = random_pairs.inputs[i], random_pairs.input_shapes[i]
        y, y_shape = random_pairs.outputs[i], random_pairs.output_shapes[i]
        x_LD, mask_LL = dec.sequence(z, x, x_shape, y, y_shape)
        length = x_LD.shape[0] + 1
        last = dec.cell_token(y[-1, -1], rows - 1, 0)  # any token: nothing may depend on it
        x_LD = jnp.concatenate([x_LD, last[None]])
        mask_LL = (
            jnp.zeros((length, length), bool)
            .at[:-1, :-1]
            .set(mask_LL)
            .at[-1]
            .set(jnp.concatenate([mask_LL[-1, :-1], jnp.ones(2, bool)]))
        )  # it sees what the last cell sees, and itself
        for block in dec.blocks:
            q, k, v = block.qkv(x_LD)
            x_LD = block.finish(x_LD, attend(q, k, v, mask_LL))
        latent_at = rows * cols + 2
        cells = x_LD[latent_at + 2 + predictor_index(y_shape, rows, cols).reshape(-1)]
        expected = (
            dec.heads(x_LD[latent_at])[0],
            dec.heads(x_LD[latent_at + 1])[1],
            jax.vmap(lambda h: dec.heads(h)[2])(cells).reshape(rows, cols, -1),
        )
        for got, want in zip(dec(z, x, x_shape, y, y_shape), expected):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def force_shape(model, rows, cols):
    """A model whose row and column heads strongly prefer `rows` x `cols` outputs."""
    head_rows = model.decoder.head_rows.at[:, rows - 1].add(
        50.0 * jnp.sign(model.decoder.head_rows[:, rows - 1] + 1e-9)
    )
    head_cols = model.decoder.head_cols.at[:, cols - 1].add(
        50.0 * jnp.sign(model.decoder.head_cols[:, cols - 1] + 1e-9)
    )
    return eqx.tree_at(lambda m: (m.decoder.head_rows, m.decoder.head_cols), model, (head_rows, head_cols))


@pytest.mark.parametrize("seed", range(4))
def test_cached_decoding_equals_full_recompute(seed):
    cfg = TINY.replace(max_rows=6, max_cols=7, dec_layers=1 + seed % 3, latent_bias=seed % 2 == 1)
    model = LPN(cfg, jax.random.key(seed))
    rng = np.random.default_rng(seed)
    cached, full = jax.jit(generate), jax.jit(generate_reference)
    shapes_seen = set()
    for trial in range(4):
        if trial % 2:
            model_t = force_shape(model, int(rng.integers(2, 7)), int(rng.integers(2, 8)))
        else:
            model_t = model
        x = jnp.asarray(rng.integers(0, 10, (6, 7)), jnp.uint8)
        shape = jnp.array([rng.integers(1, 7), rng.integers(1, 8)])
        z = 2.0 * jax.random.normal(jax.random.key(100 + trial), (cfg.latent_dim,))
        g1, s1 = cached(model_t, z, x, shape)
        g2, s2 = full(model_t, z, x, shape)
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(g1, g2)
        shapes_seen.add(tuple(np.asarray(s1)))
        assert (np.asarray(g1)[int(s1[0]) :] == 0).all() and (np.asarray(g1)[:, int(s1[1]) :] == 0).all()
    assert any(r * c > 1 for r, c in shapes_seen)


def test_greedy_decoding_reproduces_a_grid_the_model_is_sure_of(tiny_model, random_pairs):
    """The greedy output maximises the per-cell log-probability it was decoded with."""
    z = jnp.zeros(TINY.latent_dim)
    grid, shape = eqx.filter_jit(generate)(tiny_model, z, random_pairs.inputs[0], random_pairs.input_shapes[0])
    score = eqx.filter_jit(pair_log_prob)
    lp = score(tiny_model, z, random_pairs.inputs[0], random_pairs.input_shapes[0], grid, shape)
    for colour in range(1, 10):
        other = grid.at[0, 0].set((grid[0, 0] + colour) % 10)
        assert lp >= score(tiny_model, z, random_pairs.inputs[0], random_pairs.input_shapes[0], other, shape)


def test_blockwise_attention_equals_plain_attention():
    """Values and gradients, with a query count that is not a multiple of the block, fewer queries
    than keys (a last layer's `keep`), and fully masked rows (padding queries)."""
    from lpn.attention import blockwise_attend

    kq, kk, kv, km, kc = jax.random.split(jax.random.key(0), 5)
    q = jax.random.normal(kq, (45, 3, 8))
    k, v = jax.random.normal(kk, (70, 3, 8)), jax.random.normal(kv, (70, 3, 8))
    mask = jax.random.bernoulli(km, 0.6, (45, 70)).at[7].set(False)
    cotangent = jax.random.normal(kc, q.shape)
    np.testing.assert_allclose(blockwise_attend(q, k, v, mask), attend(q, k, v, mask), atol=2e-6)
    grads = [
        jax.grad(lambda *a: jnp.sum(f(*a, mask) * cotangent), argnums=(0, 1, 2))(q, k, v)
        for f in (attend, blockwise_attend)
    ]
    for plain, blockwise in zip(*grads):
        np.testing.assert_allclose(blockwise, plain, atol=2e-5)


@pytest.mark.slow
def test_long_sequences_take_the_blockwise_path_with_the_same_objective(tiny_model, random_pairs, monkeypatch):
    """The decoder's objective, its gradient in z and in the weights, and Grad-K training with
    gradients through the inner update (reverse over reverse) agree on both paths."""
    import lpn.attention
    from lpn.loss import batch_loss

    z = jax.random.normal(jax.random.key(1), (TINY.latent_dim,))
    batch = jax.tree.map(lambda a: a[None], random_pairs)
    grad_k = TINY.replace(train_search_steps=1, train_search_stop_gradient=False)

    def measure():  # a new function each time, so each path is traced (and compiled once) afresh
        @eqx.filter_jit
        def both(model):
            value, dz = jax.value_and_grad(log_prob, argnums=1)(model, z, random_pairs)
            dw = eqx.filter_grad(lambda m: batch_loss(m, batch, jax.random.key(2), grad_k)[0])(model)
            return value, dz, jax.tree.leaves(dw)

        return both(tiny_model)

    calls = []
    blockwise = lpn.attention.blockwise_attend
    monkeypatch.setattr(lpn.attention, "blockwise_attend", lambda *a: calls.append(1) or blockwise(*a))
    plain = measure()
    assert not calls  # 5x5 grids: 55 tokens, below BLOCKWISE_FROM
    monkeypatch.setattr(lpn.attention, "BLOCKWISE_FROM", 1)
    monkeypatch.setattr(lpn.attention, "QUERY_BLOCK", 8)
    long = measure()
    assert calls
    np.testing.assert_allclose(long[0], plain[0], rtol=1e-5)
    np.testing.assert_allclose(long[1], plain[1], rtol=1e-4, atol=1e-6)
    for a, b in zip(long[2], plain[2]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
