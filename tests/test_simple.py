"""The simple interface, remctl.remctl(), against the test remctld."""

from __future__ import annotations

from typing import Any

import pytest
import remctl


def test_stdout(server: Any) -> None:
    result = remctl.remctl(
        server.host, server.port, server.principal, ["test", "echo", "hello", "world"]
    )
    assert isinstance(result, remctl.RemctlSimpleResult)
    assert result.stdout == b"hello world\n"
    assert result.stderr is None
    assert result.status == 0


def test_stderr(server: Any) -> None:
    result = remctl.remctl(
        server.host, server.port, server.principal, ["test", "stderr", "oops"]
    )
    assert result.stdout is None
    assert result.stderr == b"oops\n"
    assert result.status == 0


def test_status(server: Any) -> None:
    result = remctl.remctl(
        server.host, server.port, server.principal, ["test", "status", "7"]
    )
    assert (result.stdout, result.stderr, result.status) == (None, None, 7)


def test_mixed(server: Any) -> None:
    result = remctl.remctl(
        server.host, server.port, server.principal, ["test", "mixed"]
    )
    assert (result.stdout, result.stderr, result.status) == (b"out\n", b"err\n", 3)


def test_arguments_by_name_port_as_string(server: Any) -> None:
    command: list[str | bytes] = [b"test", b"echo", "h\u00e9"]
    result = remctl.remctl(
        host=server.host,
        port=str(server.port),
        principal=server.principal,
        command=iter(command),
    )
    assert result.stdout == "h\u00e9\n".encode()


def test_unknown_command(server: Any) -> None:
    with pytest.raises(remctl.RemctlProtocolError) as info:
        remctl.remctl(server.host, server.port, server.principal, ["test", "bogus"])
    assert info.value.args == ("Unknown command",)


def test_access_denied(server: Any) -> None:
    with pytest.raises(remctl.RemctlProtocolError) as info:
        remctl.remctl(server.host, server.port, server.principal, ["test", "denied"])
    assert info.value.args == ("Access denied",)
