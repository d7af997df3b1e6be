"""Several processes, one run: data parallelism across hosts on JAX's own distributed runtime.

The paper trained its ARC model on a multi-host TPU pod. `lpn` does the same with
`jax.distributed`: every process runs the same program on its own devices, and the global devices
of all processes form one mesh. `initialize` starts the runtime from explicit settings (a
coordinator HOST:PORT, the number of processes, this process's id: `lpn train --coordinator ...
--num-processes N --process-id I`) or, given none, from a cluster environment JAX detects by
itself (SLURM, Open MPI, Kubernetes, Cloud TPU); with neither, the run stays one process.

Training shards its global batch over every device of every process (`lpn.train`): host data comes
as each process's share (`global_batches`), generated from a process-distinct seed
(`process_seed`); only process 0 writes checkpoints and logs (`is_main`). Evaluation spreads its
tasks over the processes and gathers the answers on every one of them (`share`, `gather`).
On CPUs the processes exchange data over gloo collectives (set here before the runtime starts).

Waits are bounded: a process that cannot reach the coordinator, or whose peers do not all arrive,
within `timeout` seconds (`--coordinator-timeout`) ends with one line saying what to check
(`ClusterUnreachable`), and one that cannot leave the run at its end (a peer died mid-run) gives up
after as long. What the processes send each other is arrays and JSON, never code: anyone who
reaches the coordinator's port can still disturb a run, so keep the port private (docs/scale.md).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

DEFAULT_TIMEOUT = 90  # seconds to wait for the coordinator and every process (--coordinator-timeout)


class ClusterUnreachable(TimeoutError):
    """The coordinator or the other processes of a run did not answer within the timeout."""


class PeerLost(ConnectionError):
    """Another process of the run stopped (or lost its connection) while this one ran."""


# Words in the errors of a collective or of the coordination service when a peer is gone.
PEER_ERRORS = ("Gloo", "Connection closed by peer", "Connection reset by peer", "CoordinationService", "heartbeat")
_run = {"coordinator": None, "peer_lost": False}  # the run this process joined with explicit settings


class Settings(NamedTuple):
    """Where this process stands in a run: the coordinator's HOST:PORT, the number of processes and
    this process's id (None everywhere: let JAX detect a cluster, or stay one process)."""

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None


def parse_settings(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    flags: Sequence[str] = ("--coordinator", "--num-processes", "--process-id"),
) -> Settings:
    """Checks explicit settings, raising ValueError naming `flags` (the three settings' names, for
    the message): all three or none; a HOST:PORT coordinator with a port in 1-65535; at least one
    process; an id in [0, num_processes)."""
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if not any(given):
        return Settings()
    if not all(given):
        missing = [f for f, g in zip(flags, given) if not g]
        raise ValueError(
            f"{', '.join(f for f, g in zip(flags, given) if g)} given without {', '.join(missing)}: "
            f"a multi-process run needs all of {', '.join(flags)} (or none, to let JAX detect a cluster)"
        )
    host, sep, port = coordinator.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{flags[0]} {coordinator!r}: expected HOST:PORT, e.g. 10.0.0.1:1234 (a port in 1-65535)")
    if num_processes < 1:
        raise ValueError(f"{flags[1]} {num_processes}: expected at least 1 process")
    if not 0 <= process_id < num_processes:
        raise ValueError(
            f"{flags[2]} {process_id}: expected an id from 0 to {num_processes - 1} ({flags[1]} {num_processes})"
        )
    return Settings(coordinator, num_processes, process_id)


def initialize(settings: Settings = Settings(), timeout: float = DEFAULT_TIMEOUT) -> int:
    """Starts JAX's distributed runtime from `settings` (see `parse_settings`), or, with none, from a
    cluster environment JAX detects; returns the number of processes: 1 where no cluster was found,
    or where JAX had already computed something in this process (a notebook, a test), the runtime
    then left off. Explicit settings must come before JAX computes anything (RuntimeError). A second
    call returns the running count.

    With explicit settings, a process other than 0 first waits up to `timeout` seconds for the
    coordinator to listen (`ClusterUnreachable` if it never does); then, should the processes not
    all join within the time left (a peer never started, another --num-processes), the process ends
    with one `lpn: error:` line on stderr and exit status 1, since JAX's runtime would abort it
    (exit 134, a C++ stack trace) with no way to catch it. At exit, leaving the run waits as long."""
    if jax.distributed.is_initialized():
        return jax.process_count()
    if settings.num_processes == 1:
        return 1
    if not timeout > 0:
        raise ValueError(f"timeout {timeout}: expected a positive number of seconds")
    if jax.config.jax_cpu_collectives_implementation in (None, "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU processes need collectives
    if settings.coordinator is not None:
        deadline = time.monotonic() + timeout
        if settings.process_id != 0:
            wait_for_coordinator(settings.coordinator, timeout)
        left = max(1.0, deadline - time.monotonic())
        message = (
            f"the {settings.num_processes} processes of the run did not all join the coordinator "
            f"{settings.coordinator} within {timeout:g} s (--coordinator-timeout): check that every "
            f"process was started with --coordinator {settings.coordinator} --num-processes "
            f"{settings.num_processes} and its own --process-id, and that the port is reachable from every host"
        )
        watchdog = _give_up_after(left, message)
        try:
            jax.distributed.initialize(
                settings.coordinator,
                settings.num_processes,
                settings.process_id,
                # JAX's own limits come after this process's: it ends first, with its line
                initialization_timeout=int(left) + 30,
                heartbeat_timeout_seconds=int(2 * timeout) + 30,
                shutdown_timeout_seconds=int(2 * timeout) + 30,
            )
        except RuntimeError as err:
            if "must be called before" not in str(err):
                raise
            raise RuntimeError(
                "a run over several processes must join JAX's distributed runtime before JAX "
                "computes anything: start each process fresh (`lpn train ...`, or "
                "lpn.distributed.initialize first in a script)"
            ) from None
        finally:
            watchdog.set()
        _run["coordinator"] = settings.coordinator
        _leave_within(timeout, settings.coordinator)
        return jax.process_count()
    try:
        jax.distributed.initialize()
    except ValueError as err:
        if "coordinator_address" not in str(err):
            raise
        return 1  # JAX found no cluster to read the settings from
    except RuntimeError as err:
        if "must be called before" not in str(err):
            raise
        return jax.process_count()  # JAX is running here already: one process, as it started
    return jax.process_count()


def wait_for_coordinator(coordinator: str, timeout: float) -> None:
    """Returns once `coordinator` (HOST:PORT) accepts a TCP connection, trying again every half
    second; `ClusterUnreachable` after `timeout` seconds."""
    host, _, port = coordinator.rpartition(":")
    host = host.strip("[]")  # an IPv6 address in brackets
    deadline, last = time.monotonic() + timeout, None
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=min(5.0, timeout)):
                return
        except OSError as err:
            last = err.strerror or str(err)
        if time.monotonic() >= deadline:
            raise ClusterUnreachable(
                f"could not reach the coordinator {coordinator} within {timeout:g} s "
                f"(--coordinator-timeout; last try: {last}): check that process 0 runs with --coordinator "
                f"{coordinator}, that {host} is this host's way to reach it, and that no firewall closes port {port}"
            )
        time.sleep(0.5)


def _give_up_after(seconds: float, message: str | None) -> threading.Event:
    """Ends the process with `lpn: error: message` (or no line, for None; exit status 1) unless the
    returned event is set within `seconds`: the way out of a wait inside JAX's runtime, which cannot
    be interrupted."""
    done = threading.Event()

    def watch():
        if not done.wait(seconds):
            _fail(message)

    threading.Thread(target=watch, name="lpn-cluster-watchdog", daemon=True).start()
    return done


def _fail(message: str | None) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if message is not None:
        os.write(2, f"lpn: error: {message}\n".encode())
    os._exit(1)


def _leave_within(timeout: float, coordinator: str) -> None:
    """At exit, leaves the run (JAX's shutdown waits for every process) within `timeout` seconds,
    else ends with a line saying a peer is gone. Registered after JAX's own exit hook, so it runs
    first and JAX's finds nothing left to do."""

    def leave():
        if not jax.distributed.is_initialized():
            return
        done = _give_up_after(  # after a PeerLost, whose line was printed: no second line
            timeout,
            None
            if _run["peer_lost"]
            else f"another process of the run (coordinator {coordinator}) stopped or stopped answering, so "
            f"this one could not leave the run within {timeout:g} s (--coordinator-timeout): see that "
            f"process's output; the run's last checkpoint stays where it was written",
        )
        try:
            jax.distributed.shutdown()
        except Exception:  # noqa: BLE001 -- a peer already gone; the process is ending either way
            pass
        done.set()

    atexit.register(leave)


@contextlib.contextmanager
def peers_watched():
    """Within it, an error of a collective or of JAX's coordination service in a run of several
    processes (a peer died: "Gloo AllGather failed: Connection closed by peer"; or fell over 30 s
    behind: gloo's "GetKeyValue() timed out") becomes `PeerLost`, one line naming the coordinator
    and what to check; leaving the run at exit then waits at most the timeout, silently, for the
    peers still alive to leave too. Other errors pass."""
    try:
        yield
    except Exception as err:
        text = str(err).strip()
        if not jax.distributed.is_initialized() or not any(word in text for word in PEER_ERRORS):
            raise
        _run["peer_lost"] = True
        first = text.splitlines()[0][:240] if text else type(err).__name__
        raise PeerLost(
            f"another process of the run (coordinator {_run['coordinator'] or 'from the cluster environment'}) "
            f"stopped, lost its connection or fell behind ({first}): see that process's output; this one "
            f"stops too, and the same commands with --resume continue from the run's last checkpoint"
        ) from None


def is_main() -> bool:
    """Whether this is the process that writes (checkpoints, run.json, logs, results): process 0."""
    return jax.process_index() == 0


def process_seed(seed: Sequence[int]) -> list[int]:
    """A seed (numpy's list of ints) for host data that differs between processes: `seed` plus the
    process index, `seed` itself in a one-process run, whose tasks stay the ones it always drew."""
    return list(seed) + ([jax.process_index()] if jax.process_count() > 1 else [])


def local_batch_size(batch_size: int) -> int:
    """This process's share of a global batch of `batch_size` tasks (it must divide evenly)."""
    processes = jax.process_count()
    if batch_size % processes:
        raise ValueError(f"batch_size {batch_size} must divide evenly over {processes} processes")
    return batch_size // processes


def local_copy(tree):
    """`tree` with every array that spans several processes' devices (replicated, as the training
    state is) replaced by this process's copy on one of its devices, so that it can be saved,
    evaluated or placed on the local devices; other leaves as they are."""

    def one(x):
        return x.addressable_data(0) if isinstance(x, jax.Array) and not x.is_fully_addressable else x

    return jax.tree.map(one, tree)


def put_replicated(tree, sharding):
    """`tree`'s arrays, equal on every process (the same seed, or the same checkpoint), placed on
    `sharding`'s devices of every process as global arrays (`jax.device_put` only reaches the
    local ones); other leaves as they are."""

    def one(x):
        if not isinstance(x, (jax.Array, np.ndarray)):
            return x
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(one(jax.random.key_data(x)), impl=jax.random.key_impl(x))
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree)


def global_batches(stacked, devices):
    """Host data of this process, `stacked` (every leaf shaped (steps, local tasks, ...)), as one
    global array whose task axis (1) holds every process's tasks in process order, sharded over
    `devices` (those of every process) on that axis. Returned as it is in a one-process run."""
    if jax.process_count() == 1 or stacked is None:
        return stacked
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    processes = jax.process_count()
    sharding = NamedSharding(Mesh(np.array(list(devices)), ("data",)), PartitionSpec(None, "data"))

    def one(a):
        shape = (a.shape[0], a.shape[1] * processes, *a.shape[2:])
        return jax.make_array_from_process_local_data(sharding, a, shape)

    return jax.tree.map(one, stacked)


def share(num_items: int) -> np.ndarray:
    """The indices of `num_items` items this process handles: a contiguous block, equal in size on
    every process (the last ones repeat the last item when the items do not divide), all of them in
    a one-process run. `gather` puts the blocks back in order."""
    processes = jax.process_count()
    per_process = -(-num_items // processes)
    start = jax.process_index() * per_process
    return np.minimum(np.arange(start, start + per_process), num_items - 1)


def gather(tree, num_items: int):
    """Every process's outputs for its `share` (numpy arrays with the items on axis 0), joined in
    item order and cut to `num_items`, on every process. Unchanged in a one-process run."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    joined = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(lambda a: np.asarray(a)[:num_items], joined)


def anyone(flag: bool) -> bool:
    """Whether `flag` holds on any process, the same answer on all (a stop that every process must
    make at the same step: a signal one of them caught, a time limit one of them reached)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.array([bool(flag)]))))


def barrier(name: str) -> None:
    """Waits until every process has reached the barrier `name` (e.g. until process 0 has written a
    checkpoint the others read next). Nothing in a one-process run."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def gather_objects(value: Any) -> list:
    """`value` of every process, in process order, on every process. `value` is made of what JSON
    holds (dicts with string keys, lists, strings, numbers, None) and numpy arrays; tuples come
    back as lists. Sent as JSON, so a peer can send data but never code."""
    if jax.process_count() == 1:
        return [value]
    from jax.experimental import multihost_utils

    data = np.frombuffer(json.dumps(value, default=_encode_array).encode(), np.uint8)
    sizes = multihost_utils.process_allgather(np.array([data.size]))
    padded = np.zeros(int(np.max(sizes)), np.uint8)
    padded[: data.size] = data
    everyone = np.asarray(multihost_utils.process_allgather(padded))
    return [
        json.loads(row[: int(n)].tobytes().decode(), object_hook=_decode_array)
        for row, n in zip(everyone, np.ravel(sizes))
    ]


ARRAY_TAG = "__lpn_array__"


def _encode_array(value):
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"gather_objects sends arrays of numbers, not of dtype {array.dtype}")
        return {ARRAY_TAG: array.tolist(), "dtype": array.dtype.str, "shape": list(array.shape)}
    raise TypeError(f"gather_objects sends JSON values and numpy arrays, not {type(value).__name__}")


def _decode_array(obj: dict):
    if ARRAY_TAG not in obj:
        return obj
    dtype = np.dtype(obj["dtype"])
    if dtype.kind not in "biuf":
        raise ValueError(f"a process of the run sent an array of dtype {dtype}, not of numbers")
    return np.asarray(obj[ARRAY_TAG], dtype).reshape(obj["shape"])
