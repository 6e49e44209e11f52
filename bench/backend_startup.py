"""Start-up cost of a remctl.backend program: what remctld pays per command.

Runs, RUNS times each, and prints the best wall time of each:

- ``python -c pass``: starting the interpreter;
- ``python -c "import remctl.backend"``;
- ``python examples/user_backend.py help``: a whole backend answering;
- with --compare, ``python -c "import remctl"`` and the client's import.

The best of many runs is the figure least disturbed by other load on the
machine; the difference between the first two is what importing the
package costs::

    python bench/backend_startup.py [--runs 40] [--python PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def best_time(argv: list[str], runs: int) -> float:
    """The shortest wall time, in milliseconds, of runs runs of argv."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--compare", action="store_true",
                        help="also time importing the client")
    options = parser.parse_args()
    python = options.python
    cases = [
        ("python -c pass", [python, "-c", "pass"]),
        ('python -c "import remctl.backend"', [python, "-c", "import remctl.backend"]),
        ("python examples/user_backend.py help",
         [python, str(ROOT / "examples" / "user_backend.py"), "help"]),
    ]
    if options.compare:
        cases.append(('python -c "import remctl; remctl.Remctl"',
                      [python, "-c", "import remctl; remctl.Remctl"]))
    for label, argv in cases:
        print(f"{best_time(argv, options.runs):7.1f} ms  {label}")


if __name__ == "__main__":
    main()
