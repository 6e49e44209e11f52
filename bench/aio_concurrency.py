"""Wall time of many concurrent commands through remctl.aio.

Opens COUNT remctl.aio.Remctl objects (one connection and one thread each),
then runs ``test sleep SECONDS`` on all of them at once and prints the wall
time of that step.  With the C library releasing the GIL while it waits, the
commands overlap: 50 commands sleeping 1 s take a little over 1 s, not 50.

Without --port it starts a throwaway realm and remctld serving
tests/server/remctl.conf.in (needs the KDC programs and remctld)::

    python bench/aio_concurrency.py [--count 50] [--seconds 1]
    python bench/aio_concurrency.py --host H --port P --principal S

Connections are opened a few at a time: stock remctld in stand-alone mode
listens with a backlog of 5, and a burst of dozens of simultaneous
connection attempts gets some of them reset.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

import remctl
from remctl import aio

SERVER_DIR = Path(__file__).resolve().parent.parent / "tests" / "server"
OPENING_AT_ONCE = 4


async def measure(
    host: str, port: int, principal: str, count: int, seconds: str
) -> tuple[float, float]:
    """Return (seconds to open COUNT connections, seconds for the commands)."""
    gate = asyncio.Semaphore(OPENING_AT_ONCE)

    async def opened(stack: contextlib.AsyncExitStack) -> aio.Remctl:
        async with gate:
            return await stack.enter_async_context(aio.Remctl(host, port, principal))

    async with contextlib.AsyncExitStack() as stack:
        started = time.perf_counter()
        objects = await asyncio.gather(*(opened(stack) for _ in range(count)))
        opening = time.perf_counter() - started
        started = time.perf_counter()
        results = await asyncio.gather(
            *(r.run(["test", "sleep", seconds], check=True) for r in objects)
        )
        running = time.perf_counter() - started
    if any(result.stdout != b"slept\n" for result in results):
        raise SystemExit("aio_concurrency: a command gave a wrong answer")
    return opening, running


def report(host: str, port: int, principal: str, count: int, seconds: str) -> None:
    opening, running = asyncio.run(measure(host, port, principal, count, seconds))
    print(
        f"{count} concurrent `test sleep {seconds}` on {count} remctl.aio.Remctl"
        f" objects: {running:.3f} s wall"
        f" (opening the {count} connections first: {opening:.3f} s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seconds", default="1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--principal")
    options = parser.parse_args()
    if options.port is not None:
        principal = options.principal or f"host/{options.host}"
        report(options.host, options.port, principal, options.count, options.seconds)
        return 0
    from remctl.testing import MissingProgramsError, RemctlTestEnvironment

    try:
        environment = RemctlTestEnvironment(
            SERVER_DIR / "remctl.conf.in", SERVER_DIR / "scripts"
        )
        with environment as env, env.apply_environ():
            report(env.host, env.port, env.principal, options.count, options.seconds)
    except MissingProgramsError as exc:
        print(f"aio_concurrency: {exc}", file=sys.stderr)
        return 1
    except remctl.RemctlError as exc:
        print(f"aio_concurrency: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
