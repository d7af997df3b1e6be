"""The models shipped in lpn/pretrained/: they load offline, and their stated quality holds."""

import re

import jax
import pytest

import lpn
from lpn.checkpoint import PRETRAINED, CheckpointError, load_checkpoint, pretrained_path
from lpn.cli import main
from lpn.demo import run_demo
from lpn.evaluate import evaluate_batch
from lpn.pattern import pattern_batch
from lpn.search import default_optimizer, gradient_search

# The shipped models' checks run in a pytest process of their own, beside the other tests
# (tests/background.py): their searches over 256 tasks are among the suite's longest.
pytestmark = pytest.mark.own_process


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_every_shipped_model_loads_and_records_how_it_was_trained(name):
    model, meta = load_checkpoint(pretrained_path(name))
    assert not lpn.config.architecture_diff(model.config, lpn.get_preset(name))
    assert meta["preset"] == name and meta["train_sources"] and meta["step"] > 0
    readme = (pretrained_path(name).parent / "README.md").read_text()
    assert f"## {name}" in readme and f"step {meta['step']}" in readme


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(CheckpointError, match="choose one of pattern_2d, pattern, arc_small"):
        lpn.load_pretrained("nope")


@pytest.fixture(scope="module")
def pattern_2d():
    return lpn.load_pretrained("pattern_2d")


@pytest.mark.slow
def test_pattern_2d_solves_at_least_95_percent_of_fresh_tasks_with_search(pattern_2d):
    """The stated quality (lpn/pretrained/README.md), on 96 fresh tasks as in the paper's 2-D evaluation."""
    cfg = pattern_2d.config
    batch = pattern_batch(jax.random.key(2024), cfg, 96, num_pairs=cfg.num_pairs + 1)
    searched = evaluate_batch(
        pattern_2d, batch, jax.random.key(0), gradient_search, steps=100, optimizer=default_optimizer(cfg.search_lr)
    )
    assert searched.top1 >= 0.95, searched


@pytest.mark.slow
def test_demo_prints_both_accuracies_and_writes_a_self_contained_report(tmp_path, capsys):
    out = tmp_path / "report.html"
    status = main(["demo", "--seed", "1", "--tasks", "16", "--steps", "20", "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    found = re.search(r"16 fresh tasks \(seed 1\): mean latent ([\d.]+)%, gradient search \(20 steps\) ([\d.]+)%", text)
    assert found, text
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert page.count("data:image/png;base64,") == 2  # the latent landscape and the objective curves
    assert page.count("<svg") >= 6 * 6  # six tasks: given pairs, test input, truth, two answers
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from the network
    assert f"{float(found.group(2)):.1f}%" in page


@pytest.mark.slow
def test_run_demo_result_matches_evaluate_batch(pattern_2d, monkeypatch):
    """The demo searches its tasks a group at a time (memory); 3 a call leaves a partial last group."""
    monkeypatch.setattr("lpn.demo.TASKS_PER_CALL", 3)
    result = run_demo(pattern_2d, num_tasks=8, steps=5, seed=3, log=lambda _: None)
    cfg = pattern_2d.config
    batch = pattern_batch(jax.random.fold_in(jax.random.key(3), 0), cfg, 8, num_pairs=cfg.num_pairs + 1)
    mean = evaluate_batch(pattern_2d, batch, jax.random.key(0))
    assert result.mean_accuracy == pytest.approx(mean.top1) and result.report is None


@pytest.mark.slow
def test_the_landscape_zooms_to_the_path_and_its_chunks_score_as_one_batch(pattern_2d):
    """`lpn demo`'s landscape: a square around the search path, zoomed to where it moves (a view of
    the whole prior showed the path as one dot), computed in chunks (all at once peaked at ~1.8 GB)
    that score every latent as one vmapped batch does; 20 x 20 = 400 latents leave a partial chunk."""
    import jax.numpy as jnp
    import numpy as np

    from lpn.demo import LANDSCAPE_CHUNK, _landscape_grid
    from lpn.search import log_prob

    cfg = pattern_2d.config
    batch = pattern_batch(jax.random.key(5), cfg, 1, num_pairs=cfg.num_pairs + 1)
    spec = jax.tree.map(lambda a: jnp.asarray(a[0, :-1]), batch)
    path = np.array([[0.10, 0.20], [0.18, 0.24], [0.14, 0.30]], np.float32)
    xs, ys, values = _landscape_grid(pattern_2d, spec, path, size=20)
    assert 20 * 20 % LANDSCAPE_CHUNK
    assert xs[0] <= path[:, 0].min() and path[:, 0].max() <= xs[-1]
    assert ys[0] <= path[:, 1].min() and path[:, 1].max() <= ys[-1]
    assert xs[-1] - xs[0] == pytest.approx(2 * 0.1) and ys[-1] - ys[0] == pytest.approx(2 * 0.1)  # 0.75 x 0.1 < 0.1
    z_GH = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    whole = jax.jit(jax.vmap(lambda z: log_prob(pattern_2d, z, spec)))(jnp.asarray(z_GH))
    np.testing.assert_allclose(values, np.asarray(whole).reshape(20, 20), rtol=1e-4, atol=1e-4)
    far = np.array([[0.0, 0.0], [2.0, 1.0]], np.float32)  # a long path: 1.5 times its extent
    xs, ys, _ = _landscape_grid(pattern_2d, spec, far, size=4)
    assert xs[-1] - xs[0] == pytest.approx(3.0) and ys[0] <= 0 and ys[-1] >= 1
