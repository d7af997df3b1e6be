"""Latent Program Networks in JAX (Macfarlane & Bonnet, "Searching Latent Program Spaces").

The names a reader needs: a `Config` (or one of `PRESETS`) builds an `LPN`, or `load_pretrained`
loads a shipped one; `pattern_batch` and `pattern_tasks` generate tasks, `make_task` and
`batch_tasks` wrap your own grids; `gradient_search` refines a task's latent from the encoder's
mean (`no_search` keeps the mean) and returns a `SearchTrace`; `generate` decodes a latent on a
grid; `InContext` is the paper's in-context baseline and `ttt` its test-time training (a method
like the searches); `evaluate_batch`, `predict_tasks` and `compare_methods` measure either model.

Everything else is reached through its module: `lpn.train.train` fits a model, `lpn.search` holds
the other search methods (`random_search`, `local_search`, `encoder_sampling`, `log_prob`,
`search_batch`), `lpn.methods` the tables of methods by name, `lpn.checkpoint` saves and loads, `lpn.scoring` scores ARC tasks, `lpn.report`
draws grids (terminal, PNG galleries, SVG), `lpn.figures` plots measurements (`plot_comparison`) and `lpn.tasks` holds the
task sources. Shape letters in array names are defined once, at the top of `lpn/model.py`.
"""

# Before anything runs a JAX operation: one CPU device per core, and compiled programs kept on disk
# between processes ($LPN_COMPILE_CACHE, default ~/.cache/lpn/xla; empty turns it off): see lpn/devices.py.
from lpn.devices import configure_compile_cache, configure_cpu_devices

configure_cpu_devices()
configure_compile_cache()

from lpn import checkpoint, figures, report, scoring, search, train  # reached by module: lpn.figures.plot_comparison
from lpn.checkpoint import load_pretrained
from lpn.compare import compare_methods
from lpn.config import PRESETS, Config, get_preset
from lpn.evaluate import evaluate_batch, predict_tasks
from lpn.grids import Batch, GridError, Task, batch_tasks, make_task
from lpn.in_context import InContext, ttt
from lpn.model import LPN, generate
from lpn.pattern import pattern_batch, pattern_tasks
from lpn.search import SearchTrace, gradient_search, no_search
from lpn.version import __version__

__all__ = [
    "Config",
    "PRESETS",
    "get_preset",
    "LPN",
    "load_pretrained",
    "generate",
    "Task",
    "Batch",
    "GridError",
    "make_task",
    "batch_tasks",
    "pattern_batch",
    "pattern_tasks",
    "SearchTrace",
    "gradient_search",
    "no_search",
    "InContext",
    "ttt",
    "evaluate_batch",
    "predict_tasks",
    "compare_methods",
]
