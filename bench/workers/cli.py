"""Worker for Debian's remctl command-line client (/usr/bin/remctl).

Each run of the client is its own process, spawned here; its CPU time and
peak RSS come from wait4(), wall time from spawn to exit.  The workloads it
fits: the simple call (3) and streaming (4, 6a).  One process runs one
command on one connection, so the kept-alive workloads (1, 2, 7) and the
threads workload (5) do not apply.

Timed streaming runs send the output to /dev/null, the cheapest sink, so the
client is measured at its best; the answer is checked in a separate run
through a pipe (params "verify": true).
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _workloads  # after the path insert above
from _workloads import CheckError

CLIENT = os.environ.get("REMCTL_BENCH_CLI", "/usr/bin/remctl")


def argv_for(params, args):
    return [
        CLIENT,
        "-p",
        str(params["port"]),
        "-s",
        params["principal"],
        params["host"],
        *args,
    ]


class Run:
    """One client process: spawned with stdout to a pipe or /dev/null."""

    def __init__(self, argv, to_pipe):
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in wait()
        null = os.open(os.devnull, os.O_RDWR)
        self.read_fd = None
        actions = [(os.POSIX_SPAWN_DUP2, null, 0)]
        if to_pipe:
            self.read_fd, write_fd = os.pipe()
            actions.append((os.POSIX_SPAWN_DUP2, write_fd, 1))
        else:
            actions.append((os.POSIX_SPAWN_DUP2, null, 1))
        actions.append((os.POSIX_SPAWN_DUP2, self.stderr.fileno(), 2))
        self.started = time.perf_counter()
        try:
            self.pid = os.posix_spawn(
                argv[0], argv, dict(os.environ), file_actions=actions
            )
        finally:
            os.close(null)
            if to_pipe:
                os.close(write_fd)

    def read_all(self, limit=1 << 20):
        """Collect stdout (for small answers)."""
        chunks, total = [], 0
        while True:
            data = os.read(self.read_fd, 65536)
            if not data:
                return b"".join(chunks)
            total += len(data)
            if total > limit:
                raise CheckError("client printed more than expected")
            chunks.append(data)

    def wait(self):
        """Reap the process: (exit status, wall s, CPU s, peak RSS KiB)."""
        _, status, usage = os.wait4(self.pid, 0)
        wall = time.perf_counter() - self.started
        self.stdout = b""
        if self.read_fd is not None:
            # What is left in the pipe: small answers (or EOF after a stream).
            self.stdout = self.read_all()
            os.close(self.read_fd)
        self.stderr.seek(0)
        self.error_text = self.stderr.read(4000).decode("utf-8", "replace")
        self.stderr.close()
        code = os.waitstatus_to_exitcode(status)
        return code, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss

    def check(self, code):
        if code != 0:
            raise CheckError(f"remctl exited {code}: {self.error_text.strip()}")


def workload_simple(params):
    args = params["command"]
    expected = params["expect_stdout"].encode()
    times, cpus = [], []
    for index in range(params.get("warmup", 0) + params["count"]):
        run = Run(argv_for(params, args), to_pipe=True)
        code, wall, cpu, _ = run.wait()
        run.check(code)
        if run.stdout != expected:
            raise CheckError(f"remctl printed {run.stdout!r}, expected {expected!r}")
        if index >= params.get("warmup", 0):
            times.append(wall)
            cpus.append(cpu)
    return {
        "count": len(times),
        "median_ms": _workloads.percentile(times, 0.5) * 1000,
        "p10_ms": _workloads.percentile(times, 0.1) * 1000,
        "p90_ms": _workloads.percentile(times, 0.9) * 1000,
        "cpu_ms_per_call": sum(cpus) * 1000 / len(cpus),
    }


def verify_stream(params, size):
    """Check the streamed bytes, all of them, through a pipe."""
    run = Run(argv_for(params, ["test", "stream", str(size)]), to_pipe=True)
    period = bytes(range(_workloads.PATTERN_PERIOD))
    offset = 0
    while True:
        data = os.read(run.read_fd, 1 << 20)
        if not data:
            break
        phase = offset % len(period)
        reference = (period[phase:] + period * (len(data) // len(period) + 2))[
            : len(data)
        ]
        if data != reference:
            raise CheckError(f"stream data wrong near offset {offset}")
        offset += len(data)
    code, _, _, _ = run.wait()
    run.check(code)
    if offset != size:
        raise CheckError(f"stream: got {offset} of {size} bytes")


def workload_stream(params):
    size = params["size"]
    if params.get("verify"):
        verify_stream(params, size)
    run = Run(argv_for(params, ["test", "stream", str(size)]), to_pipe=False)
    code, wall, cpu, peak = run.wait()
    run.check(code)
    mib = size / 1048576
    return {
        "size": size,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_ms_per_mib": cpu * 1000 / mib,
        "mib_per_s": mib / wall,
        "peak_rss_kib": peak,
    }


def describe(params):
    run = Run([CLIENT, "-v"], to_pipe=True)
    run.wait()
    return {"client": CLIENT, "version": run.stdout.decode("utf-8", "replace").strip()}


WORKLOADS = {
    "describe": describe,
    "simple": workload_simple,
    "stream": workload_stream,
}


def main():
    import json
    import traceback

    name, params = sys.argv[1], json.loads(sys.argv[2])
    try:
        if name not in WORKLOADS:
            raise CheckError(f"workload {name} does not fit the command-line client")
        result = WORKLOADS[name](params)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as JSON
        _workloads.emit(
            {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        )
        sys.exit(1)
    result["ok"] = True
    _workloads.emit(result)


if __name__ == "__main__":
    main()
