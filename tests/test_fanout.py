"""remctl.run_many and remctl.aio.run_many against the suite's real remctld.

One server stands for many hosts here: the same (host, port, principal)
listed several times, plus addresses where nothing listens.  The tests with
many distinct servers (hung, slow, wrong key) are in test_fanout_fleet.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import remctl
from expected import stream_bytes
from hostile.client import under_asan
from remctl import aio

HANG_GUARD = 60.0  # seconds; only to fail instead of hanging forever


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def fanout_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("remctl-fanout")]


@pytest.fixture
def closed_port() -> int:
    """A loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail if the test leaves a thread or a descriptor behind."""
    threads, fds = threading.active_count(), open_fds()
    yield
    assert fanout_threads() == []
    assert threading.active_count() == threads
    assert open_fds() == fds


def same_server(server: Any, count: int) -> list[tuple[str, int, str]]:
    return [(server.host, server.port, server.principal)] * count


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, HANG_GUARD))


# -- blocking form ----------------------------------------------------------------


def test_results_complete_and_in_input_order(server: Any, no_leaks: None) -> None:
    hosts = same_server(server, 12)
    results = remctl.run_many(hosts, ["test", "mixed"], concurrency=5)
    assert [r.index for r in results] == list(range(12))
    for result in results:
        assert (result.host, result.port, result.principal) == hosts[0]
        assert result.error is None
        assert result.result == remctl.RemctlResult(b"out\n", b"err\n", 3)
        assert result.status == 3 and not result.ok
        assert result.seconds > 0


def test_each_failure_has_its_class_and_message(
    server: Any, closed_port: int, no_leaks: None
) -> None:
    hosts = [
        (server.host, server.port, server.principal),
        (server.host, closed_port, server.principal),
        ("nonexistent.invalid", 4373, server.principal),
        (server.host, server.port, f"host/nowhere.invalid@{server.realm}"),
        (server.host, server.port, server.principal),
    ]
    results = remctl.run_many(hosts, ["test", "echo", "fine"], concurrency=2)
    ok, refused, unknown, principal, last = results
    for good in (ok, last):
        assert good.ok and good.result is not None
        assert good.result.stdout == b"fine\n"
    assert refused.result is None
    assert type(refused.error) is remctl.RemctlConnectionError
    assert str(refused.error) == (
        f"cannot connect to 127.0.0.1 (port {closed_port}): Connection refused"
    )
    assert type(unknown.error) is remctl.RemctlConnectionError
    assert str(unknown.error).startswith("unknown host nonexistent.invalid: ")
    assert type(principal.error) is remctl.RemctlAuthenticationError
    assert str(principal.error).startswith("GSS-API error initializing context: ")
    assert not any(r.ok for r in (refused, unknown, principal))


def test_server_error_is_a_result(server: Any, no_leaks: None) -> None:
    (result,) = remctl.run_many(same_server(server, 1), ["test", "denied"])
    assert result.error is None and result.status is None and not result.ok
    assert result.result == remctl.RemctlResult(b"", b"", None, 6, "Access denied")


def test_timeout_bounds_the_whole_host(server: Any, no_leaks: None) -> None:
    results = remctl.run_many(
        same_server(server, 3), ["test", "sleep", "30"], timeout=1
    )
    for result in results:
        assert type(result.error) is remctl.RemctlTimeoutError
        assert str(result.error) == (
            f"timed out after 1 s running the command on {server.host}"
            f" (port {server.port})"
        )


def test_defaults_port_and_principal(server: Any, closed_port: int) -> None:
    """Plain names take the call's port and principal; None means host/<host>."""
    [good] = remctl.run_many(
        [server.host],
        ["test", "echo", "x"],
        port=server.port,
        principal=server.principal,
    )
    assert good.ok and (good.port, good.principal) == (server.port, server.principal)
    # (host, port) tuples override the port; the principal defaults to host/HOST,
    # which the realm knows for 127.0.0.1.
    [default_principal, refused] = remctl.run_many(
        [(server.host, server.port), (server.host, closed_port, None)],
        ["test", "echo", "y"],
        port=1,
    )
    assert default_principal.ok and default_principal.principal is None
    assert refused.port == closed_port
    assert isinstance(refused.error, remctl.RemctlConnectionError)


def test_ccache_and_no_tickets(
    server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path}/none")
    hosts = same_server(server, 2)
    for result in remctl.run_many(hosts, ["test", "echo", "x"]):
        assert type(result.error) is remctl.RemctlAuthenticationError
        # MIT says "No Kerberos credentials available (default cache:
        # FILE:...)", Heimdal "get-principal lstat(...)": both name the cache.
        assert str(result.error).startswith("GSS-API error")
        assert f"{tmp_path}/none" in str(result.error)
    for result in remctl.run_many(hosts, ["test", "echo", "x"], ccache=server.ccache):
        assert result.ok


def test_on_line_streams_lines_and_keeps_no_output(server: Any, no_leaks: None) -> None:
    lines: list[remctl.RemctlLine] = []
    hosts = same_server(server, 3)
    results = remctl.run_many(hosts, ["test", "mixed"], on_line=lines.append)
    assert sorted((line.index, line.stream, line.data) for line in lines) == [
        (i, stream, data)
        for i in range(3)
        for stream, data in ((1, b"out\n"), (2, b"err\n"))
    ]
    assert {line.host for line in lines} == {server.host}
    for result in results:
        assert result.result == remctl.RemctlResult(b"", b"", 3)


def test_on_line_splits_long_output_at_newlines_only(server: Any) -> None:
    """Lines cross token boundaries; \\r and the unterminated end are kept."""
    lines: list[remctl.RemctlLine] = []
    length = 3 * 1024 * 1024 + 5
    [result] = remctl.run_many(
        same_server(server, 1), ["test", "stream", str(length)], on_line=lines.append
    )
    assert result.ok
    joined = b"".join(line.data for line in lines)
    assert joined == stream_bytes(length)
    assert all(line.data.count(b"\n") == 1 for line in lines[:-1])
    assert len(lines) == joined.count(b"\n") + (not joined.endswith(b"\n"))
    remctl.run_many(
        same_server(server, 1), ["test", "echo", "a\rb"], on_line=lines.append
    )
    assert lines[-1].data == b"a\rb\n"


def test_on_line_exception_propagates_and_cleans_up(
    server: Any, no_leaks: None
) -> None:
    def explode(line: remctl.RemctlLine) -> None:
        raise LookupError(f"cannot take {line.data!r}")

    with pytest.raises(LookupError, match="cannot take b'x\\\\n'"):
        remctl.run_many(same_server(server, 4), ["test", "echo", "x"], on_line=explode)


def test_retries_after_refused_connection(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused host is tried `retries` more times; a retry can succeed."""
    caplog.set_level(logging.DEBUG, logger="remctl")
    server.stop_remctld()
    try:
        [refused] = remctl.run_many(
            same_server(server, 1), ["test", "echo", "x"], retries=2
        )
        assert isinstance(refused.error, remctl.RemctlConnectionError)
        assert len([m for m in caplog.messages if "trying again" in m]) == 2

        class StartServerOnRetry(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if "trying again" in record.getMessage():
                    server.start_remctld()

        handler = StartServerOnRetry()
        logging.getLogger("remctl").addHandler(handler)
        try:
            [retried] = remctl.run_many(
                same_server(server, 1), ["test", "echo", "again"], retries=1
            )
        finally:
            logging.getLogger("remctl").removeHandler(handler)
        assert retried.ok and retried.result is not None
        assert retried.result.stdout == b"again\n"
    finally:
        server.start_remctld()


def test_no_retry_once_the_command_was_sent(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="remctl")
    [result] = remctl.run_many(
        same_server(server, 1), ["test", "sleep", "30"], timeout=1, retries=3
    )
    assert isinstance(result.error, remctl.RemctlTimeoutError)
    assert not [m for m in caplog.messages if "trying again" in m]


def test_threads_bounded_by_concurrency(server: Any, no_leaks: None) -> None:
    seen: list[int] = []

    def count(line: remctl.RemctlLine) -> None:
        seen.append(len(fanout_threads()))

    remctl.run_many(
        same_server(server, 20), ["test", "echo", "x"], concurrency=3, on_line=count
    )
    assert len(seen) == 20
    assert 1 <= max(seen) <= 3


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"hosts": "host1"}, TypeError, "hosts must be an iterable of host names"),
        ({"hosts": [3]}, TypeError, "host 0 must be a host name or a (host, port"),
        ({"hosts": [("h", 1, 2, 3)]}, TypeError, "host 0 must be a host name"),
        ({"hosts": ["a", ""]}, ValueError, "host 1 is an empty name"),
        ({"hosts": [("h", "x")]}, TypeError, "port must be a number: 'x'"),
        ({"hosts": [("h", 1, b"p")]}, TypeError, "principal of host 0 must be str"),
        ({"command": []}, ValueError, "command must not be empty"),
        ({"command": "test echo"}, TypeError, "command must be a sequence"),
        ({"concurrency": 0}, ValueError, "invalid concurrency 0"),
        ({"concurrency": 2.5}, TypeError, "concurrency must be an int"),
        ({"timeout": 0}, ValueError, "invalid timeout 0"),
        ({"timeout": "1"}, TypeError, "timeout must be a number"),
        ({"retries": -1}, ValueError, "invalid retries -1"),
        ({"port": 70000}, ValueError, "invalid port number: 70000"),
        ({"ccache": 5}, TypeError, "ccache must be str or None"),
        ({"on_line": 5}, TypeError, "on_line must be callable"),
    ],
)
def test_bad_arguments_raise_before_anything_starts(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    call: dict[str, Any] = {"hosts": ["h"], "command": ["test", "echo"], **kwargs}
    hosts, command = call.pop("hosts"), call.pop("command")
    for function in (remctl.run_many, aio.run_many):
        with pytest.raises(error) as raised:
            function(hosts, command, **call)
        assert str(raised.value).startswith(message)


def test_blocking_form_refuses_a_running_loop(server: Any) -> None:
    async def inside() -> None:
        remctl.run_many(same_server(server, 1), ["test", "echo"])

    with pytest.raises(RuntimeError, match="use remctl.aio.run_many"):
        run(inside())


def test_empty_host_list(no_leaks: None) -> None:
    assert remctl.run_many([], ["test", "echo"]) == []


# -- asyncio form -------------------------------------------------------------------


def test_aio_yields_each_result_as_it_finishes(server: Any, no_leaks: None) -> None:
    async def main() -> list[int]:
        order = []
        async with aio.run_many(
            same_server(server, 6), ["test", "echo", "x"], concurrency=2
        ) as results:
            async for result in results:
                assert result.ok
                order.append(result.index)
        return order

    assert sorted(run(main())) == list(range(6))


def test_aio_plain_async_for_cleans_up_at_the_end(server: Any, no_leaks: None) -> None:
    async def main() -> int:
        count = 0
        async for result in aio.run_many(same_server(server, 4), ["test", "echo"]):
            count += result.ok
        return count

    assert run(main()) == 4


def connections_to(port: int) -> int:
    """Established TCP connections of this process to the server port."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    with open("/proc/net/tcp", encoding="ascii") as table:
        for row in table.read().splitlines()[1:]:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and remote_port == port and fields[9] in inodes:
                count += 1
    return count


def test_cancel_closes_open_connections_and_starts_no_more(
    server: Any, no_leaks: None
) -> None:
    """Cancelling the iterating task cuts the 3 running hosts, starts none of
    the 3 waiting ones, and returns only when threads and sockets are gone.

    The commands pause for longer than HANG_GUARD: waiting for them to end
    instead of cutting the connections fails the test."""

    marker = f"cancel-{uuid.uuid4().hex}"

    async def main() -> tuple[int, int, list[int]]:
        started = asyncio.Event()
        lines: list[remctl.RemctlLine] = []

        def on_line(line: remctl.RemctlLine) -> None:
            lines.append(line)
            if len({seen.index for seen in lines}) == 3:
                started.set()

        fan_out = aio.run_many(
            same_server(server, 6),
            ["test", "pauses", "11", "120", "1", marker],
            concurrency=3,
            on_line=on_line,
        )

        async def consume() -> None:
            async for _ in fan_out:
                pass

        task = asyncio.ensure_future(consume())
        await started.wait()
        open_during = connections_to(server.port)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return (
            open_during,
            connections_to(server.port),
            sorted({l.index for l in lines}),
        )

    during, after, indexes = run(main())
    assert during == 3
    assert after == 0
    assert indexes == [0, 1, 2]
    assert Path(server.remctld_log).read_text().count(marker) == 3


def test_aclose_early_exit(server: Any, no_leaks: None) -> None:
    async def main() -> int:
        async with aio.run_many(
            same_server(server, 8), ["test", "echo"], concurrency=2
        ) as results:
            async for result in results:
                return result.index
        raise AssertionError("no result")

    assert run(main()) in range(8)


def test_worker_threads_bounded_started_off_the_caller_and_joined() -> None:
    """The caller starts only the first thread; there are never more than
    the limit; close() ends them all, after the queued jobs ran."""
    from remctl._fanout_threads import WorkerThreads

    threads = threading.active_count()
    workers = WorkerThreads(3, "remctl-fanout-unit")
    gate = threading.Event()
    running: list[str] = []

    def job(number: int) -> int:
        running.append(threading.current_thread().name)
        gate.wait(HANG_GUARD)
        return number

    futures = [workers.submit(job, n) for n in range(7)]
    assert [
        t.name for t in threading.enumerate() if t.name.startswith("remctl-fanout-unit")
    ]
    for _ in range(int(HANG_GUARD * 100)):
        if len(running) == 3:
            break
        threading.Event().wait(0.01)
    assert len(running) == 3  # three jobs run at once, the rest wait
    assert threading.active_count() == threads + 3
    gate.set()
    assert [f.result(HANG_GUARD) for f in futures] == list(range(7))
    assert len(set(running)) == 3
    workers.close()
    assert threading.active_count() == threads
    with pytest.raises(RuntimeError, match="closed"):
        workers.submit(job, 8)


STREAMING_CHILD = """
import gc, json, sys
import remctl

host, port, principal, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
seen = {"bytes": 0, "lines": 0}

# PyPy frees dropped lines only when it collects: collect as often as the
# bound needs, so that the peak is what is still referenced.
collect_every = 0 if sys.implementation.name == "cpython" else 4096

def count(line):
    seen["bytes"] += len(line.data)
    seen["lines"] += 1
    if collect_every and seen["lines"] % collect_every == 0:
        gc.collect()

def status_kib(field):
    with open("/proc/self/status") as status:
        return [int(l.split()[1]) for l in status if l.startswith(field + ":")][0]

# The interpreter's own size (PyPy's is several times CPython's) is not
# what the test bounds: the peak counts from here.
start = status_kib("VmRSS")
results = remctl.run_many(
    [(host, port, principal)] * 4, ["test", "stream", size], on_line=count
)
peak = status_kib("VmHWM") - start
print(json.dumps({"ok": all(r.ok for r in results), "peak_kib": peak, **seen}))
"""


def test_on_line_keeps_memory_bounded(server: Any) -> None:
    """4 hosts stream 32 MiB each through on_line: the process never holds
    more than a fraction of the 128 MiB (in its own process, so that the
    peak RSS is this run's)."""
    size = 32 * 1024 * 1024
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            STREAMING_CHILD,
            server.host,
            str(server.port),
            server.principal,
            str(size),
        ],
        env=server.subprocess_env(),
        capture_output=True,
        timeout=HANG_GUARD * 4,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["ok"]
    assert report["bytes"] == 4 * size
    # "test stream" writes bytes(i % 251): a newline at each i = 10 (mod 251).
    newlines = size // 251 + (size % 251 > 10)
    unterminated = (size - 1) % 251 != 10
    assert report["lines"] == 4 * (newlines + unterminated)
    # ASan (scripts/test-sanitizers.sh) replaces malloc and keeps freed
    # blocks in quarantine, so the child's RSS measures its allocator, not
    # this code; every other stage checks the bound.
    if not under_asan():
        assert report["peak_kib"] < 64 * 1024, report
