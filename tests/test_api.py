"""The additions to remctl.Remctl: context manager, repr, named output tokens,
run() and stream(), against the test remctld."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import remctl
from expected import stream_bytes


@pytest.fixture
def connection(server: Any) -> Iterator[remctl.Remctl]:
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        yield r


# -- context manager and repr -------------------------------------------------


def test_context_manager_closes(server: Any) -> None:
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        assert isinstance(r, remctl.Remctl)
        assert r.run(["test", "echo", "in"]).stdout == b"in\n"
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.command(["test", "nothing"])
    assert r.error() == "no currently open connection"
    # close() then open() still works after the with block.
    r.open(server.host, server.port, server.principal)
    assert r.run(["test", "echo", "again"]).stdout == b"again\n"
    r.close()


def test_context_manager_closes_on_exception(server: Any) -> None:
    r = remctl.Remctl(server.host, server.port, server.principal)
    with pytest.raises(KeyError), r:
        raise KeyError("boom")
    assert "closed" in repr(r)
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.noop()


def test_repr(server: Any) -> None:
    r = remctl.Remctl(ccache=server.ccache)
    assert repr(r) == "<remctl.Remctl closed>"
    r.open(server.host, server.port, server.principal)
    text = repr(r)
    assert text == (
        f"<remctl.Remctl host={server.host!r} port={server.port}"
        f" principal={server.principal!r} open>"
    )
    assert server.ccache not in text
    assert server.ccache_path not in text
    r.close()
    assert repr(r).endswith(" closed>")
    assert f"host={server.host!r}" in repr(r)


def test_constructor_settings(server: Any) -> None:
    with remctl.Remctl(
        server.host,
        server.port,
        server.principal,
        ccache=server.ccache,
        source_ip="127.0.0.1",
        timeout=10,
    ) as r:
        assert r.run(["test", "echo", "set"]).stdout == b"set\n"
    with pytest.raises(ValueError, match="invalid timeout -1"):
        remctl.Remctl(timeout=-1)


@pytest.mark.ours_only(reason="only our library checks a source address when set")
def test_constructor_bad_source_ip() -> None:
    with pytest.raises(remctl.RemctlError, match="invalid source IP address"):
        remctl.Remctl(source_ip="not an address")


# -- output() as a named tuple ----------------------------------------------------


def test_output_named_tuple(connection: remctl.Remctl) -> None:
    connection.command(["test", "echo", "named"])
    token = connection.output()
    assert isinstance(token, tuple)
    assert isinstance(token, remctl.RemctlOutput)
    assert (token.type, token.data, token.stream) == ("output", b"named\n", 1)
    kind, data, stream, status, error = token
    assert (kind, data, stream, status, error) == tuple(token)
    assert token == ("output", b"named\n", 1, None, None)
    assert token[0] == "output" and len(token) == 5
    last = connection.output()
    assert (last.type, last.status) == ("status", 0)
    assert last == ("status", None, None, 0, None)
    done = connection.output()
    assert done == ("done", None, None, None, None)
    assert done == remctl.RemctlOutput("done")


def test_output_error_token_fields(connection: remctl.Remctl) -> None:
    connection.command(["test", "denied"])
    token = connection.output()
    assert (token.type, token.data, token.error) == ("error", b"Access denied", 6)


# -- run() --------------------------------------------------------------------------


def test_run_result(connection: remctl.Remctl) -> None:
    result = connection.run(["test", "mixed"])
    assert isinstance(result, remctl.RemctlResult)
    assert (result.stdout, result.stderr, result.status) == (b"out\n", b"err\n", 3)
    assert (result.error, result.message) == (None, None)
    assert not result.ok


def test_run_empty_output_is_empty_bytes(connection: remctl.Remctl) -> None:
    result = connection.run([b"test", b"nothing"])
    assert (result.stdout, result.stderr, result.status) == (b"", b"", 0)
    assert result.ok
    assert result.check() is result


def test_run_error_token(connection: remctl.Remctl) -> None:
    result = connection.run(["test", "denied"])
    assert (result.stdout, result.stderr, result.status) == (b"", b"", None)
    assert (result.error, result.message) == (6, "Access denied")
    # The connection stays usable; the answer was read completely.
    assert connection.output() == ("done", None, None, None, None)
    assert connection.run(["test", "echo", "next"]).stdout == b"next\n"


def test_run_check_status(connection: remctl.Remctl) -> None:
    with pytest.raises(remctl.RemctlCommandError) as info:
        connection.run(["test", "mixed"], check=True)
    exc = info.value
    assert isinstance(exc, remctl.RemctlError)
    assert (exc.status, exc.code, exc.message) == (3, None, None)
    assert (exc.stdout, exc.stderr) == (b"out\n", b"err\n")
    assert exc.result == remctl.RemctlResult(b"out\n", b"err\n", 3)
    assert str(exc) == "command exited with status 3"


def test_run_check_error_token(connection: remctl.Remctl) -> None:
    with pytest.raises(remctl.RemctlCommandError) as info:
        connection.run(["test", "bogus"], check=True)
    exc = info.value
    assert (exc.status, exc.code, exc.message) == (None, 5, "Unknown command")
    assert str(exc) == "Unknown command"


def test_run_check_success(connection: remctl.Remctl) -> None:
    result = connection.run(["test", "echo", "fine"], check=True)
    assert (result.stdout, result.status) == (b"fine\n", 0)


def test_command_error_pickles(connection: remctl.Remctl) -> None:
    with pytest.raises(remctl.RemctlCommandError) as info:
        connection.run(["test", "status", "7"], check=True)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.status, copy.result) == (
        str(info.value),
        7,
        info.value.result,
    )


def test_run_large_output(connection: remctl.Remctl) -> None:
    length = 2 * 1024 * 1024 + 3
    result = connection.run(["test", "stream", str(length)])
    assert result.stdout == stream_bytes(length)


def test_run_argument_errors_before_sending(connection: remctl.Remctl) -> None:
    with pytest.raises(TypeError, match="command must be a sequence or iterator"):
        connection.run("test echo")
    with pytest.raises(ValueError, match="command must not be empty"):
        connection.run([])
    assert connection.run(["test", "echo", "ok"]).stdout == b"ok\n"


def test_run_not_opened() -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.run(["test", "echo"])
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.stream(["test", "echo"])


def test_run_timeout_then_usable(server: Any) -> None:
    with remctl.Remctl(server.host, server.port, server.principal, timeout=1) as r:
        with pytest.raises(remctl.RemctlError, match="timed out"):
            r.run(["test", "sleep", "3"])
        assert r.run(["test", "echo", "recovered"]).stdout == b"recovered\n"


@pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 reads the rest of "
    "the old answer as the new one's"
)
def test_run_after_unread_command(connection: remctl.Remctl) -> None:
    """run() after a command whose answer was left unread starts afresh."""
    connection.command(["test", "stream", "500000"])
    assert connection.output().type == "output"
    assert connection.run(["test", "echo", "fresh"]).stdout == b"fresh\n"


def test_unread_answer_is_left_to_the_library(connection: remctl.Remctl) -> None:
    """The Python layer keeps its C object across an abandoned answer: the
    C library starts afresh, the object is not replaced and reopened."""
    handle = connection._handle
    connection.command(["test", "stream", "500000"])
    assert connection.output().type == "output"
    connection.run(["test", "echo", "fresh"])
    assert connection._handle is handle


@pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 reads the rest of "
    "the old answer as the new one's"
)
def test_command_twice_without_reading(connection: remctl.Remctl) -> None:
    """The historical pair: a second command() discards the unread answer."""
    connection.command(["test", "echo", "unread"])
    connection.command(["test", "echo", "second"])
    assert connection.output() == ("output", b"second\n", 1, None, None)
    assert connection.output() == ("status", None, None, 0, None)
    assert "open" in repr(connection)


def test_threads_share_one_object_with_run(server: Any) -> None:
    """run() holds the lock for the whole command: no lock of the caller's."""
    failures: list[str] = []
    with remctl.Remctl(server.host, server.port, server.principal) as r:

        def work(name: str) -> None:
            for index in range(25):
                result = r.run(["test", "echo", name, str(index)])
                if (result.stdout, result.status) != (f"{name} {index}\n".encode(), 0):
                    failures.append(f"{name} {index}: {result!r}")

        threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


# -- stream() -------------------------------------------------------------------------


def test_stream_tokens(connection: remctl.Remctl) -> None:
    tokens = list(connection.stream(["test", "mixed"]))
    assert sorted(tokens[:-1]) == [
        ("output", b"err\n", 2, None, None),
        ("output", b"out\n", 1, None, None),
    ]
    assert tokens[-1] == ("status", None, None, 3, None)
    assert all(isinstance(token, remctl.RemctlOutput) for token in tokens)


def test_stream_error_token(connection: remctl.Remctl) -> None:
    tokens = list(connection.stream(["test", "denied"]))
    assert tokens == [("error", b"Access denied", None, None, 6)]


def test_stream_large(connection: remctl.Remctl) -> None:
    length = 1_000_003
    chunks = []
    for token in connection.stream(["test", "stream", str(length)]):
        if token.type == "output":
            chunks.append(token.data or b"")
        else:
            assert token.status == 0
    assert len(chunks) > 1
    assert b"".join(chunks) == stream_bytes(length)


@pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 reads the rest of "
    "the old answer as the new one's"
)
def test_stream_left_early(connection: remctl.Remctl) -> None:
    tokens = connection.stream(["test", "stream", "3000000"])
    assert next(tokens).type == "output"
    del tokens
    assert connection.run(["test", "echo", "after"]).stdout == b"after\n"


@pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 reads the rest of "
    "the old answer as the new one's"
)
def test_stream_sees_another_command(connection: remctl.Remctl) -> None:
    tokens = connection.stream(["test", "stream", "3000000"])
    assert next(tokens).type == "output"
    assert connection.run(["test", "echo", "other"]).stdout == b"other\n"
    with pytest.raises(remctl.RemctlError, match="another command was sent"):
        next(tokens)


def test_stream_argument_errors_are_immediate(connection: remctl.Remctl) -> None:
    with pytest.raises(ValueError, match="command must not be empty"):
        connection.stream([])


def test_typed_example_runs(server: Any) -> None:
    """examples/typed_usage.py (checked by mypy --strict) works for real."""
    root = Path(__file__).resolve().parents[1]
    env = server.subprocess_env()
    package_root = str(Path(remctl.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(
        [package_root, *filter(None, [env.get("PYTHONPATH")])]
    )
    done = subprocess.run(
        [sys.executable, str(root / "examples" / "typed_usage.py")]
        + [server.host, str(server.port), server.principal],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == str(
        [b"one\n", b"two\n", b"three\n", b"four\n"]
    )
    assert "check=True raised: command exited with status 2" in done.stdout
