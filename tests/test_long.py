"""Long commands and long output, checked byte for byte through hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import remctl
from collect import run
from expected import hashargs_output, hashstdin_output, stream_sha256
from interpreter import REFCOUNTED, settle_garbage

MiB = 1024 * 1024
STREAM_LENGTH = 256 * MiB
MEMORY_GROWTH_LIMIT = 64 * MiB


def _thousand_arguments() -> list[bytes]:
    arguments = []
    for index in range(1000):
        if index % 10 == 0:
            arguments.append(b"")
        elif index % 10 == 5:
            arguments.append(bytes([0x80 + index % 128]) * (index % 37) + b"\xff")
        else:
            arguments.append(f"argument {index} \u00e9".encode())
    return arguments


def test_thousand_arguments(server: Any) -> None:
    arguments = _thousand_arguments()
    r = remctl.Remctl(server.host, server.port, server.principal)
    result = run(r, [b"test", b"hashargs", *arguments])
    assert result.status == 0, result
    assert result.stdout == hashargs_output(arguments)
    r.close()


def test_thousand_arguments_simple(server: Any) -> None:
    arguments = _thousand_arguments()
    result = remctl.remctl(
        server.host, server.port, server.principal, [b"test", b"hashargs", *arguments]
    )
    assert result.stdout == hashargs_output(arguments)


def test_eight_mebibyte_argument(server: Any) -> None:
    # Every byte value, NUL and high bytes included, in a pattern that does
    # not repeat with the 64 KiB token size.
    data = (bytes(range(256)) * (8 * MiB // 256 + 1))[: 8 * MiB - 3] + b"\0\xff\0"
    assert len(data) == 8 * MiB
    r = remctl.Remctl(server.host, server.port, server.principal)
    result = run(r, [b"test", b"hashstdin", data])
    assert result.status == 0, result
    assert result.stdout == hashstdin_output(data)
    r.close()


def _memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def test_stream_256_mebibytes(server: Any) -> None:
    r = remctl.Remctl(server.host, server.port, server.principal)
    r.command(["test", "stream", str(STREAM_LENGTH)])
    digest = hashlib.sha256()
    received = 0
    tokens = 0
    # PyPy frees the data of dropped tokens only when it collects: it does
    # so at each sample, more often than CPython needs sampling.
    every = 64 if REFCOUNTED else 16
    settle_garbage()
    baseline = _memory_kib("VmRSS") * 1024
    peak_reset = _reset_peak()
    largest_rss = baseline
    while True:
        kind, data, stream, status, _ = r.output()
        if kind != "output":
            break
        assert stream == 1
        assert data is not None
        digest.update(data)
        received += len(data)
        tokens += 1
        if tokens % every == 0:
            settle_garbage()
            largest_rss = max(largest_rss, _memory_kib("VmRSS") * 1024)
    assert (kind, status) == ("status", 0)
    assert received == STREAM_LENGTH
    assert digest.hexdigest() == stream_sha256(STREAM_LENGTH)
    if peak_reset:
        largest_rss = max(largest_rss, _memory_kib("VmHWM") * 1024)
    growth = largest_rss - baseline
    assert growth < MEMORY_GROWTH_LIMIT, f"RSS grew by {growth // MiB} MiB"
    r.close()
