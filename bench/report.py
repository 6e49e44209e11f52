"""The report: the Markdown table of medians and ratios, the machine and
checkout it was measured on, the notes, and the raw JSON."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess

from clients import Client
from settings import LABELS, REPO
from workloads import Bench


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


def print_report(
    bench: Bench,
    clients: dict[str, Client],
    quick: bool,
    python: str,
    elapsed: float,
) -> None:
    """Print the whole report: what was compared where, the table, the notes
    and each client's description."""
    mode = "quick" if quick else "full"
    command = "python bench/run.py" + (" --quick" if quick else "")
    print(f"remctl clients compared ({mode} mode, {elapsed:.0f} s): `{command}`")
    print(f"machine: {machine()}")
    pythons = sorted(
        {c.info["python"] for c in clients.values() if c.info.get("python")}
    )
    print(
        f"Python clients run on: {python} ({', '.join(pythons) or '?'}); "
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


def write_json(
    path: str,
    bench: Bench,
    clients: dict[str, Client],
    quick: bool,
    failures: list[str],
) -> None:
    """Every raw measurement, the rows and the failures, as JSON."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "mode": "quick" if quick else "full",
                "machine": machine(),
                "clients": {n: c.info for n, c in clients.items()},
                "rows": [list(r) for r in bench.rows],
                "raw": bench.raw,
                "failures": failures,
            },
            handle,
            indent=1,
        )


def print_failures(failures: list[str]) -> None:
    print()
    print(f"{len(failures)} functional failure(s):")
    for failure in failures:
        print(f"- {failure.splitlines()[0]}")
