"""Threads: 32 threads running commands at once against the real server,
each on its own connection, and all sharing one Remctl object.

Sharing one object follows the two patterns documented on remctl.Remctl:
its calls are serialized by its own lock and run() holds that lock for a
whole command, so threads may simply call run(); command() and the output()
calls that read its answer are separate calls, so threads using those hold
a lock of their own around each whole exchange.

Every answer is checked (stdout, stderr, status), and a deadline turns a
deadlock into a failure. The default is 40 commands per thread, to keep CI
short; REMCTL_TEST_THREAD_COMMANDS=500 runs the full 32 x 500.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

import remctl

THREADS = 32
COMMANDS = int(os.environ.get("REMCTL_TEST_THREAD_COMMANDS", "40"))
DEADLINE = 60 + COMMANDS * 0.5  # seconds for all threads of one test

# Stock remctld listens with a backlog of 5: a burst of 32 simultaneous
# connection attempts overflows it and some are reset by the server's
# kernel, which the client rightly reports as an error. Opening connections
# (only that) is therefore limited to 4 threads at a time; the commands
# themselves all run at once.
OPENING = threading.BoundedSemaphore(4)


def exchange(r: remctl.Remctl, thread: int, index: int) -> str | None:
    """One command with an answer that depends on (thread, index), through
    command() and output(); returns what was wrong, or None."""
    command, want = expected(thread, index)
    r.command(command)
    stdout = stderr = b""
    while True:
        token, data, stream, status, _ = r.output()
        if token == "output":
            if stream == 1:
                stdout += data or b""
            else:
                stderr += data or b""
        elif token == "status":
            got = (stdout, stderr, status)
            return None if got == want else f"{command}: {got!r} != {want!r}"
        else:
            return f"{command}: unexpected {token} token {data!r}"


def run_threads(work: Callable[[int], None]) -> float:
    """Start THREADS threads running work(thread); fail if any is still
    running at the deadline. Returns the seconds taken."""
    threads = [
        threading.Thread(target=work, args=(n,), daemon=True) for n in range(THREADS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, started + DEADLINE - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"deadlock? {len(alive)} threads still running after {DEADLINE} s"
    return time.monotonic() - started


def test_own_connection_each(server: Any) -> None:
    failures: list[str] = []
    done = [0] * THREADS

    def work(thread: int) -> None:
        try:
            r = remctl.Remctl()
            r.set_timeout(30)
            with OPENING:
                r.open(server.host, server.port, server.principal)
            for index in range(COMMANDS):
                problem = exchange(r, thread, index)
                if problem:
                    failures.append(f"thread {thread}: {problem}")
                done[thread] += 1
            r.close()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"thread {thread}: {exc!r}")

    seconds = run_threads(work)
    assert failures == []
    assert sum(done) == THREADS * COMMANDS
    print(f"{THREADS} threads x {COMMANDS} commands, own connections: {seconds:.1f} s")


def expected(thread: int, index: int) -> tuple[list[str], tuple[bytes, bytes, int]]:
    """The command exchange() sends for (thread, index), and its answer."""
    kind = index % 3
    if kind == 0:
        return ["test", "echo", f"t{thread}", f"i{index}"], (
            f"t{thread} i{index}\n".encode(),
            b"",
            0,
        )
    if kind == 1:
        # Below 128: Debian's libremctl1 returns statuses of 128 and more as
        # negative numbers on x86 (test_abi_compat.unsigned_status), and these
        # tests run on it too. The code still varies with thread and index.
        code = (thread * 7 + index) % 128
        return ["test", "status", str(code)], (b"", b"", code)
    return ["test", "mixed"], (b"out\n", b"err\n", 3)


def test_shared_object_run(server: Any) -> None:
    """All threads call run() on one object, with no lock of their own."""
    r = remctl.Remctl()
    r.set_timeout(30)
    r.open(server.host, server.port, server.principal)
    failures: list[str] = []
    done = [0] * THREADS

    def work(thread: int) -> None:
        try:
            for index in range(COMMANDS):
                command, want = expected(thread, index)
                result = r.run(command)
                got = (result.stdout, result.stderr, result.status)
                if got != want or result.error is not None:
                    failures.append(f"thread {thread}: {command}: {result!r}")
                done[thread] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"thread {thread}: {exc!r}")

    seconds = run_threads(work)
    assert failures == []
    assert sum(done) == THREADS * COMMANDS
    r.close()
    print(
        f"{THREADS} threads x {COMMANDS} commands, shared object, run(): {seconds:.1f} s"
    )


def test_shared_object_with_callers_lock(server: Any) -> None:
    r = remctl.Remctl()
    r.set_timeout(30)
    r.open(server.host, server.port, server.principal)
    exchange_lock = threading.Lock()
    failures: list[str] = []
    done = [0] * THREADS

    def work(thread: int) -> None:
        try:
            for index in range(COMMANDS):
                with exchange_lock:
                    problem = exchange(r, thread, index)
                if problem:
                    failures.append(f"thread {thread}: {problem}")
                done[thread] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"thread {thread}: {exc!r}")

    seconds = run_threads(work)
    assert failures == []
    assert sum(done) == THREADS * COMMANDS
    # Still one healthy connection afterwards.
    assert exchange(r, 0, 0) is None
    r.close()
    print(
        f"{THREADS} threads x {COMMANDS} commands, one shared object: {seconds:.1f} s"
    )


def test_shared_object_other_calls_race_safely(server: Any) -> None:
    """While threads run whole exchanges under their lock, other threads call
    error(), noop() and set_timeout() on the same object without that lock:
    the object's own lock keeps it sound and no exchange sees a wrong answer.
    (noop() between a command and its answer would steal the answer, so it
    too takes the caller's lock; error() and set_timeout() need none.)"""
    r = remctl.Remctl()
    r.set_timeout(30)
    r.open(server.host, server.port, server.principal)
    exchange_lock = threading.Lock()
    failures: list[str] = []
    stop = threading.Event()

    def work(thread: int) -> None:
        try:
            for index in range(max(5, COMMANDS // 4)):
                with exchange_lock:
                    problem = exchange(r, thread, index)
                if problem:
                    failures.append(f"thread {thread}: {problem}")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"thread {thread}: {exc!r}")

    def pester() -> None:
        try:
            while not stop.is_set():
                assert isinstance(r.error(), str)
                r.set_timeout(30)
                with exchange_lock:
                    r.noop()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"pester: {exc!r}")

    pesterer = threading.Thread(target=pester, daemon=True)
    pesterer.start()
    try:
        run_threads(work)
    finally:
        stop.set()
        pesterer.join(30)
    assert not pesterer.is_alive()
    assert failures == []
    r.close()


def test_simple_interface_threads(server: Any) -> None:
    """remctl.remctl() from THREADS threads at once: no shared state."""
    failures: list[str] = []

    def work(thread: int) -> None:
        try:
            for index in range(max(2, COMMANDS // 10)):
                with OPENING:  # each call opens a connection
                    result = remctl.remctl(
                        server.host,
                        server.port,
                        server.principal,
                        ["test", "echo", str(thread), str(index)],
                    )
                if (result.stdout, result.stderr, result.status) != (
                    f"{thread} {index}\n".encode(),
                    None,
                    0,
                ):
                    failures.append(f"{thread} {index}: {result!r}")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"thread {thread}: {exc!r}")

    run_threads(work)
    assert failures == []
