import os

from compile_settings import XLA_FLAGS, cache_folder

os.environ.setdefault("TQDM_DISABLE", "1")
# One CPU device, whatever the machine's cores (lpn would ask for one per core, lpn/devices.py): the
# suite's results and compile times do not depend on the machine; tests/test_devices.py runs the
# multi-device paths in subprocesses.
os.environ.setdefault("LPN_CPU_DEVICES", "1")
# The tests are dominated by XLA compile time, not run time: compile for speed of compiling
# (tests/compile_settings.py) and reuse compiled programs across tests with the same HLO.
os.environ.setdefault("XLA_FLAGS", XLA_FLAGS)
# The same persistent cache for the subprocesses the tests start (scripts, `python -m lpn`, notebook
# kernels, the two-process run): JAX reads these on import, so a program compiled once, here or
# there, with the same HLO and flags, is not compiled again in another process or a later run.
# Every program is kept, however quick to compile: eager code compiles one small program per
# operation (a search run under jax.disable_jit, ~600 of them, 25 s of CPU), each module's
# jax.clear_caches() below drops them, and reading one back costs a fraction of compiling it.
os.environ["JAX_COMPILATION_CACHE_DIR"] = cache_folder()
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"

import subprocess
import sys
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
import pytest

from lpn.config import Config
from lpn.grids import batch_tasks, make_task

TINY = Config(
    max_rows=5,
    max_cols=5,
    latent_dim=4,
    pattern_size=2,
    enc_layers=1,
    enc_heads=2,
    enc_head_dim=8,
    enc_mlp_factor=2.0,
    dec_layers=2,
    dec_heads=2,
    dec_head_dim=8,
    dec_mlp_factor=2.0,
    batch_size=8,
    micro_batch_size=0,
    warmup_steps=5,
    learning_rate=3e-3,
)


ROOT = Path(__file__).resolve().parents[1]


def run_lpn(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m lpn ARGV` in a child process from the repository's root, in this process's
    environment (the suite's: one CPU device, the shared compile cache); raises with the tail of
    its output unless it exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "lpn", *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(f"lpn {' '.join(argv)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def reproduce_smoke(folder: Path, name: str) -> Path:
    """`lpn reproduce NAME --scale smoke` into folder/NAME, as a background run (tests/background.py:
    the tests that mark it wait for it at the end of the session); the run's folder."""
    out = folder / name
    run_lpn("reproduce", name, "--scale", "smoke", "--out", str(out), "--quiet")
    return out


@pytest.fixture(scope="session")
def tiny_cfg():
    return TINY


@pytest.fixture(scope="session")
def tiny_model():
    import equinox as eqx

    from lpn.model import LPN

    return eqx.filter_jit(LPN)(TINY, jax.random.key(0))


def random_grid(rng, max_side=5):
    return rng.integers(0, 10, size=tuple(rng.integers(1, max_side + 1, size=2)))


@pytest.fixture
def random_pairs():
    """One task of 3 random pairs of mixed shapes, as a Batch without its task axis."""
    rng = np.random.default_rng(0)
    task = make_task([(random_grid(rng), random_grid(rng)) for _ in range(3)])
    batch = batch_tasks([task], TINY.max_rows, TINY.max_cols, num_pairs=4)
    return jax.tree.map(lambda a: jax.numpy.asarray(a[0]), batch)


def pytest_collection_modifyitems(items):
    """The real-browser tests (a JupyterLab server, chromium, a kernel per notebook) are slow: `-m "not
    slow"`, the inner loop, leaves them to the full run, which runs everything."""
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Frees every compiled program after each test module. Each XLA CPU executable holds memory
    maps (a process that compiled ~30 ARC-size programs had 19k), and a process may hold 65,530
    (vm.max_map_count): full runs that kept all of the suite's programs died of a segmentation
    fault in XLA at a compile, once the maps ran out. The on-disk cache makes the recompiles cheap."""
    yield
    import gc

    jax.clear_caches()
    gc.collect()
