"""Run real remctl commands through the library against a throwaway server.

Starts a private MIT Kerberos realm and remctld on loopback with
remctl.testing, serving tests/server/remctl.conf.in, then runs commands with
the simple interface (remctl.remctl) and the full one (remctl.Remctl), and
prints what comes back.  Everything started is stopped on exit.

    python examples/demo.py
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

import remctl
from remctl.testing import MissingProgramsError, RemctlTestEnvironment

SERVER_DIR = Path(__file__).resolve().parent.parent / "tests" / "server"


def show(label: str, value: object) -> None:
    print(f"  {label:<10} {value!r}")


def simple_interface(env: RemctlTestEnvironment) -> None:
    print("\n== remctl.remctl(): one command, whole answer ==")
    for command in (["test", "echo", "hello"], ["test", "mixed"]):
        print(f"$ {' '.join(command)}")
        result = remctl.remctl(env.host, env.port, env.principal, command)
        show("stdout", result.stdout)
        show("stderr", result.stderr)
        show("status", result.status)
    print("$ test bogus")
    try:
        remctl.remctl(env.host, env.port, env.principal, ["test", "bogus"])
    except remctl.RemctlProtocolError as exc:
        show("raised", exc)


def run_tokens(connection: remctl.Remctl, command: Sequence[str]) -> None:
    """Send one command and print each output token until the end."""
    print(f"$ {' '.join(command)}")
    connection.command(command)
    while True:
        kind, data, stream, status, error = connection.output()
        if kind == "output":
            assert data is not None
            name = "stdout" if stream == 1 else "stderr"
            show(name, data if len(data) <= 60 else f"<{len(data)} bytes>")
        elif kind == "status":
            show("status", status)
            return
        elif kind == "error":
            show("error", f"code {error}: {data!r}")
            return
        else:
            show(kind, None)
            return


def stream_check(connection: remctl.Remctl, length: int) -> None:
    """Stream ``length`` bytes and compare them with the expected pattern."""
    print(f"$ test stream {length}")
    connection.command(["test", "stream", str(length)])
    received, tokens, digest = 0, 0, hashlib.sha256()
    while True:
        kind, data, _stream, status, _error = connection.output()
        if kind != "output" or data is None:
            break
        received += len(data)
        tokens += 1
        digest.update(data)
    period = bytes(range(251))
    expected = (period * (length // 251 + 1))[:length]
    matches = digest.hexdigest() == hashlib.sha256(expected).hexdigest()
    show("received", f"{received} bytes in {tokens} tokens, status {status}")
    show("matches", matches)


def full_interface(env: RemctlTestEnvironment) -> None:
    print("\n== remctl.Remctl: one connection, output token by token ==")
    connection = remctl.Remctl()
    connection.open(env.host, env.port, env.principal)
    try:
        run_tokens(connection, ["test", "echo", "hello", "from", "Remctl"])
        run_tokens(connection, ["test", "mixed"])
        run_tokens(connection, ["test", "denied"])
        stream_check(connection, 1_000_000)
        connection.noop()
        print("$ (noop)")
        show("noop", "answered")
    finally:
        connection.close()
    print("$ (closed)")


def main() -> int:
    environment = RemctlTestEnvironment(
        SERVER_DIR / "remctl.conf.in", SERVER_DIR / "scripts"
    )
    try:
        with environment as env, env.apply_environ():
            print("Throwaway realm and remctld are up:")
            show("realm", env.realm)
            show("kdc", f"{env.host}:{env.kdc_port}")
            show("remctld", f"{env.host}:{env.port}")
            show("principal", env.principal)
            show("user", env.user_principal)
            show("ccache", env.ccache)
            simple_interface(env)
            full_interface(env)
    except MissingProgramsError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    print("\nStopped the KDC and remctld; removed the realm.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
