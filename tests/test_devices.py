"""One CPU device per core (lpn/devices.py): the device count chosen on import, and the same
answers from training, search, evaluation and prediction with the tasks spread over two devices
as on one. The multi-device checks run in subprocesses: JAX fixes its devices when it starts."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from compile_settings import XLA_FLAGS

from lpn.devices import default_cpu_devices, training_devices

ROOT = os.path.dirname(os.path.dirname(__file__))


def run_python(script: str, **env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LPN_CPU_DEVICES", "XLA_FLAGS")}
    env["XLA_FLAGS"] = XLA_FLAGS
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize("cores, expected", [(1, 1), (2, 2), (3, 2), (4, 4), (6, 4), (8, 8), (64, 8)])
def test_default_cpu_devices_is_a_power_of_two_up_to_eight(cores, expected):
    assert default_cpu_devices(cores) == expected


@pytest.mark.parametrize(
    "batch, micro, devices, expected",
    [
        (128, 32, 2, 2),
        (128, 32, 3, 2),
        (8, 0, 4, 4),
        (6, 0, 4, 3),
        (12, 4, 3, 2),
        (7, 0, 2, 1),
    ],
)
def test_training_devices_divide_the_batch_and_its_micro_batches(batch, micro, devices, expected, monkeypatch):
    monkeypatch.setattr("jax.local_devices", lambda: [f"d{i}" for i in range(devices)])
    assert training_devices(batch, micro) == tuple(f"d{i}" for i in range(expected))


def test_training_devices_given_must_divide_the_batch():
    assert training_devices(8, 0, ["a", "b"]) == ("a", "b")
    with pytest.raises(ValueError, match="batch_size 6 must divide evenly over 4 devices"):
        training_devices(6, 0, ["a", "b", "c", "d"])


def device_counts(folder: Path) -> dict:
    """What `import lpn` gives under each setting, each in a fresh interpreter (a background run:
    tests/background.py)."""
    count = "import lpn, jax; print(len(jax.devices()))"
    return {
        "unset": run_python(count, LPN_CPU_DEVICES=None),
        "3": run_python(count, LPN_CPU_DEVICES="3"),
        "forced": run_python(
            count,
            LPN_CPU_DEVICES="1",
            XLA_FLAGS=f"--xla_force_host_platform_device_count=4 {XLA_FLAGS}",
        ),
        "late": run_python("import jax; jax.numpy.ones(1); " + count, LPN_CPU_DEVICES="3"),
        "bad": run_python(count, LPN_CPU_DEVICES="many"),
    }


@pytest.mark.slow
@pytest.mark.background.with_args(device_counts)
def test_import_asks_for_one_cpu_device_per_core_unless_told_otherwise(background):
    runs = background(device_counts)
    assert runs["unset"].stdout.split() == [str(default_cpu_devices())]
    assert runs["3"].stdout.split() == ["3"]
    assert runs["forced"].stdout.split() == ["4"], runs["forced"].stderr[-2000:]
    assert runs["late"].stdout.split() == ["1"], runs["late"].stderr[-2000:]  # JAX had started: left as it was
    assert runs["bad"].returncode != 0 and "LPN_CPU_DEVICES='many'" in runs["bad"].stderr


# The start of the two-device script: a tiny model config, 5 tasks (one padding task on 2 devices) and
# a key. Each check below is a part of the script, run in one subprocess (one start and one import
# of JAX, and the programs the parts share compiled once); a part that fails does not stop the
# others, and its test alone fails, with the part's traceback.
TWO_DEVICES = """
import json, sys, traceback
import jax, jax.numpy as jnp, numpy as np
sys.path.insert(0, "tests")
from conftest import TINY
import lpn
from lpn.evaluate import evaluate_batch, predict_tasks, _evaluate
from lpn.in_context import InContext, ttt
from lpn.model import LPN
from lpn.pattern import pattern_batch, pattern_tasks
from lpn.search import gradient_search, search_batch, _search_batch
from lpn.train import init_state, train, train_chunk

devices = jax.devices()
assert len(devices) == 2, devices
batch = pattern_batch(jax.random.key(1), TINY, 5)
key = jax.random.key(2)
for name, part in PARTS.items():
    try:
        exec(part, dict(globals()))
        print("PART", json.dumps([name, "agree"]), flush=True)
    except BaseException:
        print("PART", json.dumps([name, traceback.format_exc()]), flush=True)
"""

LPN_PART = """
model = LPN(TINY, jax.random.key(0))
spread = search_batch(gradient_search, model, batch, key, steps=3)
assert spread.best.shape == (5, TINY.latent_dim)
alone = _search_batch(gradient_search, model, batch, jax.random.split(key, 5), (("steps", 3),))
np.testing.assert_allclose(spread.best, alone.best, rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(spread.best_score, alone.best_score, rtol=1e-4, atol=1e-4)

metrics = evaluate_batch(model, batch, key, gradient_search, steps=2)
per_task = _evaluate(model, batch, jax.random.split(key, 5), gradient_search, (("steps", 2),))
for name, value in metrics._asdict().items():
    np.testing.assert_allclose(value, float(jnp.mean(getattr(per_task, name).astype(jnp.float32))), rtol=1e-5)

tasks = pattern_tasks(0, TINY, 3)
predictions, evals = predict_tasks(model, tasks, key, gradient_search, batch_size=4, steps=2)
assert sorted(predictions) == sorted(t.name for t in tasks) and len(set(evals.values())) == 1

state, history = train(TINY, 2, chunk=2, progress=False)  # batch 8: both devices
assert len(state.model.decoder.head_cells.sharding.device_set) == 2
one, metrics_one = train_chunk(init_state(TINY, jax.random.key(0), devices[:1]), TINY, 2, devices=tuple(devices[:1]))
np.testing.assert_allclose(history[-1].loss, float(np.mean(metrics_one.loss)), rtol=1e-5)
"""

TTT_PART = """
model = InContext(TINY, jax.random.key(0))
options = (("optimizer", lpn.in_context.ttt_optimizer(1e-3)), ("steps", 3))
metrics = evaluate_batch(model, batch, key, ttt, **dict(options))
per_task = _evaluate(model, batch, jax.random.split(key, 5), ttt, options)  # one device, no spreading
for name, value in metrics._asdict().items():
    np.testing.assert_allclose(value, float(jnp.mean(getattr(per_task, name).astype(jnp.float32))), rtol=1e-5)
grouped = evaluate_batch(model, batch, key, ttt, tasks_per_call=2, **dict(options))
np.testing.assert_allclose(list(grouped), list(metrics), rtol=1e-5)

tasks = pattern_tasks(0, TINY, 3)
two, evals = predict_tasks(model, tasks, key, ttt, batch_size=4, **dict(options))
one, _ = predict_tasks(model, tasks, key, ttt, batch_size=1, **dict(options))  # a task a call: one device
for name in two:
    for a, b in zip(two[name], one[name]):
        np.testing.assert_array_equal(a[0], b[0])
assert evals == {t.name: len(t.train) * (3 * 3 + 1) for t in tasks}  # 3 steps of 3 a pair, the last loss

state, history = train(TINY, 2, chunk=2, progress=False, architecture=InContext)  # batch 8: both devices
one, metrics_one = train_chunk(init_state(TINY, jax.random.key(0), devices[:1], architecture=InContext),
                               TINY, 2, devices=tuple(devices[:1]))
np.testing.assert_allclose(history[-1].loss, float(np.mean(metrics_one.loss)), rtol=1e-5)
"""


def two_device_script(folder: Path) -> subprocess.CompletedProcess:
    """The two-device script with both parts, in one subprocess (a background run: tests/background.py)."""
    return run_python(f"PARTS = {{'lpn': {LPN_PART!r}, 'ttt': {TTT_PART!r}}}\n" + TWO_DEVICES, LPN_CPU_DEVICES="2")


@pytest.fixture(scope="module")
def two_devices(background):
    """{part: "agree" or its traceback} of the two-device script."""
    result = background(two_device_script)
    parts = dict(json.loads(line[5:]) for line in result.stdout.splitlines() if line.startswith("PART "))
    assert result.returncode == 0 and parts.keys() == {"lpn", "ttt"}, result.stderr[-3000:]
    return parts


@pytest.mark.slow
@pytest.mark.background.with_args(two_device_script)
def test_two_devices_give_the_answers_of_one(two_devices):
    assert two_devices["lpn"] == "agree", two_devices["lpn"][-3000:]


@pytest.mark.slow
@pytest.mark.background.with_args(two_device_script)
def test_ttt_and_in_context_training_on_two_devices_give_the_answers_of_one(two_devices):
    assert two_devices["ttt"] == "agree", two_devices["ttt"][-3000:]
