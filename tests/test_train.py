import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from compile_settings import XLA_FLAGS

from conftest import TINY
from lpn import pattern_batch
from lpn.budget import Budget, Deadline, fit_to_budget
from lpn.checkpoint import CheckpointError, load_checkpoint, read_meta, resolve
from lpn.config import get_preset
from lpn.grids import Batch
from lpn.loss import batch_loss, kl_divergence, last_pair_loss, leave_one_out, other_pairs
from lpn.model import LPN, encode_pairs, pair_log_prob
from lpn.optim import learning_rate_schedule, make_optimizer
from lpn.train import (
    Checkpoints,
    Evaluation,
    Record,
    TrainingDiverged,
    TrainingInterrupted,
    TrainOptions,
    init_state,
    train,
    train_chunk,
)


def test_leave_one_out_excludes_each_pair_and_empty_slots():
    z = jnp.array([[1.0], [2.0], [4.0], [100.0]])
    mask = jnp.array([True, True, True, False])
    loo, weights = leave_one_out(z, mask)
    np.testing.assert_allclose(loo[:3, 0], [3.0, 2.5, 1.5])
    assert (weights.diagonal() == 0).all() and (weights[:, 3] == 0).all()


@pytest.mark.slow
def test_loss_falls_on_a_tiny_pattern_task():
    cfg = TINY.replace(learning_rate=3e-3)
    state = init_state(cfg, jax.random.key(0))
    state, metrics = train_chunk(state, cfg, 60)
    losses = np.asarray(metrics.loss)
    assert np.isfinite(losses).all()
    assert losses[-10:].mean() < 0.6 * losses[:5].mean()
    assert int(state.step) == 60


def test_learning_rate_schedules():
    constant = learning_rate_schedule(TINY.replace(learning_rate=1e-3, warmup_steps=10))
    np.testing.assert_allclose([constant(0), constant(5), constant(10), constant(10_000)], [0, 5e-4, 1e-3, 1e-3])
    cosine = learning_rate_schedule(TINY.replace(learning_rate=1e-3, warmup_steps=10, lr_decay_steps=110))
    rates = np.array([cosine(t) for t in range(0, 200, 5)])
    np.testing.assert_allclose(
        [cosine(10), cosine(60), cosine(110), cosine(500)], [1e-3, 5.05e-4, 1e-5, 1e-5], rtol=1e-5
    )
    assert (np.diff(rates[2:23]) < 0).all()  # falls from the end of warm-up to step 110
    with pytest.raises(ValueError, match="lr_decay_steps .10. must exceed warmup_steps .10."):
        learning_rate_schedule(TINY.replace(warmup_steps=10, lr_decay_steps=10))


@pytest.mark.slow
def test_adam_b2_reaches_the_optimiser():
    runs = [
        train_chunk(init_state(cfg, jax.random.key(0)), cfg, 3)[1].loss[-1] for cfg in (TINY, TINY.replace(adam_b2=0.5))
    ]
    assert runs[0] != runs[1]


@pytest.mark.slow
def test_latent_noise_warmup_scales_the_sampling_noise(tiny_model):
    batch, jitted = pattern_batch(jax.random.key(1), TINY, 4), eqx.filter_jit(batch_loss)
    # The scale is an array: one compiled program for every scale, as in training, where it is traced.
    loss = lambda key, scale: float(jitted(tiny_model, batch, jax.random.key(key), TINY, jnp.asarray(scale))[0])
    assert loss(2, 0.0) == loss(3, 0.0)  # no noise: the sampling key no longer matters
    assert loss(2, 1.0) != loss(3, 1.0)
    cfg = TINY.replace(latent_noise_warmup=20)
    _, metrics = train_chunk(init_state(cfg, jax.random.key(0)), cfg, 3)
    assert np.isfinite(np.asarray(metrics.loss)).all()


@pytest.mark.slow
def test_micro_batches_give_the_batch_gradient():
    full = TINY.replace(batch_size=8, micro_batch_size=0)
    micro = full.replace(micro_batch_size=2)
    s_full, m_full = train_chunk(init_state(full, jax.random.key(0)), full, 2)
    s_micro, m_micro = train_chunk(init_state(micro, jax.random.key(0)), micro, 2)
    # Same data; the micro-batches use other sampling keys, so compare the deterministic part loosely.
    np.testing.assert_allclose(m_full.reconstruction[0], m_micro.reconstruction[0], rtol=0.05)


@pytest.mark.slow
def test_last_pair_loss_predicts_the_last_valid_pair_from_the_others(tiny_model):
    # Jitted, each function compiles once (eager, every operation compiles a program of its own).
    encode, loss, log_p = eqx.filter_jit(encode_pairs), eqx.filter_jit(last_pair_loss), eqx.filter_jit(pair_log_prob)
    cfg = TINY.replace(variational=False)
    model = eqx.filter_jit(LPN)(cfg, jax.random.key(0))
    task = jax.tree.map(lambda a: a[0], pattern_batch(jax.random.key(1), cfg, 1, num_pairs=3))
    key = jax.random.key(2)
    mu, _ = encode(model, task)
    by_hand = lambda z, i: (
        -log_p(model, z, task.inputs[i], task.input_shapes[i], task.outputs[i], task.output_shapes[i])
    )
    recon, _ = loss(model, task, key, cfg)
    np.testing.assert_allclose(recon, by_hand(mu[:2].mean(0), 2), rtol=1e-5)
    # The context's order does not matter; a padded last slot moves the target to the last valid pair.
    swapped = jax.tree.map(lambda a: a[jnp.array([1, 0, 2])], task)
    np.testing.assert_allclose(loss(model, swapped, key, cfg)[0], recon, rtol=1e-5)
    padded = task._replace(pair_mask=jnp.array([True, True, False]))
    np.testing.assert_allclose(loss(model, padded, key, cfg)[0], by_hand(mu[0], 1), rtol=1e-5)
    # With the variational latent, the KL term averages over the encoded pairs only.
    vmodel = tiny_model
    vmu, vlogvar = encode(vmodel, task)
    kl = loss(vmodel, padded, key, TINY)[1]
    np.testing.assert_allclose(kl, kl_divergence(vmu[0], vlogvar[0]), rtol=1e-5)


@pytest.mark.slow
def test_training_on_last_pairs_learns_and_costs_half_the_decodings():
    cfg = TINY.replace(num_pairs=2, train_targets="last")
    state, metrics = train_chunk(init_state(cfg, jax.random.key(0)), cfg, 60)
    losses = np.asarray(metrics.loss)
    assert np.isfinite(losses).all() and losses[-10:].mean() < 0.6 * losses[:5].mean()
    batch = pattern_batch(jax.random.key(1), cfg, 4)
    flops = {}
    for targets in ("all", "last"):
        loss = jax.jit(lambda m, c=cfg.replace(train_targets=targets): batch_loss(m, batch, jax.random.key(0), c)[0])
        cost = loss.lower(state.model).compile().cost_analysis()
        flops[targets] = (cost[0] if isinstance(cost, list) else cost)["flops"]
    # 2 pairs: one encoding and one decoding per task instead of two of each.
    assert 0.4 < flops["last"] / flops["all"] < 0.6, flops
    with pytest.raises(ValueError, match="train_targets must be one of 'all', 'last', got 'first'"):
        cfg.replace(train_targets="first")
    with pytest.raises(ValueError, match="at least 2 pairs"):
        batch_loss(state.model, pattern_batch(jax.random.key(1), cfg, 4, num_pairs=1), jax.random.key(0), cfg)


@pytest.mark.slow
@pytest.mark.parametrize("stop_gradient", [True, False])
def test_grad_k_training_runs(stop_gradient):
    cfg = TINY.replace(train_search_steps=1, train_search_stop_gradient=stop_gradient)
    _, metrics = train_chunk(init_state(cfg, jax.random.key(0)), cfg, 2)
    assert np.isfinite(np.asarray(metrics.loss)).all()


@pytest.mark.slow
def test_one_device_and_four_devices_agree():
    script = textwrap.dedent("""
        import jax, numpy as np, sys
        sys.path.insert(0, "tests")
        from conftest import TINY
        from lpn.train import init_state, train_chunk
        devices = jax.devices()
        assert len(devices) == 4, devices
        out = []
        for devs in (tuple(devices[:1]), tuple(devices)):
            state, metrics = train_chunk(init_state(TINY, jax.random.key(0), devs), TINY, 3, devices=devs)
            out.append((np.asarray(metrics.loss), np.asarray(state.model.decoder.head_cells)))
            if len(devs) == 4:
                assert len(state.model.decoder.head_cells.sharding.device_set) == 4
        np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-5)
        np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-4, atol=1e-6)
        print("agree", out[0][0])
    """)
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count=4 {XLA_FLAGS}")
    root = os.path.dirname(os.path.dirname(__file__))
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "agree" in result.stdout


@pytest.mark.slow
def test_checkpoint_round_trip_and_resume_matches_an_uninterrupted_run(tmp_path):
    cfg = TINY.replace(latent_bias=True)  # the optional parameter (None otherwise) travels too
    straight, _ = train(
        cfg, 6, chunk=3, progress=False, options=TrainOptions(out_dir=tmp_path / "a", checkpoints=Checkpoints(every=3))
    )
    train(
        cfg, 3, chunk=3, progress=False, options=TrainOptions(out_dir=tmp_path / "b", checkpoints=Checkpoints(every=3))
    )
    resumed, history = train(cfg, 6, chunk=3, progress=False, options=TrainOptions(out_dir=tmp_path / "b", resume=True))
    assert [h.step for h in history] == [6]
    for a, b in zip(jax.tree.leaves(straight.model), jax.tree.leaves(resumed.model)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    loaded, meta = load_checkpoint(tmp_path / "b")
    assert meta["step"] == 6 and loaded.config == cfg
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(resumed.model)):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_errors_are_clear(tmp_path):
    train(TINY, 2, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path))
    with pytest.raises(CheckpointError, match="architecture does not match.*latent_dim"):
        load_checkpoint(tmp_path, TINY.replace(latent_dim=8))
    with pytest.raises(CheckpointError, match="architecture does not match.*latent_bias"):
        load_checkpoint(tmp_path, TINY.replace(latent_bias=True))
    load_checkpoint(tmp_path, TINY.replace(learning_rate=1.0))  # training settings may differ
    meta_file = resolve(tmp_path) / "config.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps(dict(meta, format_version=99)))
    with pytest.raises(CheckpointError, match="format version 99 is unknown"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        load_checkpoint(tmp_path / "nowhere")


def test_a_crash_mid_write_leaves_the_last_checkpoint_usable(tmp_path):
    train(TINY, 2, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path))
    # A write that died after creating its temporary directory, before the rename.
    (tmp_path / ".step-00000004-crashed").mkdir()
    (tmp_path / ".step-00000004-crashed" / "model.safetensors").write_bytes(b"partial")
    model, meta = load_checkpoint(tmp_path)
    assert meta["step"] == 2


def test_nan_stops_training_with_the_last_good_checkpoint_intact(tmp_path):
    train(TINY, 2, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path))
    with pytest.raises(TrainingDiverged, match="diverged between steps 2 and 4.*last good checkpoint"):
        train(
            TINY.replace(learning_rate=1e30),
            4,
            chunk=2,
            progress=False,
            options=TrainOptions(out_dir=tmp_path, resume=True),
        )
    model, meta = load_checkpoint(tmp_path)
    assert meta["step"] == 2
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(model))


def test_callback_and_evaluation_see_progress_and_the_history_holds_records(tmp_path):
    seen = []
    _, history = train(
        TINY,
        4,
        chunk=2,
        callback=lambda record, state: seen.append((record.step, record.evaluation["probe"])),
        progress=False,
        options=TrainOptions(evaluation=Evaluation(lambda model: {"probe": 1.0}, every=2)),
    )
    assert seen == [(2, 1.0), (4, 1.0)]
    assert all(isinstance(r, Record) for r in history) and history[-1].evaluation == {"probe": 1.0}
    assert history[-1].to_dict() == {
        "step": 4,
        "loss": history[-1].loss,
        "reconstruction": history[-1].reconstruction,
        "kl": history[-1].kl,
        "grad_norm": history[-1].grad_norm,
        "probe": 1.0,
    }


def test_other_pairs_drops_each_pair_once():
    n = 4
    pairs = Batch(*(jnp.arange(n).reshape(n, 1) + 10 * k for k in range(4)), jnp.array([True, True, True, False]))
    others = other_pairs(pairs)
    assert others.inputs.shape == (n, n - 1, 1)
    for i in range(n):
        assert i not in np.asarray(others.inputs[i]).ravel().tolist()
    assert np.asarray(others.pair_mask[0]).tolist() == [True, True, False]


def test_time_limit_stops_at_a_chunk_boundary_with_a_checkpoint(tmp_path):
    state, history = train(
        TINY,
        100,
        chunk=2,
        progress=False,
        options=TrainOptions(out_dir=tmp_path, checkpoints=Checkpoints(every=50), deadline=Deadline(0)),
    )
    assert [h.step for h in history] == [2] and int(state.step) == 2
    _, meta = load_checkpoint(tmp_path)
    assert meta["step"] == 2
    resumed, history = train(TINY, 4, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path, resume=True))
    assert [h.step for h in history] == [4]


def test_fit_to_budget_keeps_what_fits_and_ends_the_decay_with_the_run():
    cfg = TINY.replace(lr_decay_steps=1000)
    assert fit_to_budget(cfg, 1000, 100, 0.1, 1e6) == (1000, cfg)  # it fits: nothing changes
    steps, fitted = fit_to_budget(cfg, 1000, 100, 0.5, 235.0, multiple=50)  # 470 more steps, in whole 50s
    assert steps == 550 and fitted == cfg.replace(lr_decay_steps=550)
    steps, fitted = fit_to_budget(cfg.replace(lr_decay_steps=500), 1000, 100, 0.5, 235.0, multiple=50)
    assert steps == 550 and fitted.lr_decay_steps == 275  # a decay that ended early ends as early in proportion
    assert fit_to_budget(TINY, 1000, 100, 0.5, 235.0) == (570, TINY)  # a constant rate stays constant
    assert fit_to_budget(cfg, 1000, 100, 0.1, -5.0)[0] == 100  # out of time: stop where the run is
    assert fit_to_budget(cfg, 1000, 2, 0.1, 0.0)[1].lr_decay_steps == TINY.warmup_steps + 1
    learning_rate_schedule(fit_to_budget(cfg, 1000, 2, 0.1, 0.0)[1])  # still a valid schedule


@pytest.mark.slow
def test_time_budget_fits_the_run_and_its_checkpoint_records_the_fitted_schedule(tmp_path):
    cfg = TINY.replace(lr_decay_steps=100)
    with pytest.raises(ValueError, match="fits a fresh run"):
        train(
            cfg,
            100,
            progress=False,
            options=TrainOptions(out_dir=tmp_path, resume=True, deadline=Deadline(60, fit=True)),
        )
    state, history = train(
        cfg, 100, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path, deadline=Deadline(0, fit=True))
    )
    assert [h.step for h in history] == [2, 4] and int(state.step) == 4  # two chunks set the pace
    assert state.model.config == cfg.replace(lr_decay_steps=TINY.warmup_steps + 1)
    model, meta = load_checkpoint(tmp_path)
    assert meta["step"] == 4 and model.config.lr_decay_steps == TINY.warmup_steps + 1
    state, history = train(
        cfg, 8, chunk=2, progress=False, options=TrainOptions(deadline=Deadline(600, fit=True))
    )  # it fits: no change
    assert [h.step for h in history] == [2, 4, 6, 8] and state.model.config == cfg


@pytest.mark.slow
def test_budget_fits_after_two_chunks_and_again_halfway_as_the_pace_drifts():
    cfg = TINY.replace(lr_decay_steps=1000)
    now = [0.0]
    budget = Budget(100.0, cfg, 1000, clock=lambda: now[0])
    state = init_state(cfg, jax.random.key(0))

    def chunk(seconds, done, state):
        now[0] += seconds
        return budget.after_chunk(10, seconds, done, state)

    assert chunk(10.0, 10, state) == (1000, cfg, state)  # chunk 1: 9 s compiling, 1 s of steps
    steps, fitted, state = chunk(1.0, 20, state)  # 0.1 s a step: 100 - 11 - 9 s buy 800 steps
    assert steps == 820 and fitted == cfg.replace(lr_decay_steps=820) and state.model.config == fitted
    done = 20
    for seconds in [1.2 + 9.0] + [1.2] * 39:  # the fitted config compiles, then the machine slows down
        done += 10
        steps, fitted, state = chunk(seconds, done, state)
    assert done == 420 and steps == 610 and fitted == cfg.replace(lr_decay_steps=610)  # refitted halfway
    assert chunk(1.2, 430, state) == (steps, fitted, state)  # and not again
    state, metrics = train_chunk(state, fitted, 2)  # the optimiser's moments carry the new config too
    assert int(state.step) == 2 and np.isfinite(np.asarray(metrics.loss)).all()


# optimisers passed in


def params_of(model):
    return [np.array(x) for x in jax.tree.leaves(eqx.filter(model, eqx.is_array))]


@pytest.mark.slow
def test_a_passed_in_optimizer_is_the_one_that_trains():
    lr, sgd = 0.05, optax.sgd(0.05, momentum=0.9)
    state = init_state(TINY, jax.random.key(0), optimizer=sgd)
    before = params_of(state.model)
    state, _ = train_chunk(state, TINY, 1, optimizer=sgd)
    # After one step, SGD with momentum holds the gradient as its trace and has moved by -lr times it.
    trace, _ = state.opt_state
    assert jax.tree.structure(state.opt_state) == jax.tree.structure(sgd.init(eqx.filter(state.model, eqx.is_array)))
    for old, new, grad in zip(before, params_of(state.model), jax.tree.leaves(trace.trace), strict=True):
        np.testing.assert_allclose(new - old, -lr * np.asarray(grad), rtol=1e-4, atol=1e-7)
    assert np.abs(np.concatenate([g.ravel() for g in jax.tree.leaves(trace.trace)])).max() > 0
    default = init_state(TINY, jax.random.key(0))
    assert jax.tree.structure(default.opt_state) != jax.tree.structure(state.opt_state)  # AdamW's moments
    assert jax.tree.structure(default.opt_state) == jax.tree.structure(
        make_optimizer(TINY).init(eqx.filter(default.model, eqx.is_array))
    )


def test_a_run_on_a_passed_in_optimizer_resumes_with_it_and_only_with_it(tmp_path):
    sgd = optax.sgd(0.05, momentum=0.9)
    straight, _ = train(TINY, 4, chunk=2, optimizer=sgd, progress=False)
    train(TINY, 2, chunk=2, optimizer=sgd, progress=False, options=TrainOptions(out_dir=tmp_path))
    resumed, history = train(
        TINY, 4, chunk=2, optimizer=sgd, progress=False, options=TrainOptions(out_dir=tmp_path, resume=True)
    )
    assert [r.step for r in history] == [4]
    for a, b in zip(params_of(straight.model), params_of(resumed.model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(CheckpointError, match="needs the optimizer the run was trained with"):
        train(
            TINY, 6, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path, resume=True)
        )  # AdamW's state is not SGD's
    scalars = optax.GradientTransformation(lambda params: jax.tree.map(lambda p: jnp.zeros(()), params), None)
    with pytest.raises(
        CheckpointError, match=r"has shape .* expected \(\).*trained with"
    ):  # as many tensors as SGD's, other shapes
        train(TINY, 6, chunk=2, optimizer=scalars, progress=False, options=TrainOptions(out_dir=tmp_path, resume=True))
    with pytest.raises(ValueError, match="cannot be refitted"):
        train(TINY, 4, optimizer=sgd, progress=False, options=TrainOptions(deadline=Deadline(60, fit=True)))


# SIGINT and SIGTERM


def test_sigterm_saves_a_checkpoint_that_resume_takes_to_the_end_of_an_uninterrupted_run(tmp_path):
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    def terminate_at_step_4(record, state):
        if record.step == 4:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(TrainingInterrupted) as info:
        train(
            TINY,
            8,
            chunk=2,
            callback=terminate_at_step_4,
            progress=False,
            options=TrainOptions(out_dir=tmp_path, checkpoints=Checkpoints(every=100)),
        )
    assert (info.value.signal_name, info.value.step, info.value.steps, info.value.out_dir) == (
        "SIGTERM",
        4,
        8,
        tmp_path,
    )
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    assert read_meta(tmp_path)["step"] == 4
    resumed, history = train(TINY, 8, chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path, resume=True))
    assert [r.step for r in history] == [6, 8]
    straight, _ = train(TINY, 8, chunk=2, progress=False)
    for a, b in zip(params_of(straight.model), params_of(resumed.model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_a_signal_during_the_last_chunk_lets_the_finished_run_end_as_usual(tmp_path):
    def terminate_at_the_end(record, state):
        if record.step == 4:
            os.kill(os.getpid(), signal.SIGTERM)

    state, history = train(
        TINY, 4, chunk=2, callback=terminate_at_the_end, progress=False, options=TrainOptions(out_dir=tmp_path)
    )
    assert [r.step for r in history] == [2, 4] and read_meta(tmp_path)["step"] == 4


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever an imported library
    (evosax's dependencies, a browser driver) set before; the previous one afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield signal.default_int_handler
    signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_quits_at_once_and_no_handler_outlives_training(tmp_path, python_sigint):
    handler = python_sigint

    def interrupt_twice(record, state):
        os.kill(os.getpid(), signal.SIGINT)
        # Two signals sent before Python runs the first's handler merge into one (under load the second
        # can arrive first): wait until training's handler has run and put the previous one back.
        deadline = time.monotonic() + 10
        while signal.getsignal(signal.SIGINT) is not handler and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as info:
        train(
            TINY,
            8,
            chunk=2,
            callback=interrupt_twice,
            progress=False,
            options=TrainOptions(out_dir=tmp_path, checkpoints=Checkpoints(every=100)),
        )
    assert not isinstance(info.value, TrainingInterrupted)  # the second one was Python's own
    assert not (tmp_path / "latest").exists() and signal.getsignal(signal.SIGINT) is handler
    # Outside the main thread no handler can be set: training runs as it did.
    worker = threading.Thread(
        target=train, args=(TINY, 2), kwargs=dict(chunk=2, progress=False, options=TrainOptions(out_dir=tmp_path / "t"))
    )
    worker.start()
    worker.join()
    assert read_meta(tmp_path / "t")["step"] == 2


@pytest.mark.slow
def test_ctrl_c_during_lpn_train_saves_a_checkpoint_that_resume_finishes(tmp_path):
    from lpn.cli import main

    preset = get_preset("pattern_2d")
    tiny = [f"{k}={v}" for k, v in TINY.to_dict().items() if v != getattr(preset, k)]
    out, root = tmp_path / "run", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = [
        "train",
        "--preset",
        "pattern_2d",
        "--set",
        *tiny,
        "--steps",
        "40",
        "--chunk",
        "2",
        "--out",
        str(out),
        "--save-every",
        "1000",
        "--eval-every",
        "2",
        "--eval-tasks",
        "4",
        "--eval-search-steps",
        "1",
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=root)
    run = subprocess.Popen(
        [sys.executable, "-m", "lpn", *argv],
        cwd=root,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    for line in run.stdout:  # the first evaluation's line: training has started
        if line.startswith("step "):
            break
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 130, err[-3000:]
    said = re.fullmatch(
        rf"lpn: interrupted \(SIGINT\) at step (\d+) of 40; checkpoint saved in {re.escape(str(out))}; "
        rf"continue with lpn train --out {re.escape(str(out))} --resume --steps 40",
        err.strip().splitlines()[-1],
    )
    assert said and 2 <= int(said[1]) < 40, err[-3000:]
    assert read_meta(out)["step"] == int(said[1])
    assert main(["train", "--out", str(out), "--resume", "--steps", "40", "--chunk", "2", "--eval-every", "0"]) == 0
    resumed, meta = load_checkpoint(out)
    assert meta["step"] == 40
    straight, _ = train(TINY, 40, chunk=2, progress=False)  # the preset with --set is TINY: the run, uninterrupted
    for a, b in zip(params_of(straight.model), params_of(resumed), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
