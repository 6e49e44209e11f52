"""Worker: remctl.run_many over a list of hosts, measured from inside.

Run as ``PYTHON fanout_run_many.py PARAMS_JSON`` with PARAMS_JSON holding
``hosts``, ``port``, ``command``, ``concurrency`` and ``expect`` ("hello":
each host prints "hello from HOST"; "kib": one line of 1 KiB).  Prints one
line of JSON: wall seconds, peak RSS (VmHWM), the most threads seen at once
(a sampling thread reads /proc/self/status every 2 ms; it does not count
itself), and how many hosts answered as expected.  Exit status 1 when any
did not.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import remctl


def status_field(name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def expected(kind: str, host: str) -> bytes:
    if kind == "hello":
        return f"hello from {host}\n".encode()
    return b"x" * 1023 + b"\n"


def main() -> int:
    params = json.loads(sys.argv[1])
    peak = {"threads": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["threads"] = max(peak["threads"], status_field("Threads") - 1)
            stop.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    results = remctl.run_many(
        params["hosts"],
        params["command"],
        port=params["port"],
        concurrency=params["concurrency"],
        timeout=params.get("timeout"),
    )
    wall = time.monotonic() - started
    stop.set()
    sampler.join()
    good = sum(
        1
        for r in results
        if r.result is not None
        and r.result.status == 0
        and r.result.stdout == expected(params["expect"], r.host)
    )
    failures = sorted({str(r.error or r.result) for r in results if not r.ok})[:3]
    report = {
        "ok": good == len(params["hosts"]),
        "wall": wall,
        "hosts": len(results),
        "good": good,
        "hwm_kib": status_field("VmHWM"),
        "threads": peak["threads"],
        "failures": failures,
    }
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
