"""Protocol 1 (docs/protocol.md, section 6) end to end, next to protocol 2,
on stock remctld.

How protocol 1 is forced: a test build of our C library (CMake option
REMCTL_TEST_HOOKS, which scripts/dev-env.sh turns on) reads the environment
variable ``REMCTL_TEST_PROTOCOL`` when a connection is opened
(``prepare_open`` in vendor/libremctl/src/api.c); ``1`` makes it open with
the protocol 1 exchange (no PROTOCOL flag), so stock remctld, which still
serves protocol 1 clients, answers in protocol 1. It is a test hook, not
API, and a release build has none. The ``protocol`` fixture below sets it
(``1``) or removes it (``2``: the normal negotiation, which reaches protocol
3 with remctld 3.18) for the duration of one test; every test here runs
under both. The protocol 1 runs are marked ``test_hooks`` (see
tests/conftest.py); the protocol 2 runs also pass on a release build and on
Debian's libremctl1.

What a protocol 1 server does differently, and what each test checks:

- stdout and stderr come back together as one stdout stream, then the
  exit status (a 4-octet signed integer);
- an unknown or forbidden command is not an ERROR token but output
  ("Unknown command\\n", "Access denied\\n") with status -1, so the simple
  interface returns it instead of raising RemctlProtocolError;
- the server closes the connection after each command: the next command on
  the same object reconnects transparently;
- NOOP does not exist: noop() fails with "NOOP message not supported" and
  the object stays usable;
- a whole command is one token of at most 64 KiB (argc, then length and
  bytes of each argument); a longer one fails before anything is sent with
  "command too long for protocol 1 (at most 65536 octets)".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import remctl
from collect import run
from expected import hashargs_output

DONE = ("done", None, None, None, None)
PROTOCOL1_LIMIT = 65536  # octets of argc + (length, bytes) per argument

protocols = [
    pytest.param(
        1,
        id="protocol1",
        marks=pytest.mark.test_hooks(
            reason="forces protocol 1 through the test hook REMCTL_TEST_PROTOCOL"
        ),
    ),
    pytest.param(2, id="protocol2"),
]


@pytest.fixture(params=protocols)
def protocol(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, server: Any
) -> int:
    """1 or 2: the protocol this test's connections are opened with."""
    if request.param == 1:
        monkeypatch.setenv("REMCTL_TEST_PROTOCOL", "1")
    else:
        monkeypatch.delenv("REMCTL_TEST_PROTOCOL", raising=False)
    return int(request.param)


@pytest.fixture
def connection(server: Any, protocol: int) -> Iterator[remctl.Remctl]:
    r = remctl.Remctl(server.host, server.port, server.principal)
    yield r
    r.close()


def _simple(server: Any, *command: str | bytes) -> remctl.RemctlSimpleResult:
    return remctl.remctl(server.host, server.port, server.principal, list(command))


def _sized_argument(total: int) -> bytes:
    """The argument that makes ``test hashargs ARG`` exactly total octets.

    No NUL: remctld refuses NUL bytes outside the argument it feeds to
    standard input, and the simple interface passes C strings.
    """
    overhead = 4 + (4 + len(b"test")) + (4 + len(b"hashargs")) + 4
    return bytes(1 + index % 251 for index in range(total - overhead))


# The simple interface.


def test_simple_stdout(server: Any, protocol: int) -> None:
    result = _simple(server, "test", "echo", "hello", "world")
    assert (result.stdout, result.stderr, result.status) == (b"hello world\n", None, 0)


def test_simple_nothing(server: Any, protocol: int) -> None:
    result = _simple(server, "test", "nothing")
    assert (result.stdout, result.stderr, result.status) == (None, None, 0)


def test_simple_status(server: Any, protocol: int) -> None:
    result = _simple(server, "test", "status", "7")
    assert (result.stdout, result.stderr, result.status) == (None, None, 7)


def test_simple_stderr(server: Any, protocol: int) -> None:
    result = _simple(server, "test", "mixed")
    assert result.status == 3
    if protocol == 1:
        # One stream: remctld sends stderr as part of the output.
        assert result.stderr is None
        assert result.stdout is not None
        assert sorted(result.stdout.splitlines()) == [b"err", b"out"]
    else:
        assert (result.stdout, result.stderr) == (b"out\n", b"err\n")


@pytest.mark.parametrize(
    ("subcommand", "message", "code"),
    [("bogus", "Unknown command", 5), ("denied", "Access denied", 6)],
)
def test_simple_refused_command(
    server: Any, protocol: int, subcommand: str, message: str, code: int
) -> None:
    if protocol == 1:
        result = _simple(server, "test", subcommand)
        assert (result.stdout, result.stderr, result.status) == (
            f"{message}\n".encode(),
            None,
            -1,
        )
    else:
        with pytest.raises(remctl.RemctlProtocolError) as info:
            _simple(server, "test", subcommand)
        assert info.value.args == (message,)


# The full interface.


def test_output_tokens_and_done(connection: remctl.Remctl, protocol: int) -> None:
    connection.command(["test", "echo", "tokens"])
    assert connection.output() == ("output", b"tokens\n", 1, None, None)
    assert connection.output() == ("status", None, None, 0, None)
    assert connection.output() == DONE
    assert connection.output() == DONE


def test_no_output_token_when_empty(connection: remctl.Remctl, protocol: int) -> None:
    connection.command(["test", "status", "9"])
    assert connection.output() == ("status", None, None, 9, None)
    assert connection.output() == DONE


def test_unknown_command_tokens(connection: remctl.Remctl, protocol: int) -> None:
    connection.command(["test", "bogus"])
    if protocol == 1:
        assert connection.output() == ("output", b"Unknown command\n", 1, None, None)
        assert connection.output() == ("status", None, None, -1, None)
    else:
        assert connection.output() == ("error", b"Unknown command", None, None, 5)
    assert connection.output() == DONE
    assert run(connection, ["test", "echo", "after"]).stdout == b"after\n"


def test_next_commands_on_same_object(connection: remctl.Remctl, protocol: int) -> None:
    """On protocol 1 the server closes after each command: each of these
    needs a new connection, made transparently by the same object."""
    for index in range(4):
        result = run(connection, ["test", "echo", str(index)])
        assert (result.stdout, result.status) == (f"{index}\n".encode(), 0)
    assert connection.error() == "no error"


@pytest.mark.ours_only(
    reason="on protocol 2, reopening a kept-alive connection the server "
    "closed is ours (Debian's libremctl1 fails with 'unexpected end of file')"
)
def test_next_command_after_server_restart(
    server: Any, connection: remctl.Remctl, protocol: int
) -> None:
    assert run(connection, ["test", "echo", "before"]).stdout == b"before\n"
    server.restart()
    assert run(connection, ["test", "echo", "after"]).stdout == b"after\n"


def test_noop(connection: remctl.Remctl, protocol: int) -> None:
    if protocol == 1:
        with pytest.raises(remctl.RemctlError) as info:
            connection.noop()
        assert str(info.value) == "NOOP message not supported"
        assert connection.error() == "NOOP message not supported"
    else:
        connection.noop()
    assert run(connection, ["test", "echo", "alive"]).stdout == b"alive\n"


def test_binary_and_empty_arguments(connection: remctl.Remctl, protocol: int) -> None:
    result = run(connection, ["test", "echo", "", "x", b"\xff\xfe", "h\u00e9"])
    assert result.stdout == b" x \xff\xfe h\xc3\xa9\n"


def test_long_command_within_limit(connection: remctl.Remctl, protocol: int) -> None:
    """A command of exactly 64 KiB: one protocol 1 token, accepted."""
    argument = _sized_argument(PROTOCOL1_LIMIT)
    result = run(connection, [b"test", b"hashargs", argument])
    assert (result.stdout, result.status) == (hashargs_output([argument]), 0)


def test_many_arguments_within_limit(connection: remctl.Remctl, protocol: int) -> None:
    arguments = [f"argument {index}".encode() for index in range(2000)]
    assert sum(4 + len(a) for a in arguments) < PROTOCOL1_LIMIT - 64
    result = run(connection, [b"test", b"hashargs", *arguments])
    assert (result.stdout, result.status) == (hashargs_output(arguments), 0)


def test_command_over_limit(connection: remctl.Remctl, protocol: int) -> None:
    """One octet more: protocol 1 cannot carry it; protocol 2 splits it."""
    argument = _sized_argument(PROTOCOL1_LIMIT + 1)
    if protocol == 1:
        with pytest.raises(remctl.RemctlError) as info:
            connection.command([b"test", b"hashargs", argument])
        assert str(info.value) == (
            "command too long for protocol 1 (at most 65536 octets)"
        )
    else:
        result = run(connection, [b"test", b"hashargs", argument])
        assert result.stdout == hashargs_output([argument])
    # Nothing was sent: the object carries on.
    assert run(connection, ["test", "echo", "next"]).stdout == b"next\n"


def test_simple_command_over_limit(server: Any, protocol: int) -> None:
    argument = _sized_argument(PROTOCOL1_LIMIT + 1000)
    if protocol == 1:
        with pytest.raises(remctl.RemctlProtocolError) as info:
            _simple(server, "test", "hashargs", argument)
        assert info.value.args == (
            "command too long for protocol 1 (at most 65536 octets)",
        )
    else:
        result = _simple(server, "test", "hashargs", argument)
        assert result.stdout == hashargs_output([argument])


def test_command_returns_before_answer(
    connection: remctl.Remctl, protocol: int
) -> None:
    """command() only sends (and on protocol 1 checks the server's MIC, sent
    on receipt); output() waits for the command to finish."""
    started = time.monotonic()
    connection.command(["test", "sleep", "1"])
    assert time.monotonic() - started < 0.8
    assert connection.output() == ("output", b"slept\n", 1, None, None)
    assert time.monotonic() - started >= 0.9
    assert connection.output() == ("status", None, None, 0, None)


def test_timeout(server: Any, protocol: int) -> None:
    r = remctl.Remctl()
    r.set_timeout(1)
    r.open(server.host, server.port, server.principal)
    r.command(["test", "sleep", "3"])
    with pytest.raises(remctl.RemctlError) as info:
        r.output()
    assert str(info.value) == "error receiving token: timed out"
    # The object opens a new connection for the next command.
    r.set_timeout(10)
    r.close()
    r.open(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "later"]).stdout == b"later\n"
    r.close()


def test_close_then_open(server: Any, connection: remctl.Remctl, protocol: int) -> None:
    run(connection, ["test", "nothing"])
    connection.close()
    assert connection.error() == "no currently open connection"
    connection.open(server.host, server.port, server.principal)
    assert run(connection, ["test", "echo", "again"]).stdout == b"again\n"
