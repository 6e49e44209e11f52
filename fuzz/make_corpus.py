#!/usr/bin/env python3
"""Write the seed corpus of fuzz_client into fuzz/corpus/ (or the directory
given): valid server token streams, built by hand from docs/protocol.md, in the
input layout described at the top of fuzz_client.c.

With the GSS-API stand-in, wrapping copies bytes, so a DATA token's payload
is the message itself.  Seeds are named by content hash, like libFuzzer's.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path

CONTEXT, DATA, MIC, PROTOCOL = 0x02, 0x04, 0x08, 0x40


def token(flags: int, payload: bytes) -> bytes:
    return struct.pack(">BI", flags, len(payload)) + payload


def message(kind: int, body: bytes = b"", version: int = 2) -> bytes:
    return token(DATA | PROTOCOL, bytes([version, kind]) + body)


def output(stream: int, data: bytes) -> bytes:
    return message(3, struct.pack(">BI", stream, len(data)) + data)


def status(code: int) -> bytes:
    return message(4, bytes([code]))


def error(code: int, text: bytes) -> bytes:
    return message(5, struct.pack(">II", code, len(text)) + text)


def version(highest: int) -> bytes:
    return message(6, bytes([highest]))


def noop_reply() -> bytes:
    return message(7, version=3)


def chunks(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def ops(*codes: int) -> int:
    value = 0
    for index, code in enumerate(codes):
        value |= code << (2 * index)
    return value


SHORT, NOOP, LONG, MANY = 0, 1, 2, 3
HELLO = output(1, b"hello\n") + status(0)

SEEDS: list[bytes] = [
    bytes([0, ops(SHORT)]) + chunks(status(0)),
    bytes([0, ops(SHORT, SHORT, SHORT, SHORT)]) + chunks(HELLO, HELLO, HELLO, HELLO),
    bytes([0, ops(SHORT, MANY)])
    + chunks(output(2, b"err\n") + output(1, b"out\n") + status(3), HELLO),
    bytes([0, ops(SHORT, SHORT)])
    + chunks(
        error(5, b"Unknown command"), output(1, b"x") + error(6, b"Access denied")
    ),
    bytes([0, ops(NOOP, NOOP, NOOP, NOOP)]) + chunks(*[noop_reply()] * 4),
    bytes([0, ops(NOOP, SHORT)]) + chunks(version(2), HELLO),
    bytes([0, ops(LONG, SHORT)]) + chunks(status(0), status(1)),
    bytes([0, ops(MANY, MANY)])
    + chunks(output(1, b"5 args\n") + status(0), status(255)),
    # An answer cut across chunks: the reader must wait and resume.
    bytes([0, ops(SHORT)]) + chunks(HELLO[:3], HELLO[3:9], HELLO[9:]),
    # Many tokens in one chunk, and a large OUTPUT.
    bytes([0, ops(SHORT, SHORT)])
    + chunks(
        b"".join(output(1 + i % 2, bytes(range(i, i + 40))) for i in range(20))
        + status(0),
        output(1, b"z" * 30000) + status(0),
    ),
    # One context round trip, then protocol 2.
    bytes([1, ops(SHORT, NOOP)])
    + chunks(token(CONTEXT | PROTOCOL, b"REPLY"), HELLO, noop_reply()),
    # One context round trip without PROTOCOL: protocol 1.
    bytes([1, ops(SHORT, SHORT)])
    + chunks(
        token(CONTEXT, b"REPLY"),
        token(MIC, b"MIC") + token(DATA, struct.pack(">II", 0, 6) + b"hello\n"),
    ),
    bytes([1, ops(SHORT)])
    + chunks(
        token(CONTEXT, b"REPLY"),
        token(MIC, b"M") + token(DATA, struct.pack(">II", 1, 0)),
    ),
    # The stand-in withholds CONF: the open must fail.
    bytes([2, ops(SHORT)]) + chunks(status(0)),
    # Keep going on a failed handle.
    bytes([4, ops(SHORT, SHORT, NOOP, SHORT)]) + chunks(error(9, b"x"), b"\x44\x00"),
    # The protocol 3 version byte on an answer.
    bytes([0, ops(SHORT)])
    + chunks(
        message(3, struct.pack(">BI", 1, 2) + b"hi", version=3)
        + message(4, b"\0", version=3)
    ),
]


def main() -> None:
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "corpus"
    )
    target.mkdir(parents=True, exist_ok=True)
    for seed in SEEDS:
        name = hashlib.sha1(seed).hexdigest()
        (target / name).write_bytes(seed)
    print(f"wrote {len(SEEDS)} seeds to {target}")


if __name__ == "__main__":
    main()
