"""The workloads of the comparison, run through every client that fits
each, and turned into table rows (see bench/README.md for each workload)."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile

from runner import Runner
from settings import LABELS, MiB, Plan, log


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
