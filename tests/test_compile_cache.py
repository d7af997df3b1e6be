"""`import lpn` keeps XLA's compiled programs on disk, as the CLI does: a notebook's second run
starts from the first run's programs. `LPN_COMPILE_CACHE` moves the cache, or turns it off when
empty; a cache configured before (JAX's own variable, the tests' conftest) is left alone."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lpn.devices import compile_cache_folder


def test_the_folder_comes_from_the_environment_and_a_configured_cache_wins():
    assert compile_cache_folder({}) == str(Path.home() / ".cache" / "lpn" / "xla")
    assert compile_cache_folder({"LPN_COMPILE_CACHE": "/some/folder"}) == "/some/folder"
    assert compile_cache_folder({"LPN_COMPILE_CACHE": ""}) is None  # turned off
    assert compile_cache_folder({"LPN_COMPILE_CACHE": "/some/folder"}, configured="/theirs") is None


def _cache_after_import(tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "LPN_COMPILE_CACHE")}
    environ.update({k: v for k, v in env.items() if v is not None})
    code = "import jax, lpn; print(repr(jax.config.jax_compilation_cache_dir))"
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.mark.slow
def test_import_lpn_turns_the_cache_on_in_any_process(tmp_path):
    folder = str(tmp_path / "cache")
    assert _cache_after_import(tmp_path, LPN_COMPILE_CACHE=folder) == repr(folder)
    assert _cache_after_import(tmp_path, LPN_COMPILE_CACHE="") == "None"
    assert _cache_after_import(tmp_path, LPN_COMPILE_CACHE=folder, JAX_COMPILATION_CACHE_DIR="/theirs") == "'/theirs'"
