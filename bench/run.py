#!/usr/bin/env python3
"""Benchmark our remctl package against the other remctl clients, side by side.

One command:

    python bench/run.py            # full run (about 10 minutes on 2 cores)
    python bench/run.py --quick    # tiny sizes and counts, under 2 minutes

starts a throwaway Kerberos realm and remctld (remctl.testing, with the test
suite's remctl.conf and scripts), runs the workloads of issue 5 through each
client in its own subprocess, and prints one table of medians and ratios.

Clients:

    ours     this checkout: python/remctl on the CMake-built libremctl.so.1
             (or --ours-python PYTHON: an interpreter with the wheel installed)
    debian   Debian's C-extension module, python3-pyremctl, under /usr/bin/python3 -I
    purepy   purepy-remctl from PyPI, in its own virtualenv (made on first use)
    cli      Debian's remctl command-line client, where a workload fits it

Each measurement is a fresh worker process (bench/workers/CLIENT.py) that
prints JSON; repetitions alternate between clients so that noise from other
load on the machine hits them alike.  The exit status is 1 if any client
failed functionally (wrong output, error, crash, or a client that cannot be
set up); there are no timing assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
WORKERS = os.path.join(BENCH, "workers")
MiB = 1 << 20

CLIENTS = ("ours", "debian", "purepy", "cli")
LABELS = {
    "ours": "ours",
    "debian": "Debian module",
    "purepy": "purepy-remctl",
    "cli": "remctl CLI",
}
PUREPY_REQUIREMENT = "purepy-remctl==0.1.0"
SYSTEM_PYTHON = "/usr/bin/python3"
DEBIAN_MODULE = "/usr/lib/python3/dist-packages/remctl.py"
CLI = "/usr/bin/remctl"


def log(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Settings of the two modes


@dataclass
class Plan:
    echo_count: int  # workload 1 and 2: commands per repetition
    echo_reps: int
    simple_count: int  # workload 3
    simple_reps: int
    stream_sizes: list  # workload 4, bytes
    stream_reps: dict  # size -> repetitions (default 1)
    threads: tuple  # workload 5: (threads, commands each, sleep seconds)
    connections: tuple  # workload 5: (connections at once, 1, sleep seconds)
    simple_big: int  # workload 6b, bytes
    many_count: int  # workload 7
    many_budget_s: float  # per client, bounds the slow clients
    repeat_budget_s: float  # workload 1 and 2, per repetition
    floor_size: int  # bytes unwrapped for the GSS-API floor
    floor_reps: int
    perf_size: int  # bytes streamed under perf for the unwrap split
    worker_timeout_s: float


FULL = Plan(
    echo_count=30,
    echo_reps=25,
    simple_count=6,
    simple_reps=5,
    stream_sizes=[1 * MiB, 16 * MiB, 64 * MiB, 256 * MiB, 512 * MiB, 1024 * MiB],
    stream_reps={
        1 * MiB: 5,
        16 * MiB: 3,
        64 * MiB: 5,
        256 * MiB: 3,
        512 * MiB: 3,
        1024 * MiB: 2,
    },
    threads=(8, 4, 0.5),
    connections=(64, 1, 0.5),
    simple_big=256 * MiB,
    many_count=10_000,
    many_budget_s=60.0,
    repeat_budget_s=30.0,
    floor_size=256 * MiB,
    floor_reps=3,
    perf_size=64 * MiB,
    worker_timeout_s=600.0,
)

QUICK = Plan(
    echo_count=20,
    echo_reps=1,
    simple_count=3,
    simple_reps=1,
    stream_sizes=[1 * MiB, 4 * MiB],
    stream_reps={},
    threads=(4, 2, 0.2),
    connections=(8, 1, 0.2),
    simple_big=4 * MiB,
    many_count=100,
    many_budget_s=5.0,
    repeat_budget_s=5.0,
    floor_size=4 * MiB,
    floor_reps=1,
    perf_size=4 * MiB,
    worker_timeout_s=120.0,
)


# --------------------------------------------------------------------------
# Setting up the clients


@dataclass
class Client:
    name: str
    argv: list = field(default_factory=list)  # interpreter and worker script
    env: dict = field(default_factory=dict)  # set on top of the realm's env
    unset: tuple = ()  # variables removed from the worker's environment
    problem: str | None = None  # why it cannot run
    info: dict = field(default_factory=dict)


def cache_dir(args) -> str:
    if args.cache_dir:
        return args.cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "remctl-bench")


def build_library(build_dir: str) -> str:
    """Build the checkout's C library with CMake (Release); return its path."""
    log(f"building libremctl.so.1 in {build_dir}")
    steps = [
        ["cmake", "-S", REPO, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"],
        ["cmake", "--build", build_dir],
    ]
    for step in steps:
        done = subprocess.run(
            step,
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(step)} failed:\n{done.stdout.decode(errors='replace')}"
            )
    for root, _, files in os.walk(build_dir):
        if "libremctl.so.1" in files and "CMakeFiles" not in root:
            return os.path.join(root, "libremctl.so.1")
    raise RuntimeError(f"no libremctl.so.1 under {build_dir} after the build")


def build_floor(cache: str) -> str:
    """Compile bench/gss_unwrap_floor.c against the host's GSS-API library."""
    source = os.path.join(BENCH, "gss_unwrap_floor.c")
    program = os.path.join(cache, "gss_unwrap_floor")
    if os.path.exists(program) and os.path.getmtime(program) >= os.path.getmtime(
        source
    ):
        return program
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc) for bench/gss_unwrap_floor.c")
    step = [compiler, "-O2", "-o", program, source, "-lgssapi_krb5"]
    done = subprocess.run(
        step, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(step)} failed (it needs the GSS-API headers: apt-get install "
            f"libkrb5-dev):\n{done.stdout.decode(errors='replace')}"
        )
    return program


def setup_ours(args, cache: str) -> Client:
    client = Client("ours")
    script = os.path.join(WORKERS, "ours.py")
    if args.ours_python:
        client.argv = [args.ours_python, script]
        client.unset = ("PYTHONPATH", "REMCTL_LIBRARY")
        return client
    library = args.library or os.environ.get("REMCTL_LIBRARY")
    if not library:
        library = build_library(os.path.join(cache, "build"))
    client.argv = [args.python, script]
    client.env = {
        "PYTHONPATH": os.path.join(REPO, "python"),
        "REMCTL_LIBRARY": os.path.abspath(library),
    }
    return client


def setup_debian() -> Client:
    client = Client("debian")
    if not os.path.exists(SYSTEM_PYTHON) or not os.path.exists(DEBIAN_MODULE):
        client.problem = f"{DEBIAN_MODULE} not found: apt-get install python3-pyremctl"
        return client
    # -I: no PYTHONPATH, no user site; the worker also checks what it imported.
    client.argv = [SYSTEM_PYTHON, "-I", os.path.join(WORKERS, "debian.py")]
    client.unset = ("PYTHONPATH", "REMCTL_LIBRARY", "LD_LIBRARY_PATH", "LD_PRELOAD")
    return client


def default_python() -> str:
    """The interpreter for the Python clients: Debian's module needs the
    system one, and the others run on it too, so that the comparison is of
    the clients, not of two builds of CPython."""
    if os.access(SYSTEM_PYTHON, os.X_OK):
        return SYSTEM_PYTHON
    return sys.executable


def purepy_venv(cache: str, base_python: str) -> tuple:
    """The virtualenv with purepy-remctl: (python path, problem or None)."""
    key = hashlib.sha256(os.path.realpath(base_python).encode()).hexdigest()[:10]
    venv = os.path.join(cache, f"purepy-venv-{key}")
    python = os.path.join(venv, "bin", "python")
    probe = [python, "-I", "-c", "import purepy_remctl, gssapi"]
    if (
        os.path.exists(python)
        and subprocess.run(probe, check=False, capture_output=True).returncode == 0
    ):
        return python, None
    log(f"creating a virtualenv for {PUREPY_REQUIREMENT} in {venv}")
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [base_python, "-m", "venv", venv],
        [python, "-m", "pip", "install", "--quiet", PUREPY_REQUIREMENT],
    ]
    for step in steps:
        try:
            done = subprocess.run(
                step,
                check=False,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=900,
            )
        except subprocess.TimeoutExpired:
            return python, f"{' '.join(step)} timed out"
        if done.returncode != 0:
            tail = done.stdout.decode(errors="replace")[-2000:]
            return python, (
                f"{' '.join(step)} failed (python-gssapi builds against "
                f"libkrb5-dev):\n{tail}"
            )
    if subprocess.run(probe, check=False, capture_output=True).returncode != 0:
        return python, "purepy_remctl does not import after installation"
    return python, None


def setup_purepy(cache: str, base_python: str) -> Client:
    client = Client("purepy")
    python, problem = purepy_venv(cache, base_python)
    client.problem = problem
    client.argv = [python, "-I", os.path.join(WORKERS, "purepy.py")]
    client.unset = ("PYTHONPATH", "REMCTL_LIBRARY")
    return client


def setup_cli() -> Client:
    client = Client("cli")
    if not os.access(CLI, os.X_OK):
        client.problem = f"{CLI} not found: apt-get install remctl-client"
        return client
    client.argv = [sys.executable, os.path.join(WORKERS, "cli.py")]
    client.env = {"REMCTL_BENCH_CLI": CLI}
    return client


# --------------------------------------------------------------------------
# Running workers


class Runner:
    def __init__(self, env_object, clients: dict, plan: Plan):
        self.test_env = env_object
        self.clients = clients
        self.plan = plan
        self.failures: list = []
        self.base = {
            "host": env_object.host,
            "port": env_object.port,
            "principal": env_object.principal,
        }

    def worker_env(self, client: Client) -> dict:
        env = self.test_env.subprocess_env()
        for name in client.unset:
            env.pop(name, None)
        env.update(client.env)
        return env

    def run(
        self, client_name: str, workload: str, params: dict, prefix=()
    ) -> dict | None:
        """Run one worker; return its JSON, or None after recording a failure."""
        client = self.clients[client_name]
        if client.problem:
            return None
        full = dict(self.base)
        full.update(params)
        command = list(prefix) + list(client.argv) + [workload, json.dumps(full)]
        what = f"{client_name} {workload} {json.dumps(params)}"
        return self.execute(client_name, command, self.worker_env(client), what)

    def execute(self, label: str, command: list, env: dict, what: str) -> dict | None:
        """Run a program that prints JSON on its last line of output."""
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: it and its children
        )
        try:
            out, err = process.communicate(timeout=self.plan.worker_timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            self.fail(
                label, f"{what}: timed out after {self.plan.worker_timeout_s:g} s"
            )
            return None
        lines = out.decode(errors="replace").strip().splitlines()
        try:
            result = json.loads(lines[-1])
        except (IndexError, ValueError):
            result = {
                "ok": False,
                "error": f"no JSON output (exit {process.returncode})",
            }
        if process.returncode != 0 or not result.get("ok", True):
            detail = result.get("error", "")
            stderr = err.decode(errors="replace").strip()[-1500:]
            self.fail(label, f"{what}: {detail}\n{result.get('traceback', '')}{stderr}")
            return None
        return result

    def fail(self, client_name: str, message: str) -> None:
        log(f"FAILED {message}")
        self.failures.append(f"{client_name}: {message}")

    def rounds(self, names, workload, params, reps) -> dict:
        """reps repetitions, alternating between clients: {client: [results]}."""
        results = {name: [] for name in names}
        for index in range(reps):
            for name in names:
                if self.clients[name].problem:
                    continue
                result = self.run(name, workload, params)
                if result is not None:
                    result["round"] = index  # pairs the clients' runs
                    results[name].append(result)
        return results


# --------------------------------------------------------------------------
# The workloads


def median_of(results: list, key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def paired_ratios(groups: list, key: str) -> dict:
    """{other client: median of ours / other over runs of the same round}.

    groups: results of Runner.rounds(), {client: [results]}, one per
    setting; a run is paired with the other client's run of its round.
    """
    ratios = {}
    names = {name for group in groups for name in group if name != "ours"}
    for name in sorted(names):
        paired = []
        for group in groups:
            others = {r["round"]: r for r in group.get(name, [])}
            for ours in group.get("ours", []):
                other = others.get(ours["round"])
                if other and other.get(key) and ours.get(key) is not None:
                    paired.append(ours[key] / other[key])
        if paired:
            ratios[name] = statistics.median(paired)
    return ratios


def fmt_size(size: int) -> str:
    return f"{size // MiB} MiB" if size >= MiB else f"{size // 1024} KiB"


class Bench:
    def __init__(
        self,
        runner: Runner,
        names: list,
        plan: Plan,
        perf: bool,
        floor_program: str | None,
    ):
        self.runner = runner
        self.floor_program = floor_program
        self.names = names
        self.plan = plan
        self.perf = perf
        self.rows: list = []  # (number, workload, metric, {client: value}, better)
        self.notes: list = []
        self.raw: dict = {}

    def has(self, *wanted):
        return [n for n in self.names if n in wanted]

    def row(
        self, number, workload, metric, values, better="lower", digits=2, ratios=None
    ):
        """ratios, when given, replaces ours / other in the ratio columns."""
        self.rows.append((number, workload, metric, values, better, digits, ratios))

    def w_repeat(self, number, title, command, expect):
        plan = self.plan
        log(f"workload {number}: {title}")
        params = {
            "command": command,
            "expect_stdout": expect,
            "count": plan.echo_count,
            "warmup": 5,
            "budget_s": plan.repeat_budget_s,
        }
        results = self.runner.rounds(
            self.has("ours", "debian", "purepy"), "repeat", params, plan.echo_reps
        )
        self.raw[f"w{number}"] = results
        self.row(
            number,
            title,
            "ms per command (median)",
            {n: median_of(r, "median_ms") for n, r in results.items()},
            digits=3,
        )
        self.row(
            number,
            title,
            f"ms per command, {len(results.get('ours', []))} runs each, "
            "ratios of runs paired in time (median run; ratio: median paired ratio)",
            {n: median_of(r, "median_ms") for n, r in results.items()},
            digits=3,
            ratios=paired_ratios([results], "median_ms"),
        )
        self.row(
            number,
            title,
            "ms per command (10th percentile)",
            {n: median_of(r, "p10_ms") for n, r in results.items()},
            digits=3,
        )
        self.row(
            number,
            title,
            "client CPU ms per command",
            {n: median_of(r, "cpu_ms_per_cmd") for n, r in results.items()},
            digits=3,
        )

    def w_simple(self):
        plan = self.plan
        title = "simple call (connect, auth, run, close), one line"
        log(f"workload 3: {title}")
        params = {
            "command": ["test", "echo", "hello"],
            "expect_stdout": "hello\n",
            "count": plan.simple_count,
            "warmup": 1,
        }
        results = self.runner.rounds(
            self.has("ours", "debian", "purepy", "cli"),
            "simple",
            params,
            plan.simple_reps,
        )
        self.raw["w3"] = results
        self.row(
            3,
            title,
            "ms per call (median)",
            {n: median_of(r, "median_ms") for n, r in results.items()},
        )
        self.row(
            3,
            title,
            "client CPU ms per call",
            {n: median_of(r, "cpu_ms_per_call") for n, r in results.items()},
        )
        if "cli" in results:
            self.notes.append(
                "3: the CLI's time is a whole process run (exec, library start-up, "
                "connect, auth, command); the modules' is one remctl() call in a "
                "running interpreter."
            )

    def w_stream(self):
        plan = self.plan
        names = self.has("ours", "debian", "purepy", "cli")
        title = "stream through output()"
        log(f"workload 4: {title}, sizes {[fmt_size(s) for s in plan.stream_sizes]}")
        per_size = {}
        for index, size in enumerate(plan.stream_sizes):
            params = {"size": size, "verify": index == 0}
            reps = plan.stream_reps.get(size, 1)
            per_size[size] = self.runner.rounds(names, "stream", params, reps)
        self.raw["w4"] = {str(k): v for k, v in per_size.items()}
        for size, results in per_size.items():
            self.row(
                4,
                f"stream {fmt_size(size)}",
                "client CPU ms per MiB",
                {n: median_of(r, "cpu_ms_per_mib") for n, r in results.items()},
            )
        for size, results in per_size.items():
            self.row(
                4,
                f"stream {fmt_size(size)}",
                "wall MiB/s",
                {n: median_of(r, "mib_per_s") for n, r in results.items()},
                better="higher",
                digits=1,
            )
        # Linear growth: least-squares fit of CPU seconds against MiB; the
        # slope is the marginal cost, free of start-up and authentication.
        # Linear means a constant CPU per MiB: its spread over the sizes of
        # 16 MiB and more (below that, fixed costs and noise dominate).
        self.slopes, spread = {}, {}
        for name in names:
            points = [
                (size / MiB, median_of(per_size[size][name], "cpu_s"))
                for size in plan.stream_sizes
                if per_size[size].get(name)
            ]
            if len(points) >= 2:
                slope, _ = fit(points)
                self.slopes[name] = slope * 1000
                judged = [cpu / mib for mib, cpu in points if mib >= 16] or [
                    cpu / mib for mib, cpu in points
                ]
                spread[name] = max(judged) / min(judged)
        self.paired_stream_row(names, per_size)
        first, last = fmt_size(plan.stream_sizes[0]), fmt_size(plan.stream_sizes[-1])
        self.row(
            4,
            f"stream, line fitted to CPU over {first}..{last}",
            "CPU ms per MiB (slope)",
            self.slopes,
        )
        judged_from = fmt_size(max(16 * MiB, plan.stream_sizes[0]))
        if plan.stream_sizes[-1] < 16 * MiB:
            judged_from = first
        self.row(
            4,
            f"stream, linearity over {judged_from}..{last}",
            "CPU per MiB, largest / smallest",
            spread,
            better="info",
        )
        largest = plan.stream_sizes[-1]
        self.row(
            6,
            f"memory: stream {fmt_size(largest)} through output()",
            "peak RSS MiB",
            {
                n: (median_of(r, "peak_rss_kib") or 0) / 1024 or None
                for n, r in per_size[largest].items()
            },
            digits=1,
        )
        self.row(
            6,
            f"memory: stream {fmt_size(largest)} through output()",
            "RSS before the command, MiB",
            {
                n: (median_of(r, "rss_before_kib") or 0) / 1024 or None
                for n, r in per_size[largest].items()
            },
            better="info",
            digits=1,
        )
        tokens = [
            r[0]["tokens"]
            for r in per_size[largest].values()
            if r and r[0].get("tokens")
        ]
        # The server's message size: the client with the most tokens returns
        # one per message (ours joins messages already received).
        self.chunk = round(largest / max(tokens)) if tokens else 4096

    def paired_stream_row(self, names: list, per_size: dict) -> None:
        """CPU per MiB compared run by run, over the large sizes.

        Each repetition runs every client back to back, so the ratio within
        one repetition cancels most of the machine's load changes, which
        move CPU times by 10% and more between minutes on a shared host.
        The median of those paired ratios is the steadiest comparison.
        """
        big = [s for s in self.plan.stream_sizes if s >= 64 * MiB]
        big = big or self.plan.stream_sizes[-1:]
        values = {}
        for name in names:
            runs = [r for size in big for r in per_size[size].get(name, [])]
            if runs:
                values[name] = statistics.median(r["cpu_ms_per_mib"] for r in runs)
        groups = [per_size[size] for size in big]
        count = sum(len(per_size[size].get("ours", [])) for size in big)
        title = (
            f"stream {fmt_size(big[0])}..{fmt_size(big[-1])}, {count} runs each, "
            "ratios of runs paired in time"
        )
        self.row(
            4,
            title,
            "client CPU ms per MiB (median run; ratio: median paired ratio)",
            values,
            ratios=paired_ratios(groups, "cpu_ms_per_mib"),
        )
        self.row(
            4,
            title,
            "wall MiB/s (median run; ratio: median paired ratio)",
            {
                name: statistics.median(
                    r["mib_per_s"] for group in groups for r in group.get(name, [])
                )
                for name in values
            },
            better="higher",
            digits=1,
            ratios=paired_ratios(groups, "mib_per_s"),
        )

    def w_unwrap_split(self, floor_program: str | None):
        """How much of each client's streaming CPU is GSS-API unwrap."""
        plan = self.plan
        if floor_program is None:
            return
        env = self.runner.test_env.subprocess_env()
        env["KRB5_KTNAME"] = "FILE:" + self.runner.test_env.service_keytab
        env["KRB5RCACHENAME"] = "none:"
        command = [
            floor_program,
            self.runner.test_env.principal,
            str(self.chunk),
            str(plan.floor_size),
        ]
        floors = []
        for _ in range(plan.floor_reps):
            result = self.runner.execute(
                "gss_unwrap_floor",
                command,
                env,
                "gss_unwrap_floor " + " ".join(command[1:]),
            )
            if result:
                floors.append(result["cpu_ms_per_mib"])
        if not floors:
            return
        floor = statistics.median(floors)
        self.raw["gss_unwrap_floor"] = {"chunk": self.chunk, "cpu_ms_per_mib": floors}
        with_slope = [n for n in self.slopes]
        self.row(
            4,
            "stream: gss_unwrap alone (C, same messages)",
            "CPU ms per MiB",
            {n: floor for n in with_slope},
            better="info",
        )
        self.row(
            4,
            "stream: everything but gss_unwrap",
            "slope minus gss_unwrap, ms per MiB",
            {n: self.slopes[n] - floor for n in with_slope},
        )
        self.row(
            4,
            "stream: gss_unwrap share of the client's CPU",
            "%",
            {n: 100 * floor / self.slopes[n] for n in with_slope if self.slopes[n] > 0},
            better="info",
            digits=0,
        )
        self.notes.append(
            f"4: gss_unwrap alone: bench/gss_unwrap_floor.c unwraps {plan.floor_size // MiB} MiB "
            f"of OUTPUT messages with {self.chunk}-byte bodies (remctld's token size here), "
            "sealed in-process with the realm's service key; the floor every client pays."
        )
        if self.perf:
            self.w_perf_split()

    def w_perf_split(self):
        """gss_unwrap's time inside each client, sampled by perf (cpu-clock)."""
        if not perf_works():
            self.notes.append("4: perf is not usable here; the perf split was skipped")
            return
        size = self.plan.perf_size
        unwrap_ms, rest_ms = {}, {}
        tmp = tempfile.mkdtemp(prefix="remctl-bench-perf-")
        try:
            for name in self.has("ours", "debian", "purepy", "cli"):
                data = os.path.join(tmp, f"{name}.data")
                prefix = [
                    "perf",
                    "record",
                    "-q",
                    "-e",
                    "cpu-clock",
                    "-F",
                    "2000",
                    "--call-graph",
                    "dwarf,16384",
                    "-o",
                    data,
                    "--",
                ]
                result = self.runner.run(name, "stream", {"size": size}, prefix=prefix)
                if result is None or not os.path.exists(data):
                    continue
                unwrap_ns = perf_unwrap_ns(data)
                unwrap_ms[name] = unwrap_ns / 1e6 / (size / MiB)
                rest_ms[name] = result["cpu_ms_per_mib"] - unwrap_ms[name]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.row(
            4,
            f"stream {fmt_size(size)} under perf: in gss_unwrap",
            "CPU ms per MiB",
            unwrap_ms,
            better="info",
        )
        self.row(
            4,
            f"stream {fmt_size(size)} under perf: everything else",
            "CPU ms per MiB",
            rest_ms,
        )
        self.notes.append(
            "4: under perf: samples (cpu-clock, 2 kHz, DWARF call graphs) with gss_unwrap "
            "on the stack, against the run's own CPU per MiB; perf slows every client."
        )

    def w_threads(self):
        plan = self.plan
        for key, (threads, commands, sleep) in (
            ("w5a", plan.threads),
            ("w5b", plan.connections),
        ):
            if commands == 1:
                title = (
                    f"{threads} connections at once, 1 command sleeping {sleep} s each"
                )
            else:
                title = f"{threads} threads x {commands} commands sleeping {sleep} s"
            log(f"workload 5: {title}")
            params = {
                "command": ["test", "sleep", str(sleep)],
                "expect_stdout": "slept\n",
                "threads": threads,
                "commands": commands,
                "open_concurrency": 4,
            }
            results = self.runner.rounds(
                self.has("ours", "debian", "purepy"), "threads", params, 1
            )
            self.raw[key] = results
            self.row(
                5,
                title,
                "total wall s",
                {n: median_of(r, "wall_s") for n, r in results.items()},
            )
        self.notes.append(
            "5: one connection per thread, all threads started together, the time from "
            "start to the last answer (opening included). At most 4 threads connect at "
            "the same moment: stock remctld listens with a backlog of 5, and more "
            "simultaneous connects overflow it (SYN cookies, resets, 1 s SYN "
            "retransmits) whatever the client. The CLI does not fit (no threads)."
        )

    def w_simple_big(self):
        plan = self.plan
        title = f"memory: simple call returning {fmt_size(plan.simple_big)}"
        log(f"workload 6: {title}")
        results = self.runner.rounds(
            self.has("ours", "debian"), "simple_big", {"size": plan.simple_big}, 1
        )
        self.raw["w6b"] = results
        self.row(
            6,
            title,
            "peak RSS MiB",
            {
                n: (median_of(r, "peak_rss_kib") or 0) / 1024 or None
                for n, r in results.items()
            },
            digits=1,
        )

    def w_many(self):
        plan = self.plan
        title = f"{plan.many_count} one-line commands on one connection"
        log(f"workload 7: {title}")
        params = {
            "command": ["test", "echo", "hello"],
            "expect_stdout": "hello\n",
            "count": plan.many_count,
            "warmup": 5,
            "budget_s": plan.many_budget_s,
        }
        results = self.runner.rounds(
            self.has("ours", "debian", "purepy"), "repeat", params, 1
        )
        self.raw["w7"] = results
        self.row(
            7,
            title,
            "commands per second",
            {n: median_of(r, "per_s") for n, r in results.items()},
            better="higher",
            digits=1,
        )
        cut = {
            n: r[0]["count"] for n, r in results.items() if r and r[0].get("truncated")
        }
        if cut:
            done = ", ".join(f"{LABELS[n]} {c}" for n, c in cut.items())
            self.notes.append(
                f"7: stopped after the {plan.many_budget_s:g} s budget: {done} commands "
                "(rate measured over those)."
            )

    def run_all(self):
        self.w_repeat(
            1,
            "one-line command, kept-alive connection",
            ["test", "echo", "hello"],
            "hello\n",
        )
        self.w_repeat(
            2,
            "command printing nothing, kept-alive connection",
            ["test", "nothing"],
            "",
        )
        self.w_simple()
        self.w_stream()
        self.w_unwrap_split(self.floor_program)
        self.w_threads()
        self.w_simple_big()
        self.w_many()


def fit(points):
    """Least-squares line through (x, y) points: (slope, intercept)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx if sxx else 0.0
    return slope, mean_y - slope * mean_x


def perf_works() -> bool:
    if shutil.which("perf") is None:
        return False
    probe = subprocess.run(
        ["perf", "record", "-q", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"],
        check=False,
        capture_output=True,
    )
    return probe.returncode == 0


def perf_unwrap_ns(data: str) -> int:
    """CPU ns of the samples in a perf.data that have gss_unwrap on the stack."""
    script = subprocess.Popen(
        ["perf", "script", "-i", data, "-F", "period,ip,sym"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert script.stdout is not None
    unwrap_ns = period = 0
    in_unwrap = False
    for raw in script.stdout:
        line = raw.strip()
        if not line:
            continue
        if not raw.startswith(b"\t"):
            # A sample's first line is its period (ns for cpu-clock).
            if in_unwrap:
                unwrap_ns += period
            period, in_unwrap = int(line.split()[0]), False
        elif re.search(rb"\sgss_unwrap(\s|$)", line):
            in_unwrap = True
    if in_unwrap:
        unwrap_ns += period
    script.wait()
    return unwrap_ns


# --------------------------------------------------------------------------
# The table


def format_value(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def format_ratio(ours, other):
    if ours is None or other is None or other == 0:
        return "-"
    ratio = ours / other
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


def render(bench: Bench) -> str:
    """The table, in Markdown, rows in workload order."""
    names = bench.names
    others = [n for n in names if n != "ours"] if "ours" in names else []
    header = ["#", "workload", "metric", "better"] + [LABELS[n] for n in names]
    header += [f"ours / {LABELS[n]}" for n in others]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i < 4 else "---:" for i in range(len(header))) + "|",
    ]
    rows = sorted(bench.rows, key=lambda row: row[0])  # stable: keeps order within
    for number, workload, metric, values, better, digits, ratios in rows:
        cells = [str(number), workload, metric, "" if better == "info" else better]
        cells += [format_value(values.get(n), digits) for n in names]
        if ratios is not None:
            cells += [format_ratio(ratios.get(n), 1.0) for n in others]
        else:
            cells += [
                ""
                if better == "info"
                else format_ratio(values.get("ours"), values.get(n))
                for n in others
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def checkout() -> str:
    """The commit of this checkout, marked when the work tree differs."""
    try:
        head = subprocess.run(
            ["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + (" with local changes" if dirty else "")


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}"


# --------------------------------------------------------------------------


def load_harness(clients: dict):
    """remctl.testing.RemctlTestEnvironment from this checkout.

    The harness needs only the standard library, but importing it through
    the package loads the C library; if that fails (say, the library under
    test is broken), load the module file on its own, so that the failure
    is reported as the client's, in the table.
    """
    if "ours" in clients and "REMCTL_LIBRARY" in clients["ours"].env:
        os.environ.setdefault("REMCTL_LIBRARY", clients["ours"].env["REMCTL_LIBRARY"])
    sys.path.insert(0, os.path.join(REPO, "python"))
    try:
        from remctl.testing import RemctlTestEnvironment
    except ImportError as exc:
        log(
            f"importing remctl.testing through the package failed ({exc}); "
            "loading python/remctl/testing.py by itself"
        )
        path = os.path.join(REPO, "python", "remctl", "testing.py")
        spec = importlib.util.spec_from_file_location("_bench_remctl_testing", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module.RemctlTestEnvironment
    return RemctlTestEnvironment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and counts (CI); no timing assertions",
    )
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help="comma-separated subset of: " + ", ".join(CLIENTS),
    )
    parser.add_argument(
        "--python",
        default=default_python(),
        help="interpreter for ours (checkout) and the purepy venv "
        "(default: %(default)s, the one Debian's module runs on)",
    )
    parser.add_argument(
        "--ours-python",
        help="interpreter with our wheel installed (default: this checkout)",
    )
    parser.add_argument(
        "--library",
        help="libremctl.so.1 for the checkout (default: $REMCTL_LIBRARY, else build)",
    )
    parser.add_argument(
        "--cache-dir",
        help="where the build and the purepy venv live (default ~/.cache/remctl-bench)",
    )
    parser.add_argument(
        "--perf",
        dest="perf",
        action="store_true",
        default=None,
        help="measure the gss_unwrap share with perf (default: in full mode)",
    )
    parser.add_argument("--no-perf", dest="perf", action="store_false")
    parser.add_argument("--json", help="write every raw measurement to this file")
    args = parser.parse_args()

    plan = QUICK if args.quick else FULL
    names = [n.strip() for n in args.clients.split(",") if n.strip()]
    unknown = [n for n in names if n not in CLIENTS]
    if unknown or not names:
        parser.error(f"unknown clients {unknown}; choose from {', '.join(CLIENTS)}")
    perf = (not args.quick) if args.perf is None else args.perf
    cache = cache_dir(args)
    os.makedirs(cache, exist_ok=True)

    clients = {}
    problems = []
    try:
        for name in names:
            if name == "ours":
                clients[name] = setup_ours(args, cache)
            elif name == "debian":
                clients[name] = setup_debian()
            elif name == "purepy":
                clients[name] = setup_purepy(cache, args.python)
            elif name == "cli":
                clients[name] = setup_cli()
        floor_program = build_floor(cache)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        log(f"setup failed: {exc}")
        return 1
    for client in clients.values():
        if client.problem:
            problems.append(f"{client.name}: cannot be set up: {client.problem}")
            log(problems[-1])

    RemctlTestEnvironment = load_harness(clients)

    started = time.monotonic()
    log("starting a throwaway realm and remctld")
    with RemctlTestEnvironment(
        os.path.join(REPO, "tests", "server", "remctl.conf.in"),
        os.path.join(REPO, "tests", "server", "scripts"),
    ) as test_env:
        runner = Runner(test_env, clients, plan)
        for name, client in clients.items():
            if not client.problem:
                info = runner.run(name, "describe", {})
                if info:
                    info.pop("ok", None)
                    client.info = info
                    log(f"{name}: {json.dumps(info)}")
                else:  # already recorded as a failure; skip its workloads
                    client.problem = "it failed its first connection"
        bench = Bench(runner, names, plan, perf, floor_program)
        bench.run_all()
    elapsed = time.monotonic() - started

    mode = "quick" if args.quick else "full"
    command = "python bench/run.py" + (" --quick" if args.quick else "")
    print(f"remctl clients compared ({mode} mode, {elapsed:.0f} s): `{command}`")
    print(f"machine: {machine()}")
    pythons = sorted(
        {c.info["python"] for c in clients.values() if c.info.get("python")}
    )
    print(
        f"Python clients run on: {args.python} ({', '.join(pythons) or '?'}); "
        f"checkout {checkout()}"
    )
    print()
    print(render(bench))
    print()
    print("Values are medians over repetitions (each repetition a fresh process;")
    print("clients alternate). Ratios are ours / other: below 1 is better for ours")
    print("where lower is better, above 1 where higher is better.")
    for note in bench.notes:
        print(f"- {note}")
    print()
    for name, client in clients.items():
        print(
            f"{LABELS[name]}: {json.dumps(client.info) if client.info else client.problem}"
        )

    failures = problems + runner.failures
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "mode": mode,
                    "machine": machine(),
                    "clients": {n: c.info for n, c in clients.items()},
                    "rows": [list(r) for r in bench.rows],
                    "raw": bench.raw,
                    "failures": failures,
                },
                handle,
                indent=1,
            )
    if failures:
        print()
        print(f"{len(failures)} functional failure(s):")
        for failure in failures:
            print(f"- {failure.splitlines()[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
