"""Damaged checkpoints are refused with a `CheckpointError` naming the file, never loaded as garbage.

One tiny checkpoint is written per test and then damaged one way: its weights truncated, emptied,
replaced or one byte flipped; its config missing, of the wrong shape, lacking or adding a field; its
run's `latest` pointing outside the run. Each is checked to fail, and an undamaged control to load.
"""

import hashlib
import json
import os
import shutil

import equinox as eqx
import jax
import numpy as np
import optax
import pytest
import safetensors.numpy

from conftest import TINY
from lpn.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_opt_state,
    read_meta,
    resolve,
    save_checkpoint,
    upgrade_checkpoint,
)
from lpn.cli import main
from lpn.config import Config


def adam_state(model):
    return optax.adam(1e-3).init(eqx.filter(model, eqx.is_array))


@pytest.fixture
def run_dir(tmp_path, tiny_model):
    """A run directory holding one checkpoint of the tiny model, with its optimiser state."""
    save_checkpoint(tmp_path / "run", tiny_model, step=3, opt_state=adam_state(tiny_model), extra={"key": [1, 2]})
    return tmp_path / "run"


def weights(run_dir):
    return resolve(run_dir) / "model.safetensors"


def edit_meta(run_dir, change):
    file = resolve(run_dir) / "config.json"
    file.write_text(json.dumps(change(json.loads(file.read_text()))))


def assert_same_leaves(a, b):
    a, b = jax.tree.leaves(eqx.filter(a, eqx.is_array)), jax.tree.leaves(eqx.filter(b, eqx.is_array))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_round_trip_keeps_the_model_the_optimiser_state_and_the_metadata(run_dir, tiny_model):
    model, meta = load_checkpoint(run_dir)
    assert model.config == TINY and meta["step"] == 3 and meta["key"] == [1, 2]
    assert_same_leaves(model, tiny_model)
    state = adam_state(tiny_model)
    moved = jax.tree.map(lambda x: x + 1, state)  # not the template's own values
    save_checkpoint(run_dir, tiny_model, step=4, opt_state=moved)
    assert_same_leaves(load_opt_state(run_dir, state), moved)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[: len(data) // 2], "not a safetensors file, or truncated"),
        (lambda data: data[:-1], "not a safetensors file, or truncated"),
        (lambda data: b"", r"empty \(0 bytes\)"),
        (lambda data: np.random.default_rng(0).bytes(len(data)), "not a safetensors file"),
    ],
    ids=["truncated to half", "last byte cut", "empty", "random bytes"],
)
def test_damaged_weights_are_refused_naming_the_file(run_dir, damage, message):
    file = weights(run_dir)
    file.write_bytes(damage(file.read_bytes()))
    with pytest.raises(CheckpointError, match=f"^{file}: {message}"):
        load_checkpoint(run_dir)


def flip_a_weight_byte(file):
    data = bytearray(file.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")  # after the header: the tensors' bytes
    data[start + 5] ^= 0x10
    file.write_bytes(bytes(data))


def test_one_flipped_byte_in_the_weights_is_refused_though_the_file_still_parses(run_dir):
    file = weights(run_dir)
    flip_a_weight_byte(file)
    assert safetensors.numpy.load_file(file)  # the damage is invisible to the format itself
    with pytest.raises(CheckpointError, match=f"^{file}: corrupt, its SHA-256 differs"):
        load_checkpoint(run_dir)
    flip_a_weight_byte(file)  # flipped back, the same file loads
    load_checkpoint(run_dir)


def test_a_flipped_byte_in_the_optimiser_state_is_refused(run_dir, tiny_model):
    file = resolve(run_dir) / "optimizer.safetensors"
    flip_a_weight_byte(file)
    with pytest.raises(CheckpointError, match=f"^{file}: corrupt"):
        load_opt_state(run_dir, adam_state(tiny_model))


def test_an_optimiser_state_of_another_shape_is_refused(run_dir, tiny_model):
    other = optax.sgd(1e-3, momentum=0.9).init(eqx.filter(tiny_model, eqx.is_array))
    with pytest.raises(CheckpointError, match="optimizer.safetensors: tensors do not match"):
        load_opt_state(run_dir, other)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda meta: {k: v for k, v in meta.items() if k != "config"}, "has no 'config'"),
        (
            lambda meta: dict(meta, config=list(meta["config"].values())),
            "expected an object of config fields, got a list",
        ),
        (
            lambda meta: dict(meta, config=dict(meta["config"], max_rows="4")),
            "config field max_rows must be of type int, got '4'",
        ),
        (
            lambda meta: dict(meta, config=dict(meta["config"], variational=1)),
            "config field variational must be of type bool",
        ),
        (
            lambda meta: dict(meta, config=dict(meta["config"], latent_dim=True)),
            "config field latent_dim must be of type int",
        ),
        (
            lambda meta: dict(meta, config={k: v for k, v in meta["config"].items() if k != "pattern_size"}),
            "missing config fields: pattern_size",
        ),
        (lambda meta: dict(meta, config=dict(meta["config"], rope=True)), "unknown config fields: rope"),
        (lambda meta: dict(meta, step="3"), "'step' must be a whole number"),
        (lambda meta: {k: v for k, v in meta.items() if k != "sha256"}, "'sha256' must map model.safetensors"),
        (lambda meta: [meta], "holds a JSON list, not an object"),
    ],
    ids=[
        "no config",
        "config a list",
        "max_rows a string",
        "bool a number",
        "int a bool",
        "field missing",
        "unknown field",
        "step a string",
        "no hashes",
        "meta a list",
    ],
)
def test_a_malformed_config_is_refused_naming_the_file(run_dir, change, message):
    edit_meta(run_dir, change)
    with pytest.raises(CheckpointError, match=f"^{resolve(run_dir) / 'config.json'}: .*{message}"):
        load_checkpoint(run_dir)


def test_a_missing_field_is_not_filled_with_its_default(run_dir):
    """The bug this guards: a config without pattern_size took the default 4, so a model of 2x2
    patterns was evaluated on 4x4 ones. Now the checkpoint says what it lacks."""
    assert TINY.pattern_size != Config.pattern_size
    edit_meta(run_dir, lambda meta: dict(meta, config={k: v for k, v in meta["config"].items() if k != "pattern_size"}))
    with pytest.raises(CheckpointError, match="missing config fields: pattern_size"):
        read_meta(run_dir)


def test_config_from_dict_takes_an_int_for_a_float_and_round_trips():
    values = dict(TINY.to_dict(), learning_rate=1)
    cfg = Config.from_dict(values)
    assert cfg.learning_rate == 1.0 and type(cfg.learning_rate) is float
    assert Config.from_dict(TINY.to_dict()) == TINY


@pytest.mark.parametrize("shape_or_dtype", ["shape", "dtype"])
def test_a_tensor_of_the_wrong_shape_or_dtype_is_refused_though_its_hash_matches(run_dir, shape_or_dtype):
    file = weights(run_dir)
    arrays = safetensors.numpy.load_file(file)
    name = sorted(arrays)[0]
    arrays[name] = arrays[name][..., :1] if shape_or_dtype == "shape" else arrays[name].astype(np.float16)
    safetensors.numpy.save_file(arrays, file)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    edit_meta(run_dir, lambda meta: dict(meta, sha256={"model.safetensors": digest}))
    with pytest.raises(CheckpointError, match=f"^{file}: tensor {name} has {shape_or_dtype}"):
        load_checkpoint(run_dir)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)], ids=["022", "077", "002"])
def test_checkpoint_folders_follow_the_umask(tmp_path, tiny_model, umask, mode):
    old = os.umask(umask)
    try:
        folder = save_checkpoint(tmp_path / "run", tiny_model, step=1)
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == mode
    assert (folder / "model.safetensors").stat().st_mode & 0o777 == mode & 0o666


@pytest.mark.parametrize("pointer", ["../other/step-00000001", "OTHER", "..", ".", "", "step-00000003/.."])
def test_latest_must_name_a_checkpoint_inside_its_run(run_dir, tiny_model, pointer):
    other = save_checkpoint(run_dir.parent / "other", tiny_model, step=1)
    (run_dir / "latest").write_text(pointer.replace("OTHER", str(other)) + "\n")
    with pytest.raises(CheckpointError, match=f"^{run_dir / 'latest'}: names .* not a checkpoint folder of this run"):
        load_checkpoint(run_dir)


def test_latest_may_not_escape_through_a_symlink(run_dir, tiny_model):
    other = save_checkpoint(run_dir.parent / "other", tiny_model, step=1)
    (run_dir / "step-00000009").symlink_to(other)
    (run_dir / "latest").write_text("step-00000009\n")
    with pytest.raises(CheckpointError, match="names 'step-00000009', which is not a checkpoint folder of this run"):
        load_checkpoint(run_dir)
    (run_dir / "latest").write_text("step-00000003\n")  # the plain name of its own checkpoint loads
    assert load_checkpoint(run_dir)[1]["step"] == 3


def as_format_1(run_dir, *dropped):
    """Rewrites the checkpoint's config.json as the format before hashes wrote it, lacking `dropped` fields."""
    edit_meta(
        run_dir,
        lambda meta: dict(
            {k: v for k, v in meta.items() if k != "sha256"},
            format_version=1,
            config={k: v for k, v in meta["config"].items() if k not in dropped},
        ),
    )


def test_format_1_is_refused_with_how_to_upgrade_and_the_upgrade_loads_the_same_model(run_dir, tiny_model):
    as_format_1(run_dir, "adam_b2", "train_targets")
    with pytest.raises(CheckpointError, match=r"format version 1 records no hash.*upgrade_checkpoint\("):
        load_checkpoint(run_dir)
    with pytest.raises(CheckpointError, match="lacks adam_b2, train_targets; pass the values the run used"):
        upgrade_checkpoint(run_dir)
    with pytest.raises(CheckpointError, match="already records latent_dim"):
        upgrade_checkpoint(run_dir, adam_b2=TINY.adam_b2, train_targets="all", latent_dim=4)
    weights_before = weights(run_dir).read_bytes()
    upgrade_checkpoint(run_dir, adam_b2=TINY.adam_b2, train_targets="all")
    model, meta = load_checkpoint(run_dir)
    assert model.config == TINY and meta["format_version"] == 3 and weights(run_dir).read_bytes() == weights_before
    assert_same_leaves(model, tiny_model)
    load_opt_state(run_dir, adam_state(tiny_model))  # its optimiser state was hashed too


def test_upgrade_refuses_weights_that_do_not_load(run_dir):
    as_format_1(run_dir)
    weights(run_dir).write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        upgrade_checkpoint(run_dir)
    assert json.loads((resolve(run_dir) / "config.json").read_text())["format_version"] == 1


FORMAT_3 = ("train_samples", "train_sample_sigma", "train_prior_latents", "ttt_lr")  # the fields format 3 added


def as_format_2(run_dir, *dropped):
    """Rewrites the checkpoint's config.json as format 2 wrote it, without the fields format 3 added
    and without `dropped`."""
    edit_meta(
        run_dir,
        lambda meta: dict(
            meta, format_version=2, config={k: v for k, v in meta["config"].items() if k not in FORMAT_3 + dropped}
        ),
    )


def test_format_2_loads_as_it_is_with_the_fields_format_3_added_as_its_run_had_them(run_dir, tiny_model):
    as_format_2(run_dir)
    file = resolve(run_dir) / "config.json"
    before = file.read_bytes()
    model, meta = load_checkpoint(run_dir)
    assert model.config == TINY and meta["format_version"] == 3
    assert {k: meta["config"][k] for k in FORMAT_3} == {
        "train_samples": 0,
        "train_sample_sigma": 0.5,
        "train_prior_latents": False,
        "ttt_lr": 1e-4,
    }
    assert_same_leaves(model, tiny_model)
    load_opt_state(run_dir, adam_state(tiny_model))
    assert read_meta(run_dir)["format_version"] == 3 and file.read_bytes() == before  # nothing to upgrade


@pytest.mark.parametrize("dropped", ["adam_b2", "pattern_size"])
def test_format_2_lacking_any_other_field_is_refused(run_dir, dropped):
    as_format_2(run_dir, dropped)
    with pytest.raises(CheckpointError, match=rf"config does not fit this lpn \(missing config fields: {dropped}\)$"):
        load_checkpoint(run_dir)


def test_format_2_recording_a_field_format_3_added_is_refused(run_dir):
    as_format_2(run_dir)
    edit_meta(run_dir, lambda meta: dict(meta, config=dict(meta["config"], train_samples=5)))
    with pytest.raises(CheckpointError, match="says format version 2, but its config records train_samples"):
        load_checkpoint(run_dir)


def test_only_format_2_has_the_new_fields_filled(run_dir):
    edit_meta(run_dir, lambda meta: dict(meta, config={k: v for k, v in meta["config"].items() if k != "ttt_lr"}))
    with pytest.raises(CheckpointError, match="missing config fields: ttt_lr"):
        load_checkpoint(run_dir)
    edit_meta(run_dir, lambda meta: dict(meta, format_version=4))
    with pytest.raises(CheckpointError, match="format version 4 is unknown; this lpn reads versions 2 and 3"):
        load_checkpoint(run_dir)


@pytest.mark.parametrize("given", [{}, {"ttt_lr": 1e-5}], ids=["filled", "given"])
def test_upgrading_format_1_fills_the_fields_format_3_added_as_for_format_2(run_dir, tiny_model, given):
    as_format_1(run_dir, "adam_b2", *FORMAT_3)
    with pytest.raises(CheckpointError, match="lacks adam_b2; pass the values the run used"):
        upgrade_checkpoint(run_dir)
    upgrade_checkpoint(run_dir, adam_b2=TINY.adam_b2, **given)
    model, meta = load_checkpoint(run_dir)
    assert model.config == TINY.replace(**given) and meta["format_version"] == 3
    saved = json.loads((resolve(run_dir) / "config.json").read_text())
    assert saved["format_version"] == 3 and saved["config"]["train_samples"] == 0
    assert_same_leaves(model, tiny_model)


@pytest.mark.parametrize("command", [["eval", "CKPT", "--data", "pattern"], ["solve", "CKPT", "TASK"]])
@pytest.mark.parametrize("damage", ["flipped byte", "random bytes", "max_rows a string"])
def test_the_cli_says_which_file_is_damaged_in_one_line(run_dir, tmp_path, capsys, monkeypatch, command, damage):
    monkeypatch.delenv("LPN_DEBUG", raising=False)
    task = tmp_path / "task.json"
    task.write_text(json.dumps({"train": [{"input": [[1, 0]], "output": [[0, 1]]}], "test": [{"input": [[2, 0]]}]}))
    file = weights(run_dir)
    if damage == "flipped byte":
        flip_a_weight_byte(file)
    elif damage == "random bytes":
        file.write_bytes(np.random.default_rng(1).bytes(4096))
    else:
        file = resolve(run_dir) / "config.json"
        edit_meta(run_dir, lambda meta: dict(meta, config=dict(meta["config"], max_rows="4")))
    argv = [str(run_dir) if a == "CKPT" else str(task) if a == "TASK" else a for a in command]
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 1 and out == "", (out, err)
    assert err.count("\n") == 1 and err.startswith(f"lpn: error: {file}: ") and "internal error" not in err


def test_an_unchanged_copy_of_a_run_still_loads(run_dir, tmp_path):
    """Hashes cover the files' bytes, not where they lie: a copied run loads."""
    copy = shutil.copytree(run_dir, tmp_path / "copy")
    assert load_checkpoint(copy)[1]["step"] == 3
