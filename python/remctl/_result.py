"""What commands return: output tokens, whole results, and the exception a
result raises when it is checked and was not a success."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ._errors import RemctlError

__all__ = [
    "RemctlCommandError",
    "RemctlOutput",
    "RemctlResult",
    "RemctlSimpleResult",
]


class RemctlOutput(NamedTuple):
    """One output token: what :meth:`Remctl.output` returns.

    A named tuple, so it still unpacks and compares as the historical
    5-tuple ``(type, data, stream, status, error)``.  ``type`` is
    ``"output"`` (``data`` the bytes, ``stream`` 1 for standard output or 2
    for standard error), ``"status"`` (``status`` the exit status),
    ``"error"`` (``data`` the message, ``error`` the code) or ``"done"``;
    members the type does not have are None.
    """

    type: str
    data: bytes | None = None
    stream: int | None = None
    status: int | None = None
    error: int | None = None


@dataclass(frozen=True)
class RemctlResult:
    """The whole answer to one command, from :meth:`Remctl.run`.

    ``stdout`` and ``stderr`` are bytes (``b""`` when the command printed
    nothing there).  ``status`` is the exit status, or None when the server
    answered with an error token, whose code and text are then ``error`` and
    ``message``.
    """

    stdout: bytes = b""
    stderr: bytes = b""
    status: int | None = None
    error: int | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """True when the command ran and exited with status 0."""
        return self.error is None and self.status == 0

    def check(self) -> RemctlResult:
        """Return self if :attr:`ok`, else raise :class:`RemctlCommandError`."""
        if self.error is not None:
            text = self.message if self.message else f"remote error {self.error}"
            raise RemctlCommandError(text, self)
        if self.status != 0:
            raise RemctlCommandError(f"command exited with status {self.status}", self)
        return self


class RemctlSimpleResult:
    """The result of :func:`remctl.remctl`.

    stdout and stderr are the complete output as bytes, or None when the
    command printed nothing on that stream; status is the exit status.
    """

    def __init__(
        self,
        stdout: bytes | None = None,
        stderr: bytes | None = None,
        status: int | None = None,
    ) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.status = status

    def __repr__(self) -> str:
        return (
            f"RemctlSimpleResult(stdout={self.stdout!r}, stderr={self.stderr!r},"
            f" status={self.status!r})"
        )


class RemctlCommandError(RemctlError):
    """A command run with ``check=True`` did not succeed.

    Either the server answered with an error token (``code`` is its error
    code, ``message`` its text, ``status`` is None) or the command exited
    with a non-zero ``status`` (``code`` and ``message`` are None).  The
    output captured before that is in ``stdout`` and ``stderr``, and the
    whole answer in ``result``.
    """

    __module__ = "remctl"

    def __init__(self, message: str, result: RemctlResult) -> None:
        super().__init__(message)
        self.result = result

    @property
    def code(self) -> int | None:
        """The error code of the server's error token, if it sent one."""
        return self.result.error

    @property
    def status(self) -> int | None:
        """The command's exit status, None if an error token came back."""
        return self.result.status

    @property
    def stdout(self) -> bytes:
        """Standard output received before the failure."""
        return self.result.stdout

    @property
    def stderr(self) -> bytes:
        """Standard error received before the failure."""
        return self.result.stderr

    @property
    def message(self) -> str | None:
        """The text of the server's error token, if it sent one."""
        return self.result.message

    def __reduce__(self) -> tuple[type[RemctlCommandError], tuple[str, RemctlResult]]:
        return (type(self), (str(self), self.result))
