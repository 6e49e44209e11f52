"""What the scripts in tests/server/scripts print, computed on the client side.

Import from a test with ``from expected import ...`` (tests/ is on sys.path
through conftest.py).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator

#: The period of the ``test stream`` byte pattern: byte i is ``i % 251``.
STREAM_PERIOD = 251

_BLOCK = bytes(range(STREAM_PERIOD)) * 4096  # whole periods, about 1 MiB


def stream_blocks(length: int) -> Iterator[bytes]:
    """Yield the first ``length`` bytes of the ``test stream`` pattern in blocks."""
    if length < 0:
        raise ValueError(f"negative length: {length}")
    remaining = length
    while remaining >= len(_BLOCK):
        yield _BLOCK
        remaining -= len(_BLOCK)
    if remaining:
        yield _BLOCK[:remaining]


def stream_bytes(length: int) -> bytes:
    """The exact output of ``test stream LENGTH`` (keep LENGTH small)."""
    return b"".join(stream_blocks(length))


def stream_sha256(length: int) -> str:
    """Hex SHA-256 of the output of ``test stream LENGTH``, without building it."""
    digest = hashlib.sha256()
    for block in stream_blocks(length):
        digest.update(block)
    return digest.hexdigest()


def _as_bytes(arg: str | bytes) -> bytes:
    return arg.encode("utf-8") if isinstance(arg, str) else bytes(arg)


def hashargs_digest(args: Iterable[str | bytes]) -> str:
    """Hex SHA-256 that ``test hashargs ARGS...`` computes over its arguments.

    ``args`` are the arguments after ``test hashargs``; str is encoded UTF-8,
    as the client library sends it.
    """
    digest = hashlib.sha256()
    for arg in args:
        raw = _as_bytes(arg)
        digest.update(struct.pack(">I", len(raw)))
        digest.update(raw)
    return digest.hexdigest()


def hashargs_output(args: Iterable[str | bytes]) -> bytes:
    """The exact stdout of ``test hashargs ARGS...``: b"COUNT SHA256HEX\\n"."""
    items = list(args)
    return f"{len(items)} {hashargs_digest(items)}\n".encode("ascii")


def hashstdin_output(data: str | bytes) -> bytes:
    """The exact stdout of ``test hashstdin DATA``: b"LENGTH SHA256HEX\\n"."""
    raw = _as_bytes(data)
    return f"{len(raw)} {hashlib.sha256(raw).hexdigest()}\n".encode("ascii")
