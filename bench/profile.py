#!/usr/bin/env python3
"""Where a client's CPU goes, counted rather than timed.

    python bench/profile.py                    # ours, Debian's module, the CLI
    python bench/profile.py --ours-pythonpath /tmp/changed/python --library L

On a shared machine CPU times move by tens of percent from run to run;
instruction counts do not.  For each client and workload this runs the
bench worker twice under callgrind (valgrind), at a small and a large count
(commands, or MiB streamed), and divides the difference by the difference in
count: user-space instructions per command or per MiB, with start-up and
authentication cancelled out, split by component (GSS-API and Kerberos
crypto, the Python interpreter, ctypes and libffi, libremctl, libc) and with
gss_unwrap and gss_wrap inclusive.  The same pair of runs under strace gives
system calls per command or per MiB.

Workloads: "echo" (workloads 1 and 7: `test echo hello` on one connection),
"nothing" (workload 2) and "stream" (workload 4).  Needs valgrind and strace.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import clients as client_setup  # bench/clients.py, after the path insert above
import settings
from runner import Runner

MiB = settings.MiB
GROUPS = (
    ("GSS-API + krb5 crypto", ("libk5crypto", "libgssapi", "libkrb5", "libcom_err")),
    ("Python interpreter", ("python3", "libpython")),
    (
        "binding (ctypes + libffi, or the C extension)",
        ("_ctypes", "libffi", "_remctl.cpython"),
    ),
    ("libremctl", ("libremctl",)),
    ("libc + ld.so", ("libc.so", "ld-linux")),
)
# name: (worker workload, params, small count, large count, unit, count key)
WORKLOADS = {
    "echo": (
        "repeat",
        {"command": ["test", "echo", "hello"], "expect_stdout": "hello\n"},
        100,
        600,
        1,
        "count",
    ),
    "nothing": (
        "repeat",
        {"command": ["test", "nothing"], "expect_stdout": ""},
        100,
        600,
        1,
        "count",
    ),
    "stream": ("stream", {}, 2 * MiB, 10 * MiB, MiB, "size"),
}


def group_of(obj: str) -> str:
    for name, needles in GROUPS:
        if any(needle in obj for needle in needles):
            return name
    return "other"


def callgrind_counts(command: list, env: dict, tmp: str) -> collections.Counter:
    out = os.path.join(tmp, "callgrind.out")
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=1800,
    )
    counts: collections.Counter = collections.Counter()
    flat = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", out],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in flat.splitlines():
        match = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+.*\[(.*)\]\s*$", line)
        if match:
            counts[group_of(match.group(2))] += int(match.group(1).replace(",", ""))
    inclusive = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in inclusive.splitlines():
        match = re.match(
            r"\s*([\d,]+) \([ \d.]+%\)\s+\S*:(gss_unwrap|gss_wrap) \[", line
        )
        if match:
            key = f"{match.group(2)} (inclusive)"
            counts[key] = max(counts[key], int(match.group(1).replace(",", "")))
    os.unlink(out)
    return counts


def strace_counts(command: list, env: dict, tmp: str) -> collections.Counter:
    out = os.path.join(tmp, "strace.out")
    subprocess.run(
        ["strace", "-f", "-c", "-o", out, *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=1800,
    )
    counts: collections.Counter = collections.Counter()
    with open(out, encoding="utf-8") as summary:
        for line in summary:
            fields = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
                counts[fields[-1]] += int(fields[3])
    os.unlink(out)
    return counts


def worker_command(runner, client, workload: str, params: dict) -> list:
    if client.name == "cli":
        size = params["size"]
        return [
            settings.CLI,
            "-p",
            str(runner.base["port"]),
            "-s",
            runner.base["principal"],
            runner.base["host"],
            "test",
            "stream",
            str(size),
        ]
    full = dict(runner.base)
    full.update(params)
    return [*client.argv, workload, json.dumps(full)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="ours,debian,cli")
    parser.add_argument("--workloads", default="echo,nothing,stream")
    parser.add_argument("--python", default=client_setup.default_python())
    parser.add_argument("--library", help="libremctl.so.1 for ours (default: build)")
    parser.add_argument(
        "--ours-pythonpath",
        help="directory holding the remctl package to profile as ours",
    )
    parser.add_argument("--cache-dir")
    parser.add_argument("--ours-python", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_annotate", "strace"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is needed (apt-get install valgrind strace)")
    cache = client_setup.cache_dir(args)
    os.makedirs(cache, exist_ok=True)
    clients = {}
    for name in args.clients.split(","):
        if name == "ours":
            clients[name] = client_setup.setup_ours(args, cache)
            if args.ours_pythonpath:
                clients[name].env["PYTHONPATH"] = os.path.abspath(args.ours_pythonpath)
        elif name == "debian":
            clients[name] = client_setup.setup_debian()
        elif name == "cli":
            clients[name] = client_setup.setup_cli()
        else:
            parser.error(f"cannot profile client {name}")
    environment = client_setup.load_harness(clients)
    rows = []
    with (
        environment(
            os.path.join(settings.REPO, "tests", "server", "remctl.conf.in"),
            os.path.join(settings.REPO, "tests", "server", "scripts"),
        ) as test_env,
        tempfile.TemporaryDirectory(prefix="remctl-profile-") as tmp,
    ):
        runner = Runner(test_env, clients, settings.FULL)
        for workload_name in args.workloads.split(","):
            workload, params, small, large, unit, key = WORKLOADS[workload_name]
            for name, client in clients.items():
                if client.problem or (name == "cli" and workload != "stream"):
                    continue
                env = runner.worker_env(client)
                settings.log(f"profiling {name} {workload_name}")
                results = []
                for count in (small, large):
                    command = worker_command(
                        runner, client, workload, {**params, key: count}
                    )
                    results.append(
                        (
                            callgrind_counts(command, env, tmp),
                            strace_counts(command, env, tmp),
                        )
                    )
                per = (large - small) / unit
                (instr_small, calls_small), (instr_large, calls_large) = results
                instr = {
                    k: (instr_large[k] - instr_small[k]) / per
                    for k in set(instr_small) | set(instr_large)
                }
                calls = {
                    k: (calls_large[k] - calls_small[k]) / per
                    for k in set(calls_small) | set(calls_large)
                }
                rows.append((workload_name, name, instr, calls))
    unit_of = {"echo": "per command", "nothing": "per command", "stream": "per MiB"}
    for workload_name, name, instr, calls in rows:
        total = sum(v for k, v in instr.items() if "inclusive" not in k)
        print(
            f"{workload_name} ({unit_of[workload_name]}), {settings.LABELS[name]}: "
            f"{total:,.0f} user-space instructions"
        )
        for key in sorted(instr, key=lambda k: -instr[k]):
            if abs(instr[key]) >= 0.005 * total:
                print(f"    {instr[key]:>14,.0f}  {key}")
        busy = {k: v for k, v in calls.items() if abs(v) >= 0.05}
        print(
            "    system calls: "
            + ", ".join(
                f"{k} {v:.2f}" for k, v in sorted(busy.items(), key=lambda kv: -kv[1])
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
