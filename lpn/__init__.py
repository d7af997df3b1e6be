"""Latent Program Networks in JAX (Macfarlane & Bonnet, "Searching Latent Program Spaces").

The names a reader needs: a `Config` (or one of `PRESETS`) builds an `LPN`; `lpn.train.train` fits
it on generated tasks (the function is not re-exported, so `lpn.train` stays the module); the search functions refine a task's latent and return a `SearchTrace`;
`generate` decodes a latent on a grid; `predict_tasks` and `lpn.scoring` evaluate on ARC tasks.
"""

# Before anything runs a JAX operation: one CPU device per core (see lpn/devices.py).
from lpn.devices import configure_cpu_devices

configure_cpu_devices()

from lpn.checkpoint import PRETRAINED, load_checkpoint, load_pretrained, pretrained_path, save_checkpoint
from lpn.compare import compare_methods, plot_comparison
from lpn.config import PRESETS, Config, get_preset
from lpn.evaluate import evaluate_batch, predict_tasks
from lpn.grids import Batch, GridError, Pair, Task, batch_tasks, make_task
from lpn.model import LPN, generate, num_params
from lpn.pattern import pattern_batch, pattern_tasks
from lpn.search import (
    SearchTrace, encoder_sampling, gradient_search, local_search, log_prob, mean_latent, no_search,
    random_search, search_batch,
)

__version__ = "0.1.0"

__all__ = [
    "Batch", "Config", "GridError", "LPN", "PRESETS", "PRETRAINED", "Pair", "SearchTrace", "Task", "batch_tasks",
    "encoder_sampling", "evaluate_batch", "generate", "get_preset", "gradient_search", "load_checkpoint", "load_pretrained",
    "local_search", "log_prob", "make_task", "mean_latent", "no_search", "num_params", "pattern_batch",
    "pattern_tasks", "predict_tasks", "pretrained_path", "random_search", "save_checkpoint", "search_batch",
    "compare_methods", "plot_comparison",
]
