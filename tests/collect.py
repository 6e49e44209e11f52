"""Run one command on a Remctl object and gather its answer from output()."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import remctl


@dataclass
class Collected:
    """Everything output() returned for one command, up to STATUS or ERROR."""

    stdout: bytes = b""
    stderr: bytes = b""
    status: int | None = None
    error: int | None = None
    message: bytes | None = None
    tokens: list[remctl.RemctlOutput] = field(default_factory=list)


def run(connection: remctl.Remctl, command: Iterable[str | bytes]) -> Collected:
    """Send command, then read output tokens until STATUS or ERROR."""
    connection.command(command)
    collected = Collected()
    while True:
        token = connection.output()
        collected.tokens.append(token)
        kind, data, stream, status, error = token
        if kind == "output":
            assert data is not None
            if stream == 1:
                collected.stdout += data
            else:
                assert stream == 2, token
                collected.stderr += data
        elif kind == "status":
            collected.status = status
            return collected
        elif kind == "error":
            collected.error = error
            collected.message = data
            return collected
        else:
            raise AssertionError(f"unexpected token before status: {token!r}")
