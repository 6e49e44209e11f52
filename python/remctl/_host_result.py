"""What fan-out (``run_many``) reports: a result per host, lines of output."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import RemctlError
from ._result import RemctlResult

__all__ = ["RemctlHostResult", "RemctlLine"]


@dataclass(frozen=True)
class RemctlHostResult:
    """What happened on one host.

    ``result`` is the command's :class:`RemctlResult` (exit status, or the
    server's error code and message, and the output unless it was streamed
    with ``on_line``) when the command ran; ``error`` is the exception when
    it could not run (:class:`RemctlConnectionError`,
    :class:`RemctlTimeoutError`, :class:`RemctlAuthenticationError` or
    another :class:`RemctlError`).  Exactly one of them is None.
    ``seconds`` is the wall time spent on the host, retries included;
    ``index`` its position in the list of hosts; ``port`` is 0 for the
    default port.
    """

    index: int
    host: str
    port: int
    principal: str | None
    result: RemctlResult | None
    error: RemctlError | None
    seconds: float

    @property
    def ok(self) -> bool:
        """True when the command ran and exited with status 0."""
        return self.result is not None and self.result.ok

    @property
    def status(self) -> int | None:
        """The exit status; None if the command did not run or got an error."""
        return None if self.result is None else self.result.status


@dataclass(frozen=True)
class RemctlLine:
    """One line of a host's output, for ``run_many(..., on_line=...)``.

    ``index`` is the host's position in the list given to run_many,
    ``host`` its name, ``stream`` 1 for standard output or 2 for standard
    error, ``data`` the line with its newline (the last line of a stream
    may have none).
    """

    index: int
    host: str
    stream: int
    data: bytes
