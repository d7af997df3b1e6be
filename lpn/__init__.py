"""Latent Program Networks in JAX (Macfarlane & Bonnet, "Searching Latent Program Spaces")."""

from lpn.grids import Batch, GridError, Pair, Task, batch_tasks, make_task

__version__ = "0.1.0"
