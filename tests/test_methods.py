"""The one table of search methods by name, read by the CLI and by `lpn.compare`."""

import pytest
from conftest import TINY

from lpn import search
from lpn.compare import BUDGETS, SearchMethod, table_11_methods
from lpn.methods import SEARCHES, describe, search_method


def test_names_give_the_search_its_options_and_settings():
    method, options, settings = search_method("gradient", TINY, steps=7, lr=0.5)
    assert method is search.gradient_search
    assert options == {"steps": 7, "optimizer": search.default_optimizer(0.5)}
    assert settings == {"search": "gradient", "steps": 7, "lr": 0.5, "optimizer": "adam(b2=0.9)"}
    assert describe(settings) == "gradient (steps 7, lr 0.5)"
    _, options, settings = search_method("prior-gradient", TINY)
    assert options["from_prior"] is True and settings["lr"] == TINY.search_lr
    assert search_method("none", TINY) == (search.no_search, {}, {"search": "none"})
    assert search_method("local", TINY, steps=3)[1:] == ({"steps": 3}, {"search": "local", "steps": 3})
    assert search_method("random", TINY)[1:] == ({"num_samples": 250}, {"search": "random", "samples": 250})
    assert search_method("sampling", TINY, samples=9)[1] == {"num_samples": 9}
    assert describe(search_method("sampling", TINY)[2]) == "sampling (samples 100)"


def test_table_11_rows_come_from_the_table():
    rows = table_11_methods((2, 5))
    assert rows[0] == SearchMethod("mean latent", search.no_search, {}, "mean latent", 0)
    assert len(rows) == 1 + 6 * 2 and len(table_11_methods()) == 1 + 6 * len(BUDGETS)
    prior_local = next(r for r in rows if r.label == "Gaussian init + local 5")
    assert prior_local == SearchMethod("Gaussian init + local 5", search.local_search,
                                       {"steps": 5, "from_prior": True}, "Gaussian init + local", 5)
    lpn = rows[-1]
    assert lpn.label == "LPN (encoder init + gradient) 5" and lpn.method is search.gradient_search
    assert lpn.options == {"steps": 5, "optimizer": search.default_optimizer()}
    assert {r.family for r in rows[1:]} == {SEARCHES[name].label for name in SEARCHES if name != "none"}


def test_every_row_takes_its_options(tiny_model):
    import jax

    from lpn.pattern import pattern_batch

    pairs = jax.tree.map(lambda a: a[0], pattern_batch(jax.random.key(0), TINY, 1))
    for name, row in SEARCHES.items():
        trace = row.method(tiny_model, pairs, jax.random.key(1), **row.options(2))
        assert trace.best.shape == (TINY.latent_dim,), name


def test_an_unknown_name_is_a_key_error():
    with pytest.raises(KeyError):
        search_method("nope", TINY)
