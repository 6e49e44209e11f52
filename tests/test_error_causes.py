"""Exceptions by cause: RemctlTimeoutError, RemctlConnectionError and
RemctlAuthenticationError, from real failures against real sockets, the test
KDC and remctld; the simple call's combined classes; old except clauses.

The messages asserted exactly are the same with Debian's libremctl1 (the
compatibility pass runs this module on it); GSS-API texts differ between
libraries and between MIT and Heimdal, so for them only the fixed prefix is
asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import remctl
from remctl import aio
from remctl._failure import failure_class

T = TypeVar("T")
HANG_GUARD = 60.0  # seconds; only to fail instead of hanging forever

CAUSES = (
    remctl.RemctlTimeoutError,
    remctl.RemctlConnectionError,
    remctl.RemctlAuthenticationError,
)


def run_async(coroutine: Awaitable[T]) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(coroutine, HANG_GUARD)

    return asyncio.run(guarded())


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port where connections are accepted by the kernel, never answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops new SYNs, so a
    connect waits until its timeout."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port


@contextlib.contextmanager
def closing_server() -> Iterator[int]:
    """A port where each connection is closed as soon as it is accepted."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(HANG_GUARD)

    def serve() -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(HANG_GUARD)


def assert_cause(exc: BaseException, cause: type[remctl.RemctlError]) -> None:
    """exc is of the cause class and of no other cause class."""
    assert isinstance(exc, cause)
    assert isinstance(exc, remctl.RemctlError)
    for other in CAUSES:
        if other is not cause:
            assert not isinstance(exc, other), (type(exc), other)


# -- timeouts -----------------------------------------------------------------


def test_timeout_server_silent_during_open(server: Any) -> None:
    with silent_server() as port, pytest.raises(remctl.RemctlTimeoutError) as info:
        remctl.Remctl("127.0.0.1", port, server.principal, timeout=1)
    assert str(info.value) == "error receiving token: timed out"
    assert_cause(info.value, remctl.RemctlTimeoutError)
    assert type(info.value) is remctl.RemctlTimeoutError


def test_timeout_connect(server: Any) -> None:
    with full_backlog() as port:
        r = remctl.Remctl(timeout=1)
        with pytest.raises(remctl.RemctlTimeoutError) as info:
            r.open("127.0.0.1", port, server.principal)
    expected = f"cannot connect to 127.0.0.1 (port {port}): Connection timed out"
    assert str(info.value) == expected
    assert r.error() == expected
    assert_cause(info.value, remctl.RemctlTimeoutError)


def test_timeout_waiting_for_output(server: Any) -> None:
    with remctl.Remctl(server.host, server.port, server.principal, timeout=1) as r:
        with pytest.raises(remctl.RemctlTimeoutError) as info:
            r.run(["test", "sleep", "3"])
        assert str(info.value) == "error receiving token: timed out"
        # The next command reopens and works.
        assert r.run(["test", "echo", "after"]).stdout == b"after\n"


def test_timeout_aio(server: Any) -> None:
    async def main() -> None:
        with silent_server() as port:
            async with aio.Remctl(timeout=1) as r:
                await r.open("127.0.0.1", port, server.principal)

    with pytest.raises(remctl.RemctlTimeoutError) as info:
        run_async(main())
    assert str(info.value) == "error receiving token: timed out"


def test_timeout_aio_stream(server: Any) -> None:
    async def main() -> None:
        async with aio.Remctl(
            server.host, server.port, server.principal, timeout=1
        ) as r:
            async for _ in r.stream(["test", "sleep", "3"]):
                pass

    with pytest.raises(
        remctl.RemctlTimeoutError, match="^error receiving token: timed out$"
    ):
        run_async(main())


# -- connection failures ------------------------------------------------------


def test_connection_refused() -> None:
    port = free_port()
    expected = f"cannot connect to 127.0.0.1 (port {port}): Connection refused"
    with pytest.raises(remctl.RemctlConnectionError) as info:
        remctl.Remctl("127.0.0.1", port)
    assert str(info.value) == expected
    assert_cause(info.value, remctl.RemctlConnectionError)
    assert type(info.value) is remctl.RemctlConnectionError

    with pytest.raises(remctl.RemctlConnectionError) as simple:
        remctl.remctl("127.0.0.1", port, None, ["test", "echo"])
    assert str(simple.value) == expected
    assert isinstance(simple.value, remctl.RemctlProtocolError)
    assert type(simple.value) is remctl.RemctlProtocolConnectionError
    assert_cause(simple.value, remctl.RemctlConnectionError)


def test_unknown_host() -> None:
    with pytest.raises(remctl.RemctlConnectionError) as info:
        remctl.Remctl("nonexistent.invalid")
    assert str(info.value).startswith("unknown host nonexistent.invalid: ")
    assert_cause(info.value, remctl.RemctlConnectionError)
    with pytest.raises(remctl.RemctlProtocolError) as simple:
        remctl.remctl("nonexistent.invalid", command=["test"])
    assert str(simple.value) == str(info.value)
    assert_cause(simple.value, remctl.RemctlConnectionError)


def test_server_closes_connection(server: Any) -> None:
    with closing_server() as port, pytest.raises(remctl.RemctlConnectionError) as info:
        remctl.Remctl("127.0.0.1", port, server.principal, timeout=10)
    # The close shows as end of file or a reset, while sending or receiving
    # depending on timing (Debian's libremctl1 also reports end of file when
    # sending).
    operation, _, reason = str(info.value).partition(": ")
    assert operation in ("error receiving token", "error sending token")
    assert reason in (
        "unexpected end of file",
        "Connection reset by peer",
        "Broken pipe",
    )


def test_connection_failures_aio() -> None:
    port = free_port()
    expected = f"cannot connect to 127.0.0.1 (port {port}): Connection refused"

    async def full() -> None:
        async with aio.Remctl("127.0.0.1", port):
            pass

    with pytest.raises(remctl.RemctlConnectionError) as info:
        run_async(full())
    assert str(info.value) == expected
    with pytest.raises(remctl.RemctlProtocolConnectionError) as simple:
        run_async(aio.remctl("127.0.0.1", port, None, ["test", "echo"]))
    assert str(simple.value) == expected


# -- authentication -----------------------------------------------------------

GSS_PREFIX = "GSS-API error "


def test_no_tickets_in_the_named_cache(server: Any, tmp_path: Path) -> None:
    missing = f"FILE:{tmp_path}/no-such-ccache"
    with pytest.raises(remctl.RemctlAuthenticationError) as info:
        remctl.Remctl(server.host, server.port, server.principal, ccache=missing)
    assert str(info.value).startswith(GSS_PREFIX)
    assert_cause(info.value, remctl.RemctlAuthenticationError)


def test_no_tickets_in_the_default_cache(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path}/no-such-ccache")
    with pytest.raises(remctl.RemctlAuthenticationError) as info:
        remctl.Remctl(server.host, server.port, server.principal)
    assert str(info.value).startswith(GSS_PREFIX + "initializing context: ")
    with pytest.raises(remctl.RemctlProtocolError) as simple:
        remctl.remctl(server.host, server.port, server.principal, ["test", "echo"])
    assert type(simple.value) is remctl.RemctlProtocolAuthenticationError
    assert str(simple.value) == str(info.value)

    async def both() -> None:
        with pytest.raises(remctl.RemctlAuthenticationError):
            async with aio.Remctl(server.host, server.port, server.principal):
                pass
        with pytest.raises(remctl.RemctlProtocolAuthenticationError):
            await aio.remctl(server.host, server.port, server.principal, ["test"])

    run_async(both())


def test_wrong_principal(server: Any) -> None:
    principal = f"host/wrong.example.org@{server.realm}"
    with pytest.raises(remctl.RemctlAuthenticationError) as info:
        remctl.Remctl(server.host, server.port, principal)
    assert str(info.value).startswith(GSS_PREFIX + "initializing context: ")
    assert_cause(info.value, remctl.RemctlAuthenticationError)


def test_principal_the_server_has_no_key_for(server: Any) -> None:
    # The KDC issues the ticket; remctld cannot decrypt it and says so.
    with pytest.raises(remctl.RemctlAuthenticationError) as info:
        remctl.Remctl(server.host, server.port, server.user_principal)
    assert str(info.value).startswith(GSS_PREFIX + "initializing context: ")
    assert "The ticket isn't for us" in str(info.value)


# -- what is not a cause ------------------------------------------------------


def test_server_error_token_is_no_cause(server: Any) -> None:
    with pytest.raises(remctl.RemctlProtocolError) as info:
        remctl.remctl(server.host, server.port, server.principal, ["test", "nosuch"])
    assert type(info.value) is remctl.RemctlProtocolError
    assert str(info.value) == "Unknown command"


@pytest.mark.ours_only(
    reason="Debian's libremctl1 accepts any text in remctl_set_source_ip and "
    "fails only when opening"
)
def test_bad_setting_is_no_cause() -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        r.set_source_ip("not an address")
    assert type(info.value) is remctl.RemctlError


def test_source_address_of_the_wrong_family_is_no_cause(server: Any) -> None:
    r = remctl.Remctl()
    r.set_source_ip("::1")
    with pytest.raises(remctl.RemctlError) as info:
        r.open("127.0.0.1", server.port, server.principal)
    assert type(info.value) is remctl.RemctlError


# -- old code keeps working ---------------------------------------------------


def test_old_except_clauses_still_catch(server: Any) -> None:
    port = free_port()
    caught = []
    try:
        remctl.remctl("127.0.0.1", port, None, ["test", "echo"])
    except remctl.RemctlProtocolError as exc:
        caught.append(exc)
    try:
        remctl.Remctl("127.0.0.1", port)
    except remctl.RemctlError as exc:
        caught.append(exc)
    try:
        remctl.remctl(server.host, server.port, f"host/x@{server.realm}", ["test"])
    except remctl.RemctlProtocolError as exc:
        caught.append(exc)
    assert [type(exc) for exc in caught] == [
        remctl.RemctlProtocolConnectionError,
        remctl.RemctlConnectionError,
        remctl.RemctlProtocolAuthenticationError,
    ]


def test_public_names_and_pickling() -> None:
    for cls in (*CAUSES, remctl.RemctlProtocolTimeoutError, remctl.RemctlCommandError):
        assert cls.__module__ == "remctl"
        assert getattr(remctl, cls.__name__) is cls
    original = remctl.RemctlProtocolTimeoutError("error receiving token: timed out")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is remctl.RemctlProtocolTimeoutError
    assert str(copy) == "error receiving token: timed out"


# -- the message forms (unit) -------------------------------------------------

# Real messages: from the runs above, and from README's troubleshooting runs
# (expired tickets and clock skew were produced with faketime), and Heimdal's.
MESSAGES = [
    ("error receiving token: timed out", remctl.RemctlTimeoutError),
    ("error sending token: timed out", remctl.RemctlTimeoutError),
    (
        "cannot connect to 10.0.0.1 (port 4373): Connection timed out",
        remctl.RemctlTimeoutError,
    ),
    (
        "cannot connect to ::1 (port 4373): Connection refused",
        remctl.RemctlConnectionError,
    ),
    (
        "cannot connect to example.org (port 4373): No route to host",
        remctl.RemctlConnectionError,
    ),
    (
        "unknown host nonexistent.invalid: Name or service not known",
        remctl.RemctlConnectionError,
    ),
    (
        "unknown host example.org: Temporary failure in name resolution",
        remctl.RemctlConnectionError,
    ),
    ("error receiving token: unexpected end of file", remctl.RemctlConnectionError),
    ("error receiving token: Connection reset by peer", remctl.RemctlConnectionError),
    ("error sending token: Broken pipe", remctl.RemctlConnectionError),
    (
        (
            "connection to h closed and cannot be reopened (it was opened from an "
            "address or a file descriptor)"
        ),
        remctl.RemctlConnectionError,
    ),
    (
        (
            "GSS-API error initializing context: Unspecified GSS failure.  Minor code "
            "may provide more information, Ticket expired"
        ),
        remctl.RemctlAuthenticationError,
    ),
    (
        (
            "GSS-API error initializing context: Unspecified GSS failure.  Minor code "
            "may provide more information, Clock skew too great"
        ),
        remctl.RemctlAuthenticationError,
    ),
    (
        (
            "GSS-API error importing ticket cache: No credentials were supplied, or the "
            "credentials were unavailable or inaccessible, No credentials cache found"
        ),
        remctl.RemctlAuthenticationError,
    ),
    (
        (
            "GSS-API error initializing context:  Miscellaneous failure (see text), "
            "LOOKING_UP_SERVER (host/wrong.example.org@EXAMPLE.ORG)"
        ),
        remctl.RemctlAuthenticationError,
    ),
    (
        "server did not negotiate acceptable GSS-API flags",
        remctl.RemctlAuthenticationError,
    ),
    # Not a cause: the server sent bad data, local trouble, bad input.
    ("error receiving token: token too large", remctl.RemctlError),
    ("error receiving token: cannot allocate memory", remctl.RemctlError),
    ("malformed result token from server", remctl.RemctlError),
    ("unexpected message type 4 from server", remctl.RemctlError),
    ("cannot connect to h: invalid address", remctl.RemctlError),
    (
        "cannot connect to 127.0.0.1 (port 1): Address family not supported by protocol",
        remctl.RemctlError,
    ),
    ("cannot load a GSS-API library (tried: x): install it", remctl.RemctlError),
    ("no error", remctl.RemctlError),
    ("", remctl.RemctlError),
]


@pytest.mark.parametrize(
    ("message", "expected"), MESSAGES, ids=[m[0][:50] or "empty" for m in MESSAGES]
)
def test_failure_class(message: str, expected: type[remctl.RemctlError]) -> None:
    assert failure_class(message) is expected
