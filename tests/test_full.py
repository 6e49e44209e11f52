"""The full interface, remctl.Remctl, against the test remctld."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import remctl
from collect import run

DONE = ("done", None, None, None, None)


@pytest.fixture
def connection(server: Any) -> Iterator[remctl.Remctl]:
    r = remctl.Remctl(server.host, server.port, server.principal)
    yield r
    r.close()


def test_output_tokens(connection: remctl.Remctl) -> None:
    connection.command(["test", "mixed"])
    tokens = []
    while True:
        token = connection.output()
        tokens.append(token)
        if token[0] != "output":
            break
    # remctld reads stdout and stderr from separate pipes: any order.
    assert sorted(tokens[:-1]) == [
        ("output", b"err\n", 2, None, None),
        ("output", b"out\n", 1, None, None),
    ]
    assert tokens[-1] == ("status", None, None, 3, None)
    assert connection.output() == DONE
    assert connection.output() == DONE


def test_no_output(connection: remctl.Remctl) -> None:
    connection.command([b"test", b"nothing"])
    assert connection.output() == ("status", None, None, 0, None)
    assert connection.output() == DONE


def test_several_commands_one_connection(connection: remctl.Remctl) -> None:
    first = run(connection, ["test", "echo", "one"])
    second = run(connection, ["test", "status", "5"])
    third = run(connection, ["test", "stderr", "two", "words"])
    assert (first.stdout, first.stderr, first.status) == (b"one\n", b"", 0)
    assert (second.stdout, second.stderr, second.status) == (b"", b"", 5)
    assert (third.stdout, third.stderr, third.status) == (b"", b"two words\n", 0)


def test_error_token(connection: remctl.Remctl) -> None:
    connection.command(["test", "bogus"])
    assert connection.output() == ("error", b"Unknown command", None, None, 5)
    assert connection.output() == DONE
    # The connection stays usable after an error token.
    assert run(connection, ["test", "echo", "after"]).stdout == b"after\n"


def test_error_token_access_denied(connection: remctl.Remctl) -> None:
    result = run(connection, ["test", "denied"])
    assert (result.error, result.message) == (6, b"Access denied")


def test_empty_and_binary_arguments(connection: remctl.Remctl) -> None:
    result = run(connection, ["test", "echo", "", "x", b"", b"\xff\xfe"])
    assert result.stdout == b" x  \xff\xfe\n"


def test_noop(connection: remctl.Remctl) -> None:
    connection.noop()
    assert run(connection, ["test", "echo", "alive"]).stdout == b"alive\n"
    connection.noop()


def test_error_is_no_error_after_success(connection: remctl.Remctl) -> None:
    run(connection, ["test", "nothing"])
    assert connection.error() == "no error"


def test_close_then_open(server: Any, connection: remctl.Remctl) -> None:
    run(connection, ["test", "nothing"])
    connection.close()
    assert connection.error() == "no currently open connection"
    with pytest.raises(remctl.RemctlNotOpenedError):
        connection.command(["test", "nothing"])
    connection.open(server.host, server.port, server.principal)
    assert run(connection, ["test", "echo", "again"]).stdout == b"again\n"


def test_open_later(server: Any) -> None:
    r = remctl.Remctl()
    r.open(server.host, str(server.port), server.principal)
    assert run(r, ["test", "echo", "later"]).stdout == b"later\n"
    r.close()
