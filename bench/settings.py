"""Benchmark settings: paths, the clients compared, and the plans of the
full and quick modes (sizes, counts, repetitions, time budgets)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

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
