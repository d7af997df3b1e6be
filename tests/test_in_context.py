"""The in-context baseline and its test-time training (lpn/in_context.py)."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import TINY, random_grid
from lpn import in_context as ic
from lpn.budget import with_config
from lpn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lpn.grids import batch_tasks, make_task
from lpn.model import LPN, num_params
from lpn.train import Checkpoints, TrainOptions, train

loo_loss, predict = eqx.filter_jit(ic.leave_one_out_loss), eqx.filter_jit(ic.predict)


@pytest.fixture(scope="module")
def model():
    return eqx.filter_jit(ic.InContext)(TINY, jax.random.key(1))


def task_pairs(num_given, slots, seed=0, junk=False):
    """One task of `num_given` random pairs in `slots` pair slots; with `junk`, the empty slots hold
    random grids and shapes (still masked)."""
    rng = np.random.default_rng(seed)
    task = make_task([(random_grid(rng), random_grid(rng)) for _ in range(max(num_given, 1))])
    pairs = jax.tree.map(lambda a: np.array(a[0]), batch_tasks([task], TINY.max_rows, TINY.max_cols, num_pairs=slots))
    pairs.pair_mask[num_given:] = False
    if junk:
        empty = ~pairs.pair_mask
        pairs.inputs[empty] = rng.integers(0, 10, pairs.inputs[empty].shape)
        pairs.outputs[empty] = rng.integers(0, 10, pairs.outputs[empty].shape)
        pairs.input_shapes[empty] = rng.integers(1, 6, pairs.input_shapes[empty].shape)
    return jax.tree.map(jnp.asarray, pairs)


@eqx.filter_jit
def query_log_prob(model, pairs, seed=5):
    """log p of a fixed query pair given `pairs` as the context."""
    query = task_pairs(1, 1, seed)
    context = ic.embed_pairs(model, pairs)
    return ic.pair_log_prob(
        model,
        context,
        pairs.pair_mask,
        query.inputs[0],
        query.input_shapes[0],
        query.outputs[0],
        query.output_shapes[0],
    )


def test_it_has_no_latent_heads_and_only_the_projection_and_read_token_beyond_lpn():
    lpn, model = LPN(TINY, jax.random.key(0)), ic.InContext(TINY, jax.random.key(0))
    assert model.encoder.w_mu is None and model.decoder.w_latent is None
    heads = TINY.enc_width * TINY.latent_dim * (1 + TINY.variational) + TINY.latent_dim * TINY.dec_width
    assert num_params(model) == num_params(lpn) - heads + TINY.enc_width * TINY.dec_width + TINY.dec_width


def test_masked_pair_slots_change_nothing(model):
    narrow, wide = task_pairs(3, 3), task_pairs(3, 6, junk=True)
    np.testing.assert_allclose(query_log_prob(model, narrow), query_log_prob(model, wide), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loo_loss(model, narrow), loo_loss(model, wide), rtol=1e-5)


def test_the_order_of_the_given_pairs_does_not_matter_but_their_content_does(model):
    pairs = task_pairs(4, 4)
    shuffled = jax.tree.map(lambda a: a[jnp.array([2, 0, 3, 1])], pairs)
    np.testing.assert_allclose(query_log_prob(model, pairs), query_log_prob(model, shuffled), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loo_loss(model, pairs), loo_loss(model, shuffled), rtol=1e-5)
    assert abs(query_log_prob(model, pairs) - query_log_prob(model, task_pairs(4, 4, seed=3))) > 1e-3


@pytest.mark.parametrize("num_given", [0, 1, 7])
def test_any_number_of_given_pairs_works_through_the_mask(model, num_given):
    """Training (below) sees tasks of TINY.num_pairs = 4 pairs, so contexts of 3; other counts,
    none included, give finite scores and a prediction inside the grid."""
    pairs = task_pairs(num_given, max(num_given, 1) + 1, junk=True)
    assert np.isfinite(query_log_prob(model, pairs))
    grid, shape = predict(model, pairs, pairs.inputs[0], pairs.input_shapes[0])
    assert 1 <= shape[0] <= TINY.max_rows and 1 <= shape[1] <= TINY.max_cols


@eqx.filter_jit
def predict_and_force(model, pairs, query):
    """The greedy prediction for the query's input and the teacher-forced logits of that prediction."""
    grid, shape = ic.predict(model, pairs, query.inputs[0], query.input_shapes[0])
    start = ic.prefix(model, ic.embed_pairs(model, pairs), pairs.pair_mask, query.inputs[0], query.input_shapes[0])
    x_LD, mask_LL = model.decoder.sequence_after(start, grid.shape, grid, shape)
    return grid, shape, model.decoder.logits(x_LD, mask_LL, shape, grid.shape, latent_at=start[0].shape[0] - 1)


def test_greedy_prediction_is_the_argmax_of_its_own_teacher_forced_logits(model):
    """The cached decoding after the in-context prefix agrees with a full pass over its output."""
    pairs = task_pairs(3, 4)
    query = task_pairs(1, 1, seed=7)
    for seed in range(3):
        tuned = jax.tree.map(
            lambda x: x + 0.3 * jax.random.normal(jax.random.key(seed), x.shape) if eqx.is_array(x) else x, model
        )
        grid, shape, (rows, cols, cells) = predict_and_force(tuned, pairs, query)
        assert int(jnp.argmax(rows)) + 1 == shape[0] and int(jnp.argmax(cols)) + 1 == shape[1]
        r, c = int(shape[0]), int(shape[1])
        np.testing.assert_array_equal(jnp.argmax(cells, -1)[:r, :c], grid[:r, :c])


@pytest.mark.slow
def test_ttt_with_zero_steps_is_the_in_context_prediction(model):
    tasks = [task_pairs(3, 4, seed=s) for s in range(3)]
    batch = jax.tree.map(lambda *xs: jnp.stack(xs), *tasks)
    queries = task_pairs(3, 3, seed=9)
    tune = eqx.filter_jit(jax.vmap(lambda pairs: ic.ttt(model, pairs, steps=0)))
    traces = tune(batch)
    answers = eqx.filter_jit(jax.vmap(ic.answer))(traces, queries.inputs, queries.input_shapes)
    for i, pairs in enumerate(tasks):
        grid, shape = predict(model, pairs, queries.inputs[i], queries.input_shapes[i])
        np.testing.assert_array_equal(answers[0][i], grid)
        np.testing.assert_array_equal(answers[1][i], shape)
    np.testing.assert_allclose(traces.losses[:, 0], [loo_loss(model, p) for p in tasks], rtol=1e-5)
    np.testing.assert_array_equal(traces.num_evals, 3)


def test_ttt_lowers_the_leave_one_out_loss_of_its_task_and_counts_its_evaluations(model):
    pairs = task_pairs(3, 4)
    trace = eqx.filter_jit(ic.ttt)(model, pairs, steps=8, optimizer=ic.ttt_optimizer(3e-3))
    assert trace.losses.shape == (9,)
    assert trace.losses[-1] < trace.losses[0] - 0.1
    np.testing.assert_allclose(trace.losses[-1], loo_loss(trace.model, pairs), rtol=1e-5)
    assert int(trace.num_evals) == 3 * (ic.GRADIENT_COST * 8 + 1)


@pytest.mark.slow
def test_training_lowers_the_loss_and_checkpoints_round_trip_the_architecture(tmp_path):
    state, history = train(
        TINY,
        40,
        chunk=20,
        architecture=ic.InContext,
        options=TrainOptions(out_dir=tmp_path / "run", checkpoints=Checkpoints(every=40)),
    )
    assert isinstance(state.model, ic.InContext)
    assert history[-1].loss < history[0].loss and history[-1].kl == 0
    loaded, meta = load_checkpoint(tmp_path / "run")
    assert type(loaded) is ic.InContext and meta["architecture"] == "in-context"
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(eqx.filter(state.model, eqx.is_array)), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointError, match="in-context model, not the lpn model"):
        train(TINY, 60, chunk=20, options=TrainOptions(out_dir=tmp_path / "run", resume=True))
    resumed, _ = train(
        TINY,
        60,
        chunk=20,
        architecture=ic.InContext,
        options=TrainOptions(out_dir=tmp_path / "run", resume=True, checkpoints=Checkpoints(every=40)),
    )
    assert int(resumed.step) == 60 and isinstance(resumed.model, ic.InContext)


def test_with_config_carries_a_new_config_into_an_in_context_model(model):
    cfg = TINY.replace(learning_rate=1e-4)
    moved = with_config({"model": model}, cfg)["model"]
    assert type(moved) is ic.InContext and moved.config == cfg
    for a, b in zip(jax.tree.leaves(moved), jax.tree.leaves(model), strict=True):
        assert a is b


def test_an_lpn_checkpoint_names_no_architecture_and_loads_as_lpn(tmp_path, tiny_model):
    folder = save_checkpoint(tmp_path / "run", tiny_model, step=1)
    assert "architecture" not in json.loads((folder / "config.json").read_text())
    loaded, _ = load_checkpoint(folder)
    assert type(loaded) is LPN


def test_an_unknown_architecture_is_refused(tmp_path, model):
    folder = save_checkpoint(tmp_path / "run", model, step=1)
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**meta, "architecture": "rnn"}))
    with pytest.raises(CheckpointError, match="'rnn', which this lpn does not know"):
        load_checkpoint(folder)


@pytest.mark.parametrize(
    "change",
    [{"train_targets": "last"}, {"train_search_steps": 1}, {"train_samples": 5}, {"train_prior_latents": True}],
)
def test_training_options_only_lpn_has_are_refused(model, change):
    with pytest.raises(
        ValueError, match="the in-context model trains with train_targets='all'.*; got " + "".join(change)
    ):
        model.task_loss(task_pairs(3, 3), jax.random.key(0), TINY.replace(**change))
