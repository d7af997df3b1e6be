"""Progress bars show where work takes a while, name what runs, and stay quiet under TQDM_DISABLE
(which tqdm itself ignores for a bar built with an explicit `disable=False`)."""

import pytest

from lpn.progress import progress_bar, quiet


@pytest.mark.parametrize("value, off", [("1", True), ("true", True), ("", False), ("0", False), ("false", False)])
def test_tqdm_disable_turns_every_bar_off(monkeypatch, value, off):
    monkeypatch.setenv("TQDM_DISABLE", value)
    assert quiet() is off
    assert progress_bar(range(3), enabled=True).disable is off
    assert progress_bar(range(3), enabled=False).disable


@pytest.mark.slow
def test_compare_methods_names_the_row_it_runs(tiny_model, capsys, monkeypatch):
    import jax

    from lpn.compare import compare_methods
    from lpn.pattern import pattern_batch
    from lpn.search import no_search

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    batch = pattern_batch(jax.random.key(0), tiny_model.config, 2)
    compare_methods(tiny_model, batch, jax.random.key(1), [("mean latent", no_search, {})])
    err = capsys.readouterr().err
    assert "compare_methods" in err and "mean latent" in err and "1/1" in err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    compare_methods(tiny_model, batch, jax.random.key(1), [("mean latent", no_search, {})])
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_the_training_bar_says_when_it_evaluates(tiny_cfg, capsys, monkeypatch):
    """An evaluation can take minutes: the bar says so before it starts (it sat silent at the last
    chunk's count before)."""
    from lpn.train import Evaluation, TrainOptions, train

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    before = []

    def probe(model):
        before.append(capsys.readouterr().err)
        return {"probe": 1.0}

    train(tiny_cfg, 4, chunk=2, options=TrainOptions(evaluation=Evaluation(probe, every=4)))
    assert len(before) == 1 and "evaluating on fresh tasks" in before[0] and "4/4" in before[0]


@pytest.mark.slow
def test_tta_views_show_a_bar_once_they_take_a_while(tiny_model, capsys, monkeypatch):
    """TTA multiplies the search by its views: by default a TTA run gets a bar naming the views,
    shown only after `lpn.progress.DELAY` seconds (0 here), and none without TTA or when turned off."""
    import jax

    from lpn.evaluate import batch_as_tasks, predict_tasks
    from lpn.pattern import pattern_batch
    from lpn.search import no_search

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setattr("lpn.progress.DELAY", 0.0)
    tasks = batch_as_tasks(pattern_batch(jax.random.key(0), tiny_model.config, 2))
    capsys.readouterr()
    predict_tasks(tiny_model, tasks, jax.random.key(1), no_search, tta=3)
    err = capsys.readouterr().err
    assert "3 views a task" in err and "6/6" in err
    predict_tasks(tiny_model, tasks, jax.random.key(1), no_search)  # no TTA: no bar unless asked
    predict_tasks(tiny_model, tasks, jax.random.key(1), no_search, tta=3, progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("TQDM_DISABLE", "1")
    predict_tasks(tiny_model, tasks, jax.random.key(1), no_search, tta=3)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr("lpn.progress.DELAY", 3600.0)  # a run shorter than the delay stays silent
    monkeypatch.delenv("TQDM_DISABLE")
    predict_tasks(tiny_model, tasks, jax.random.key(1), no_search, tta=3)
    assert capsys.readouterr().err == ""
