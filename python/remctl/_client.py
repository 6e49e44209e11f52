"""The two interfaces: :func:`remctl` and :class:`Remctl`."""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Generator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, NoReturn, TypeVar, cast

from . import _remctl
from ._arguments import (
    Argument,
    Port,
    command_arguments,
    host_name,
    port_number,
    timeout_seconds,
)
from ._errors import RemctlError, RemctlNotOpenedError, RemctlProtocolError
from ._failure import network_failure, simple_failure
from ._log import logger
from ._result import RemctlOutput, RemctlResult, RemctlSimpleResult

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Remctl", "remctl"]

_NOT_OPENED = "no currently open connection"
_NO_ERROR = "no error"
#: What a stream says when another command was sent before it finished.
ABANDONED = "another command was sent before this command's output was read"


def _where(host: str, port: int, principal: str | None) -> str:
    """Describe a server for the log: host, port and server principal."""
    port_text = "default port" if port == 0 else f"port {port}"
    name = principal if principal is not None else f"host/{host}"
    return f"{host} ({port_text}, principal {name})"


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _remembers_failure(method: _Method) -> _Method:
    """Make a Remctl method record the text of a RemctlError it raises.

    Remctl.error() returns it, also after later calls succeeded.
    """

    @functools.wraps(method)
    def wrapper(self: Remctl, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except RemctlError as exc:
            self._last_error = str(exc)
            raise

    return cast(_Method, wrapper)


# tuple.__new__ builds the named tuple from a ready tuple without a Python
# frame; the token already has the five fields in order.
_as_output = tuple.__new__


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
    error; when the cause is a timeout, the connection or authentication,
    the exception is also a RemctlTimeoutError, RemctlConnectionError or
    RemctlAuthenticationError.
    """
    port_value = port_number(port)
    arguments = command_arguments(command)
    host = host_name(host)
    logger.debug(
        "running a command with %d arguments on %s",
        len(arguments),
        _where(host, port_value, principal),
    )
    # Built on the handle API rather than C remctl(): output goes straight
    # into BytesIO buffers whose getvalue() hands over the memory, so a large
    # answer is held once, not twice (C buffer plus its bytes copy).
    stdout, stderr = io.BytesIO(), io.BytesIO()
    status: int | None = None
    handle = _remctl.remctl_new()
    try:
        if not _remctl.remctl_open(
            handle, host, port_value, principal
        ) or not _remctl.remctl_commandv(handle, arguments):
            _raise_simple(host, simple_failure(_remctl.remctl_error(handle)))
        while True:
            token = _remctl.remctl_output(handle)
            if not token:
                _raise_simple(host, simple_failure(_remctl.remctl_error(handle)))
            kind, data, stream, status, _ = token
            if kind == "output":
                (stderr if stream == 2 else stdout).write(data or b"")
            elif kind == "error":
                # The server's error token: its own message, no local cause.
                message = (data or b"").decode("utf-8", "replace")
                _raise_simple(host, RemctlProtocolError(message))
            else:
                break
    finally:
        _remctl.remctl_close(handle)
    logger.debug("command on %s exited with status %s", host, status)
    return RemctlSimpleResult(
        stdout.getvalue() or None, stderr.getvalue() or None, status
    )


def _raise_simple(host: str, failure: RemctlProtocolError) -> NoReturn:
    logger.debug("command on %s failed: %s", host, failure)
    raise failure


class Remctl:
    """A connection to a remctl server, for several commands.

    Use it as a context manager to close the connection on exit::

        with remctl.Remctl(host, port, principal) as connection:
            result = connection.run(["service", "status"], check=True)

    :meth:`run` sends a command and returns its whole answer;
    :meth:`stream` yields its output tokens as they arrive.  The historical
    pair also works: after :meth:`command`, call :meth:`output` until it
    returns a "status" or "error" token; later calls return "done" until the
    next command.  Failures raise RemctlError with the library's message:
    RemctlTimeoutError, RemctlConnectionError or RemctlAuthenticationError
    when that is the cause.

    Calls on one object are serialized with a lock, and :meth:`run` holds it
    for the whole command, so threads may share one object and each call
    :meth:`run`.  A :meth:`command` and the :meth:`output` calls that read its
    answer are separate calls: a thread using them on a shared object should
    hold a lock of its own around the whole exchange.

    A command sent before the previous command's answer was read completely
    (an iterator left early, or a failure while reading) starts afresh: the
    C library closes that connection and opens a new one to the same server
    with the same settings, so the rest of the old answer is never taken for
    the new one.  (Debian's libremctl1, if loaded instead, does not.)

    ``ccache``, ``source_ip`` and ``timeout`` are applied before the
    connection is opened, as if by the ``set_*`` methods.
    """

    def __init__(
        self,
        host: str | None = None,
        port: Port = None,
        principal: str | None = None,
        *,
        ccache: str | None = None,
        source_ip: str | None = None,
        timeout: int | None = None,
    ) -> None:
        """Create the object, and open a connection if host is given."""
        self._lock = threading.Lock()
        self._handle: _remctl.RemctlHandle | None = None
        self._opened = False
        self._ccache: str | None = None
        self._source_ip: str | None = None
        self._timeout: int | None = None
        self._address: tuple[str, int, str | None] | None = None
        # Counts commands sent, so that a stream notices another command.
        self._serial = 0
        # The text of the last RemctlError a method raised, for error().
        self._last_error = _NO_ERROR
        self._handle = _remctl.remctl_new()
        if ccache is not None:
            self.set_ccache(ccache)
        if source_ip is not None:
            self.set_source_ip(source_ip)
        if timeout is not None:
            self.set_timeout(timeout)
        if host:
            self.open(host, port, principal)

    # -- context manager and repr ---------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # No lock: repr must work even while another thread runs a command.
        state = "open" if self._opened and self._handle is not None else "closed"
        address = self._address
        if address is None:
            return f"<remctl.Remctl {state}>"
        host, port, principal = address
        return (
            f"<remctl.Remctl host={host!r} port={port} principal={principal!r} {state}>"
        )

    # -- settings --------------------------------------------------------------

    @_remembers_failure
    def set_ccache(self, ccache: str) -> None:
        """Use this Kerberos ticket cache for later opens of this object."""
        with self._lock:
            handle = self._current_handle()
            if not _remctl.remctl_set_ccache(handle, ccache):
                raise RemctlError(_remctl.remctl_error(handle))
            self._ccache = ccache
        logger.debug("ticket cache selected for later connections")

    @_remembers_failure
    def set_source_ip(self, source: str) -> None:
        """Connect from this local address in later opens."""
        with self._lock:
            handle = self._current_handle()
            if not _remctl.remctl_set_source_ip(handle, source):
                raise RemctlError(_remctl.remctl_error(handle))
            self._source_ip = source
        logger.debug("source address %s selected for later connections", source)

    @_remembers_failure
    def set_timeout(self, timeout: int) -> None:
        """Bound each network wait to timeout seconds; 0 means no limit."""
        seconds = timeout_seconds(timeout)
        with self._lock:
            handle = self._current_handle()
            if not _remctl.remctl_set_timeout(handle, seconds):
                raise RemctlError(_remctl.remctl_error(handle))
            self._timeout = seconds

    # -- connection ------------------------------------------------------------

    @_remembers_failure
    def open(self, host: str, port: Port = None, principal: str | None = None) -> None:
        """Connect and authenticate to host, closing any open connection.

        port None or 0 means the default port; principal None means
        host/HOST.
        """
        port_value = port_number(port)
        host = host_name(host)
        where = _where(host, port_value, principal)
        with self._lock:
            handle = self._current_handle()
            self._opened = False
            self._serial += 1
            self._address = (host, port_value, principal)
            logger.debug("connecting to %s", where)
            if not _remctl.remctl_open(handle, host, port_value, principal):
                message = _remctl.remctl_error(handle)
                logger.debug("connection to %s failed: %s", where, message)
                raise network_failure(message)
            self._opened = True
        logger.debug("connected and authenticated to %s", where)

    @_remembers_failure
    def noop(self) -> None:
        """Send a NOOP to keep the connection alive (needs protocol 3)."""
        with self._lock:
            handle = self._opened_handle()
            self._serial += 1
            if not _remctl.remctl_noop(handle):
                raise network_failure(_remctl.remctl_error(handle))
        logger.debug("NOOP answered")

    def close(self) -> None:
        """Close the connection and free it; open() may be called again."""
        with self._lock:
            handle, self._handle = self._handle, None
            opened, self._opened = self._opened, False
            self._serial += 1
            self._last_error = _NO_ERROR
            if handle is not None:
                _remctl.remctl_close(handle)
        if opened and self._address is not None:
            logger.debug("closed the connection to %s", self._address[0])

    def error(self) -> str:
        """Return the message of the last RemctlError a method raised.

        It stays after later calls succeed (the C library's own
        remctl_error() says "no error" again then).  "no error" if nothing
        failed since the object was created or last closed; "no currently
        open connection" while it is closed.
        """
        with self._lock:
            if self._handle is None:
                return _NOT_OPENED
            return self._last_error

    # -- commands --------------------------------------------------------------

    @_remembers_failure
    def command(self, command: Iterable[Argument]) -> None:
        """Send a command; read its answer with :meth:`output`."""
        arguments = command_arguments(command)
        with self._lock:
            self._send(arguments)

    def output(self) -> RemctlOutput:
        """Return the next output token as (type, data, stream, status, error).

        type is "output" (data bytes, stream 1 for stdout or 2 for stderr),
        "status" (status), "error" (data the message, error the code) or
        "done"; members the type does not have are None.
        """
        # The hot path of streaming: one call per token, so output tokens
        # skip the generic checks and the named tuple's Python-level __new__.
        with self._lock:
            handle = self._handle
            if handle is None or not self._opened:
                self._last_error = _NOT_OPENED
                raise RemctlNotOpenedError(_NOT_OPENED)
            token = _remctl.remctl_output(handle)
            if token and token[0] == "output":
                return _as_output(RemctlOutput, token)
            try:
                return self._finish_receive(handle, token)
            except RemctlError as exc:
                self._last_error = str(exc)
                raise

    @_remembers_failure
    def run(self, command: Iterable[Argument], *, check: bool = False) -> RemctlResult:
        """Run a command and return its whole answer as a :class:`RemctlResult`.

        The object's lock is held for the whole command, so threads sharing
        this object may each call run().  With ``check=True`` an error token
        or a non-zero exit status raises :class:`RemctlCommandError` carrying
        the code, status and output received.  Connection and protocol
        failures raise RemctlError.
        """
        arguments = command_arguments(command)
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        with self._lock:
            handle = self._send(arguments)
            token = self._receive(handle)
            while token.type == "output":
                (stderr if token.stream == 2 else stdout).append(token.data or b"")
                token = self._receive(handle)
        result = _finish(stdout, stderr, token)
        return result.check() if check else result

    def stream(
        self, command: Iterable[Argument]
    ) -> Generator[RemctlOutput, None, None]:
        """Send a command and return an iterator over its output tokens.

        The command is sent at once.  The iterator yields "output" tokens
        as they arrive, then the final "status" or "error" token, and stops.
        Leaving it early is fine: the next command on this object starts
        afresh on a new connection, discarding the rest of the answer.  If
        another command is sent on this object before the iterator has
        finished, its next step raises RemctlError.
        """
        arguments = command_arguments(command)
        with self._lock:
            try:
                self._send(arguments)
            except RemctlError as exc:
                self._last_error = str(exc)
                raise
            serial = self._serial
        return self._tokens(serial)

    def _tokens(self, serial: int) -> Generator[RemctlOutput, None, None]:
        while True:
            with self._lock:
                try:
                    if self._serial != serial:
                        raise RemctlError(ABANDONED)
                    token = self._receive(self._opened_handle())
                except RemctlError as exc:
                    self._last_error = str(exc)
                    raise
            yield token
            if token.type != "output":
                return

    # -- internals (called with the lock held) --------------------------------

    def _send(self, arguments: list[bytes]) -> _remctl.RemctlHandle:
        """Send a command; return the handle its answer is read from."""
        handle = self._opened_handle()
        self._serial += 1
        logger.debug("sending a command with %d arguments", len(arguments))
        if not _remctl.remctl_commandv(handle, arguments):
            message = _remctl.remctl_error(handle)
            logger.debug("sending the command failed: %s", message)
            raise network_failure(message)
        return handle

    def _receive(self, handle: _remctl.RemctlHandle) -> RemctlOutput:
        return self._finish_receive(handle, _remctl.remctl_output(handle))

    def _finish_receive(
        self, handle: _remctl.RemctlHandle, token: _remctl.OutputTuple | tuple[()]
    ) -> RemctlOutput:
        if not token:
            message = _remctl.remctl_error(handle)
            logger.debug("reading the answer failed: %s", message)
            raise network_failure(message)
        output: RemctlOutput = _as_output(RemctlOutput, token)
        if output.type == "status":
            logger.debug("command exited with status %d", output.status)
        elif output.type == "error":
            logger.debug("server answered with error %d", output.error)
        return output

    def _current_handle(self) -> _remctl.RemctlHandle:
        """The C object; after close(), a new one with the remembered settings.

        The settings were accepted once, so applying them again succeeds;
        if it does not, the new object is freed and the failure raised.
        """
        if self._handle is None:
            handle = _remctl.remctl_new()
            applied = (
                (
                    self._ccache is None
                    or _remctl.remctl_set_ccache(handle, self._ccache)
                )
                and (
                    self._source_ip is None
                    or _remctl.remctl_set_source_ip(handle, self._source_ip)
                )
                and (
                    self._timeout is None
                    or _remctl.remctl_set_timeout(handle, self._timeout)
                )
            )
            if not applied:
                message = _remctl.remctl_error(handle)
                _remctl.remctl_close(handle)
                raise RemctlError(message)
            self._handle = handle
        return self._handle

    def _opened_handle(self) -> _remctl.RemctlHandle:
        if self._handle is None or not self._opened:
            raise RemctlNotOpenedError(_NOT_OPENED)
        return self._handle


def _finish(
    stdout: list[bytes], stderr: list[bytes], last: RemctlOutput
) -> RemctlResult:
    """Build the result of a command from its output and its last token."""
    if last.type == "error":
        data = last.data or b""
        return RemctlResult(
            b"".join(stdout),
            b"".join(stderr),
            None,
            last.error,
            data.decode("utf-8", errors="replace"),
        )
    if last.type == "status":
        return RemctlResult(b"".join(stdout), b"".join(stderr), last.status)
    # "done" right after a command: the library lost track of the answer.
    raise RemctlError(f"unexpected {last.type} token from the library")


def is_opened(remote: Remctl) -> bool:
    """Whether open() succeeded on remote and close() has not been called
    since (for remctl.aio, which asks rather than keeping its own flag)."""
    return remote._opened and remote._handle is not None
