"""The kinds of model lpn knows (`lpn.kind.Kind`), by the names that checkpoints and the command
line (`lpn train --arch`) use. Adding a kind is one file (its model, trace and `KIND`) and one row
here.
"""

from __future__ import annotations

from lpn import in_context, searches
from lpn.kind import Kind

KINDS: dict[str, Kind] = {kind.name: kind for kind in (searches.KIND, in_context.KIND)}
ARCHITECTURES: dict[str, type] = {name: kind.model for name, kind in KINDS.items()}
DEFAULT = "lpn"  # the kind of a checkpoint that names none (LPN's checkpoints predate the others)


def kind_of(model_or_class) -> Kind:
    """The `Kind` of a model or model class; ValueError if lpn knows none."""
    cls = model_or_class if isinstance(model_or_class, type) else type(model_or_class)
    for kind in KINDS.values():
        if cls is kind.model:
            return kind
    raise ValueError(f"{cls.__name__} is not an architecture of lpn; known: {', '.join(KINDS)}")


def architecture_name(model_or_class) -> str:
    """The `ARCHITECTURES` name of a model or model class."""
    return kind_of(model_or_class).name


def describe_architecture(model_or_class) -> str:
    """The architecture in words, with its article: "an LPN", "an in-context model"."""
    return kind_of(model_or_class).words
