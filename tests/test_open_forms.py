"""remctl_open_addrinfo, remctl_open_sockaddr and remctl_open_fd, through
the low-level module remctl._remctl, against the test remctld.

A connection opened from an address list, an address or a descriptor cannot
be opened again by the library (it has no host name and port to go back
to): when the server has closed it, the next command fails instead of
reconnecting, and our library says why. remctl_open_fd takes a socket the
test connected itself; the library owns it from the call on and closes it,
at remctl_close or when the open fails, and leaves its file status flags
(O_NONBLOCK) as the caller set them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import sys
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from remctl import _remctl

Handle = _remctl.RemctlHandle
TCP = (socket.SOCK_STREAM, socket.IPPROTO_TCP)

NO_REOPEN = (
    "connection to {host} closed and cannot be reopened "
    "(it was opened from an address or a file descriptor)"
)


def family_header(family: int, length: int) -> bytes:
    """The start of a struct sockaddr: on Linux a 16-bit family in host byte
    order; on the BSDs and macOS an octet of length, then an octet of family."""
    if sys.platform.startswith("linux"):
        return struct.pack("=H", family)
    return struct.pack("BB", length, family)


def sockaddr_in(host: str, port: int) -> bytes:
    """A packed struct sockaddr_in."""
    return (
        family_header(socket.AF_INET, 16)
        + struct.pack("!H", port)
        + socket.inet_pton(socket.AF_INET, host)
        + bytes(8)
    )


def sockaddr_in6(host: str, port: int) -> bytes:
    """A packed struct sockaddr_in6."""
    return (
        family_header(socket.AF_INET6, 28)
        + struct.pack("!HI", port, 0)
        + socket.inet_pton(socket.AF_INET6, host)
        + struct.pack("=I", 0)
    )


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on host that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def connected_fd(server: Any) -> int:
    """A TCP socket to remctld, connected by the test; the caller owns it."""
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.setblocking(True)
    return sock.detach()


def answer(handle: Handle) -> list[Any]:
    """Read tokens up to status or error; a failure ends the list with ()."""
    tokens: list[Any] = []
    while True:
        token = _remctl.remctl_output(handle)
        tokens.append(tuple(token))
        if not token or token[0] != "output":
            return tokens


def echo(handle: Handle, word: str) -> list[Any]:
    assert _remctl.remctl_commandv(handle, [b"test", b"echo", word.encode()]), (
        _remctl.remctl_error(handle)
    )
    return answer(handle)


def echoed(word: str) -> list[Any]:
    return [
        ("output", f"{word}\n".encode(), 1, None, None),
        ("status", None, None, 0, None),
    ]


@pytest.fixture
def handle() -> Iterator[Handle]:
    h = _remctl.remctl_new()
    yield h
    _remctl.remctl_close(h)


# The three ways to open, each given what it needs.


def open_sockaddr(handle: Handle, server: Any, host: str | None) -> bool:
    address = sockaddr_in(server.host, server.port)
    return _remctl.remctl_open_sockaddr(handle, host, address, server.principal)


def open_addrinfo(handle: Handle, server: Any, host: str | None) -> bool:
    addresses = [(socket.AF_INET, *TCP, sockaddr_in(server.host, server.port))]
    return _remctl.remctl_open_addrinfo(handle, host, addresses, server.principal)


def open_fd(handle: Handle, server: Any, host: str | None) -> bool:
    return _remctl.remctl_open_fd(handle, host, connected_fd(server), server.principal)


OPENERS: dict[str, Callable[[Handle, Any, str | None], bool]] = {
    "sockaddr": open_sockaddr,
    "addrinfo": open_addrinfo,
    "fd": open_fd,
}


@pytest.mark.parametrize("form", sorted(OPENERS))
def test_open_and_run_commands(server: Any, handle: Handle, form: str) -> None:
    assert OPENERS[form](handle, server, server.host), _remctl.remctl_error(handle)
    # Kept alive: several commands on the one connection.
    for word in ("one", "two", "three"):
        assert echo(handle, word) == echoed(word)
    assert _remctl.remctl_error(handle) == "no error"


@pytest.mark.parametrize("form", sorted(OPENERS))
def test_open_without_host_name(server: Any, handle: Handle, form: str) -> None:
    """With a principal given, the host name is not needed (as in Debian's
    libremctl1): it only names the server's default principal."""
    assert OPENERS[form](handle, server, None), _remctl.remctl_error(handle)
    assert echo(handle, "nameless") == echoed("nameless")


def test_addrinfo_tries_each_address(server: Any, handle: Handle) -> None:
    dead = closed_port()
    addresses = [
        (socket.AF_INET6, *TCP, sockaddr_in6("::1", dead)),
        (socket.AF_INET, *TCP, sockaddr_in(server.host, dead)),
        (socket.AF_INET, *TCP, sockaddr_in(server.host, server.port)),
    ]
    assert _remctl.remctl_open_addrinfo(
        handle, server.host, addresses, server.principal
    ), _remctl.remctl_error(handle)
    assert echo(handle, "third") == echoed("third")


@pytest.mark.parametrize("form", ["sockaddr", "addrinfo"])
def test_connection_refused(server: Any, handle: Handle, form: str) -> None:
    dead = closed_port()
    if form == "sockaddr":
        ok = _remctl.remctl_open_sockaddr(
            handle, server.host, sockaddr_in(server.host, dead), server.principal
        )
    else:
        addresses = [(socket.AF_INET, *TCP, sockaddr_in(server.host, dead))]
        ok = _remctl.remctl_open_addrinfo(
            handle, server.host, addresses, server.principal
        )
    assert not ok
    message = _remctl.remctl_error(handle)
    assert message.startswith("cannot connect")
    assert message.endswith(": Connection refused")


def test_fd_is_owned_by_the_library(server: Any) -> None:
    handle = _remctl.remctl_new()
    fd = connected_fd(server)
    assert _remctl.remctl_open_fd(handle, server.host, fd, server.principal)
    assert echo(handle, "owned") == echoed("owned")
    os.fstat(fd)  # still open while the handle is
    _remctl.remctl_close(handle)
    with pytest.raises(OSError) as info:
        os.fstat(fd)
    assert info.value.errno == 9  # EBADF: remctl_close closed it


def open_fd_count() -> int:
    """Descriptors open in this process (listdir's own counts every time)."""
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    "nonblocking",
    [
        pytest.param(False, id="blocking"),
        pytest.param(
            True,
            id="nonblocking",
            marks=pytest.mark.ours_only(
                reason="our library works on a non-blocking descriptor; "
                "Debian's libremctl1 fails on it (its reads do not wait)"
            ),
        ),
    ],
)
def test_fd_status_flags_left_as_given(
    server: Any, handle: Handle, nonblocking: bool
) -> None:
    """The library waits with poll and reads and writes with MSG_DONTWAIT:
    the descriptor's file status flags (O_NONBLOCK) stay as the caller set
    them whenever a call returns."""
    fd = connected_fd(server)
    os.set_blocking(fd, not nonblocking)
    given = fcntl.fcntl(fd, fcntl.F_GETFL)
    assert _remctl.remctl_open_fd(handle, server.host, fd, server.principal)
    assert fcntl.fcntl(fd, fcntl.F_GETFL) == given
    assert _remctl.remctl_commandv(handle, [b"test", b"echo", b"flags"])
    assert fcntl.fcntl(fd, fcntl.F_GETFL) == given
    while (token := _remctl.remctl_output(handle)) and token[0] == "output":
        assert fcntl.fcntl(fd, fcntl.F_GETFL) == given
    assert token == ("status", None, None, 0, None)
    assert fcntl.fcntl(fd, fcntl.F_GETFL) == given
    assert _remctl.remctl_noop(handle), _remctl.remctl_error(handle)
    assert fcntl.fcntl(fd, fcntl.F_GETFL) == given


@pytest.mark.parametrize("failure", ["no host", "not connected", "bad principal"])
def test_fd_closed_when_open_fails(server: Any, handle: Handle, failure: str) -> None:
    """remctl_open_fd owns the descriptor from the call on: a failed open
    closes it, whatever failed (counted in /proc/self/fd). Debian's
    libremctl1 does the same (its messages differ: see
    test_open_failure_messages)."""
    before = open_fd_count()
    if failure == "not connected":
        fd = socket.socket(socket.AF_INET, socket.SOCK_STREAM).detach()
    else:
        fd = connected_fd(server)
    assert open_fd_count() == before + 1
    if failure == "no host":
        assert not _remctl.remctl_open_fd(handle, None, fd, None)
    elif failure == "not connected":
        assert not _remctl.remctl_open_fd(handle, server.host, fd, server.principal)
    else:
        principal = "nobody/nowhere@" + server.principal.split("@")[1]
        assert not _remctl.remctl_open_fd(handle, server.host, fd, principal)
    assert _remctl.remctl_error(handle) != "no error"
    with pytest.raises(OSError) as info:
        os.fstat(fd)
    assert info.value.errno == errno.EBADF
    assert open_fd_count() == before


def test_failed_open_leaves_nothing_open(server: Any, handle: Handle) -> None:
    dead = sockaddr_in(server.host, closed_port())
    assert not _remctl.remctl_open_sockaddr(handle, server.host, dead, server.principal)
    assert not _remctl.remctl_commandv(handle, [b"test", b"echo"])
    assert _remctl.remctl_error(handle) == "no connection open"
    assert _remctl.remctl_output(handle) == ()
    assert _remctl.remctl_error(handle) == "no connection open"
    # The handle can still be opened, here the usual way.
    assert _remctl.remctl_open(handle, server.host, server.port, server.principal)
    assert echo(handle, "usual") == echoed("usual")


@pytest.mark.parametrize("form", sorted(OPENERS))
def test_no_reopen_after_server_restart(server: Any, handle: Handle, form: str) -> None:
    """Once the server has closed it, the connection is not opened again:
    the next command fails (at the command with ours, at its answer with
    Debian's), and remctl_open on the same handle works as usual."""
    assert OPENERS[form](handle, server, server.host)
    assert echo(handle, "before") == echoed("before")
    server.restart()
    sent = _remctl.remctl_commandv(handle, [b"test", b"echo", b"after"])
    if sent:
        assert answer(handle)[-1] == ()
    assert _remctl.remctl_error(handle) != "no error"
    assert _remctl.remctl_open(handle, server.host, server.port, server.principal)
    assert echo(handle, "reopened") == echoed("reopened")


@pytest.mark.ours_only(
    reason="our message says why the connection is not reopened; Debian's "
    "libremctl1 reports 'unexpected end of file', then 'no connection open'"
)
@pytest.mark.parametrize("form", sorted(OPENERS))
def test_no_reopen_message(server: Any, handle: Handle, form: str) -> None:
    assert OPENERS[form](handle, server, server.host)
    assert echo(handle, "before") == echoed("before")
    server.restart()
    expected = NO_REOPEN.format(host=server.host)
    assert not _remctl.remctl_commandv(handle, [b"test", b"echo", b"after"])
    assert _remctl.remctl_error(handle) == expected
    assert not _remctl.remctl_noop(handle)
    assert _remctl.remctl_error(handle) == expected


@pytest.mark.test_hooks(
    reason="forces protocol 1 through the test hook REMCTL_TEST_PROTOCOL"
)
def test_fd_protocol1_one_command_only(
    server: Any, handle: Handle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protocol 1 closes after each command; from a descriptor, the library
    cannot open the next connection itself."""
    monkeypatch.setenv("REMCTL_TEST_PROTOCOL", "1")
    fd = connected_fd(server)
    assert _remctl.remctl_open_fd(handle, None, fd, server.principal)
    assert echo(handle, "only") == echoed("only")
    assert not _remctl.remctl_commandv(handle, [b"test", b"echo", b"second"])
    assert _remctl.remctl_error(handle) == NO_REOPEN.format(host=server.host)


@pytest.mark.ours_only(
    reason="our messages name the host and port, and the bad descriptor; "
    "Debian's libremctl1 says 'cannot connect: ...' and 'error sending "
    "initial token: Bad file descriptor'"
)
def test_open_failure_messages(server: Any, handle: Handle) -> None:
    dead = closed_port()
    address = sockaddr_in(server.host, dead)
    refused = f"cannot connect to {server.host} (port {dead}): Connection refused"
    assert not _remctl.remctl_open_sockaddr(handle, server.host, address, None)
    assert _remctl.remctl_error(handle) == refused
    addresses = [(socket.AF_INET, *TCP, address)]
    assert not _remctl.remctl_open_addrinfo(handle, server.host, addresses, None)
    assert _remctl.remctl_error(handle) == refused
    # Without a host name, the address stands for it.
    assert not _remctl.remctl_open_sockaddr(handle, None, address, server.principal)
    assert _remctl.remctl_error(handle) == refused
    assert not _remctl.remctl_open_fd(handle, server.host, -1, server.principal)
    assert _remctl.remctl_error(handle) == "invalid file descriptor -1"
    # Neither a host nor a principal: nothing names the server.
    assert not _remctl.remctl_open_sockaddr(handle, None, address, None)
    assert _remctl.remctl_error(handle) == "no host given"
    assert not _remctl.remctl_open_fd(handle, None, connected_fd(server), None)
    assert _remctl.remctl_error(handle) == "no host given"


def test_open_fd_timeout(server: Any, handle: Handle) -> None:
    """Settings apply to a descriptor connection as to any other."""
    assert _remctl.remctl_set_timeout(handle, 1)
    assert open_fd(handle, server, server.host)
    started = time.monotonic()
    assert _remctl.remctl_commandv(handle, [b"test", b"sleep", b"3"])
    assert _remctl.remctl_output(handle) == ()
    assert _remctl.remctl_error(handle) == "error receiving token: timed out"
    assert time.monotonic() - started < 2.5
