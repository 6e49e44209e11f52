#!/usr/bin/env python3
"""Soak test: many connections and many commands, with RSS and open file
descriptors that must stay flat.

1. CYCLES times: a new Remctl object, open, one command, read its answer,
   close (default 10,000).
2. One connection, COMMANDS commands on it (default 100,000).

Each phase warms up first (the first connections load Kerberos and fill its
caches), then reports the resident set size, the bytes malloc'd and not
freed (glibc mallinfo2) and the open file descriptors at its start and its
end, with a few figures in between. It fails (exit status 1) if the fds
changed or the memory grew more than the limits below, or if any answer was
wrong.

It starts its own throwaway realm and remctld (remctl.testing), unless
--host, --port and --principal name a server (then KRB5_CONFIG and
KRB5CCNAME must already be set). Run from the checkout:

    REMCTL_LIBRARY=/path/to/libremctl.so.1 PYTHONPATH=python python3 bench/soak.py
    python3 bench/soak.py --cycles 1000 --commands 10000   # a shorter run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import remctl

ROOT = Path(__file__).resolve().parent.parent
# The resource figures the hostile-server tests use (standard library only).
sys.path.insert(0, str(ROOT / "tests"))
from hostile.client import malloc_in_use, open_fds, rss_bytes

RSS_LIMIT = 4 * 1024 * 1024  # growth allowed over a phase
HEAP_LIMIT = 1 * 1024 * 1024


def figures() -> dict[str, int]:
    result = {"rss_kib": rss_bytes() // 1024, "fds": open_fds()}
    heap = malloc_in_use()
    if heap is not None:
        result["heap_kib"] = heap // 1024
    return result


def answer(r: remctl.Remctl) -> tuple[bytes, int | None]:
    stdout = b""
    while True:
        kind, data, _, status, _ = r.output()
        if kind == "output":
            stdout += data or b""
        elif kind == "status":
            return stdout, status
        else:
            raise RuntimeError(f"unexpected {kind} token")


def phase(
    name: str, count: int, warmup: int, step: Callable[[int], None]
) -> dict[str, Any]:
    for index in range(warmup):
        step(index)
    start = figures()
    marks = []
    began = time.monotonic()
    every = max(1, count // 5)
    for index in range(count):
        step(index)
        if (index + 1) % every == 0:
            marks.append({"done": index + 1, **figures()})
    elapsed = time.monotonic() - began
    end = figures()
    report = {
        "phase": name,
        "count": count,
        "seconds": round(elapsed, 1),
        "per_second": round(count / elapsed, 1),
        "start": start,
        "end": end,
        "marks": marks,
    }
    print(json.dumps(report), flush=True)
    return report


def soak(host: str, port: int, principal: str, cycles: int, commands: int) -> bool:
    def cycle(index: int) -> None:
        r = remctl.Remctl(host, port, principal)
        r.command(["test", "echo", "cycle", str(index)])
        stdout, status = answer(r)
        if (stdout, status) != (f"cycle {index}\n".encode(), 0):
            raise RuntimeError(f"cycle {index}: {stdout!r} {status}")
        r.close()

    connection = remctl.Remctl(host, port, principal)

    def command(index: int) -> None:
        connection.command(["test", "echo", str(index)])
        stdout, status = answer(connection)
        if (stdout, status) != (f"{index}\n".encode(), 0):
            raise RuntimeError(f"command {index}: {stdout!r} {status}")

    reports = [
        phase("open/command/close cycles", cycles, 50, cycle),
        phase("commands on one connection", commands, 200, command),
    ]
    connection.close()
    ok = True
    for report in reports:
        start, end = report["start"], report["end"]
        problems = []
        if end["fds"] != start["fds"]:
            problems.append(f"fds {start['fds']} -> {end['fds']}")
        if (end["rss_kib"] - start["rss_kib"]) * 1024 > RSS_LIMIT:
            problems.append(f"RSS {start['rss_kib']} -> {end['rss_kib']} KiB")
        if (
            "heap_kib" in end
            and (end["heap_kib"] - start["heap_kib"]) * 1024 > HEAP_LIMIT
        ):
            problems.append(f"heap {start['heap_kib']} -> {end['heap_kib']} KiB")
        verdict = "FLAT" if not problems else "GREW: " + ", ".join(problems)
        print(
            f"{report['phase']}: {report['count']} in {report['seconds']} s; "
            f"RSS {start['rss_kib']} -> {end['rss_kib']} KiB, "
            f"heap {start.get('heap_kib')} -> {end.get('heap_kib')} KiB, "
            f"fds {start['fds']} -> {end['fds']}: {verdict}",
            flush=True,
        )
        ok = ok and not problems
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--principal")
    args = parser.parse_args()
    if args.host:
        ok = soak(args.host, args.port, args.principal, args.cycles, args.commands)
    else:
        from remctl.testing import RemctlTestEnvironment

        with (
            RemctlTestEnvironment(
                ROOT / "tests/server/remctl.conf.in", ROOT / "tests/server/scripts"
            ) as env,
            env.apply_environ(),
        ):
            ok = soak(env.host, env.port, env.principal, args.cycles, args.commands)
    print("soak:", "flat" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
