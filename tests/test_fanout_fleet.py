"""Fan-out against many real remctld servers: remctl.testing's fleet.

Each fleet host is its own remctld on its own loopback address (127.0.0.x)
with its own principal and keytab in the session's realm; some refuse, hang,
answer slowly or hold a stale key.  No test measures time: order of arrival,
server-side counts and client-side counts are what is checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import remctl
from remctl import aio
from remctl.testing import RemctlFleet
from test_cli import HANG_GUARD, cli_env
from test_cli_fanout import SUMMARY_TIME
from test_fanout import fanout_threads, open_fds

TIMEOUT = 4  # seconds the mixed fleet's silent host is given
DELAY = 1  # seconds the slow host waits before answering


@pytest.fixture(scope="module")
def fleet(server: Any) -> Iterator[RemctlFleet]:
    """12 well-behaved hosts."""
    with RemctlFleet(server, 12) as started:
        yield started


@pytest.fixture(scope="module")
def mixed_fleet(server: Any) -> Iterator[RemctlFleet]:
    """ok, refused, silent, slow, wrong key, ok."""
    with RemctlFleet(
        server, 6, refuse={1}, hang={2}, slow={3}, wrong_key={4}, delay=DELAY
    ) as started:
        yield started


def last_number(address: str) -> int:
    return int(address.rsplit(".", 1)[1])


# -- the fleet itself ---------------------------------------------------------------


def test_fleet_hosts_are_distinct_servers(fleet: RemctlFleet, server: Any) -> None:
    assert len(set(fleet.addresses)) == 12
    assert all(address.startswith("127.") for address in fleet.addresses)
    assert server.host not in fleet.addresses
    assert len({host.pid for host in fleet.hosts}) == 12
    assert len({host.keytab for host in fleet.hosts}) == 12
    assert [h.principal for h in fleet.hosts] == [
        f"host/{a}@{server.realm}" for a in fleet.addresses
    ]


def test_fleet_stops_every_process_it_started(server: Any) -> None:
    with RemctlFleet(server, 3, hang={1}) as small:
        pids = [host.pid for host in small.hosts]
        assert all(pid is not None and os.path.exists(f"/proc/{pid}") for pid in pids)
        connected = remctl.run_many(
            small.addresses, ["fleet", "hello"], port=small.port, timeout=1
        )
        assert [type(r.error) for r in connected] == [
            type(None),
            remctl.RemctlTimeoutError,
            type(None),
        ]
    assert not [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
    assert small.open_connections() == 0
    small.close()  # a second close does nothing


def test_fleet_rejects_bad_arguments(server: Any) -> None:
    with pytest.raises(ValueError, match="at least one host"):
        RemctlFleet(server, 0)
    with pytest.raises(ValueError, match="refuse host 3 is not in 0..2"):
        RemctlFleet(server, 3, refuse={3})
    with pytest.raises(ValueError, match="host 1 cannot both hang and slow"):
        RemctlFleet(server, 3, hang={1}, slow={1})


# -- all succeed, mixed statuses, input order ------------------------------------------


def test_all_succeed_in_input_order(fleet: RemctlFleet) -> None:
    threads, fds = threading.active_count(), open_fds()
    results = remctl.run_many(
        fleet.addresses, ["fleet", "hello"], port=fleet.port, concurrency=5
    )
    assert [(r.index, r.host) for r in results] == list(enumerate(fleet.addresses))
    for result, address in zip(results, fleet.addresses):
        assert result.principal is None  # host/<host> in the default realm
        assert result.result == remctl.RemctlResult(
            f"hello from {address}\n".encode(), b"", 0
        )
    assert fanout_threads() == []
    assert (threading.active_count(), open_fds()) == (threads, fds)


def test_mixed_statuses(fleet: RemctlFleet) -> None:
    results = remctl.run_many(fleet.targets, ["fleet", "mixed"])
    statuses = {last_number(a) % 4 for a in fleet.addresses}
    assert statuses == {0, 1, 2, 3}
    for result in results:
        assert result.result == remctl.RemctlResult(
            f"out from {result.host}\n".encode(),
            f"err from {result.host}\n".encode(),
            last_number(result.host) % 4,
        )
        assert result.ok == (result.status == 0)


# -- misbehaving hosts ----------------------------------------------------------------


def test_each_failure_reported_while_the_others_finish(
    mixed_fleet: RemctlFleet, server: Any
) -> None:
    """The silent host's result comes last, after its own timeout; every
    other host, the slow one included, has finished before it."""
    targets = [
        *mixed_fleet.targets,
        (
            mixed_fleet.addresses[0],
            mixed_fleet.port,
            f"host/nowhere.invalid@{server.realm}",
        ),
    ]
    ok, refused, silent, slow, stale, ok2 = mixed_fleet.addresses

    async def main() -> list[remctl.RemctlHostResult]:
        async with aio.run_many(
            targets, ["fleet", "hello"], timeout=TIMEOUT
        ) as results:
            return [result async for result in results]

    arrived = asyncio.run(main())
    assert arrived[-1].host == silent
    by_index = {result.index: result for result in arrived}
    for index in (0, 3, 5):
        result = by_index[index]
        assert result.result == remctl.RemctlResult(
            f"hello from {result.host}\n".encode(), b"", 0
        )
    port = mixed_fleet.port
    assert type(by_index[1].error) is remctl.RemctlConnectionError
    assert (
        str(by_index[1].error)
        == f"cannot connect to {refused} (port {port}): Connection refused"
    )
    assert type(by_index[2].error) is remctl.RemctlTimeoutError
    assert (
        str(by_index[2].error)
        == f"timed out after {TIMEOUT} s authenticating to {silent} (port {port})"
    )
    assert type(by_index[4].error) is remctl.RemctlAuthenticationError
    assert str(by_index[4].error).startswith("GSS-API error initializing context: ")
    assert type(by_index[6].error) is remctl.RemctlAuthenticationError
    assert "host/nowhere.invalid" in str(by_index[6].error)


def test_one_hang_does_not_hold_the_others(
    mixed_fleet: RemctlFleet, fleet: RemctlFleet
) -> None:
    """With two workers and the silent host first, one worker waits on it
    while the other serves every other host: all of them arrive first."""
    silent = mixed_fleet.targets[2]
    targets = [silent, *fleet.targets]

    async def main() -> list[str]:
        async with aio.run_many(
            targets, ["fleet", "hello"], concurrency=2, timeout=TIMEOUT
        ) as results:
            return [result.host async for result in results]

    order = asyncio.run(main())
    assert order[-1] == silent[0]
    assert sorted(order[:-1]) == sorted(fleet.addresses)


# -- cancellation and bounds ---------------------------------------------------------


def test_cancel_cuts_connections_and_starts_no_more(fleet: RemctlFleet) -> None:
    """Cancelled once 4 commands run: the servers see the 4 connections
    close, and no fifth command ever starts."""
    before = len(fleet.command_spans())
    threads, fds = threading.active_count(), open_fds()

    async def main() -> tuple[int, int]:
        fan_out = aio.run_many(fleet.targets, ["fleet", "sleep", "300"], concurrency=4)

        async def consume() -> None:
            async for _ in fan_out:
                pass

        task = asyncio.ensure_future(consume())
        while len(fleet.command_spans()) < before + 4:
            await asyncio.sleep(0.01)
        during = fleet.open_connections()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return during, len(fleet.command_spans()) - before

    during, started = asyncio.run(asyncio.wait_for(main(), HANG_GUARD))
    assert (during, started) == (4, 4)
    assert fanout_threads() == []
    assert (threading.active_count(), open_fds()) == (threads, fds)
    # The client closed its side: no server connection stays established.
    for _ in range(int(HANG_GUARD * 100)):
        if fleet.open_connections() == 0:
            break
        threading.Event().wait(0.01)
    assert fleet.open_connections() == 0


def test_concurrency_bounds_connections_commands_and_threads(
    fleet: RemctlFleet,
) -> None:
    """Never more than N connections (server side), commands and threads."""
    before = len(fleet.command_spans())
    peaks = {"connections": 0, "threads": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peaks["connections"] = max(peaks["connections"], fleet.open_connections())
            peaks["threads"] = max(peaks["threads"], len(fanout_threads()))
            stop.wait(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        results = remctl.run_many(
            fleet.targets * 2, ["fleet", "sleep", "0.3"], concurrency=3
        )
    finally:
        stop.set()
        sampler.join()
    assert all(r.ok for r in results)
    spans = fleet.command_spans()[before:]
    assert len(spans) == 24
    peak_commands = max(
        sum(1 for _, s, e in spans if s <= start and e is not None and start < e)
        for _, start, _ in spans
    )
    assert 1 <= peak_commands <= 3
    assert 1 <= peaks["connections"] <= 3
    assert 1 <= peaks["threads"] <= 3


# -- the command-line client on the fleet ----------------------------------------------


def fleet_cli(
    fleet: RemctlFleet, server: Any, *args: str, stdin: bytes = b""
) -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "remctl", "-p", str(fleet.port), *args],
        env=cli_env(server),
        input=stdin,
        capture_output=True,
        timeout=HANG_GUARD,
        check=False,
    )
    return done.returncode, done.stdout, SUMMARY_TIME.sub(b"hosts in T s:", done.stderr)


def test_cli_on_a_mixed_fleet(mixed_fleet: RemctlFleet, server: Any) -> None:
    ok, refused, silent, slow, stale, ok2 = mixed_fleet.addresses
    port = mixed_fleet.port
    hosts = "\n".join(mixed_fleet.addresses).encode()
    code, out, err = fleet_cli(
        mixed_fleet,
        server,
        "-j",
        "1",
        "-t",
        str(TIMEOUT),
        "-f",
        "-",
        "fleet",
        "mixed",
        stdin=hosts,
    )
    assert code == 3
    assert out == b"".join(f"{a}: out from {a}\n".encode() for a in (ok, slow, ok2))
    lines = err.decode().splitlines()
    stale_line = (
        f"{stale}: failed (authentication): GSS-API error initializing context: "
    )
    assert [line for line in lines if not line.startswith(stale_line)] == [
        f"{ok}: err from {ok}",
        *(
            [f"{ok}: exited with status {last_number(ok) % 4}"]
            if last_number(ok) % 4
            else []
        ),
        f"{refused}: failed (connection): cannot connect to {refused} (port {port}): Connection refused",
        f"{silent}: failed (timeout): timed out after {TIMEOUT} s authenticating to {silent} (port {port})",
        f"{slow}: err from {slow}",
        *(
            [f"{slow}: exited with status {last_number(slow) % 4}"]
            if last_number(slow) % 4
            else []
        ),
        f"{ok2}: err from {ok2}",
        *(
            [f"{ok2}: exited with status {last_number(ok2) % 4}"]
            if last_number(ok2) % 4
            else []
        ),
        _summary(mixed_fleet.addresses, ok, slow, ok2),
    ]
    assert (
        len(lines) - len([line for line in lines if not line.startswith(stale_line)])
        == 1
    )


def _summary(addresses: list[str], *reached: str) -> str:
    statuses = [last_number(a) % 4 for a in reached]
    ok = statuses.count(0)
    return (
        f"remctl: {len(addresses)} hosts in T s: {ok} ok, {len(statuses) - ok} exited"
        " non-zero, 3 failed (1 connection, 1 timeout, 1 authentication)"
    )


def test_cli_json_on_the_fleet(fleet: RemctlFleet, server: Any) -> None:
    code, out, err = fleet_cli(
        fleet, server, "--json", "-H", ",".join(fleet.addresses), "fleet", "mixed"
    )
    assert code == 2
    records = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["host"] for r in records) == sorted(fleet.addresses)
    for record in records:
        address = record.pop("host")
        assert isinstance(record.pop("seconds"), float)
        assert record == {
            "port": fleet.port,
            "status": last_number(address) % 4,
            "stdout": f"out from {address}\n",
            "stderr": f"err from {address}\n",
            "error": None,
        }
    ok = sum(1 for a in fleet.addresses if last_number(a) % 4 == 0)
    assert (
        err
        == f"remctl: 12 hosts in T s: {ok} ok, {12 - ok} exited non-zero, 0 failed\n".encode()
    )
