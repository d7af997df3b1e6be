"""How `lpn` spreads work over a machine's devices: CPU cores included.

XLA runs one program on one CPU device, and for models this small it keeps two cores only partly
busy (the operations are many and short). Given one JAX device per core, the same batch split into
per-device shards runs on all cores at once; `python benchmarks/bench_core.py` times training steps
and gradient search both ways, sharded and on one device.

So `import lpn` asks JAX for one CPU device per core (`configure_cpu_devices`), rounded down to a
power of two so that the usual batch sizes divide, at most 8. It can only do so before JAX has
run anything; import `lpn` first, or set it yourself. The environment variable `LPN_CPU_DEVICES`
chooses the number (`LPN_CPU_DEVICES=1`: one device, as plain JAX); an
`--xla_force_host_platform_device_count` in `XLA_FLAGS` takes precedence over both. On a GPU
machine the accelerators are the local devices and the CPU setting changes nothing.

Training shards each batch over the devices (`lpn.train`); the searches, evaluations and
predictions that vmap over tasks place their tasks with `spread_tasks`.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

ENV = "LPN_CPU_DEVICES"
MAX_CPU_DEVICES = 8


def default_cpu_devices(cores: int | None = None) -> int:
    """The largest power of two that is at most the usable cores and MAX_CPU_DEVICES."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n = 1
    while 2 * n <= min(cores, MAX_CPU_DEVICES):
        n *= 2
    return n


def configure_cpu_devices() -> int | None:
    """Sets JAX's number of CPU devices (see the module docstring); returns it, or None where it
    was left alone: JAX already running, or a device count already set by the user."""
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None  # the user's XLA flag decides (JAX's setting would override it)
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{ENV}={raw!r}: expected a whole number of CPU devices, at least 1")
    elif jax.config.jax_num_cpu_devices != -1:  # set by the user before importing lpn
        return None
    else:
        n = default_cpu_devices()
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # JAX has started: its devices stay as they are
        return None
    return n


COMPILE_CACHE_ENV = "LPN_COMPILE_CACHE"


def compile_cache_folder(environ=os.environ, configured: str | None = None) -> str | None:
    """Where XLA's compiled programs are kept between processes: $LPN_COMPILE_CACHE, default
    ~/.cache/lpn/xla; None where `LPN_COMPILE_CACHE` is set empty (the cache off) or a cache is
    `configured` already (JAX's own `JAX_COMPILATION_CACHE_DIR`, or a caller's, e.g. the tests')."""
    if configured:
        return None
    folder = environ.get(COMPILE_CACHE_ENV, str(Path.home() / ".cache" / "lpn" / "xla"))
    return folder or None


def configure_compile_cache() -> str | None:
    """Turns on JAX's persistent compilation cache in `compile_cache_folder()` (programs that take
    over a second to compile), for the CLI and for every kernel that imports `lpn`: a notebook run
    a second time starts from the programs of the first. Returns the folder, or None where it was
    left alone."""
    folder = compile_cache_folder(configured=jax.config.jax_compilation_cache_dir)
    if folder:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    return folder


def task_devices(num_tasks: int, devices=None) -> list:
    """The devices a call over `num_tasks` tasks uses: all local ones (or `devices`), or the first
    alone when there are fewer tasks than devices (a shard would be all padding)."""
    devices = list(devices or jax.local_devices())
    return devices if num_tasks >= len(devices) else devices[:1]


def training_devices(batch_size: int, micro_batch_size: int = 0, devices=None) -> tuple:
    """The devices a training batch of `batch_size` tasks is sharded over: all of `devices` if
    given (the batch must divide over them), else the most local devices, first ones first, over
    which the batch and each micro-batch of it divide evenly; in a run of several processes
    (`lpn.distributed`), all devices of all of them, over which both must divide."""
    if devices:
        if batch_size % len(devices):
            raise ValueError(f"batch_size {batch_size} must divide evenly over {len(devices)} devices")
        return tuple(devices)
    micro = micro_batch_size if 0 < micro_batch_size < batch_size else batch_size
    if jax.process_count() > 1:  # all of every process's devices: each process holds a share
        devices = jax.devices()
        if batch_size % len(devices) or micro % len(devices):
            raise ValueError(
                f"batch_size {batch_size} and micro_batch_size {micro} must divide evenly over the "
                f"{len(devices)} devices of {jax.process_count()} processes"
            )
        return tuple(devices)
    devices = jax.local_devices()
    n = max(k for k in range(1, len(devices) + 1) if batch_size % k == 0 and micro % k == 0)
    return tuple(devices[:n])


def spread_tasks(model, *trees, devices=None):
    """Places `trees` (pytrees of arrays whose leading axis is the task) across the devices, padded
    with copies of the last task to a multiple of the device count, and replicates `model` on
    them. Returns (model, trees, num_tasks): slice outputs to `[:num_tasks]`. With one device it
    only converts the arrays."""
    trees = jax.tree.map(jax.numpy.asarray, trees)
    num_tasks = jax.tree.leaves(trees)[0].shape[0]
    devices = task_devices(num_tasks, devices)
    if len(devices) == 1:
        return model, trees, num_tasks
    padded = -(-num_tasks // len(devices)) * len(devices)
    if padded != num_tasks:
        repeat = np.minimum(np.arange(padded), num_tasks - 1)
        trees = jax.tree.map(lambda a: a[repeat], trees)
    mesh = Mesh(np.array(devices), ("tasks",))
    shard, replicate = NamedSharding(mesh, PartitionSpec("tasks")), NamedSharding(mesh, PartitionSpec())
    trees = jax.device_put(trees, shard)
    model = jax.tree.map(lambda x: jax.device_put(x, replicate) if isinstance(x, jax.Array) else x, model)
    return model, trees, num_tasks


def first(tree, num_tasks: int):
    """Drops the padding tasks `spread_tasks` added: every leaf's leading axis cut to `num_tasks`."""
    return jax.tree.map(lambda a: a[:num_tasks], tree)
