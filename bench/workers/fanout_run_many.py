"""Worker: remctl.run_many over a list of hosts, measured from inside.

Run as ``PYTHON fanout_run_many.py PARAMS_JSON`` with PARAMS_JSON holding
``hosts``, ``port``, ``command``, ``concurrency``, ``expect`` ("hello":
each host prints "hello from HOST"; "kib": one line of 1 KiB) and
optionally ``ccache``.  Prints one
line of JSON: wall seconds of the run_many call (the modules it loads on
first use, asyncio among them, are imported before the clock starts, as a
program would at its start: the remctl-py row of bench/fanout.py times a
whole process instead), peak RSS (VmHWM), the most threads seen at once
(a sampling thread reads /proc/self/status every 10 ms; it does not count
itself), and how many hosts answered as expected.  Exit status 1 when any
did not.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time

import remctl
import remctl._fanout  # loaded before the clock: see above


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


def cpu_seconds() -> float:
    """User and system CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    params = json.loads(sys.argv[1])
    peak = {"threads": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["threads"] = max(peak["threads"], status_field("Threads") - 1)
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = cpu_seconds()
    started = time.monotonic()
    results = remctl.run_many(
        params["hosts"],
        params["command"],
        port=params["port"],
        concurrency=params["concurrency"],
        timeout=params.get("timeout"),
        ccache=params.get("ccache"),
    )
    wall = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
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
        "cpu": cpu,
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
