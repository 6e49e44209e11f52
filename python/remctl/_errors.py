"""The exceptions raised by the remctl package."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._result import RemctlResult

__all__ = [
    "RemctlCommandError",
    "RemctlError",
    "RemctlNotOpenedError",
    "RemctlProtocolError",
]


class RemctlError(Exception):
    """The remctl library reported an error."""


class RemctlProtocolError(RemctlError):
    """The simple interface failed: an error token, or a connection failure."""


class RemctlNotOpenedError(RemctlError):
    """The operation needs an open connection and there is none."""


class RemctlCommandError(RemctlError):
    """A command run with ``check=True`` did not succeed.

    Either the server answered with an error token (``code`` is its error
    code, ``message`` its text, ``status`` is None) or the command exited
    with a non-zero ``status`` (``code`` and ``message`` are None).  The
    output captured before that is in ``stdout`` and ``stderr``, and the
    whole answer in ``result``.
    """

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
