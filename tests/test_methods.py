"""The one table of search methods by name, read by the CLI and by `lpn.compare`."""

import optax
import pytest

from conftest import TINY
from lpn import in_context, search
from lpn.compare import BUDGETS, SearchMethod, table_11_methods
from lpn.in_context import InContext
from lpn.methods import IN_CONTEXT, SEARCHES, describe, methods_for, search_method
from lpn.model import LPN


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
    assert prior_local == SearchMethod(
        "Gaussian init + local 5", search.local_search, {"steps": 5, "from_prior": True}, "Gaussian init + local", 5
    )
    lpn = rows[-1]
    assert lpn.label == "LPN (encoder init + gradient) 5" and lpn.method is search.gradient_search
    assert lpn.options == {"steps": 5}  # gradient_search's own default: Adam (b2 0.9) at the config's search_lr
    sgd = optax.sgd(0.1)
    assert SearchMethod.named("gradient", 5, sgd).options == {"steps": 5, "optimizer": sgd}
    assert SearchMethod.named("local", 5, sgd).options == {"steps": 5}  # takes no optimiser
    # Every row of the table but the mean latent and those needing an optional dependency (the ES rows).
    assert {r.family for r in rows[1:]} == {
        row.label for name, row in SEARCHES.items() if name != "none" and row.requires is None
    }


@pytest.mark.slow
def test_every_row_takes_its_options(tiny_model):
    import jax

    from lpn.pattern import pattern_batch

    pairs = jax.tree.map(lambda a: a[0], pattern_batch(jax.random.key(0), TINY, 1))
    for name, row in SEARCHES.items():
        if row.requires:  # the optional evosax rows: tests/test_evolution.py runs them
            continue
        trace = row.method(tiny_model, pairs, jax.random.key(1), **row.options(2))
        assert trace.best.shape == (TINY.latent_dim,), name


def test_an_unknown_name_is_a_key_error():
    with pytest.raises(KeyError):
        search_method("nope", TINY)


def test_each_architecture_has_its_table_and_refuses_the_others_names():
    assert methods_for(LPN) is SEARCHES and methods_for(InContext) is IN_CONTEXT
    method, options, settings = search_method("ttt", TINY, steps=5, architecture=InContext)
    assert method is in_context.ttt and settings == {
        "search": "ttt",
        "steps": 5,
        "lr": TINY.ttt_lr,
        "optimizer": "adam",
    }
    assert options == {"steps": 5, "optimizer": in_context.ttt_optimizer(TINY.ttt_lr)}
    assert search_method("ttt", TINY, 5, lr=1e-3, architecture=InContext)[2]["lr"] == 1e-3
    assert search_method("none", TINY, architecture=InContext)[:2] == (in_context.ttt, {"steps": 0})
    with pytest.raises(KeyError, match="'gradient' does not apply to an in-context model; it takes: none, ttt"):
        search_method("gradient", TINY, architecture=InContext)
    with pytest.raises(KeyError, match="'ttt' does not apply to an LPN; it takes: none, gradient"):
        search_method("ttt", TINY)


@pytest.mark.slow
def test_every_in_context_row_takes_its_options():
    import jax

    from lpn.pattern import pattern_batch

    model = InContext(TINY, jax.random.key(0))
    pairs = jax.tree.map(lambda a: a[0], pattern_batch(jax.random.key(0), TINY, 1))
    for name, row in IN_CONTEXT.items():
        trace = row.method(model, pairs, jax.random.key(1), **row.options(2))
        assert trace.losses.shape == ((3,) if row.budget else (1,)), name


def test_each_kind_is_described_once_and_found_from_its_model():
    from lpn.architectures import ARCHITECTURES, DEFAULT, KINDS, architecture_name, describe_architecture, kind_of

    assert list(KINDS) == list(ARCHITECTURES) == ["lpn", "in-context"] and DEFAULT in KINDS
    for name, kind in KINDS.items():
        assert kind.name == name and ARCHITECTURES[name] is kind.model and kind_of(kind.model) is kind
        assert methods_for(kind.model) is kind.methods
        assert {kind.default, kind.searched, *kind.compared} <= set(kind.methods)
        assert architecture_name(kind.model) == name and describe_architecture(kind.model) == kind.words
    assert KINDS["lpn"].loss is None and KINDS["in-context"].loss(TINY) is InContext.task_loss
    assert KINDS["in-context"].tasks_per_call == IN_CONTEXT["ttt"].tasks_per_call == in_context.TASKS_PER_CALL == 32
    assert KINDS["lpn"].tasks_per_call is None and all(r.tasks_per_call is None for r in SEARCHES.values())
    assert KINDS["lpn"].latent and not KINDS["in-context"].latent
    with pytest.raises(ValueError, match="str is not an architecture of lpn; known: lpn, in-context"):
        kind_of("a model")
    with pytest.raises(ValueError, match="no test-time methods are known for int"):
        methods_for(int)
