"""remctl_noop while a command's answer is still unread, through _remctl.

Our library treats a NOOP there as it treats a new command: the rest of the
answer is discarded with its connection, and the NOOP goes over a new
connection to the same server, so it succeeds and remctl_output then says
"done". A connection opened from an address or a descriptor cannot be
opened again, so there the NOOP fails with the message that says so.
(Debian's libremctl1 sends the NOOP on the same connection, fails with
"unexpected message type 3 from server" and then mixes the NOOP's reply into
the next command's answer.)
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from remctl import _remctl

Handle = _remctl.RemctlHandle

pytestmark = pytest.mark.ours_only(
    reason="our library opens a new connection for a NOOP sent before the "
    "answer was read; Debian's libremctl1 fails and mixes up the answers"
)


def run(handle: Handle, *command: bytes) -> list[Any]:
    assert _remctl.remctl_commandv(handle, list(command)), _remctl.remctl_error(handle)
    tokens = []
    while (token := _remctl.remctl_output(handle)) and token[0] == "output":
        tokens.append(token)
    tokens.append(token)
    return tokens


@pytest.mark.parametrize("read_first", [0, 1], ids=["nothing-read", "one-token-read"])
def test_noop_discards_the_unread_answer(handle: Handle, read_first: int) -> None:
    # Output of 1 MiB: many messages, so one token read leaves most unread.
    assert _remctl.remctl_commandv(handle, [b"test", b"stream", b"1048576"])
    for _ in range(read_first):
        assert _remctl.remctl_output(handle)[0] == "output"
    assert _remctl.remctl_noop(handle), _remctl.remctl_error(handle)
    assert _remctl.remctl_error(handle) == "no error"
    assert _remctl.remctl_output(handle) == ("done", None, None, None, None)
    assert run(handle, b"test", b"echo", b"after") == [
        ("output", b"after\n", 1, None, None),
        ("status", None, None, 0, None),
    ]


def test_noop_after_the_answer_keeps_the_connection(handle: Handle) -> None:
    """Once the answer is read, a NOOP uses the same connection."""
    run(handle, b"test", b"echo", b"first")
    assert _remctl.remctl_noop(handle), _remctl.remctl_error(handle)
    assert run(handle, b"test", b"echo", b"second")[0][1] == b"second\n"


def test_noop_on_a_descriptor_connection_fails(server: Any, handle: Handle) -> None:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.setblocking(True)
    assert _remctl.remctl_open_fd(handle, server.host, sock.detach(), server.principal)
    assert _remctl.remctl_commandv(handle, [b"test", b"echo", b"unread"])
    assert not _remctl.remctl_noop(handle)
    assert _remctl.remctl_error(handle) == (
        f"connection to {server.host} closed and cannot be reopened "
        "(it was opened from an address or a file descriptor)"
    )
