"""Fan-out's in-memory copy of a FILE ticket cache (remctl._memory_ccache).

Against a fleet of real remctld servers and the realm's KDC: each test
starts from a fresh cache holding only a ticket-granting ticket, so every
service ticket is obtained during the fan-out.  ``test denied`` (allowed to
nobody@REALM only) shows whose tickets a connection really used.  With MIT's
GSS-API the fan-out reads a MEMORY copy and stores the new tickets in the
FILE cache at the end; with Heimdal's, or without MIT's libkrb5, it uses the
FILE cache directly.  Either way the tickets end up in the cache the caller
chose, and nowhere else.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import remctl
from emulation import system_program
from gss_library import mit_gssapi
from remctl import _memory_ccache
from remctl.testing import RemctlFleet

COPIED = "fan-out uses an in-memory copy of the ticket cache"
DIRECT = "fan-out uses the ticket cache directly"
DENIED = ["test", "denied", "let", "through"]


@pytest.fixture(scope="module")
def fleet(server: Any) -> Iterator[RemctlFleet]:
    with RemctlFleet(server, 5) as started:
        yield started


@pytest.fixture
def fresh_ccache(server: Any, tmp_path: Path) -> str:
    """A FILE cache holding the user's ticket-granting ticket only."""
    return str(server.kinit(tmp_path / "ccache"))


@pytest.fixture
def fanout_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="remctl")
    return caplog


def cache_contents(ccache: str) -> tuple[str, list[str]]:
    """The cache's principal and its tickets' servers without their realm,
    in order (klist; MIT files a referral's ticket under the empty realm)."""
    listing = subprocess.run(
        ["klist", "-c", ccache], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    principal = next(line for line in listing if "principal:" in line)
    owner = principal.split(":", 1)[1].strip()
    servers = [line.split()[4].split("@")[0] for line in listing if line[:1].isdigit()]
    return owner, servers


def host_tickets(fleet: RemctlFleet) -> list[str]:
    return [f"host/{address}" for address in fleet.addresses]


def hello(fleet: RemctlFleet, ccache: str | None) -> None:
    results = remctl.run_many(
        fleet.addresses, ["fleet", "hello"], port=fleet.port, ccache=ccache
    )
    for result, address in zip(results, fleet.addresses):
        assert result.result == remctl.RemctlResult(
            f"hello from {address}\n".encode(), b"", 0
        ), result


def test_tickets_obtained_during_the_fanout_land_in_the_given_cache(
    server: Any, fleet: RemctlFleet, fresh_ccache: str, fanout_log: Any
) -> None:
    session_cache = Path(server.ccache_path).read_bytes()
    hello(fleet, fresh_ccache)
    assert (COPIED if mit_gssapi() else DIRECT) in fanout_log.text
    owner, servers = cache_contents(fresh_ccache)
    assert owner == server.user_principal
    tickets = host_tickets(fleet)
    assert sorted(set(servers) & set(tickets)) == sorted(tickets)
    # Once each: a second fan-out finds them and stores no duplicate.
    fanout_log.clear()
    hello(fleet, fresh_ccache)
    assert cache_contents(fresh_ccache) == (owner, servers)
    if mit_gssapi():
        assert "stored 0 new tickets" in fanout_log.text
    # The session's own cache (KRB5CCNAME) was not touched.
    assert Path(server.ccache_path).read_bytes() == session_cache


def test_without_ccache_the_default_cache_is_copied_and_kept(
    server: Any,
    fleet: RemctlFleet,
    fresh_ccache: str,
    fanout_log: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KRB5CCNAME", fresh_ccache)
    hello(fleet, None)
    assert (COPIED if mit_gssapi() else DIRECT) in fanout_log.text
    _, servers = cache_contents(fresh_ccache)
    assert set(host_tickets(fleet)) <= set(servers)


def test_the_copy_authenticates_as_the_given_cache(
    server: Any, fleet: RemctlFleet, nobody_keytab: tuple[str, str], tmp_path: Path
) -> None:
    user = remctl.run_many(fleet.addresses, DENIED, port=fleet.port)
    denied = remctl.RemctlResult(b"", b"", None, 6, "Access denied")
    assert [r.result for r in user] == [denied] * len(fleet.addresses)
    nobody = server.kinit(tmp_path / "nobody", *nobody_keytab)
    allowed = remctl.run_many(fleet.addresses, DENIED, port=fleet.port, ccache=nobody)
    assert [r.result.stdout if r.result else r.error for r in allowed] == [
        b"let through\n"
    ] * len(fleet.addresses)
    owner, servers = cache_contents(nobody)
    assert owner == nobody_keytab[0]
    assert set(host_tickets(fleet)) <= set(servers)


def test_without_mit_libkrb5_the_cache_is_used_directly(
    server: Any,
    fleet: RemctlFleet,
    fresh_ccache: str,
    fanout_log: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_memory_ccache, "KRB5_LIBRARY", "libkrb5-absent.so.3")
    hello(fleet, fresh_ccache)
    assert DIRECT in fanout_log.text and COPIED not in fanout_log.text
    # The GSS-API library stored the tickets itself, as it always did.
    _, servers = cache_contents(fresh_ccache)
    assert set(host_tickets(fleet)) <= set(servers)


def test_a_cache_that_is_not_a_file_is_used_directly(
    server: Any, fleet: RemctlFleet, fresh_ccache: str, fanout_log: Any
) -> None:
    memory = _memory_ccache.MemoryCcache.copy_of(fresh_ccache)
    if not mit_gssapi():
        assert memory is None
        return
    assert memory is not None
    try:
        cache = memory.for_host("any.example", None)
        assert cache is not None and cache.name.startswith("MEMORY:")
        fanout_log.clear()
        hello(fleet, cache.name)
        assert "a MEMORY cache, not a FILE cache" in fanout_log.text
    finally:
        memory.close()
    # Closing the outer copy kept what the fan-out obtained in the MEMORY
    # cache and stored it in the FILE cache.
    _, servers = cache_contents(fresh_ccache)
    assert set(host_tickets(fleet)) <= set(servers)


def memory_cache_servers(memory: Any, name: str) -> list[str]:
    """The servers of a MEMORY cache of this process, without their realm
    (MIT's cache settings entries left out)."""
    handle = memory._open(memory._krb5, memory._context, name)
    try:
        found = memory._credentials(handle)
    finally:
        memory._krb5.krb5_cc_close(memory._context, handle)
    for _, creds in found:
        memory._krb5.krb5_free_cred_contents(memory._context, ctypes.byref(creds))
    settings = "@" + _memory_ccache._CONFIG_REALM
    return [
        _memory_ccache._without_realm(name)
        for name, _ in found
        if not name.endswith(settings)
    ]


def test_each_connection_gets_the_tickets_of_its_host_only(
    server: Any, fleet: RemctlFleet, fresh_ccache: str, tmp_path: Path
) -> None:
    """A cache full of other tickets costs a connection nothing: it sees the
    ticket-granting ticket and its own host's tickets."""
    hello(fleet, fresh_ccache)  # a ticket per host in the FILE cache
    if not mit_gssapi():
        assert _memory_ccache.MemoryCcache.copy_of(fresh_ccache) is None
        return
    memory = _memory_ccache.MemoryCcache.copy_of(fresh_ccache)
    assert memory is not None
    try:
        first, second = fleet.addresses[:2]
        ours = memory.for_host(first, None)
        named = memory.for_host("ignored", f"host/{second}@{server.realm}")
        unknown = memory.for_host("unknown.example", None)
        assert ours and named and unknown
        tgt = f"krbtgt/{server.realm}"
        assert set(memory_cache_servers(memory, ours.name)) == {tgt, f"host/{first}"}
        assert set(memory_cache_servers(memory, named.name)) == {tgt, f"host/{second}"}
        assert set(memory_cache_servers(memory, unknown.name)) == {tgt}
        # A ticket obtained through one connection's cache serves the next
        # connection to that server, and is stored in the FILE cache at close.
        connection = remctl.Remctl(ccache=unknown.name)
        try:
            connection.open(server.host, server.port, server.principal)
        finally:
            connection.close()
        memory.release(unknown)
        memory.release(unknown)  # a second release does nothing
        again = memory.for_host(server.host, server.principal)
        assert again is not None
        assert _memory_ccache._without_realm(server.principal) in (
            memory_cache_servers(memory, again.name)
        )
        released = ours.name
        memory.release(ours)
        assert memory_cache_servers(memory, released) == []
    finally:
        memory.close()  # releases the caches still live
    assert memory_cache_servers_after_close(named.name) == []
    _, servers = cache_contents(fresh_ccache)
    assert _memory_ccache._without_realm(server.principal) in servers


def memory_cache_servers_after_close(name: str) -> list[str]:
    """A MEMORY cache's servers, through a fresh copy's krb5 context."""
    probe = _memory_ccache.MemoryCcache.copy_of(None)
    assert probe is not None
    try:
        return memory_cache_servers(probe, name)
    finally:
        probe.close()


def test_a_cache_reinitialized_meanwhile_gets_no_tickets_of_the_copy(
    server: Any, fleet: RemctlFleet, fresh_ccache: str, fanout_log: Any
) -> None:
    other, keytab = server.add_principal("someone-else")

    def kinit_again(line: remctl.RemctlLine) -> None:
        if line.host == fleet.addresses[0]:
            server.kinit(fresh_ccache, other, keytab)

    results = remctl.run_many(
        fleet.addresses[:1],
        ["fleet", "hello"],
        port=fleet.port,
        ccache=fresh_ccache,
        on_line=kinit_again,
    )
    assert results[0].ok
    owner, servers = cache_contents(fresh_ccache)
    assert owner == other
    if mit_gssapi():
        assert "the cache was reinitialized" in fanout_log.text
        assert host_tickets(fleet)[0] not in servers


@pytest.mark.ours_only(
    reason="only our library loads the GSS-API library REMCTL_GSSAPI_LIBRARY names"
)
def test_heimdal_takes_the_direct_path(
    server: Any, fleet: RemctlFleet, fresh_ccache: str
) -> None:
    heimdal = subprocess.run(
        [system_program("/sbin/ldconfig"), "-p"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    paths = [
        line.rsplit(" ", 1)[1]
        for line in heimdal.splitlines()
        if line.strip().startswith("libgssapi.so.3 ")
    ]
    assert paths, "Heimdal's libgssapi.so.3 is missing (scripts/install-system-deps.sh)"
    script = (
        "import json, logging, sys, remctl\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "hosts, port, ccache = json.loads(sys.argv[1])\n"
        "results = remctl.run_many(hosts, ['fleet', 'hello'], port=port,"
        " ccache=ccache)\n"
        "print(json.dumps([r.result.stdout.decode() if r.result else str(r.error)"
        " for r in results]))\n"
    )
    env = dict(os.environ, REMCTL_GSSAPI_LIBRARY=paths[0])
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            json.dumps([fleet.addresses, fleet.port, fresh_ccache]),
        ],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        f"hello from {address}\n" for address in fleet.addresses
    ]
    assert DIRECT in done.stderr and COPIED not in done.stderr
    _, servers = cache_contents(fresh_ccache)
    assert set(host_tickets(fleet)) <= set(servers)


def test_closing_the_copy_destroys_it(server: Any, fresh_ccache: str) -> None:
    memory = _memory_ccache.MemoryCcache.copy_of(fresh_ccache)
    if not mit_gssapi():
        assert memory is None
        return
    assert memory is not None
    cache = memory.for_host(server.host, server.principal)
    assert cache is not None and cache.name.startswith("MEMORY:")
    assert cache_contents(fresh_ccache)[0] == server.user_principal
    # In this process, the copy's name finds the user's tickets...
    connection = remctl.Remctl(ccache=cache.name)
    try:
        connection.open(server.host, server.port, server.principal)
    finally:
        connection.close()
    memory.close()
    memory.close()  # a second close does nothing
    assert memory.for_host(server.host, None) is None
    # ...and nothing once closed: a MEMORY name resolves to an empty cache.
    emptied = remctl.Remctl(ccache=cache.name)
    try:
        with pytest.raises(remctl.RemctlAuthenticationError):
            emptied.open(server.host, server.port, server.principal)
    finally:
        emptied.close()
