"""Workloads shared by the Python-module workers (ours, debian, purepy).

A worker is run as ``PYTHON WORKER.py WORKLOAD PARAMS_JSON``.  It performs one
workload through one client, checks every answer, and prints one line of JSON
on standard output: ``{"ok": true, ...measurements}``, or ``{"ok": false,
"error": "..."}`` with exit status 1 when the client failed functionally.

Only the standard library is used here, because the workers run under three
different interpreters (ours, Debian's /usr/bin/python3, a virtualenv).

A client is described by an adapter object with these methods:

    describe() -> dict                     where the module and library live
    connect(host, port, principal) -> c    open and authenticate
    command(c, args)                       send one command (list of bytes)
    output(c) -> (type, data, stream, status, error)
    close(c)
    simple(host, port, principal, args) -> (stdout, stderr, status)
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
import traceback

# The stream command prints bytes(i % 251 for i in range(N)).
PATTERN_PERIOD = 251


class CheckError(Exception):
    """An answer was not what the command must produce."""


def cpu_seconds() -> float:
    """User plus system CPU time of this whole process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def memory_kib() -> dict:
    """Current and peak resident set size of this process, in KiB."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, amount = line.split(":", 1)
                values[name] = int(amount.split()[0])
    return {"rss_kib": values.get("VmRSS", 0), "hwm_kib": values.get("VmHWM", 0)}


def loaded_libraries(*needles: str) -> list:
    """Paths of mapped shared objects whose name contains one of needles."""
    found = set()
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) == 6:
                path = fields[5].strip()
                if any(needle in os.path.basename(path) for needle in needles):
                    found.add(path)
    return sorted(found)


class RemctlModuleAdapter:
    """The calls every client with the remctl module's API makes; subclasses
    set self.remctl to the module they measure."""

    remctl = None

    def connect(self, host, port, principal):
        return self.remctl.Remctl(host, port, principal)

    def command(self, conn, args):
        conn.command(args)

    def output(self, conn):
        return conn.output()

    def close(self, conn):
        conn.close()

    def simple(self, host, port, principal, args):
        result = self.remctl.remctl(host, port, principal, args)
        return result.stdout, result.stderr, result.status


def percentile(values: list, fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run_command(adapter, conn, args: list) -> tuple:
    """Send one command and read its whole answer: (stdout, stderr, status)."""
    adapter.command(conn, args)
    stdout, stderr = [], []
    for _ in range(1_000_000):  # bounded: a command answers in few tokens here
        kind, data, stream, status, error = adapter.output(conn)
        if kind == "output":
            (stderr if stream == 2 else stdout).append(data or b"")
        elif kind == "status":
            return b"".join(stdout), b"".join(stderr), status
        elif kind == "error":
            raise CheckError(f"server error {error}: {data!r}")
        else:
            raise CheckError(f"unexpected output type {kind!r}")
    raise CheckError("no status after a million output tokens")


def check_answer(params: dict, stdout, status) -> None:
    expected = params["expect_stdout"].encode()
    if (stdout or b"") != expected or status != params.get("expect_status", 0):
        raise CheckError(
            f"command {params['command']} answered stdout={stdout!r} "
            f"status={status!r}, expected {expected!r} status 0"
        )


def check_stream_chunk(data: bytes, offset: int) -> None:
    if data and data[0] != offset % PATTERN_PERIOD:
        raise CheckError(f"stream data wrong at offset {offset}")


def workload_repeat(adapter, params: dict) -> dict:
    """Workloads 1, 2 and 7: one command repeated on one connection."""
    args = [a.encode() for a in params["command"]]
    conn = adapter.connect(params["host"], params["port"], params["principal"])
    try:
        for _ in range(params.get("warmup", 0)):
            stdout, _, status = run_command(adapter, conn, args)
            check_answer(params, stdout, status)
        budget = params.get("budget_s", 3600.0)
        times = []
        clock = time.perf_counter
        cpu_start, wall_start = cpu_seconds(), clock()
        deadline = wall_start + budget
        for _ in range(params["count"]):
            started = clock()
            stdout, _, status = run_command(adapter, conn, args)
            ended = clock()
            check_answer(params, stdout, status)
            times.append(ended - started)
            if ended > deadline:
                break
        wall = clock() - wall_start
        cpu = cpu_seconds() - cpu_start
    finally:
        adapter.close(conn)
    count = len(times)
    return {
        "count": count,
        "truncated": count < params["count"],
        "median_ms": percentile(times, 0.5) * 1000,
        "p10_ms": percentile(times, 0.1) * 1000,
        "p90_ms": percentile(times, 0.9) * 1000,
        "wall_s": wall,
        "per_s": count / wall if wall > 0 else float("nan"),
        "cpu_ms_per_cmd": cpu * 1000 / count if count else float("nan"),
    }


def workload_simple(adapter, params: dict) -> dict:
    """Workload 3: the simple call (connect, authenticate, run, close)."""
    args = [a.encode() for a in params["command"]]
    host, port, principal = params["host"], params["port"], params["principal"]
    for _ in range(params.get("warmup", 0)):
        stdout, _, status = adapter.simple(host, port, principal, args)
        check_answer(params, stdout, status)
    times = []
    cpu_start = cpu_seconds()
    for _ in range(params["count"]):
        started = time.perf_counter()
        stdout, _, status = adapter.simple(host, port, principal, args)
        times.append(time.perf_counter() - started)
        check_answer(params, stdout, status)
    cpu = cpu_seconds() - cpu_start
    return {
        "count": len(times),
        "median_ms": percentile(times, 0.5) * 1000,
        "p10_ms": percentile(times, 0.1) * 1000,
        "p90_ms": percentile(times, 0.9) * 1000,
        "cpu_ms_per_call": cpu * 1000 / len(times),
    }


def workload_simple_big(adapter, params: dict) -> dict:
    """Workload 6b: peak RSS of one simple call returning a large output."""
    size = params["size"]
    args = [b"test", b"stream", str(size).encode()]
    before = memory_kib()
    started = time.perf_counter()
    stdout, _, status = adapter.simple(
        params["host"], params["port"], params["principal"], args
    )
    wall = time.perf_counter() - started
    length = len(stdout or b"")
    if status != 0 or length != size:
        raise CheckError(f"simple call returned {length} bytes status {status}")
    check_stream_chunk(stdout[:1], 0)
    check_stream_chunk(stdout[-1:], size - 1)
    del stdout
    after = memory_kib()
    return {
        "size": size,
        "wall_s": wall,
        "rss_before_kib": before["rss_kib"],
        "peak_rss_kib": after["hwm_kib"],
    }


def workload_stream(adapter, params: dict) -> dict:
    """Workloads 4 and 6a: stream N bytes through output(), keeping none."""
    size = params["size"]
    args = [b"test", b"stream", str(size).encode()]
    conn = adapter.connect(params["host"], params["port"], params["principal"])
    try:
        before = memory_kib()
        received = tokens = 0
        status = None
        cpu_start, wall_start = cpu_seconds(), time.perf_counter()
        adapter.command(conn, args)
        # Bounded: at least a few hundred bytes per token.
        for _ in range(size // 256 + 1000):
            kind, data, _, status, error = adapter.output(conn)
            if kind == "output":
                check_stream_chunk(data, received)
                received += len(data)
                tokens += 1
            elif kind == "status":
                break
            else:
                raise CheckError(f"stream: unexpected {kind} {data!r} {error}")
        wall = time.perf_counter() - wall_start
        cpu = cpu_seconds() - cpu_start
        after = memory_kib()
    finally:
        adapter.close(conn)
    if received != size or status != 0:
        raise CheckError(f"stream: got {received} of {size} bytes, status {status}")
    mib = size / 1048576
    return {
        "size": size,
        "tokens": tokens,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_ms_per_mib": cpu * 1000 / mib,
        "mib_per_s": mib / wall if wall > 0 else float("nan"),
        "rss_before_kib": before["rss_kib"],
        "peak_rss_kib": after["hwm_kib"],
    }


def workload_threads(adapter, params: dict) -> dict:
    """Workload 5: N threads, each with its own connection, M commands each.

    All threads start together.  At most ``open_concurrency`` of them open
    their connection at the same moment: stock remctld listens with a
    backlog of 5, and more simultaneous connects overflow it (the kernel
    answers with SYN cookies, and some connections are reset or wait a
    second for a retransmitted SYN), whatever the client.  Commands then run
    all at once.
    """
    args = [a.encode() for a in params["command"]]
    nthreads, per_thread = params["threads"], params["commands"]
    opening = threading.BoundedSemaphore(params.get("open_concurrency", 4))
    barrier = threading.Barrier(nthreads + 1)
    errors = []

    def worker() -> None:
        try:
            barrier.wait(timeout=60)
            with opening:
                conn = adapter.connect(
                    params["host"], params["port"], params["principal"]
                )
            try:
                for _ in range(per_thread):
                    stdout, _, status = run_command(adapter, conn, args)
                    check_answer(params, stdout, status)
            finally:
                adapter.close(conn)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(nthreads)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=60)
    started = time.perf_counter()
    cpu_start = cpu_seconds()
    deadline = started + params.get("timeout_s", 600)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    wall = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        errors.append("threads still running after the timeout")
    if errors:
        raise CheckError(f"{len(errors)} thread(s) failed; first: {errors[0]}")
    return {
        "threads": nthreads,
        "commands": per_thread,
        "wall_s": wall,
        "cpu_s": cpu_seconds() - cpu_start,
    }


WORKLOADS = {
    "repeat": workload_repeat,
    "simple": workload_simple,
    "simple_big": workload_simple_big,
    "stream": workload_stream,
    "threads": workload_threads,
}


def emit(result: dict) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def main(adapter_factory) -> None:
    """Entry point of a worker: run the workload named on the command line."""
    if len(sys.argv) != 3 or sys.argv[1] not in WORKLOADS and sys.argv[1] != "describe":
        sys.stderr.write(f"usage: {sys.argv[0]} WORKLOAD PARAMS_JSON\n")
        sys.exit(2)
    name, params = sys.argv[1], json.loads(sys.argv[2])
    try:
        adapter = adapter_factory()
        if name == "describe":
            # Open and close one connection first, so the libraries it loads
            # (GSS-API among them) show in the description.
            adapter.close(
                adapter.connect(params["host"], params["port"], params["principal"])
            )
            result = adapter.describe()
        else:
            result = WORKLOADS[name](adapter, params)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as JSON
        emit(
            {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        )
        sys.exit(1)
    result["ok"] = True
    emit(result)
