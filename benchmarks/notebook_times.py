"""How long each teaching notebook takes in a new kernel, cold and warm, as a user runs it.

A run executes every cell of a notebook in a fresh kernel (nbclient, as `jupyter nbconvert --execute`
and the tests' nbmake do), in notebooks/, with the environment a user has: no test-suite XLA flags,
lpn's persistent compile cache on (`LPN_COMPILE_CACHE`). "cold" starts from an empty cache folder,
"warm" runs again with the folder the cold run filled (the second run of the day). Each run reports
its wall time, the kernel's CPU time (user + system) and the machine's 1-minute load average at the
start and end: on a shared machine wall times grow with the load, CPU times much less.

    python benchmarks/notebook_times.py                    # every notebook, LPN_FAST=1, cold then warm
    python benchmarks/notebook_times.py --full 02 07       # notebooks 02 and 07 at their full sizes
    python benchmarks/notebook_times.py --json times.json  # also the measurements as JSON
    python benchmarks/notebook_times.py --full --only cold --xla-flags=--xla_cpu_use_fusion_emitters=false

`--xla-flags FLAGS` runs each notebook twice per kind, alternating: with XLA's defaults and with
FLAGS in the kernel's `XLA_FLAGS` (each with its own cache folder), and prints FLAGS' wall and CPU
as a fraction of the defaults'.

A cell that fails stops that notebook's runs with its error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _load() -> float:
    return os.getloadavg()[0]


def run_notebook(path: Path, env: dict[str, str], timeout: int) -> dict:
    """Executes `path` in a new kernel whose environment adds `env`; returns its wall and CPU seconds
    and the load before and after."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        load_before, cpu_before = _load(), resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
        wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the kernel has exited and been waited for
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "load_start": round(load_before, 2),
        "load_end": round(_load(), 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="numbers or file names (default: all of notebooks/)")
    parser.add_argument(
        "--full", action="store_true", help="LPN_FAST=0: the notebooks' full sizes (default LPN_FAST=1)"
    )
    parser.add_argument("--only", choices=("cold", "warm", "both"), default="both")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may take")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--xla-flags", help="also run each notebook with these XLA_FLAGS, side by side")
    args = parser.parse_args(argv)

    chosen = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.notebooks:
        wanted = set(args.notebooks)
        chosen = [p for p in chosen if p.name in wanted or p.name[:2] in wanted]
        if not chosen:
            parser.error(f"no notebook in {NOTEBOOKS} matches {sorted(wanted)}")
    for name in ("JAX_COMPILATION_CACHE_DIR", "XLA_FLAGS", "LPN_COMPILE_CACHE"):
        if os.environ.get(name):
            print(f"note: {name} is set here and the kernels inherit it: {os.environ[name]}", file=sys.stderr)
    fast = "0" if args.full else "1"
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, LPN_FAST={fast}")
    settings = {"defaults": ""} if args.xla_flags is None else {"defaults": "", "flags": args.xla_flags}
    results = []
    for path in chosen:
        caches = {name: tempfile.mkdtemp(prefix="lpn-nb-cache-") for name in settings}
        envs = {
            name: {"LPN_FAST": fast, "LPN_COMPILE_CACHE": caches[name], **({"XLA_FLAGS": flags} if flags else {})}
            for name, flags in settings.items()
        }
        try:
            runs = ["cold", "warm"] if args.only == "both" else [args.only]
            if args.only == "warm":  # warm needs a filled cache: fill it first, unreported
                for env in envs.values():
                    run_notebook(path, env, args.timeout)
            for kind in runs:
                got = {}
                for name, env in envs.items():
                    got[name] = run_notebook(path, env, args.timeout)
                    results.append(
                        {"notebook": path.name, "fast": fast == "1", "cache": kind, "xla": name, **got[name]}
                    )
                    print(
                        f"{path.name:28s} {kind} {name:8s}: {got[name]['wall_s']:7.1f} s wall, "
                        f"{got[name]['cpu_s']:7.1f} s CPU, load {got[name]['load_start']:.2f} -> {got[name]['load_end']:.2f}",
                        flush=True,
                    )
                if "flags" in got:
                    ratio = {k: got["flags"][k] / max(got["defaults"][k], 1e-9) for k in ("wall_s", "cpu_s")}
                    print(
                        f"{path.name:28s} {kind} flags/defaults: wall {ratio['wall_s']:.2f}, CPU {ratio['cpu_s']:.2f}"
                    )
        finally:
            for cache in caches.values():
                shutil.rmtree(cache, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
