"""A typed tour of the remctl API, checked with ``mypy --strict`` and ruff.

Runs a few commands against a server whose remctl.conf has the commands of
tests/server/remctl.conf.in (``test echo``, ``test mixed``, ...)::

    python examples/typed_usage.py HOST PORT PRINCIPAL
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

import remctl
from remctl import aio


def simple(host: str, port: int, principal: str) -> bytes:
    """The simple interface: one command, one connection."""
    result: remctl.RemctlSimpleResult = remctl.remctl(
        host, port, principal, ["test", "echo", "simple"]
    )
    return result.stdout or b""


def full(host: str, port: int, principal: str) -> list[str]:
    """One connection for several commands, closed by the with block."""
    lines: list[str] = []
    with remctl.Remctl(host, port, principal, timeout=30) as connection:
        result: remctl.RemctlResult = connection.run(["test", "mixed"])
        lines.append(f"{connection!r}: status {result.status}")
        try:
            connection.run(["test", "status", "2"], check=True)
        except remctl.RemctlCommandError as exc:
            code: int | None = exc.code
            lines.append(f"check=True raised: {exc} (status {exc.status}, code {code})")
        for token in connection.stream(["test", "echo", "streamed"]):
            if token.type == "output" and token.data is not None:
                lines.append(f"stream {token.stream}: {token.data!r}")
            elif token.type == "status":
                lines.append(f"stream status: {token.status}")
        # The historical pair, with the named tuple unpacked as a 5-tuple.
        connection.command([b"test", b"echo", b"historical"])
        while True:
            kind, data, stream, status, error = connection.output()
            if kind != "output":
                lines.append(f"output(): {kind} status={status} error={error}")
                break
            lines.append(f"output(): stream {stream} {data!r}")
    return lines


async def concurrent(host: str, port: int, principal: str) -> list[bytes]:
    """asyncio: several connections at once, each in its own thread."""
    outputs: list[bytes] = []
    first = aio.Remctl(host, port, principal)
    second = aio.Remctl(host, port, principal)
    async with first:
        async with second:
            results: tuple[remctl.RemctlResult, ...] = await asyncio.gather(
                first.run(["test", "echo", "one"]), second.run(["test", "echo", "two"])
            )
        outputs.extend(result.stdout for result in results)
        async for token in first.stream(["test", "stderr", "three"]):
            if token.data is not None:
                outputs.append(token.data)
    simple_result = await aio.remctl(host, port, principal, ["test", "echo", "four"])
    outputs.append(simple_result.stdout or b"")
    return outputs


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3:
        print("usage: typed_usage.py HOST PORT PRINCIPAL", file=sys.stderr)
        return 2
    host, port, principal = argv[0], int(argv[1]), argv[2]
    logging.basicConfig(level=logging.WARNING)
    try:
        print(simple(host, port, principal))
        for line in full(host, port, principal):
            print(line)
        print(asyncio.run(concurrent(host, port, principal)))
    except remctl.RemctlError as exc:
        print(f"typed_usage: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
