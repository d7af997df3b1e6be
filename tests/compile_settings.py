"""The XLA settings of the test suite, for its own process and every process it starts (scripts,
`python -m lpn`, notebook kernels, the two-process run, JupyterLab's kernels).

The suite's time is mostly XLA compiling tiny programs, not running them, so it compiles for speed
of compiling. Measured on the quick tier from empty caches on the 2-core machine (`python -m pytest
-q -m "not slow"`): 247 s of wall and 316 s of CPU with the optimisation level alone, 179 s and 191
s with all four. `--xla_cpu_use_fusion_emitters=false` gives most of it (XLA:CPU's older elemental
emitter compiles a fused loop in about half the time); without XNNPACK and with the module compiled
in one piece (no parallel split) a little more, and a compile takes one core, which leaves the
other to the background runs (tests/background.py). The programs compute the same functions;
only how they are compiled changes. lpn itself leaves XLA's defaults alone.
"""

import os

import jaxlib

XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_cpu_parallel_codegen_split_count=1"
# XLA stops the process on a flag it does not know; these two came with jaxlib 0.5.3 (read off the
# wheels: 0.5.0 lacks the first, 0.4.38, lpn's oldest jax, both)
if tuple(int(part) for part in jaxlib.__version__.split(".")[:3] if part.isdigit()) >= (0, 5, 3):
    XLA_FLAGS += " --xla_cpu_use_fusion_emitters=false --xla_cpu_use_xnnpack=false"


def cache_folder() -> str:
    """The persistent compile cache the suite and its processes share: $LPN_TEST_CACHE, default
    /tmp/lpn-test-xla-cache."""
    return os.environ.get("LPN_TEST_CACHE", "/tmp/lpn-test-xla-cache")
