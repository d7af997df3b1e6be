"""The evolution-strategy searches of lpn/evolution.py on the tiny random model: trace shapes and
counts, climbing, vmapping over tasks, evaluation, the hybrid's joined trace, the CLI, and the
error when evosax is missing."""

import builtins
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import TINY
from lpn.evaluate import evaluate_batch, split_query
from lpn.methods import SEARCHES, search_method
from lpn.pattern import pattern_batch
from lpn.search import GRADIENT_COST, log_prob, mean_latent, search_batch

pytest.importorskip("evosax")
from lpn import evolution  # noqa: E402
from lpn.compare import es_methods  # noqa: E402

METHODS = [evolution.cma_es, evolution.snes, evolution.open_es]


def run(method, model, pairs, **options):
    return eqx.filter_jit(lambda m, p, k: method(m, p, k, **options))(model, pairs, jax.random.key(1))


@pytest.fixture(scope="module")
def spec():
    """Four pattern tasks' specifications (3 given pairs each), for the tiny model."""
    return split_query(pattern_batch(jax.random.key(3), TINY, 4))[0]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
def test_trace_shapes_counts_and_the_start(method, tiny_model, random_pairs):
    n = int(random_pairs.pair_mask.sum())
    trace = run(method, tiny_model, random_pairs, steps=5, population=6)
    assert trace.latents.shape == (6, 6, TINY.latent_dim) and trace.scores.shape == (6, 6)
    assert int(trace.num_evals) == n * (5 * 6 + 1)
    start = eqx.filter_jit(mean_latent)(tiny_model, random_pairs)
    np.testing.assert_allclose(trace.latents[0], jnp.broadcast_to(start, (6, TINY.latent_dim)), rtol=1e-6)
    assert trace.best_score == trace.scores.max() and trace.best_score >= trace.scores[0, 0]
    # The scores are the objective at the recorded candidates.
    np.testing.assert_allclose(
        eqx.filter_jit(log_prob)(tiny_model, trace.latents[3, 2], random_pairs), trace.scores[3, 2], rtol=1e-4
    )
    # Later generations move away from the start: the population is not resampled around it forever.
    assert jnp.abs(trace.latents[-1].mean(0) - start).max() > 1e-3


def test_zero_generations_return_the_start(tiny_model, random_pairs):
    trace = run(evolution.cma_es, tiny_model, random_pairs, steps=0)
    assert trace.latents.shape == (1, evolution.POPULATION, TINY.latent_dim)
    assert int(trace.num_evals) == int(random_pairs.pair_mask.sum())


def test_climbs_under_search_batch(tiny_model, spec):
    trace = search_batch(evolution.cma_es, tiny_model, spec, jax.random.key(0), steps=8, sigma=0.5)
    start_B = trace.scores[:, 0, 0]
    assert trace.best.shape == (4, TINY.latent_dim) and trace.latents.shape == (4, 9, 6, TINY.latent_dim)
    assert (trace.best_score >= start_B).all() and (trace.best_score > start_B + 1e-3).any()


def test_bad_options_raise_clear_errors(tiny_model, random_pairs):
    with pytest.raises(ValueError, match="population must be even"):
        evolution.open_es(tiny_model, random_pairs, jax.random.key(0), steps=2, population=5)
    with pytest.raises(ValueError, match="sigma > 0"):
        evolution.cma_es(tiny_model, random_pairs, jax.random.key(0), steps=2, sigma=0.0)
    with pytest.raises(ValueError, match="share must be in"):
        evolution.hybrid_search(tiny_model, random_pairs, jax.random.key(0), steps=4, share=1.5)


@pytest.mark.slow
def test_hybrid_joins_both_paths_and_counts_both(tiny_model, random_pairs):
    n = int(random_pairs.pair_mask.sum())
    trace = run(evolution.hybrid_search, tiny_model, random_pairs, steps=10)  # 2 generations of 6, 6 steps
    assert trace.latents.shape == (3 + 7, 6, TINY.latent_dim)
    assert int(trace.num_evals) == n * (2 * 6 + 1) + n * (GRADIENT_COST * 6 + 1)
    # The gradient part starts at the ES part's best candidate, repeated across the columns.
    es_scores = trace.scores[:3].reshape(-1)
    np.testing.assert_allclose(trace.latents[3, 0], trace.latents[:3].reshape(-1, TINY.latent_dim)[es_scores.argmax()])
    np.testing.assert_allclose(trace.scores[3], es_scores.max(), rtol=1e-5)
    assert (trace.latents[3:] == trace.latents[3:, :1]).all()
    assert jnp.abs(trace.latents[-1, 0] - trace.latents[3, 0]).max() > 1e-4  # and then it moved
    assert trace.best_score == trace.scores.max()


def test_budgets_match_gradient_search():
    cfg = TINY
    for budget in (10, 50, 100):
        method, options, settings = search_method("cma", cfg, steps=budget)
        assert options["steps"] * options["population"] == GRADIENT_COST * budget
        assert settings == {"search": "cma", "steps": budget, "generations": options["steps"]}
    rows = es_methods((10, 50))
    assert [r.label for r in rows] == [
        "CMA-ES 10",
        "CMA-ES 50",
        f"{SEARCHES['es'].label} 10",
        f"{SEARCHES['es'].label} 50",
        "CMA-ES then gradient 10",
        "CMA-ES then gradient 50",
    ]


@pytest.mark.slow
def test_runs_through_evaluate_batch(tiny_model):
    batch = pattern_batch(jax.random.key(5), TINY, 4)
    method, options, _ = search_method("cma", TINY, steps=4)  # the CLI test's program, compiled once
    metrics = evaluate_batch(tiny_model, batch, jax.random.key(0), method, **options)
    assert 0 <= metrics.top1 <= 1 and metrics.num_evals == 3 * (2 * 6 + 1)


@pytest.mark.slow
def test_cli_search_cma_on_a_tiny_checkpoint(tiny_model, tmp_path, capsys):
    from lpn.checkpoint import save_checkpoint
    from lpn.cli import main

    save_checkpoint(tmp_path / "run", tiny_model)
    status = main(
        [
            "eval",
            str(tmp_path / "run"),
            "--data",
            "pattern",
            "--search",
            "cma",
            "--steps",
            "4",
            "--limit",
            "4",
            "--out",
            str(tmp_path / "eval"),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "top-1 exact" in out and "generations 2" in out


def test_a_missing_evosax_is_a_clear_error(monkeypatch, tiny_model, random_pairs, capsys):
    real_import = builtins.__import__

    def no_evosax(name, *args, **kwargs):
        if name.split(".")[0] == "evosax":
            raise ImportError("No module named 'evosax'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_evosax)
    with pytest.raises(ImportError, match=r'pip install "lpn\[es\]"'):
        evolution.cma_es(tiny_model, random_pairs, jax.random.key(0), steps=1)
    with pytest.raises(ImportError, match="evosax"):
        search_method("hybrid", TINY)

    from lpn.cli import main

    status = main(["eval", "pattern", "--data", "pattern", "--search", "cma", "--limit", "2"])
    err = capsys.readouterr().err
    assert status == 2 and err == 'lpn: error: the evolution-strategy searches need evosax: pip install "lpn[es]"\n'


@pytest.mark.slow
def test_lpn_imports_and_lists_the_rows_without_evosax():
    code = (
        "import sys; sys.modules['evosax'] = None\n"
        "import lpn, lpn.evolution, lpn.methods\n"
        "assert 'cma' in lpn.methods.SEARCHES\n"
        "try:\n    lpn.evolution.require_evosax()\nexcept ImportError as err:\n    print(err)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == 'the evolution-strategy searches need evosax: pip install "lpn[es]"\n'
