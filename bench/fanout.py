#!/usr/bin/env python3
"""Fan-out benchmark: one command on many remctld servers, side by side.

    python bench/fanout.py               # 200 hosts, 3 rounds (a few minutes on 2 cores)
    python bench/fanout.py --quick       # 16 hosts, a few seconds (CI)
    python bench/fanout.py --hosts 100   # another fleet size

One command starts a throwaway realm (remctl.testing) and a fleet of remctld
servers, one per loopback address (remctl.testing's fleet helper), then runs
the one-line command ``fleet hello`` on every host with:

    remctl(1) loop       a bash loop over Debian's /usr/bin/remctl
    python3-pyremctl     a loop over Debian's module, remctl.remctl() per host
    run_many -j N        remctl.run_many at concurrency 1, 16 and 64
    remctl-py -f -j 64   our command-line client in fan-out mode

and prints a Markdown table: wall time, time per host, speed-up over the
remctl(1) loop, the client's CPU time per host (user and system, its
children included: the loop's remctl processes), peak RSS and the most
threads at once (the main thread included).  A last row runs
``fleet kib`` (one line of 1 KiB) on 1,000 hosts, simulated by repeating
the fleet's hosts, for the peak RSS of holding 1,000 results.  Another
runs ``run_many`` at concurrency 64 with a ticket cache crowded by 1,000
more service tickets (of principals made for it), as a cache is after
fan-outs over other hosts.

Every client runs in its own process (peak RSS from wait4(); threads from
/proc).  All clients share the ticket cache, which a first run fills with a
service ticket per host, so no client pays the KDC round trips.  Each client
runs once per round and rounds alternate between the clients (``--repeat``,
3 by default); each row gives the median.  On a shared machine, compare the
ratios of one run, not the absolute times.  The exit status is 1 if any client gave a wrong answer.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
WORKERS = os.path.join(BENCH, "workers")
SERVER = os.path.join(REPO, "tests", "server")
SYSTEM_PYTHON = "/usr/bin/python3"
DEBIAN_CLI = "/usr/bin/remctl"
GNU_TIME = "/usr/bin/time"
COMMAND = ["fleet", "hello"]
MEMORY_HOSTS_FULL = 1000
MEMORY_HOSTS_QUICK = 100
CROWDED_TICKETS = 1000  # other service tickets in the cache of one row
CROWDED_TICKETS_QUICK = 100


@dataclass
class Row:
    client: str
    hosts: int
    wall: float
    hwm_kib: int
    threads: int | str
    ok: bool
    note: str = ""
    cpu: float = 0.0  # user + system seconds of the client (and its children)


def log(message: str) -> None:
    sys.stderr.write(f"[fanout] {message}\n")
    sys.stderr.flush()


def measure(
    argv: list[str], env: dict[str, str], peak_rss: bool = False
) -> tuple[float, int, float, int, bytes, bytes]:
    """Run argv; return wall seconds, peak RSS in KiB and CPU seconds (0 if
    not asked or unknown), exit status, stdout and stderr.

    Peak RSS and CPU come from GNU time (``%M``: the largest of the process
    and the children it waited for; ``%U %S``: user and system time of
    both).  wait4() here would not do: the kernel counts in a child's peak
    the memory of this process it was forked from.
    """
    timed = peak_rss and os.path.exists(GNU_TIME)
    if timed:
        argv = [GNU_TIME, "-f", "%M %U %S", *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        code = subprocess.call(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
    peak, cpu = 0, 0.0
    if timed:
        errors, _, last = errors.rstrip(b"\n").rpartition(b"\n")
        fields = last.split()
        if len(fields) == 3 and fields[0].isdigit():
            peak, cpu = int(fields[0]), float(fields[1]) + float(fields[2])
    return wall, peak, cpu, code, output, errors


def worker_row(
    client: str, argv: list[str], env: dict[str, str], hosts: int, note: str = ""
) -> Row:
    _, _, _, code, out, err = measure(argv, env)
    try:
        report = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        log(f"{client}: no report (exit {code}): {err.decode()[-2000:]}")
        return Row(client, hosts, 0.0, 0, "-", False, "failed")
    if not report.get("ok"):
        log(f"{client}: wrong answers: {report}")
    return Row(
        client,
        hosts,
        report["wall"],
        report.get("hwm_kib", 0),
        report.get("threads", "-"),
        bool(report.get("ok")) and code == 0,
        note,
        report.get("cpu", 0.0),
    )


def run_many_row(
    client: str,
    hosts: list[str],
    port: int,
    concurrency: int,
    env: dict[str, str],
    command: list[str] = COMMAND,
    expect: str = "hello",
    note: str = "",
    ccache: str | None = None,
) -> Row:
    params = {
        "hosts": hosts,
        "port": port,
        "command": command,
        "concurrency": concurrency,
        "expect": expect,
        "timeout": 60,
        "ccache": ccache,
    }
    argv = [
        sys.executable,
        os.path.join(WORKERS, "fanout_run_many.py"),
        json.dumps(params),
    ]
    return worker_row(client, argv, env, len(hosts), note)


def shell_loop_row(
    hosts_file: str, hosts: list[str], port: int, env: dict[str, str]
) -> Row:
    script = (
        'while read -r host; do "$0" -p "$1" "$host" fleet hello || exit 1; done < "$2"'
    )
    argv = ["bash", "-c", script, DEBIAN_CLI, str(port), hosts_file]
    wall, hwm, cpu, code, out, err = measure(argv, env, peak_rss=True)
    want = "".join(f"hello from {host}\n" for host in hosts).encode()
    ok = code == 0 and out == want
    if not ok:
        log(f"remctl(1) loop: exit {code}, {err.decode()[-2000:]}")
    return Row(
        "remctl(1) loop (bash)",
        len(hosts),
        wall,
        hwm,
        1,
        ok,
        "one process per host",
        cpu,
    )


def cli_row(hosts_file: str, hosts: list[str], port: int, env: dict[str, str]) -> Row:
    argv = [
        sys.executable,
        "-m",
        "remctl",
        "-p",
        str(port),
        "-j",
        "64",
        "-f",
        hosts_file,
        *COMMAND,
    ]
    wall, hwm, cpu, code, out, err = measure(argv, env, peak_rss=True)
    want = sorted(f"{host}: hello from {host}" for host in hosts)
    ok = code == 0 and sorted(out.decode().splitlines()) == want
    if not ok:
        log(f"remctl-py: exit {code}, {err.decode()[-2000:]}")
    return Row(
        "remctl-py -f FILE -j 64",
        len(hosts),
        wall,
        hwm,
        "-",
        ok,
        "whole process",
        cpu,
    )


def crowded_cache(realm: Any, count: int) -> str:
    """A copy of the realm's ticket cache (a ticket per fleet host after the
    warm-up) holding ``count`` more service tickets, of principals made for
    it: what a cache looks like after fan-outs over other hosts."""
    from remctl.testing.programs import find_programs

    programs = find_programs()
    env = realm.subprocess_env()
    env["KRB5_KDC_PROFILE"] = realm.kdc_config
    path = os.path.join(realm.tmpdir, "krb5cc_crowded")
    shutil.copyfile(realm.ccache_path, path)
    names = [f"bench/other{number}" for number in range(count)]
    queries = "".join(f"addprinc -randkey {name}\n" for name in names)
    subprocess.run(
        [programs["kadmin.local"], "-r", realm.realm],
        input=queries + "quit\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    subprocess.run(
        ["kvno", "-q", "-c", path, *names],
        env=env,
        capture_output=True,
        check=True,
    )
    return "FILE:" + path


def combine(rounds: list[Row]) -> Row:
    """One row from the rounds of a client: median wall, largest memory."""
    first = rounds[0]
    threads = [r.threads for r in rounds if isinstance(r.threads, int)]
    return Row(
        first.client,
        first.hosts,
        statistics.median(r.wall for r in rounds),
        max(r.hwm_kib for r in rounds),
        max(threads) if threads else first.threads,
        all(r.ok for r in rounds),
        first.note,
        statistics.median(r.cpu for r in rounds),
    )


def table(rows: list[Row], baseline: Row) -> str:
    lines = [
        (
            "| client | hosts | wall (s) | ms per host | speed-up over remctl(1) loop"
            " | client CPU ms per host | peak RSS (MiB) | threads |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        per_host = 1000 * row.wall / row.hosts if row.hosts else 0.0
        if row is baseline or not baseline.wall or not row.wall:
            ratio = "1x" if row is baseline else "–"
        else:
            ratio = f"{(baseline.wall / baseline.hosts) / (row.wall / row.hosts):.1f}x"
        name = row.client + ("" if row.ok else " (FAILED)")
        if row.note:
            name += f" ({row.note})"
        cpu = f"{1000 * row.cpu / row.hosts:.2f}" if row.cpu and row.hosts else "–"
        memory = f"{row.hwm_kib / 1024:.1f}" if row.hwm_kib else "–"
        lines.append(
            f"| {name} | {row.hosts} | {row.wall:.2f} | {per_host:.1f} | {ratio}"
            f" | {cpu} | {memory} | {row.threads} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hosts", type=int, default=200, help="fleet size (default 200)"
    )
    parser.add_argument("--quick", action="store_true", help="16 hosts, 100 for memory")
    parser.add_argument(
        "--repeat", type=int, help="rounds over all clients (default 3, quick 1)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    count = 16 if args.quick else args.hosts
    memory_hosts = MEMORY_HOSTS_QUICK if args.quick else MEMORY_HOSTS_FULL
    repeat = args.repeat or (1 if args.quick else 3)
    missing = [
        p
        for p in (DEBIAN_CLI, SYSTEM_PYTHON, shutil.which("bash"), shutil.which("kvno"))
        if not p or not os.path.exists(p)
    ]
    if missing:
        log(f"missing programs: {missing}")
        return 1

    from remctl.testing import RemctlTestEnvironment
    from remctl.testing.fleet import RemctlFleet

    rows: list[Row] = []
    baseline: Row | None = None
    conf = os.path.join(SERVER, "remctl.conf.in")
    with RemctlTestEnvironment(conf, os.path.join(SERVER, "scripts")) as realm:
        started = time.monotonic()
        with RemctlFleet(realm, count) as fleet:
            log(
                f"{count} remctld servers started in {time.monotonic() - started:.1f} s"
            )
            env = realm.subprocess_env()
            hosts = fleet.addresses
            port = fleet.port
            with tempfile.NamedTemporaryFile(
                "w", suffix=".hosts", delete=False
            ) as handle:
                handle.write("\n".join(hosts) + "\n")
                hosts_file = handle.name
            try:
                log("warm-up: a service ticket for every host")
                warm = run_many_row("warm-up", hosts, port, 64, env)
                if not warm.ok:
                    log("warm-up failed")
                    return 1
                crowded_count = CROWDED_TICKETS_QUICK if args.quick else CROWDED_TICKETS
                crowded = crowded_cache(realm, crowded_count)
                debian = os.path.join(WORKERS, "fanout_debian_loop.py")
                params = json.dumps({"hosts": hosts, "port": port, "command": COMMAND})
                repeated = [hosts[i % count] for i in range(memory_hosts)]
                clients: list[tuple[str, Callable[[], Row]]] = [
                    (
                        "remctl(1) loop",
                        lambda: shell_loop_row(hosts_file, hosts, port, env),
                    ),
                    (
                        "python3-pyremctl loop",
                        lambda: worker_row(
                            "python3-pyremctl loop",
                            [SYSTEM_PYTHON, "-I", debian, params],
                            env,
                            count,
                        ),
                    ),
                    *[
                        (
                            f"run_many, concurrency {concurrency}",
                            functools.partial(
                                run_many_row,
                                f"remctl.run_many, concurrency {concurrency}",
                                hosts,
                                port,
                                concurrency,
                                env,
                            ),
                        )
                        for concurrency in (1, 16, 64)
                    ],
                    (
                        "run_many, crowded ticket cache",
                        lambda: run_many_row(
                            "remctl.run_many, concurrency 64",
                            hosts,
                            port,
                            64,
                            env,
                            note=f"{crowded_count:,} more tickets in the cache",
                            ccache=crowded,
                        ),
                    ),
                    ("remctl-py", lambda: cli_row(hosts_file, hosts, port, env)),
                    (
                        f"run_many, {memory_hosts} results of 1 KiB",
                        lambda: run_many_row(
                            "remctl.run_many, concurrency 64, `fleet kib`",
                            repeated,
                            port,
                            64,
                            env,
                            ["fleet", "kib"],
                            "kib",
                            f"{count} servers, each listed"
                            f" {memory_hosts // count}+ times",
                        ),
                    ),
                ]
                # Rounds alternate between the clients, so that changes in the
                # machine's load hit them alike; each row is their median.
                rounds: list[list[Row]] = [[] for _ in clients]
                for number in range(1, repeat + 1):
                    for (label, measure_client), results in zip(clients, rounds):
                        log(f"round {number}/{repeat}: {label}")
                        results.append(measure_client())
                rows = [combine(results) for results in rounds]
                baseline = rows[0]
            finally:
                os.unlink(hosts_file)
    assert baseline is not None
    print(
        f"`python bench/fanout.py {' '.join(sys.argv[1:])}`".replace(" `", "`")
        + f": {count} remctld servers on loopback, `{' '.join(COMMAND)}` on each,"
        f" median of {repeat} round{'s' if repeat > 1 else ''}\n"
    )
    print(table(rows, baseline))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump([asdict(row) for row in rows], handle, indent=1)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
