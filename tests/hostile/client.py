"""The client side of the hostile cases: drives a remctl.Remctl object as a
case's ``client`` says and reports how it ended. Shared by
``tests/test_hostile.py`` and the child process of its crash check, so it
imports neither pytest nor python-gssapi.
"""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass

import remctl
from interpreter import settle_garbage

from .cases import Case

COMMAND = ["test", "echo", "hostile"]
PAUSE = 0.15  # lets an unsolicited token reach the client before its command


@dataclass
class Outcome:
    error: str | None = None  # the RemctlError message
    error_token: tuple[int, bytes] | None = None  # (code, message)
    elapsed: float = 0.0  # seconds from the step that failed to the failure
    step: str = ""  # the client step that failed
    note: str = ""  # what happened instead, when nothing failed


def _answer(r: remctl.Remctl) -> tuple[bytes, int | None, tuple[int, bytes] | None]:
    stdout = b""
    for _ in range(10000):
        kind, data, _stream, status, code = r.output()
        if kind == "output":
            stdout += data or b""
        elif kind == "status":
            return stdout, status, None
        elif kind == "error":
            return stdout, None, (code or 0, data or b"")
        else:
            raise AssertionError(f"unexpected token {kind!r} before status")
    raise AssertionError("more than 10,000 OUTPUT tokens")


def drive(
    r: remctl.Remctl, case: Case, host: str, port: int, principal: str
) -> Outcome:
    """Run the case's client steps on r; return how they ended."""
    step = "open"
    started = time.monotonic()
    try:
        r.open(host, port, principal)
        if case.client == "open":
            return Outcome(note="open succeeded")
        if case.client == "noop":
            step, started = "noop", time.monotonic()
            r.noop()
            return Outcome(note="noop succeeded")
        if case.client in ("pre_command", "two_commands", "commands"):
            rounds = {"pre_command": 0, "two_commands": 1, "commands": 3}[case.client]
            for index in range(rounds):
                if index > 0:
                    time.sleep(PAUSE)
                step, started = f"command {index + 1}", time.monotonic()
                r.command(COMMAND)
                stdout, status, token = _answer(r)
                if (stdout, status, token) != (b"hostile\n", 0, None):
                    return Outcome(
                        note=f"command {index + 1}: {stdout!r} {status} {token}"
                    )
            if case.client == "commands":
                return Outcome()
            time.sleep(PAUSE)
        step, started = "command", time.monotonic()
        r.command(COMMAND)
        step = "output"
        stdout, status, token = _answer(r)
        if token is not None:
            return Outcome(
                error_token=token, elapsed=time.monotonic() - started, step=step
            )
        return Outcome(note=f"answer {stdout!r} status {status}")
    except remctl.RemctlError as exc:
        return Outcome(error=str(exc), elapsed=time.monotonic() - started, step=step)


def attempt(
    case: Case, host: str, port: int, principal: str, r: remctl.Remctl | None = None
) -> tuple[remctl.Remctl, Outcome]:
    """drive() on r (a new object with the case's timeout when None)."""
    if r is None:
        r = remctl.Remctl()
    r.set_timeout(case.timeout)
    return r, drive(r, case, host, port, principal)


# Resource figures of this process.


def rss_bytes() -> int:
    settle_garbage()
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def under_asan() -> bool:
    """Whether AddressSanitizer's runtime is loaded (scripts/test-sanitizers.sh).

    It keeps freed memory in quarantine on purpose and replaces glibc's
    malloc, so RSS and mallinfo2 say nothing about leaks under it; the growth
    checks then look at file descriptors only (LeakSanitizer, valgrind and the
    plain runs cover memory)."""
    try:
        with open("/proc/self/maps") as handle:
            maps = handle.read()
    except OSError:
        return False
    return "libasan" in maps or "libclang_rt.asan" in maps


def malloc_in_use() -> int | None:
    """Bytes allocated with malloc and not freed (glibc), or None."""
    settle_garbage()
    try:
        libc = ctypes.CDLL(None)
        function = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    info = function()
    return int(info.uordblks + info.hblkhd)
