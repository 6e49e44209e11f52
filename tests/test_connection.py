"""Connecting: timeouts, source addresses, failures, ticket caches, reopening,
threads, and a missing GSS-API library."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import remctl
from collect import run


def _free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_timeout(server: Any) -> None:
    r = remctl.Remctl()
    r.set_timeout(1)
    r.open(server.host, server.port, server.principal)
    r.command(["test", "sleep", "3"])
    # The message says the wait ended by the timeout: without one, output()
    # would return the command's "slept" after 3 s.
    with pytest.raises(remctl.RemctlError) as info:
        r.output()
    assert str(info.value) == "error receiving token: timed out"
    r.close()


def test_timeout_not_reached(server: Any) -> None:
    r = remctl.Remctl()
    r.set_timeout(5)
    r.open(server.host, server.port, server.principal)
    assert run(r, ["test", "sleep", "1"]).stdout == b"slept\n"
    r.close()


def test_source_ip(server: Any) -> None:
    r = remctl.Remctl()
    r.set_source_ip("127.0.0.1")
    r.open(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "from", "loopback"]).stdout == b"from loopback\n"
    r.close()


def test_source_ip_wrong_family(server: Any) -> None:
    r = remctl.Remctl()
    r.set_source_ip("::1")
    with pytest.raises(remctl.RemctlError) as info:
        r.open("127.0.0.1", server.port, server.principal)
    assert str(info.value).startswith(
        f"cannot connect to 127.0.0.1 (port {server.port}):"
    )


def test_connection_refused() -> None:
    port = _free_port()
    expected = f"cannot connect to 127.0.0.1 (port {port}): Connection refused"
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        r.open("127.0.0.1", port)
    assert str(info.value) == expected
    assert r.error() == expected
    with pytest.raises(remctl.RemctlProtocolError) as simple:
        remctl.remctl("127.0.0.1", port, None, ["test", "echo"])
    assert str(simple.value) == expected


def test_unknown_host() -> None:
    with pytest.raises(remctl.RemctlError) as info:
        remctl.Remctl("nonexistent.invalid")
    assert str(info.value).startswith("unknown host nonexistent.invalid: ")
    with pytest.raises(remctl.RemctlProtocolError) as simple:
        remctl.remctl("nonexistent.invalid", command=["test"])
    assert str(simple.value).startswith("unknown host nonexistent.invalid: ")


def test_set_ccache(
    server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path}/nonexistent/ccache")
    without = remctl.Remctl()
    with pytest.raises(remctl.RemctlError, match="GSS-API"):
        without.open(server.host, server.port, server.principal)

    good = remctl.Remctl()
    good.set_ccache(str(server.ccache))
    good.open(server.host, server.port, server.principal)
    assert run(good, ["test", "echo", "cached"]).stdout == b"cached\n"

    # The other object, and a new one, still use the (missing) default cache.
    with pytest.raises(remctl.RemctlError, match="GSS-API"):
        without.open(server.host, server.port, server.principal)
    with pytest.raises(remctl.RemctlError, match="GSS-API"):
        remctl.Remctl(server.host, server.port, server.principal)
    assert run(good, ["test", "echo", "still"]).stdout == b"still\n"
    good.close()

    # The setting survives close() and open().
    good.open(server.host, server.port, server.principal)
    assert run(good, ["test", "echo", "reopened"]).stdout == b"reopened\n"
    good.close()


@pytest.mark.ours_only(
    reason="ours reopens a kept-alive connection the server has closed; "
    "Debian's libremctl1 fails with 'unexpected end of file'"
)
def test_reopen_after_server_restart(server: Any) -> None:
    r = remctl.Remctl(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "before"]).stdout == b"before\n"
    server.restart()
    assert run(r, ["test", "echo", "after"]).stdout == b"after\n"
    r.close()


def test_close_open_after_server_restart(server: Any) -> None:
    r = remctl.Remctl(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "before"]).stdout == b"before\n"
    server.restart()
    r.close()
    r.open(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "after"]).stdout == b"after\n"
    r.close()


def test_threads_documented_pattern(server: Any) -> None:
    """Threads sharing one object hold their own lock around each exchange."""
    r = remctl.Remctl(server.host, server.port, server.principal)
    exchange = threading.Lock()
    failures: list[str] = []

    def work(name: str) -> None:
        for index in range(20):
            with exchange:
                result = run(r, ["test", "echo", name, str(index)])
            if result.stdout != f"{name} {index}\n".encode():
                failures.append(f"{name} {index}: {result!r}")

    threads = [threading.Thread(target=work, args=(n,)) for n in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    r.close()


@pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 reads the rest of "
    "the old answer as the new one's"
)
def test_threads_unsynchronized_calls_are_safe(server: Any) -> None:
    """Calls racing on one object may mix answers but never corrupt it.

    Two threads call command() and output() on one object with no lock of
    their own, so one may read the other's answer, or find it already read
    ("done"). Every call must still succeed, every token must be a whole
    token of one of the commands sent, and the object must then run a
    command without being reopened.
    """
    r = remctl.Remctl()
    r.set_timeout(5)
    r.open(server.host, server.port, server.principal)
    tokens: list[remctl.RemctlOutput] = []
    unexpected: list[BaseException] = []

    def work(name: str) -> None:
        try:
            for index in range(20):
                r.command(["test", "echo", name, str(index)])
                while True:
                    token = r.output()
                    tokens.append(token)
                    if token.type != "output":
                        break
        except BaseException as exc:  # noqa: BLE001 - reported below
            unexpected.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
    sent = {f"{name} {index}\n".encode() for name in ("alpha", "beta") for index in range(20)}
    wrong = [
        token
        for token in tokens
        if not (
            (token.type == "output" and token.stream == 1 and token.data in sent)
            or (token.type == "status" and token.status == 0)
            or token.type == "done"
        )
    ]
    assert wrong == []
    assert run(r, ["test", "echo", "clean"]).stdout == b"clean\n"
    r.close()


def test_threads_run_in_parallel(server: Any, tmp_path: Path) -> None:
    """The GIL is released in C: while one thread waits inside a command on
    one object, the main thread runs a command on another object, and the
    first command can only end with "met" if the second one ran meanwhile
    (otherwise the server gives up after 20 s and prints "nobody came")."""
    meeting = str(tmp_path)
    answers: list[bytes] = []

    def wait() -> None:
        r = remctl.Remctl(server.host, server.port, server.principal)
        answers.append(run(r, ["test", "rendezvous", "wait", meeting, "20"]).stdout)
        r.close()

    waiter = threading.Thread(target=wait)
    waiter.start()
    # The server side of the first command has started (bounded wait).
    for _ in range(2000):
        if (tmp_path / "waiting").exists() or not waiter.is_alive():
            break
        time.sleep(0.01)
    r = remctl.Remctl(server.host, server.port, server.principal)
    assert run(r, ["test", "rendezvous", "go", meeting]).stdout == b"go\n"
    r.close()
    waiter.join(60)
    assert not waiter.is_alive()
    assert answers == [b"met\n"]


NO_GSSAPI_SCRIPT = """
import sys
import remctl
r = remctl.Remctl()
try:
    r.open(sys.argv[1], int(sys.argv[2]), sys.argv[3])
except remctl.RemctlError as exc:
    print(exc)
else:
    print("opened")
"""


@pytest.mark.ours_only(
    reason="only ours loads GSS-API at run time (REMCTL_GSSAPI_LIBRARY); "
    "Debian's libremctl1 links libgssapi_krb5 and ignores it"
)
def test_no_gssapi_library(server: Any) -> None:
    missing = "/nonexistent/libgssapi.so"
    package_root = str(Path(remctl.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, REMCTL_GSSAPI_LIBRARY=missing, PYTHONPATH=path)
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            NO_GSSAPI_SCRIPT,
            server.host,
            str(server.port),
            server.principal,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    message = process.stdout.strip()
    assert missing in message
    assert "libgssapi-krb5-2" in message
