"""The historical remctl Python API, as its README documents it.

Code written for the old module (Debian's python3-pyremctl) must keep
working: the simple call with its arguments by position or by name,
RemctlSimpleResult, the output() tuples and their "done" tokens, error(),
the exception classes and argument messages, and ``import _remctl`` for
code that used the low-level module. Where the old module does not do what
its README says, this package follows the README (tests/test_abi_compat.py
runs the same calls on the old module and checks that these are the only
differences):

- RemctlProtocolError carries the message as str (the old one: bytes);
- output() gives None for members a token type does not have (old: 0);
- open() after close() opens again (old: ValueError from a freed capsule).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import remctl
from remctl import _remctl as low

DONE = ("done", None, None, None, None)
NOT_OPEN = "no currently open connection"


class Spy:
    """Stands in for a low-level function and records its arguments."""

    def __init__(self, result: object) -> None:
        self.result = result
        self.calls: list[tuple[object, ...]] = []

    def __call__(self, *args: object) -> object:
        self.calls.append(args)
        return self.result


@pytest.fixture
def connection(server: Any) -> Iterator[remctl.Remctl]:
    r = remctl.Remctl(server.host, server.port, server.principal)
    yield r
    r.close()


# The simple interface: remctl.remctl(host, port, principal, command).


def test_simple_positional(server: Any) -> None:
    result = remctl.remctl(
        server.host, server.port, server.principal, ["test", "echo", "p"]
    )
    assert isinstance(result, remctl.RemctlSimpleResult)
    assert (result.stdout, result.stderr, result.status) == (b"p\n", None, 0)


def test_simple_keywords_port_as_digits(server: Any) -> None:
    result = remctl.remctl(
        command=iter([b"test", "echo", "h\u00e9", b"\xff"]),
        principal=server.principal,
        port=str(server.port),
        host=server.host,
    )
    assert result.stdout == "h\u00e9 ".encode() + b"\xff\n"


@pytest.mark.parametrize(("port", "passed"), [(None, 0), ("4373", 4373), (0, 0)])
def test_simple_port_forms(
    monkeypatch: pytest.MonkeyPatch, port: Any, passed: int
) -> None:
    """port None (the default: 4373, then 4444) reaches the C call as 0."""
    spy = Spy(True)
    monkeypatch.setattr(low, "remctl_open", spy)
    monkeypatch.setattr(low, "remctl_commandv", Spy(True))
    monkeypatch.setattr(low, "remctl_output", Spy(("status", None, None, 0, None)))
    remctl.remctl("host.example.org", port, None, ["test"])
    remctl.remctl("host.example.org", port=port, command=["test"])
    assert [call[2] for call in spy.calls] == [passed, passed]
    assert [call[3] for call in spy.calls] == [None, None]


def test_simple_result_fields_none_when_empty(server: Any) -> None:
    def simple(*command: str) -> remctl.RemctlSimpleResult:
        return remctl.remctl(server.host, server.port, server.principal, command)

    nothing = simple("test", "nothing")
    assert (nothing.stdout, nothing.stderr, nothing.status) == (None, None, 0)
    stderr = simple("test", "stderr", "e")
    assert (stderr.stdout, stderr.stderr, stderr.status) == (None, b"e\n", 0)
    mixed = simple("test", "mixed")
    assert (mixed.stdout, mixed.stderr, mixed.status) == (b"out\n", b"err\n", 3)
    status = simple("test", "status", "7")
    assert (status.stdout, status.stderr, status.status) == (None, None, 7)


@pytest.mark.parametrize(
    ("subcommand", "message"),
    [("bogus", "Unknown command"), ("denied", "Access denied")],
)
def test_simple_error_token_raises_with_str(
    server: Any, subcommand: str, message: str
) -> None:
    with pytest.raises(remctl.RemctlProtocolError) as info:
        remctl.remctl(server.host, server.port, server.principal, ["test", subcommand])
    assert info.value.args == (message,)
    assert isinstance(info.value.args[0], str)
    assert str(info.value) == message


def test_simple_connection_failure_raises_protocol_error(server: Any) -> None:
    with pytest.raises(remctl.RemctlProtocolError) as info:
        remctl.remctl(server.host, 1, server.principal, ["test", "echo"])
    assert info.value.args == (
        f"cannot connect to {server.host} (port 1): Connection refused",
    )


# The full interface: remctl.Remctl.


def test_output_tuples_and_done_until_next_command(
    connection: remctl.Remctl,
) -> None:
    connection.command([b"test", "echo", "one"])
    assert connection.output() == ("output", b"one\n", 1, None, None)
    assert connection.output() == ("status", None, None, 0, None)
    for _ in range(3):
        assert connection.output() == DONE
    connection.command(["test", "stderr", "two"])
    assert connection.output() == ("output", b"two\n", 2, None, None)
    assert connection.output() == ("status", None, None, 0, None)
    assert connection.output() == DONE
    connection.command(["test", "bogus"])
    assert connection.output() == ("error", b"Unknown command", None, None, 5)
    assert connection.output() == DONE
    assert connection.output() == DONE


def test_output_tuple_types(connection: remctl.Remctl) -> None:
    connection.command(["test", "mixed"])
    tokens = [connection.output() for _ in range(4)]
    for token in tokens:
        assert isinstance(token, tuple) and len(token) == 5
        assert isinstance(token[0], str)
    outputs = sorted(tuple(t) for t in tokens[:2])
    assert outputs == [
        ("output", b"err\n", 2, None, None),
        ("output", b"out\n", 1, None, None),
    ]
    assert tokens[2:] == [("status", None, None, 3, None), DONE]


def test_constructor_opens_only_with_host(server: Any) -> None:
    unopened = remctl.Remctl()
    with pytest.raises(remctl.RemctlNotOpenedError):
        unopened.command(["test", "echo"])
    unopened.close()
    opened = remctl.Remctl(server.host, server.port, server.principal)
    opened.command(["test", "nothing"])
    assert opened.output() == ("status", None, None, 0, None)
    opened.close()


def test_error_messages(server: Any, connection: remctl.Remctl) -> None:
    assert remctl.Remctl().error() == "no error"
    connection.command(["test", "nothing"])
    connection.output()
    assert connection.error() == "no error"
    connection.close()
    assert connection.error() == NOT_OPEN
    assert connection.error() == NOT_OPEN
    failing = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        failing.open(server.host, 1, server.principal)
    assert failing.error() == str(info.value)
    failing.close()
    assert failing.error() == NOT_OPEN


@pytest.mark.parametrize("when", ["before open", "after close"])
def test_not_opened(server: Any, when: str) -> None:
    r = remctl.Remctl()
    if when == "after close":
        r.open(server.host, server.port, server.principal)
        r.close()
    calls = {
        "command": lambda: r.command(["test", "echo"]),
        "output": r.output,
        "noop": r.noop,
    }
    for name, call in calls.items():
        with pytest.raises(remctl.RemctlNotOpenedError) as info:
            call()
        assert info.value.args == (NOT_OPEN,), name
        assert isinstance(info.value, remctl.RemctlError)


def test_full_interface_failure_is_remctl_error(server: Any) -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        r.open(server.host, 1, server.principal)
    assert not isinstance(info.value, remctl.RemctlProtocolError)
    assert str(info.value) == (
        f"cannot connect to {server.host} (port 1): Connection refused"
    )


def test_open_after_close(server: Any, connection: remctl.Remctl) -> None:
    connection.set_timeout(5)
    connection.close()
    connection.open(server.host, server.port, server.principal)
    connection.command(["test", "echo", "again"])
    assert connection.output() == ("output", b"again\n", 1, None, None)
    connection.close()
    connection.close()  # closing twice is harmless


def test_open_port_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(True)
    monkeypatch.setattr(low, "remctl_open", spy)
    r = remctl.Remctl()
    r.open("host.example.org")
    r.open("host.example.org", None, None)
    r.open("host.example.org", "4444", "host/h@R")
    assert [call[2:] for call in spy.calls] == [
        (0, None),
        (0, None),
        (4444, "host/h@R"),
    ]


# Exception classes and argument messages (README, API reference).


def test_exception_classes() -> None:
    assert issubclass(remctl.RemctlError, Exception)
    assert issubclass(remctl.RemctlProtocolError, remctl.RemctlError)
    assert issubclass(remctl.RemctlNotOpenedError, remctl.RemctlError)
    assert not issubclass(remctl.RemctlNotOpenedError, remctl.RemctlProtocolError)


BAD_ARGUMENTS = [
    ({"command": "test echo"}, TypeError, "command must be a sequence or iterator"),
    ({"command": b"test"}, TypeError, "command must be a sequence or iterator"),
    ({"command": 42}, TypeError, "command must be a sequence or iterator"),
    ({"command": []}, ValueError, "command must not be empty"),
    ({"command": iter(())}, ValueError, "command must not be empty"),
    ({"port": "foo"}, TypeError, "port must be a number: 'foo'"),
    ({"port": -1}, ValueError, "invalid port number: -1"),
    ({"port": 65536}, ValueError, "invalid port number: 65536"),
]


@pytest.mark.parametrize(("change", "kind", "message"), BAD_ARGUMENTS)
def test_simple_argument_errors(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], kind: type, message: str
) -> None:
    monkeypatch.setattr(low, "remctl", Spy(AssertionError("sent")))
    arguments: dict[str, Any] = {"host": "host.example.org", "command": ["test"]}
    arguments.update(change)
    with pytest.raises(kind) as info:
        remctl.remctl(**arguments)
    assert info.value.args == (message,)


@pytest.mark.parametrize(("change", "kind", "message"), BAD_ARGUMENTS)
def test_full_argument_errors(
    server: Any, change: dict[str, Any], kind: type, message: str
) -> None:
    r = remctl.Remctl(server.host, server.port, server.principal)
    with pytest.raises(kind) as info:
        if "port" in change:
            r.open(server.host, change["port"], server.principal)
        else:
            r.command(change["command"])
    assert info.value.args == (message,)
    r.close()


# The low-level module under its old top-level name.


def test_import_low_level_module_at_top_level() -> None:
    module = importlib.import_module("_remctl")
    assert module.__name__ == "_remctl"
    assert sys.modules["_remctl"] is module
    # This package's module, not some other _remctl on the path.
    for name in (
        "remctl",
        "remctl_new",
        "remctl_open",
        "remctl_commandv",
        "remctl_output",
        "remctl_error",
        "remctl_noop",
        "remctl_set_ccache",
        "remctl_set_source_ip",
        "remctl_set_timeout",
        "remctl_close",
    ):
        assert getattr(module, name) is getattr(low, name), name
    assert isinstance(module.VERSION, str)


def test_low_level_module_as_old_code_used_it(server: Any) -> None:
    import _remctl

    host, port, principal = server.host, server.port, server.principal
    assert _remctl.remctl(host, port, principal, [b"test", b"echo", b"l"]) == (
        None,
        b"l\n",
        None,
        0,
    )
    error, stdout, stderr, _ = _remctl.remctl(
        host, port, principal, [b"test", b"bogus"]
    )
    assert (error, stdout, stderr) == ("Unknown command", None, None)
    r = _remctl.remctl_new()
    assert _remctl.remctl_error(r) == "no error"
    assert _remctl.remctl_open(r, host, port, principal)
    assert _remctl.remctl_set_timeout(r, 10)
    assert _remctl.remctl_commandv(r, [b"test", b"echo", b"v"])
    assert _remctl.remctl_output(r) == ("output", b"v\n", 1, None, None)
    assert _remctl.remctl_output(r) == ("status", None, None, 0, None)
    assert _remctl.remctl_output(r) == DONE
    assert _remctl.remctl_noop(r)
    assert not _remctl.remctl_open(r, host, 1, principal)
    assert _remctl.remctl_error(r).endswith("Connection refused")
    _remctl.remctl_close(r)
    _remctl.remctl_close(r)  # the old module double-freed here


def test_version_attribute() -> None:
    assert remctl.VERSION == remctl.__version__
