"""The command-line client's fan-out mode: one command on many hosts.

Entered with ``-H`` or ``-f``.  Output, as each host answers:

- plain (default): every line prefixed with ``HOST: ``, standard output
  lines on standard output and standard error lines on standard error;
- ``--group``: each host's whole output under a ``== HOST (status N) ==``
  header, when it finishes;
- ``--json``: one JSON object per host and line (JSON Lines).

Hosts that did not exit 0 are reported on standard error (``HOST: exited
with status N``, ``HOST: failed (CAUSE): MESSAGE``), then a summary line.
When standard error is a terminal, a progress line is kept at its bottom.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterable
from typing import Any, BinaryIO, TextIO

from ._errors import (
    RemctlAuthenticationError,
    RemctlConnectionError,
    RemctlError,
    RemctlTimeoutError,
)
from ._host_result import RemctlHostResult, RemctlLine

__all__ = [
    "EXIT_FAILED",
    "EXIT_NONZERO",
    "EXIT_OK",
    "FanOutOptions",
    "cause",
    "parse_hosts",
    "run",
]

EXIT_OK = 0  # every host ran the command and it exited 0
EXIT_NONZERO = 2  # some command exited non-zero; every host was reached
EXIT_FAILED = 3  # some host failed: connection, timeout, authentication, server error
EXIT_INTERRUPTED = 130

# asyncio and the fan-out engine are imported when they run: the one-host
# client starts faster without them.

# Causes in the order the summary lists them.
CAUSES = ("connection", "timeout", "authentication", "server error", "error")
_PROGRESS_INTERVAL = 0.25  # seconds between redraws of the progress line


class FanOutOptions:
    """What the options asked for in fan-out mode."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.host_files: list[str] = []
        self.concurrency = 64
        self.group = False
        self.json = False
        self.port = 0
        self.principal: str | None = None
        self.timeout: int | None = None
        self.asked = False  # -H or -f was given


def parse_hosts(text: str) -> list[str]:
    """Host names from a file's text: one per line, ``#`` starts a comment."""
    hosts = []
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            hosts.append(name)
    return hosts


def split_host_list(value: str) -> list[str]:
    """Host names of a ``-H`` value: separated by commas (or spaces)."""
    return [name for name in value.replace(",", " ").split() if name]


def cause(error: BaseException | None, result: Any = None) -> str | None:
    """The summary's cause of a failed host; None if it did not fail."""
    if error is None:
        if result is not None and result.error is not None:
            return "server error"
        return None
    if isinstance(error, RemctlTimeoutError):
        return "timeout"
    if isinstance(error, RemctlConnectionError):
        return "connection"
    if isinstance(error, RemctlAuthenticationError):
        return "authentication"
    return "error"


class _Report:
    """Writes results, the progress line and the summary."""

    def __init__(self, options: FanOutOptions, total: int) -> None:
        self.options = options
        self.total = total
        self.started = time.monotonic()
        self.ok = 0
        self.nonzero = 0
        self.failed: dict[str, int] = {}
        self.out: BinaryIO = sys.stdout.buffer
        self.err: BinaryIO = sys.stderr.buffer
        self.progress_shown = False
        self.tty = _is_terminal(sys.stderr)

    @property
    def done(self) -> int:
        return self.ok + self.nonzero + sum(self.failed.values())

    # -- output ---------------------------------------------------------------

    def _write(self, stream: BinaryIO, data: bytes) -> None:
        self.clear_progress()
        stream.write(data)
        stream.flush()

    def line(self, line: RemctlLine) -> None:
        """A line of output, in plain mode."""
        data = line.data if line.data.endswith(b"\n") else line.data + b"\n"
        stream = self.err if line.stream == 2 else self.out
        self._write(stream, line.host.encode("utf-8", "surrogateescape") + b": " + data)
        self.show_progress()

    def host(self, outcome: RemctlHostResult) -> None:
        """A host finished."""
        reason = cause(outcome.error, outcome.result)
        if reason is not None:
            self.failed[reason] = self.failed.get(reason, 0) + 1
        elif outcome.ok:
            self.ok += 1
        else:
            self.nonzero += 1
        if self.options.json:
            self._write(self.out, _json_line(outcome, reason))
        elif self.options.group:
            self._group(outcome, reason)
        notice = _notice(outcome, reason)
        if notice and not self.options.json:
            self._write(self.err, notice)
        self.show_progress()

    def _group(self, outcome: RemctlHostResult, reason: str | None) -> None:
        header = _header(outcome, reason)
        result = outcome.result
        stdout = result.stdout if result is not None else b""
        stderr = result.stderr if result is not None else b""
        self._write(self.out, header + _terminated(stdout))
        if stderr:
            self._write(self.err, header + _terminated(stderr))

    # -- progress and summary -------------------------------------------------

    def show_progress(self) -> None:
        if not self.tty:
            return
        failed = sum(self.failed.values())
        running = min(self.options.concurrency, self.total - self.done)
        elapsed = time.monotonic() - self.started
        text = (
            f"remctl: {self.done}/{self.total} done, {failed} failed,"
            f" {running} running, {elapsed:.1f} s"
        )
        self.err.write(b"\r\x1b[K" + text.encode())
        self.err.flush()
        self.progress_shown = True

    def clear_progress(self) -> None:
        if self.progress_shown:
            self.err.write(b"\r\x1b[K")
            self.err.flush()
            self.progress_shown = False

    def summary(self, interrupted: bool = False) -> None:
        elapsed = time.monotonic() - self.started
        failed = sum(self.failed.values())
        text = (
            f"remctl: {self.total} hosts in {elapsed:.2f} s: {self.ok} ok,"
            f" {self.nonzero} exited non-zero, {failed} failed"
        )
        if failed:
            causes = [f"{self.failed[c]} {c}" for c in CAUSES if c in self.failed]
            text += " (" + ", ".join(causes) + ")"
        if interrupted:
            text += f", {self.total - self.done} not done (interrupted)"
        self._write(self.err, text.encode() + b"\n")

    def status(self) -> int:
        if self.failed:
            return EXIT_FAILED
        return EXIT_NONZERO if self.nonzero else EXIT_OK


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _terminated(data: bytes) -> bytes:
    return data if not data or data.endswith(b"\n") else data + b"\n"


def _describe(outcome: RemctlHostResult, reason: str | None) -> str:
    result = outcome.result
    if reason == "server error" and result is not None:
        return f"failed: server error {result.error}"
    if reason is not None:
        return f"failed: {reason}"
    return f"status {outcome.status}"


def _header(outcome: RemctlHostResult, reason: str | None) -> bytes:
    return f"== {outcome.host} ({_describe(outcome, reason)}) ==\n".encode(
        "utf-8", "surrogateescape"
    )


def _notice(outcome: RemctlHostResult, reason: str | None) -> bytes:
    """The standard error line for a host that did not exit 0, or b''."""
    result = outcome.result
    if reason is None:
        if outcome.ok:
            return b""
        text = f"{outcome.host}: exited with status {outcome.status}"
    elif reason == "server error" and result is not None:
        text = f"{outcome.host}: failed (server error {result.error}): {result.message}"
    else:
        text = f"{outcome.host}: failed ({reason}): {outcome.error}"
    return text.encode("utf-8", "surrogateescape") + b"\n"


def _text_fields(name: str, data: bytes) -> dict[str, str]:
    """A stream's output for JSON: text, plus base64 if it is not UTF-8."""
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {
            name: data.decode("utf-8", "replace"),
            f"{name}_base64": base64.b64encode(data).decode("ascii"),
        }


def _json_line(outcome: RemctlHostResult, reason: str | None) -> bytes:
    result = outcome.result
    error: dict[str, Any] | None = None
    if outcome.error is not None:
        error = {
            "class": type(outcome.error).__name__,
            "cause": reason,
            "message": str(outcome.error),
        }
    elif result is not None and result.error is not None:
        error = {
            "class": "RemctlCommandError",
            "cause": reason,
            "code": result.error,
            "message": result.message,
        }
    record: dict[str, Any] = {
        "host": outcome.host,
        "port": outcome.port or None,
        "status": outcome.status,
    }
    record.update(_text_fields("stdout", result.stdout if result else b""))
    record.update(_text_fields("stderr", result.stderr if result else b""))
    record["error"] = error
    record["seconds"] = round(outcome.seconds, 3)
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


async def _fan_out(
    options: FanOutOptions, hosts: list[str], command: list[bytes], report: _Report
) -> None:
    import asyncio

    from ._fanout import run_many

    streaming = not (options.json or options.group)
    fan_out = run_many(
        hosts,
        command,
        port=options.port,
        principal=options.principal,
        concurrency=options.concurrency,
        timeout=options.timeout or None,
        on_line=report.line if streaming else None,
    )
    ticker = asyncio.ensure_future(_tick(report))
    try:
        async with fan_out:
            async for outcome in fan_out:
                report.host(outcome)
    finally:
        ticker.cancel()


async def _tick(report: _Report) -> None:
    """Redraw the progress line now and then, so that the time moves."""
    import asyncio

    if not report.tty:
        return
    while True:
        report.show_progress()
        await asyncio.sleep(_PROGRESS_INTERVAL)


def run(options: FanOutOptions, hosts: Iterable[str], command: list[bytes]) -> int:
    """Run command on hosts; return the exit status (see the module)."""
    import asyncio

    host_list = list(hosts)
    report = _Report(options, len(host_list))
    try:
        asyncio.run(_fan_out(options, host_list, command, report))
    except KeyboardInterrupt:
        report.summary(interrupted=True)
        return EXIT_INTERRUPTED
    except RemctlError as exc:  # not a host's failure: a local one
        report.clear_progress()
        sys.stderr.write(f"remctl: {exc}\n")
        return 1
    report.summary()
    return report.status()
