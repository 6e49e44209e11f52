"""Argument checks of the Python layers, without a server.

Every bad argument must be refused in Python before anything reaches the C
library: the low-level functions that would send something are replaced by
ones that fail the test if called.
"""

from __future__ import annotations

import os
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import remctl
from interpreter import settle_garbage
from remctl import _remctl

HOST = "127.0.0.1"
PORT = 1  # nothing listens there; never reached by these tests anyway

NOT_A_COMMAND = ["foo", b"foo", 42, 1.5, True, None, object()]
BAD_PORTS_TYPE = ["foo", "", "4a", 1.5, b"4373", [4373]]
BAD_PORTS_VALUE = [(-1, "-1"), (65536, "65536"), ("-1", "-1"), ("70000", "70000")]


def _forbidden(name: str) -> Callable[..., Any]:
    def call(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"_remctl.{name} called despite a bad argument")

    return call


@pytest.fixture
def nothing_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every low-level call that talks to a server fail the test."""
    for name in ("remctl", "remctl_open", "remctl_command", "remctl_commandv"):
        monkeypatch.setattr(_remctl, name, _forbidden(name))


class _Spy:
    """Stands in for a low-level function: records calls, returns a value."""

    def __init__(self, result: object) -> None:
        self.result = result
        self.calls: list[tuple[object, ...]] = []

    def __call__(self, *args: object) -> object:
        self.calls.append(args)
        return self.result


class _Tokens:
    """Stands in for remctl_output: hands out a fixed answer, token by token."""

    def __init__(self, *tokens: tuple[object, ...]) -> None:
        self.tokens = list(tokens)

    def __call__(self, handle: object) -> tuple[object, ...]:
        return self.tokens.pop(0)


def _fake_simple(
    monkeypatch: pytest.MonkeyPatch, *tokens: tuple[object, ...]
) -> tuple[_Spy, _Spy]:
    """Make remctl.remctl() talk to a fake low level; return (open, commandv)."""
    opened, sent = _Spy(True), _Spy(True)
    monkeypatch.setattr(_remctl, "remctl_open", opened)
    monkeypatch.setattr(_remctl, "remctl_commandv", sent)
    monkeypatch.setattr(_remctl, "remctl_output", _Tokens(*tokens))
    return opened, sent


STATUS_0 = ("status", None, None, 0, None)


# The simple interface.


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize("command", NOT_A_COMMAND)
def test_simple_command_not_a_sequence(command: Any) -> None:
    with pytest.raises(TypeError, match=r"^command must be a sequence or iterator$"):
        remctl.remctl(HOST, PORT, None, command)


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize("command", [[], (), iter([])])
def test_simple_command_empty(command: Any) -> None:
    with pytest.raises(ValueError, match=r"^command must not be empty$"):
        remctl.remctl(HOST, PORT, None, command)


@pytest.mark.usefixtures("nothing_sent")
def test_simple_command_default_is_empty() -> None:
    with pytest.raises(ValueError, match=r"^command must not be empty$"):
        remctl.remctl(HOST, PORT)


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize("port", BAD_PORTS_TYPE)
def test_simple_port_not_a_number(port: Any) -> None:
    with pytest.raises(TypeError) as info:
        remctl.remctl(HOST, port, None, ["test", "echo"])
    assert str(info.value) == f"port must be a number: {port!r}"


def test_simple_port_message_exact() -> None:
    with pytest.raises(TypeError) as info:
        remctl.remctl(HOST, "foo", None, ["test"])
    assert str(info.value) == "port must be a number: 'foo'"


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize(("port", "shown"), BAD_PORTS_VALUE)
def test_simple_port_out_of_range(port: Any, shown: str) -> None:
    with pytest.raises(ValueError) as info:
        remctl.remctl(HOST, port, None, ["test", "echo"])
    assert str(info.value) == f"invalid port number: {shown}"


# Arguments refused as almost surely mistakes (the README lists them).
REFUSED_ELEMENTS = [
    (None, "command argument 1 is None"),
    (True, "command argument 1 is a bool (True): pass the string the command expects"),
    (
        ["a", "b"],
        (
            "command argument 1 is a collection or iterator (list): pass its"
            " items as separate arguments"
        ),
    ),
    (
        object(),
        "command argument 1 has no text of its own (object object): pass a string",
    ),
]


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize(("element", "message"), REFUSED_ELEMENTS)
def test_simple_element_refused(element: Any, message: str) -> None:
    with pytest.raises(TypeError) as info:
        remctl.remctl(HOST, PORT, None, ["test", element])
    assert info.value.args == (message,)


@pytest.mark.usefixtures("nothing_sent")
def test_simple_element_lone_surrogate() -> None:
    with pytest.raises(ValueError, match=r"argument 2 .*UTF-8"):
        remctl.remctl(HOST, PORT, None, ["test", "echo", "bad \udc80"])


@pytest.mark.usefixtures("nothing_sent")
def test_simple_host_must_be_given() -> None:
    with pytest.raises(TypeError, match="host"):
        remctl.remctl(None, PORT, None, ["test"])  # type: ignore[arg-type]


def test_simple_converts_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    opened, sent = _fake_simple(
        monkeypatch, ("output", b"out", 1, None, None), STATUS_0
    )

    def generate() -> Iterator[str | bytes]:
        yield "test"
        yield "h\u00e9"
        yield b""
        yield b"a\0\xff"

    result = remctl.remctl(HOST, "4373", "host/x@X", generate())
    assert [call[1:] for call in opened.calls] == [(HOST, 4373, "host/x@X")]
    assert [call[1:] for call in sent.calls] == [
        ([b"test", b"h\xc3\xa9", b"", b"a\0\xff"],)
    ]
    assert (result.stdout, result.stderr, result.status) == (b"out", None, 0)


@pytest.mark.parametrize(
    ("port", "number"), [(None, 0), (0, 0), (4373, 4373), ("65535", 65535)]
)
def test_simple_port_accepted(
    monkeypatch: pytest.MonkeyPatch, port: Any, number: int
) -> None:
    opened, _ = _fake_simple(monkeypatch, STATUS_0)
    remctl.remctl(HOST, port, command=[b"test"])
    assert opened.calls[0][2] == number


def test_simple_error_raises_protocol_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_simple(monkeypatch, ("error", b"Unknown command", None, None, 5))
    with pytest.raises(remctl.RemctlProtocolError) as info:
        remctl.remctl(HOST, command=["x"])
    assert info.value.args == ("Unknown command",)
    assert isinstance(info.value.args[0], str)


def test_exception_classes() -> None:
    assert issubclass(remctl.RemctlError, Exception)
    assert issubclass(remctl.RemctlProtocolError, remctl.RemctlError)
    assert issubclass(remctl.RemctlNotOpenedError, remctl.RemctlError)


def test_public_names() -> None:
    for name in remctl.__all__:
        assert hasattr(remctl, name), name
    assert isinstance(remctl.__version__, str)
    assert Path(remctl.__file__).with_name("py.typed").is_file()


# The full interface.


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize("port", BAD_PORTS_TYPE)
def test_open_port_not_a_number(port: Any) -> None:
    with pytest.raises(TypeError) as info:
        remctl.Remctl().open(HOST, port)
    assert str(info.value) == f"port must be a number: {port!r}"


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize(("port", "shown"), BAD_PORTS_VALUE)
def test_open_port_out_of_range(port: Any, shown: str) -> None:
    with pytest.raises(ValueError) as info:
        remctl.Remctl().open(HOST, port)
    assert str(info.value) == f"invalid port number: {shown}"


@pytest.mark.usefixtures("nothing_sent")
def test_constructor_checks_port() -> None:
    with pytest.raises(ValueError, match=r"^invalid port number: -1$"):
        remctl.Remctl(HOST, -1)


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize("command", NOT_A_COMMAND)
def test_command_not_a_sequence(command: Any) -> None:
    with pytest.raises(TypeError, match=r"^command must be a sequence or iterator$"):
        remctl.Remctl().command(command)


@pytest.mark.usefixtures("nothing_sent")
@pytest.mark.parametrize("command", [[], (), iter(())])
def test_command_empty(command: Any) -> None:
    with pytest.raises(ValueError, match=r"^command must not be empty$"):
        remctl.Remctl().command(command)


@pytest.mark.usefixtures("nothing_sent")
def test_command_element_checks() -> None:
    r = remctl.Remctl()
    with pytest.raises(TypeError, match=r"^command argument 0 is None$"):
        r.command([None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^command argument 1 is a bool \(False\)"):
        r.command(["test", False])
    with pytest.raises(ValueError, match=r"argument 1 .*UTF-8"):
        r.command(["test", "\ud800"])


def test_command_not_opened() -> None:
    r = remctl.Remctl()
    with pytest.raises(
        remctl.RemctlNotOpenedError, match=r"^no currently open connection$"
    ):
        r.command(["test", "echo"])
    with pytest.raises(
        remctl.RemctlNotOpenedError, match=r"^no currently open connection$"
    ):
        r.output()
    with pytest.raises(
        remctl.RemctlNotOpenedError, match=r"^no currently open connection$"
    ):
        r.noop()


def test_command_converts_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy(True)
    monkeypatch.setattr(_remctl, "remctl_open", _Spy(True))
    monkeypatch.setattr(_remctl, "remctl_commandv", spy)
    r = remctl.Remctl(HOST, "4373")
    r.command(["test", "\u00fc", b"", b"\0\x80", bytearray(b"ba")])
    assert spy.calls[0][1] == [b"test", b"\xc3\xbc", b"", b"\0\x80", b"ba"]


def test_error_messages_before_and_after_close() -> None:
    r = remctl.Remctl()
    assert r.error() == "no error"
    r.close()
    assert r.error() == "no currently open connection"
    r.close()  # closing twice is harmless
    assert r.error() == "no currently open connection"
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.output()


def test_failed_open_keeps_message() -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        r.open(HOST, PORT)
    assert str(info.value)
    assert r.error() == str(info.value)
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.command(["test"])


@pytest.mark.parametrize("timeout", [-1, -100])
def test_set_timeout_negative(monkeypatch: pytest.MonkeyPatch, timeout: int) -> None:
    monkeypatch.setattr(_remctl, "remctl_set_timeout", _forbidden("remctl_set_timeout"))
    with pytest.raises(ValueError, match=rf"^invalid timeout {timeout}$"):
        remctl.Remctl().set_timeout(timeout)


@pytest.mark.parametrize("timeout", [1.5, "5", None, True, 2**70 * 1.0])
def test_set_timeout_not_an_integer(
    monkeypatch: pytest.MonkeyPatch, timeout: Any
) -> None:
    monkeypatch.setattr(_remctl, "remctl_set_timeout", _forbidden("remctl_set_timeout"))
    with pytest.raises(TypeError, match="timeout must be an integer"):
        remctl.Remctl().set_timeout(timeout)


def test_set_timeout_too_large() -> None:
    with pytest.raises(ValueError, match="invalid timeout"):
        remctl.Remctl().set_timeout(2**64)


def test_settings_type_checks() -> None:
    r = remctl.Remctl()
    with pytest.raises(TypeError, match="ccache"):
        r.set_ccache(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source"):
        r.set_source_ip(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NUL"):
        r.set_source_ip("127.0.0.1\0")


def test_settings_before_open() -> None:
    r = remctl.Remctl()
    r.set_timeout(0)
    r.set_timeout(30)
    r.set_source_ip("127.0.0.1")
    r.set_ccache("FILE:/nonexistent/ccache")
    assert r.error() == "no error"


def test_reopen_reapplies_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    r = remctl.Remctl()
    r.set_timeout(7)
    r.set_source_ip("127.0.0.1")
    r.set_ccache("FILE:/tmp/cache")
    r.close()
    spies = {}
    for name in ("remctl_set_timeout", "remctl_set_source_ip", "remctl_set_ccache"):
        spies[name] = _Spy(True)
        monkeypatch.setattr(_remctl, name, spies[name])
    monkeypatch.setattr(_remctl, "remctl_open", _Spy(True))
    r.open(HOST, PORT)
    assert spies["remctl_set_timeout"].calls[0][1] == 7
    assert spies["remctl_set_source_ip"].calls[0][1] == "127.0.0.1"
    assert spies["remctl_set_ccache"].calls[0][1] == "FILE:/tmp/cache"


def test_open_after_close_uses_new_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError, match=r"^cannot connect to 127\.0\.0\.1"):
        r.open(HOST, PORT)
    r.close()
    with pytest.raises(remctl.RemctlError, match=r"^cannot connect to 127\.0\.0\.1"):
        r.open(HOST, PORT)
    assert r.error().startswith("cannot connect to 127.0.0.1")


# The low-level module.


def test_low_level_closed_handle() -> None:
    handle = _remctl.remctl_new()
    assert _remctl.remctl_error(handle) == "no error"
    _remctl.remctl_close(handle)
    assert handle.closed
    _remctl.remctl_close(handle)  # no double free
    for call in (
        lambda: _remctl.remctl_error(handle),
        lambda: _remctl.remctl_output(handle),
        lambda: _remctl.remctl_noop(handle),
        lambda: _remctl.remctl_commandv(handle, [b"test"]),
        lambda: _remctl.remctl_open(handle, HOST, PORT, None),
        lambda: _remctl.remctl_set_timeout(handle, 1),
    ):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_low_level_handle_freed_by_garbage_collection() -> None:
    handle = _remctl.remctl_new()
    finalizer = handle._finalizer
    reference = weakref.ref(handle)
    del handle
    settle_garbage()
    assert reference() is None
    assert not finalizer.alive


def test_low_level_failures_return_codes() -> None:
    handle = _remctl.remctl_new()
    assert _remctl.remctl_output(handle) == ()
    assert _remctl.remctl_commandv(handle, [b"test"]) is False
    assert _remctl.remctl_noop(handle) is False
    assert _remctl.remctl_open(handle, HOST, PORT, None) is False
    assert _remctl.remctl_error(handle) == (
        f"cannot connect to {HOST} (port {PORT}): Connection refused"
    )
    assert _remctl.remctl_set_timeout(handle, -1) is False
    assert _remctl.remctl_set_timeout(handle, 5) is True
    result = _remctl.remctl(HOST, PORT, None, [b"test"])
    assert result == (
        f"cannot connect to {HOST} (port {PORT}): Connection refused",
        None,
        None,
        None,
    )
    _remctl.remctl_close(handle)


def test_low_level_port_range() -> None:
    handle = _remctl.remctl_new()
    with pytest.raises(ValueError, match="invalid port number: 65536"):
        _remctl.remctl_open(handle, HOST, 65536, None)
    with pytest.raises(ValueError, match="invalid port number: -1"):
        _remctl.remctl(HOST, -1, None, [b"test"])


def test_library_load_failure_message() -> None:
    missing = "/nonexistent/libremctl.so.1"
    package_root = str(Path(remctl.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, REMCTL_LIBRARY=missing, PYTHONPATH=path)
    # The client, not the package, loads the library: the first use of
    # remctl.Remctl (or any client name) raises the ImportError.
    code = "import remctl\nprint('imported')\nremctl.Remctl"
    process = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode != 0
    assert process.stdout == "imported\n"
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ")
    assert missing in last
    assert "No such file or directory" in last
    assert "REMCTL_LIBRARY" in last
