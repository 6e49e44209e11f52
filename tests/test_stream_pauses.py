"""Output that stops and starts again after a long answer.

Past 256 KiB of one answer the C library stops asking for an immediate ACK
after every read (token.c explains why) and asks only when no data has come
for a moment. These tests make remctld's output pause after such a long
answer, more than once, with stderr in between, and check that every byte
arrives in order and the connection then serves short commands as before.
"""

from __future__ import annotations

from typing import Any

import remctl

SIZE = 640 * 1024  # each burst is well past the 256 KiB bulk threshold
PAUSE = "0.3"
ROUNDS = 3
BLOCK = bytes(i % 251 for i in range(SIZE))


def command() -> list[str]:
    return ["test", "pauses", str(SIZE), PAUSE, str(ROUNDS)]


def expected_events() -> list[tuple[int, bytes]]:
    events: list[tuple[int, bytes]] = []
    for number in range(ROUNDS):
        events.append((1, BLOCK))
        events.append((2, b"round %d\n" % number))
    events.append((1, b"end\n"))
    return events


def read_answer(r: remctl.Remctl) -> tuple[list[tuple[int, bytes]], int | None]:
    """Output tokens joined while their stream stays the same, and the status."""
    events: list[tuple[int, bytearray]] = []
    for _ in range(100_000):
        token = r.output()
        if token.type != "output":
            assert token.type == "status", token
            return [(stream, bytes(data)) for stream, data in events], token.status
        assert token.stream in (1, 2) and token.data is not None
        if events and events[-1][0] == token.stream:
            events[-1][1].extend(token.data)
        else:
            events.append((token.stream, bytearray(token.data)))
    raise AssertionError("no status after 100,000 output tokens")


def test_output_resumes_after_pauses_in_order(server: Any) -> None:
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        r.command(command())
        events, status = read_answer(r)
        assert status == 0
        assert [(s, len(d)) for s, d in events] == [
            (s, len(d)) for s, d in expected_events()
        ]
        assert events == expected_events()
        # The next, short answer on the same connection comes back whole.
        r.command(["test", "echo", "after"])
        assert read_answer(r) == ([(1, b"after\n")], 0)


def test_simple_call_collects_paused_output(server: Any) -> None:
    result = remctl.remctl(server.host, server.port, server.principal, command())
    assert result.status == 0
    assert result.stdout == BLOCK * ROUNDS + b"end\n"
    assert result.stderr == b"".join(b"round %d\n" % n for n in range(ROUNDS))
