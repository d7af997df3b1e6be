"""One frozen `Config` holds every size and training setting; presets list only what differs.

Sizes follow the paper and the authors' configs (`../shared/docs/lpn-paper.md` §1.6, §2.4, §2.5).
Parameter counts are the true ones: the paper's figures are four times larger because the authors
counted a parameter tree replicated on four TPU devices (§1.6). `lpn params` prints them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

from lpn.grids import MAX_SIDE

TRAIN_TARGETS = ("all", "last")  # which pairs of a task training predicts, see `lpn.train`


class ConfigError(ValueError):
    """A `Config` field of the wrong type or out of range: names the field, the value and what is allowed."""


@dataclass(frozen=True)
class Config:
    # Grids
    max_rows: int = 10
    max_cols: int = 10
    num_pairs: int = 4  # pairs per task in training (n = 4 in every paper config)

    # Latent (§1.3)
    latent_dim: int = 32
    variational: bool = True
    latent_bias: bool = (
        False  # not in the paper: the decoder's latent token gets a learned bias, see `lpn.model.Decoder`
    )

    # Encoder (§1.2) and decoder (§1.4): layers, heads x head width, MLP factor
    enc_layers: int = 2
    enc_heads: int = 6
    enc_head_dim: int = 16
    enc_mlp_factor: float = 1.0
    dec_layers: int = 2
    dec_heads: int = 6
    dec_head_dim: int = 16
    dec_mlp_factor: float = 1.0

    # Training (§2)
    batch_size: int = 128  # tasks per step
    micro_batch_size: int = 32  # tasks per gradient micro-batch (cache-friendly on CPU); 0 = whole batch
    learning_rate: float = 4e-4
    warmup_steps: int = 99
    lr_decay_steps: int = 0  # 0: constant after warm-up (the paper); N: cosine decay to 1% of the peak at step N
    adam_b2: float = 0.999
    train_targets: str = (
        "all"  # "all": each pair from the others' mean latent (leave-one-out, §2); "last": only the last pair
    )
    latent_noise_warmup: int = 0  # N: the latents' sampling noise grows linearly from 0 over N steps; 0: off
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    kl_coeff: float = 1e-4  # beta
    train_search_steps: int = 0  # K of "Grad K" training; 0 is plain mean aggregation
    train_search_lr: float = 0.1  # inner Adam (b2 = 0.9) learning rate
    train_search_stop_gradient: bool = True  # False lets gradients flow through the update (Grad K **)
    train_samples: int = 0  # N of "Sample N" (§2.3): (N + 1)(n - 1) decodings a pair, see `lpn.loss.refine`; 0 = off
    train_sample_sigma: float = 0.5  # Sample N's candidates: mean + sigma * eps (the authors' code, §1.7)
    train_prior_latents: bool = False  # "no encoder" (§2.3, Fig 2): pair latents are N(0, I) draws, not encodings

    # Pattern task generator (§2.5)
    pattern_size: int = 4
    pattern_density: float = 1.0
    # Training's patterns never have every cell coloured (one random cell is made black), so that
    # the fully dense patterns of an OOD test (density 1.0, Table 3) are out of distribution even
    # where pattern_size is small enough for density 0.5 to draw them (1/16 of 2x2 patterns).
    pattern_exclude_full: bool = False

    # Test-time search defaults (§3.2)
    search_lr: float = 0.1
    ttt_lr: float = 1e-4  # test-time training of the in-context model (App H: 1e-4; 1e-5 for pattern OOD)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            kind = type(f.default)
            _check_field(f.name, getattr(self, f.name), kind)
            # A numpy number (a sweep over np.arange) is stored as the plain Python value, so that the
            # config saves as JSON and loads back as the same types.
            object.__setattr__(self, f.name, kind(getattr(self, f.name)))
        if self.train_samples and self.train_search_steps:
            raise ConfigError(
                f"train_samples and train_search_steps cannot both be > 0 (the training is Sample N or "
                f"Grad K), got {self.train_samples} and {self.train_search_steps}"
            )

    @property
    def enc_width(self) -> int:
        return self.enc_heads * self.enc_head_dim

    @property
    def dec_width(self) -> int:
        return self.dec_heads * self.dec_head_dim

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """The inverse of `to_dict`, checked: an object holding every field, no other, each value of its
        field's type (an int may stand for a float). No field is filled with its default: a saved config
        whose missing field took today's default would silently become another model or task; the one
        exception is a field added after files were written (`ADDED_FIELDS`), which takes the value
        that reproduces what such a file meant."""
        if not isinstance(values, dict):
            raise TypeError(f"expected an object of config fields, got a {type(values).__name__}")
        values = {**ADDED_FIELDS, **values}
        types = {
            f.name: {"int": int, "float": float, "bool": bool, "str": str}[f.type] for f in dataclasses.fields(cls)
        }
        unknown, missing = sorted(set(values) - set(types)), [name for name in types if name not in values]
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(unknown)}")
        if missing:
            raise ValueError(f"missing config fields: {', '.join(missing)}")
        typed = {}
        for name, kind in types.items():
            value = values[name]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise TypeError(f"config field {name} must be of type {kind.__name__}, got {value!r}")
            typed[name] = value
        return cls(**typed)


# What each field allows, as (allowed, test). Counts where 0 means "off" allow 0; sizes start at 1.
_AT_LEAST_1 = (">= 1", lambda v: v >= 1)
_AT_LEAST_0 = (">= 0", lambda v: v >= 0)
_POSITIVE = ("> 0", lambda v: v > 0)
_SIDE = (f"in 1..{MAX_SIDE}", lambda v: 1 <= v <= MAX_SIDE)
_BOOL = ("true or false", lambda v: True)
FIELD_RULES = {
    "max_rows": _SIDE,
    "max_cols": _SIDE,
    "num_pairs": _AT_LEAST_1,
    "latent_dim": _AT_LEAST_1,
    "variational": _BOOL,
    "pattern_exclude_full": _BOOL,
    "latent_bias": _BOOL,
    "enc_layers": _AT_LEAST_1,
    "enc_heads": _AT_LEAST_1,
    "enc_head_dim": _AT_LEAST_1,
    "enc_mlp_factor": _POSITIVE,
    "dec_layers": _AT_LEAST_1,
    "dec_heads": _AT_LEAST_1,
    "dec_head_dim": _AT_LEAST_1,
    "dec_mlp_factor": _POSITIVE,
    "batch_size": _AT_LEAST_1,
    "micro_batch_size": _AT_LEAST_0,
    "learning_rate": _POSITIVE,
    "warmup_steps": _AT_LEAST_0,
    "lr_decay_steps": _AT_LEAST_0,
    "adam_b2": ("in [0, 1)", lambda v: 0 <= v < 1),  # 1 divides by zero in Adam's bias correction
    "train_targets": (f"one of {', '.join(map(repr, TRAIN_TARGETS))}", lambda v: v in TRAIN_TARGETS),
    "latent_noise_warmup": _AT_LEAST_0,
    "weight_decay": _AT_LEAST_0,
    "grad_clip": _POSITIVE,
    "kl_coeff": _AT_LEAST_0,
    "train_search_steps": _AT_LEAST_0,
    "train_search_lr": _POSITIVE,
    "train_search_stop_gradient": _BOOL,
    "train_samples": _AT_LEAST_0,
    "train_sample_sigma": _POSITIVE,
    "train_prior_latents": _BOOL,
    "pattern_size": _AT_LEAST_1,  # that it fits the grid is checked by `lpn.pattern`, its one user
    "pattern_density": ("in [0, 1]", lambda v: 0 <= v <= 1),
    "search_lr": _POSITIVE,
    "ttt_lr": _POSITIVE,
}
_KINDS = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}


def _check_field(name: str, value, kind: type) -> None:
    if kind is bool:
        fits = isinstance(value, bool)
    elif kind is int:
        fits = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif kind is float:
        fits = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    else:
        fits = isinstance(value, kind)
    if not fits:
        raise ConfigError(f"{name} must be {_KINDS[kind]}, got {value!r}")
    allowed, test = FIELD_RULES[name]
    if not test(value):
        raise ConfigError(f"{name} must be {allowed}, got {value!r}")


# Fields added after configs were saved, with the value that means what a file without them meant.
ADDED_FIELDS = {"pattern_exclude_full": False}

# The fields that fix the model's parameters; a checkpoint must match them. The rest (learning rates,
# Grad K, Sample N, batch size, task generator) may change between runs, e.g. Grad 0 training then Grad 1
# fine-tuning as in the paper's ARC schedule (§2.3).
ARCHITECTURE = (
    "max_rows",
    "max_cols",
    "latent_dim",
    "variational",
    "latent_bias",
    "enc_layers",
    "enc_heads",
    "enc_head_dim",
    "enc_mlp_factor",
    "dec_layers",
    "dec_heads",
    "dec_head_dim",
    "dec_mlp_factor",
)


def architecture_diff(a: Config, b: Config) -> dict:
    """{field: (a's, b's)} for the architecture fields where a and b differ."""
    return {f: (getattr(a, f), getattr(b, f)) for f in ARCHITECTURE if getattr(a, f) != getattr(b, f)}


PRESETS: dict[str, Config] = {
    # 2-D latent demo (paper B.4, F): 4x4 grids, 2x2 patterns. 254,664 parameters.
    "pattern_2d": Config(
        max_rows=4,
        max_cols=4,
        latent_dim=2,
        pattern_size=2,
        enc_head_dim=12,
        enc_mlp_factor=4.0,
        dec_head_dim=12,
        dec_mlp_factor=4.0,
        kl_coeff=1e-3,
    ),
    # Pattern task (Table 1): 10x10 grids, 4x4 patterns. 243,360 parameters.
    "pattern": Config(),
    # Pattern OOD study (Table 3): trained at density 0.5. 154,496 parameters.
    "pattern_ood": Config(
        enc_layers=4,
        enc_heads=8,
        enc_head_dim=8,
        enc_mlp_factor=2.0,
        dec_heads=8,
        dec_head_dim=4,
        pattern_density=0.5,
        ttt_lr=1e-5,
    ),
    # The paper's ARC model (Table 16), without RoPE (see README). About 44.6M parameters.
    "arc": Config(
        max_rows=30,
        max_cols=30,
        latent_dim=256,
        enc_layers=8,
        enc_heads=8,
        enc_head_dim=64,
        enc_mlp_factor=4.0,
        dec_layers=6,
        dec_heads=8,
        dec_head_dim=64,
        dec_mlp_factor=4.0,
        batch_size=128,
        learning_rate=3e-4,
        search_lr=5e-2,
    ),
    # Not in the paper: a small ARC-style model for the procedural families (`--data procedural`),
    # 30x30 grids like ARC, sized to train in minutes on one GPU and to search on a laptop CPU.
    "arc_small": Config(
        max_rows=30,
        max_cols=30,
        latent_dim=64,
        enc_layers=2,
        enc_heads=4,
        enc_head_dim=16,
        enc_mlp_factor=4.0,
        dec_layers=2,
        dec_heads=4,
        dec_head_dim=16,
        dec_mlp_factor=4.0,
        batch_size=32,
        micro_batch_size=8,
        search_lr=5e-2,
    ),
}


def get_preset(name: str) -> Config:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def parse_value(raw: str, kind: type, name: str):
    """`raw` as the type of Config field `name` (bool, int, float or str); ValueError names the field
    and what it takes."""
    text = raw.strip()
    try:
        if kind is bool:
            words = {
                "true": True,
                "1": True,
                "yes": True,
                "on": True,
                "false": False,
                "0": False,
                "no": False,
                "off": False,
            }
            return words[text.lower()]
        if kind is int:
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        return kind(text)
    except (KeyError, ValueError):
        wants = {bool: "true or false", int: "an integer", float: "a number"}[kind]  # str takes any text
        raise ValueError(f"{name}={raw}: {name} takes {wants}, got {raw!r}") from None


def parse_overrides(cfg: Config, items) -> dict:
    """{field: value} from "key=value" strings (dashes in keys read as underscores), each value
    converted to its field's type. ValueError names the item and what it needed."""
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    changes = {}
    for item in items or ():
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ValueError(f"{item!r}: expected key=value, e.g. learning_rate=1e-3 batch_size=32")
        if name not in defaults:
            raise ValueError(f"{name}: unknown config field; known fields: {', '.join(defaults)}")
        changes[name] = parse_value(raw, type(defaults[name]), name)
    return changes


def apply_overrides(cfg: Config, items) -> Config:
    """`cfg` with "key=value" items applied (`lpn train --set`), e.g. ["learning_rate=1e-3"]. Raises
    ValueError for a malformed item, an unknown field, a value of the wrong type, or a config that
    `Config` refuses."""
    return cfg.replace(**parse_overrides(cfg, items))
