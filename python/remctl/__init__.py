"""Run Kerberos-authenticated commands on remctl servers.

Two interfaces, as in the historical ``remctl`` module:

- :func:`remctl` runs one command and returns a :class:`RemctlSimpleResult`
  with its complete standard output, standard error and exit status.
- :class:`Remctl` keeps a connection open, runs several commands on it, and
  streams each command's output token by token through :meth:`Remctl.output`.

Command arguments are bytes (passed unchanged) or str (encoded as UTF-8).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from . import _remctl
from ._arguments import (
    Argument,
    Port,
    command_arguments,
    host_name,
    port_number,
    timeout_seconds,
)
from ._remctl import OutputTuple

__all__ = [
    "Remctl",
    "RemctlError",
    "RemctlNotOpenedError",
    "RemctlOutput",
    "RemctlProtocolError",
    "RemctlSimpleResult",
    "__version__",
    "remctl",
]

__version__ = "0.1.0"

#: What :meth:`Remctl.output` returns: (type, data, stream, status, error).
RemctlOutput = OutputTuple

_NOT_OPENED = "no currently open connection"


class RemctlError(Exception):
    """The remctl library reported an error."""


class RemctlProtocolError(RemctlError):
    """The simple interface failed: an error token, or a connection failure."""


class RemctlNotOpenedError(RemctlError):
    """The operation needs an open connection and there is none."""


class RemctlSimpleResult:
    """The result of :func:`remctl`.

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


def remctl(
    host: str,
    port: Port = None,
    principal: str | None = None,
    command: Iterable[Argument] = (),
) -> RemctlSimpleResult:
    """Run one command on host and return its output and exit status.

    port None or 0 means the default port (4373, then the legacy 4444);
    principal None means host/HOST.  Raises RemctlProtocolError with the
    message if the command could not be run or the server answered with an
    error.
    """
    port_value = port_number(port)
    arguments = command_arguments(command)
    error, stdout, stderr, status = _remctl.remctl(
        host_name(host), port_value, principal, arguments
    )
    if error is not None:
        raise RemctlProtocolError(error)
    return RemctlSimpleResult(stdout, stderr, status)


class Remctl:
    """A connection to a remctl server, for several commands.

    After :meth:`command`, call :meth:`output` until it returns a "status"
    or "error" token; later calls return "done" until the next command.
    Failures raise RemctlError with the library's message.

    Calls on one object are serialized with a lock, so sharing it between
    threads does not corrupt it; but a command and the output calls that
    read its answer must not be interleaved with another thread's command,
    so a thread should hold its own lock around the whole exchange, or use
    one object per thread.
    """

    def __init__(
        self,
        host: str | None = None,
        port: Port = None,
        principal: str | None = None,
    ) -> None:
        """Create the object, and open a connection if host is given."""
        self._lock = threading.Lock()
        self._handle: _remctl.RemctlHandle | None = None
        self._opened = False
        self._ccache: str | None = None
        self._source_ip: str | None = None
        self._timeout: int | None = None
        self._handle = _remctl.remctl_new()
        if host:
            self.open(host, port, principal)

    def set_ccache(self, ccache: str) -> None:
        """Use this Kerberos ticket cache for later opens of this object."""
        with self._lock:
            handle = self._current_handle()
            if not _remctl.remctl_set_ccache(handle, ccache):
                raise RemctlError(_remctl.remctl_error(handle))
            self._ccache = ccache

    def set_source_ip(self, source: str) -> None:
        """Connect from this local address in later opens."""
        with self._lock:
            handle = self._current_handle()
            if not _remctl.remctl_set_source_ip(handle, source):
                raise RemctlError(_remctl.remctl_error(handle))
            self._source_ip = source

    def set_timeout(self, timeout: int) -> None:
        """Bound each network wait to timeout seconds; 0 means no limit."""
        seconds = timeout_seconds(timeout)
        with self._lock:
            handle = self._current_handle()
            if not _remctl.remctl_set_timeout(handle, seconds):
                raise RemctlError(_remctl.remctl_error(handle))
            self._timeout = seconds

    def open(self, host: str, port: Port = None, principal: str | None = None) -> None:
        """Connect and authenticate to host, closing any open connection.

        port None or 0 means the default port; principal None means
        host/HOST.
        """
        port_value = port_number(port)
        with self._lock:
            handle = self._current_handle()
            self._opened = False
            if not _remctl.remctl_open(handle, host_name(host), port_value, principal):
                raise RemctlError(_remctl.remctl_error(handle))
            self._opened = True

    def command(self, command: Iterable[Argument]) -> None:
        """Send a command; read its answer with :meth:`output`."""
        arguments = command_arguments(command)
        with self._lock:
            handle = self._opened_handle()
            if not _remctl.remctl_commandv(handle, arguments):
                raise RemctlError(_remctl.remctl_error(handle))

    def output(self) -> RemctlOutput:
        """Return the next output token as (type, data, stream, status, error).

        type is "output" (data bytes, stream 1 for stdout or 2 for stderr),
        "status" (status), "error" (data the message, error the code) or
        "done"; members the type does not have are None.
        """
        with self._lock:
            handle = self._opened_handle()
            token = _remctl.remctl_output(handle)
            if not token:
                raise RemctlError(_remctl.remctl_error(handle))
            return token

    def noop(self) -> None:
        """Send a NOOP to keep the connection alive (needs protocol 3)."""
        with self._lock:
            handle = self._opened_handle()
            if not _remctl.remctl_noop(handle):
                raise RemctlError(_remctl.remctl_error(handle))

    def close(self) -> None:
        """Close the connection and free it; open() may be called again."""
        with self._lock:
            handle, self._handle = self._handle, None
            self._opened = False
            if handle is not None:
                _remctl.remctl_close(handle)

    def error(self) -> str:
        """Return the message of the last failure."""
        with self._lock:
            if self._handle is None:
                return _NOT_OPENED
            return _remctl.remctl_error(self._handle)

    def _current_handle(self) -> _remctl.RemctlHandle:
        """The C object; after close(), a new one with the remembered settings."""
        if self._handle is None:
            handle = _remctl.remctl_new()
            if self._ccache is not None:
                _remctl.remctl_set_ccache(handle, self._ccache)
            if self._source_ip is not None:
                _remctl.remctl_set_source_ip(handle, self._source_ip)
            if self._timeout is not None:
                _remctl.remctl_set_timeout(handle, self._timeout)
            self._handle = handle
        return self._handle

    def _opened_handle(self) -> _remctl.RemctlHandle:
        if self._handle is None or not self._opened:
            raise RemctlNotOpenedError(_NOT_OPENED)
        return self._handle
