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

The parts: settings.py (paths, clients, the plans of the two modes),
clients.py (setting each client up), runner.py (running one worker),
workloads.py (the workloads and their rows), report.py (the table).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from clients import build_floor, cache_dir, default_python, load_harness, setup_clients
from report import print_failures, print_report, write_json
from runner import Runner
from settings import CLIENTS, FULL, QUICK, REPO, log
from workloads import Bench


def parse_arguments() -> argparse.Namespace:
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
    names = [n.strip() for n in args.clients.split(",") if n.strip()]
    unknown = [n for n in names if n not in CLIENTS]
    if unknown or not names:
        parser.error(f"unknown clients {unknown}; choose from {', '.join(CLIENTS)}")
    args.client_names = names
    return args


def main() -> int:
    args = parse_arguments()

    plan = QUICK if args.quick else FULL
    names = args.client_names
    perf = (not args.quick) if args.perf is None else args.perf
    cache = cache_dir(args)
    os.makedirs(cache, exist_ok=True)

    problems = []
    try:
        clients = setup_clients(names, args, cache)
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

    print_report(bench, clients, args.quick, args.python, elapsed)

    failures = problems + runner.failures
    if args.json:
        write_json(args.json, bench, clients, args.quick, failures)
    if failures:
        print_failures(failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
