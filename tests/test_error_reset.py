"""remctl_error() after a later call succeeds, through remctl._remctl.

As in the standard library, remctl_open*, remctl_command(v), remctl_noop and
remctl_output clear the handle's error when they start, so a failure's
message does not outlive the next successful call: remctl_error() then says
"no error". The settings functions (remctl_set_*) do not clear it.
Debian's python3-pyremctl running on our library is checked the same way in
tests/test_abi_compat.py.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from remctl import _remctl

Handle = _remctl.RemctlHandle
ECHO = [b"test", b"echo", b"again"]

# The failure these tests start from is ours alone.
EMPTY_COMMAND_FAILS = pytest.mark.ours_only(
    reason="our library refuses an empty command ('cannot send empty "
    "command'); Debian's libremctl1 sends it to the server"
)


def fail_empty_command(handle: Handle) -> None:
    assert not _remctl.remctl_commandv(handle, [])
    assert _remctl.remctl_error(handle) == "cannot send empty command"


def read_answer(handle: Handle) -> list[Any]:
    tokens = []
    while True:
        token = _remctl.remctl_output(handle)
        assert token, _remctl.remctl_error(handle)
        tokens.append(token)
        assert _remctl.remctl_error(handle) == "no error"
        if token[0] != "output":
            return tokens


def closed_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


@EMPTY_COMMAND_FAILS
def test_command_after_failed_command(handle: Handle) -> None:
    fail_empty_command(handle)
    assert _remctl.remctl_commandv(handle, ECHO)
    assert _remctl.remctl_error(handle) == "no error"
    assert read_answer(handle)[0][1] == b"again\n"


@EMPTY_COMMAND_FAILS
def test_output_after_failed_command(handle: Handle) -> None:
    """A failed command in the middle of an answer leaves the answer to be
    read; each successful read says "no error"."""
    assert _remctl.remctl_commandv(handle, ECHO)
    fail_empty_command(handle)
    assert read_answer(handle)[0][1] == b"again\n"


@EMPTY_COMMAND_FAILS
def test_done_after_failed_command(handle: Handle) -> None:
    fail_empty_command(handle)
    assert _remctl.remctl_output(handle)[0] == "done"
    assert _remctl.remctl_error(handle) == "no error"


@EMPTY_COMMAND_FAILS
def test_noop_after_failed_command(handle: Handle) -> None:
    fail_empty_command(handle)
    assert _remctl.remctl_noop(handle), _remctl.remctl_error(handle)
    assert _remctl.remctl_error(handle) == "no error"


def test_open_after_failed_open(server: Any) -> None:
    handle = _remctl.remctl_new()
    try:
        dead = closed_port(server.host)
        assert not _remctl.remctl_open(handle, server.host, dead, server.principal)
        assert _remctl.remctl_error(handle).startswith("cannot connect")
        assert _remctl.remctl_open(handle, server.host, server.port, server.principal)
        assert _remctl.remctl_error(handle) == "no error"
    finally:
        _remctl.remctl_close(handle)


def test_command_after_timeout(server: Any, handle: Handle) -> None:
    """A timed-out answer drops the connection; the next command opens a new
    one (ours) or fails once (Debian's), and a later success says so."""
    assert _remctl.remctl_set_timeout(handle, 1)
    assert _remctl.remctl_commandv(handle, [b"test", b"sleep", b"3"])
    assert _remctl.remctl_output(handle) == ()
    assert _remctl.remctl_error(handle) == "error receiving token: timed out"
    if not _remctl.remctl_commandv(handle, ECHO):
        assert _remctl.remctl_open(handle, server.host, server.port, server.principal)
        assert _remctl.remctl_commandv(handle, ECHO)
    assert _remctl.remctl_error(handle) == "no error"
    assert read_answer(handle)[0][1] == b"again\n"


@EMPTY_COMMAND_FAILS
def test_settings_keep_the_error(handle: Handle) -> None:
    """remctl_set_* do not clear the error (as in the standard library)."""
    fail_empty_command(handle)
    assert _remctl.remctl_set_timeout(handle, 10)
    assert _remctl.remctl_error(handle) == "cannot send empty command"


@pytest.mark.test_hooks(
    reason="forces protocol 1 through the test hook REMCTL_TEST_PROTOCOL"
)
def test_command_after_failed_noop_on_protocol1(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMCTL_TEST_PROTOCOL", "1")
    handle = _remctl.remctl_new()
    try:
        assert _remctl.remctl_open(handle, server.host, server.port, server.principal)
        assert not _remctl.remctl_noop(handle)
        assert _remctl.remctl_error(handle) == "NOOP message not supported"
        assert _remctl.remctl_commandv(handle, ECHO)
        assert _remctl.remctl_error(handle) == "no error"
        assert read_answer(handle)[0][1] == b"again\n"
    finally:
        _remctl.remctl_close(handle)
