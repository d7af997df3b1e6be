"""`Config` checks each field's type and range when it is made, and the CLI's --set reports a bad
value as one usage line (exit 2) before anything trains."""

import dataclasses
import json
import math
from pathlib import Path

import jax
import numpy as np
import pytest

from lpn.cli import main
from lpn.config import FIELD_RULES, PRESETS, Config, ConfigError
from lpn.pattern import pattern_batch

PRETRAINED = sorted((Path(__file__).parent.parent / "lpn" / "pretrained").glob("*/config.json"))


def test_every_field_has_a_rule():
    assert set(FIELD_RULES) == {f.name for f in dataclasses.fields(Config)}


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("learning_rate", -1.0, "learning_rate must be > 0, got -1.0"),
        ("learning_rate", math.nan, "learning_rate must be a finite number, got nan"),
        ("search_lr", 0.0, "search_lr must be > 0, got 0.0"),
        ("train_search_lr", math.inf, "train_search_lr must be a finite number, got inf"),
        ("batch_size", 0, "batch_size must be >= 1, got 0"),
        ("batch_size", 2.5, "batch_size must be an integer, got 2.5"),
        ("micro_batch_size", -1, "micro_batch_size must be >= 0, got -1"),
        ("max_rows", 0, "max_rows must be in 1..30, got 0"),
        ("max_cols", 31, "max_cols must be in 1..30, got 31"),
        ("latent_dim", -3, "latent_dim must be >= 1, got -3"),
        ("enc_layers", 0, "enc_layers must be >= 1, got 0"),
        ("dec_mlp_factor", 0.0, "dec_mlp_factor must be > 0, got 0.0"),
        ("adam_b2", 1.0, r"adam_b2 must be in \[0, 1\), got 1.0"),
        ("pattern_density", 1.5, r"pattern_density must be in \[0, 1\], got 1.5"),
        ("kl_coeff", -1e-4, "kl_coeff must be >= 0, got -0.0001"),
        ("grad_clip", 0.0, "grad_clip must be > 0, got 0.0"),
        ("train_targets", "first", "train_targets must be one of 'all', 'last', got 'first'"),
        ("train_targets", 1, "train_targets must be a string, got 1"),
        ("variational", 1, "variational must be true or false, got 1"),
        ("num_pairs", True, "num_pairs must be an integer, got True"),
        ("enc_mlp_factor", "4", "enc_mlp_factor must be a finite number, got '4'"),
        ("train_samples", -1, "train_samples must be >= 0, got -1"),
        ("train_samples", 2.0, "train_samples must be an integer, got 2.0"),
        ("train_sample_sigma", 0.0, "train_sample_sigma must be > 0, got 0.0"),
        ("train_sample_sigma", -0.5, "train_sample_sigma must be > 0, got -0.5"),
        ("train_prior_latents", 1, "train_prior_latents must be true or false, got 1"),
        ("ttt_lr", 0.0, "ttt_lr must be > 0, got 0.0"),
        ("ttt_lr", math.nan, "ttt_lr must be a finite number, got nan"),
    ],
)
def test_bad_values_name_the_field_the_value_and_what_is_allowed(field, value, message):
    with pytest.raises(ConfigError, match=f"^{message}$"):
        Config(**{field: value})
    with pytest.raises(ValueError, match=message):  # replace() checks too, and ConfigError is a ValueError
        PRESETS["pattern"].replace(**{field: value})


def test_edges_and_off_values_are_accepted():
    cfg = Config(
        max_rows=30,
        max_cols=1,
        pattern_size=1,
        micro_batch_size=0,
        warmup_steps=0,
        lr_decay_steps=0,
        adam_b2=0.0,
        kl_coeff=0.0,
        weight_decay=0.0,
        pattern_density=0.0,
        train_search_steps=0,
        latent_noise_warmup=0,
        learning_rate=1,
        batch_size=np.int64(4),
    )
    assert cfg.batch_size == 4 and Config(pattern_density=1.0).pattern_density == 1.0


def test_sample_n_and_grad_k_training_are_exclusive():
    message = (
        r"^train_samples and train_search_steps cannot both be > 0 \(the training is Sample N or Grad K\), "
        r"got 5 and 1$"
    )
    with pytest.raises(ConfigError, match=message):
        Config(train_samples=5, train_search_steps=1)
    with pytest.raises(ConfigError, match=message):
        PRESETS["pattern"].replace(train_search_steps=1).replace(train_samples=5)
    assert Config(train_samples=5, train_prior_latents=True).train_samples == 5  # no encoder combines with either
    assert Config(train_search_steps=1, train_prior_latents=True).train_search_steps == 1


def test_new_fields_defaults_and_the_ood_presets_ttt_rate():
    cfg = Config()
    assert (cfg.train_samples, cfg.train_sample_sigma, cfg.train_prior_latents, cfg.ttt_lr) == (0, 0.5, False, 1e-4)
    assert PRESETS["pattern_ood"].ttt_lr == 1e-5 and PRESETS["pattern"].ttt_lr == 1e-4


@pytest.mark.parametrize("path", PRETRAINED, ids=lambda p: p.parent.name)
def test_presets_and_shipped_configs_are_valid(path):
    for cfg in PRESETS.values():
        assert Config.from_dict(cfg.to_dict()) == cfg
    Config.from_dict(json.loads(path.read_text())["config"])


def test_a_pattern_larger_than_the_grid_is_refused_where_patterns_are_made():
    cfg = Config(max_rows=3, max_cols=3)  # valid: string or procedural data never read pattern_size
    with pytest.raises(ValueError, match="pattern_size 4 does not fit the 3x3 grids"):
        pattern_batch(jax.random.key(0), cfg, 2)


@pytest.mark.parametrize(
    "item, message",
    [
        ("learning_rate=-1", "learning_rate must be > 0, got -1.0"),
        ("batch_size=0", "batch_size must be >= 1, got 0"),
        ("max_rows=0", "max_rows must be in 1..30, got 0"),
        ("latent_dim=-3", "latent_dim must be >= 1, got -3"),
        ("learning_rate=nan", "learning_rate must be a finite number, got nan"),
        ("train_samples=-1", "train_samples must be >= 0, got -1"),
        ("train_prior_latents=maybe", "train_prior_latents takes true or false, got 'maybe'"),
    ],
)
def test_cli_set_reports_a_bad_value_in_one_line_before_training(tmp_path, capsys, item, message):
    out = tmp_path / "run"
    status = main(["train", "--preset", "pattern", "--steps", "1", "--out", str(out), "--set", item])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_cli_set_reports_sample_n_with_grad_k_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(
        [
            "train",
            "--preset",
            "pattern",
            "--steps",
            "1",
            "--out",
            str(out),
            "--set",
            "train_samples=5",
            "train_search_steps=1",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err
    assert "train_samples and train_search_steps cannot both be > 0" in err
    assert not out.exists()


def test_numpy_numbers_are_stored_as_python_values_so_a_checkpoint_of_them_loads(tmp_path):
    from conftest import TINY
    from lpn.checkpoint import load_checkpoint, save_checkpoint
    from lpn.model import LPN

    cfg = TINY.replace(latent_dim=np.int64(3), learning_rate=np.float32(1e-3), variational=True)
    assert type(cfg.latent_dim) is int and type(cfg.learning_rate) is float
    assert json.loads(json.dumps(cfg.to_dict())) == cfg.to_dict()
    save_checkpoint(tmp_path, LPN(cfg, jax.random.key(0)))
    _, meta = load_checkpoint(tmp_path)
    assert Config.from_dict(meta["config"]) == cfg and type(Config.from_dict(meta["config"]).latent_dim) is int
