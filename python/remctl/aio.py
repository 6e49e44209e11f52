"""asyncio interface: the same commands, awaited.

::

    from remctl import aio

    async with aio.Remctl(host, port, principal) as connection:
        result = await connection.run(["service", "status"], check=True)
        async for token in connection.stream(["service", "log"]):
            ...

    result = await aio.remctl(host, port, principal, ["service", "status"])

    async with aio.run_many(hosts, ["service", "status"]) as results:
        async for host_result in results:     # one per host, as each finishes
            ...

Each :class:`Remctl` has one connection and one thread of its own that makes
the blocking calls into the C library (which releases the GIL while it waits
on the network), so many objects run commands in parallel, and operations on
one object run one after the other, in the order they were started (each
step of a stream is one; another command abandons the stream, as with
:meth:`remctl.Remctl.stream`).

Cancellation never leaves an object unusable.  A blocking call already
running in the thread cannot be interrupted; when the awaiting task is
cancelled, the object hands that connection over to its thread, which closes
it as soon as the call returns, and the next operation opens a new
connection with the same host, port, principal and settings.  Cancelling
while no call is running (for example leaving ``async for`` early) keeps the
connection: the next command starts afresh on it, discarding the rest of the
abandoned answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import itertools
import queue
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from . import _client
from ._arguments import (
    Argument,
    Port,
    command_arguments,
    host_name,
    port_number,
    timeout_seconds,
)
from ._errors import RemctlError, RemctlNotOpenedError
from ._fanout import FanOut, run_many
from ._log import logger
from ._result import RemctlOutput, RemctlResult, RemctlSimpleResult

if TYPE_CHECKING:
    from typing_extensions import Self, TypeAlias

    # A queued call and the future receiving its result; None stops the thread.
    _Job: TypeAlias = "tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None"

__all__ = ["FanOut", "Remctl", "remctl", "run_many"]

T = TypeVar("T")

_NOT_OPENED = "no currently open connection"
_thread_numbers = itertools.count(1)


class _Worker:
    """One daemon thread running blocking calls one after another.

    The thread starts with the first call and ends after :meth:`stop`, once
    the calls queued before it have run.  It is a daemon, so a call stuck on
    an unresponsive server never keeps the interpreter from exiting.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, function: Callable[[], T]) -> concurrent.futures.Future[T]:
        if self._stopped:
            raise RemctlNotOpenedError(_NOT_OPENED)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((future, function))
        if self._thread is None:
            name = f"remctl-aio-{next(_thread_numbers)}"
            self._thread = threading.Thread(target=self._main, name=name, daemon=True)
            self._thread.start()
        return future

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._queue.put(None)

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def _main(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            future, function = job
            del job
            if future.set_running_or_notify_cancel():
                try:
                    result = function()
                except BaseException as exc:  # noqa: BLE001 (the awaiting task gets it)
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, function


class _Connection:
    """A blocking :class:`remctl.Remctl` and the thread that makes its calls."""

    def __init__(self, remote: _client.Remctl) -> None:
        self.remote = remote
        self.worker = _Worker()
        self.retired = False
        # An object dropped without close() still ends its thread.
        weakref.finalize(self, self.worker.stop)

    def retire(self) -> concurrent.futures.Future[None] | None:
        """Close the connection in its thread after the current call; end it."""
        if self.retired:
            return None
        self.retired = True
        if self.worker.thread is None:
            # Never used: nothing to wait for, and freeing it does not block.
            self.worker.stop()
            self.remote.close()
            return None
        future = self.worker.submit(self.remote.close)
        self.worker.stop()
        return future


async def _await_call(future: concurrent.futures.Future[T]) -> T:
    return await asyncio.wrap_future(future)


class Remctl:
    """A connection to a remctl server, for asyncio.

    ``Remctl(host, port, principal)`` connects on ``async with`` or on first
    use; ``Remctl()`` needs :meth:`open`.  ``ccache``, ``source_ip`` and
    ``timeout`` are as for :class:`remctl.Remctl`.  Failures raise the
    exceptions of :mod:`remctl`.
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
        self._address: tuple[str, int, str | None] | None = None
        if host:
            self._address = (host_name(host), port_number(port), principal)
        self._ccache = ccache
        self._source_ip = source_ip
        self._timeout = None if timeout is None else timeout_seconds(timeout)
        self._wanted = self._address is not None
        self._lock: asyncio.Lock | None = None
        # Built now so that bad settings fail here; its thread starts later.
        self._connection: _Connection | None = self._new_connection()

    # -- context manager and repr ---------------------------------------------

    async def __aenter__(self) -> Self:
        if self._wanted:
            try:
                async with self._serial():
                    await self._ready()
            except BaseException:
                await self.close()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        connection = self._connection
        opened = (
            self._wanted
            and connection is not None
            and _client.is_opened(connection.remote)
        )
        state = "open" if opened else "closed"
        if self._address is None:
            return f"<remctl.aio.Remctl {state}>"
        host, port, principal = self._address
        return (
            f"<remctl.aio.Remctl host={host!r} port={port} principal={principal!r}"
            f" {state}>"
        )

    # -- connection ------------------------------------------------------------

    async def open(
        self, host: str, port: Port = None, principal: str | None = None
    ) -> None:
        """Connect and authenticate to host, closing any open connection."""
        address = (host_name(host), port_number(port), principal)
        async with self._serial():
            self._address = address
            self._wanted = True
            connection = self._connection
            if connection is None:
                connection = self._connection = self._new_connection()
            await self._call(
                connection, functools.partial(connection.remote.open, *address)
            )

    async def close(self) -> None:
        """Close the connection; :meth:`open` may be called again.

        An operation of another task that is making a blocking call finishes
        that call first.
        """
        self._wanted = False
        connection, self._connection = self._connection, None
        if connection is not None:
            future = connection.retire()
            if future is not None:
                await _await_call(future)

    aclose = close

    async def set_ccache(self, ccache: str) -> None:
        """Use this Kerberos ticket cache for later connections."""
        await self._setting("set_ccache", ccache)
        self._ccache = ccache

    async def set_source_ip(self, source: str) -> None:
        """Connect from this local address in later connections."""
        await self._setting("set_source_ip", source)
        self._source_ip = source

    async def set_timeout(self, timeout: int) -> None:
        """Bound each network wait to timeout seconds; 0 means no limit."""
        seconds = timeout_seconds(timeout)
        await self._setting("set_timeout", seconds)
        self._timeout = seconds

    # -- commands --------------------------------------------------------------

    async def run(
        self, command: Iterable[Argument], *, check: bool = False
    ) -> RemctlResult:
        """Run a command and return its whole answer; see remctl.Remctl.run."""
        arguments = command_arguments(command)
        async with self._serial():
            connection = await self._ready()
            call = functools.partial(connection.remote.run, arguments, check=check)
            return await self._call(connection, call)

    def stream(self, command: Iterable[Argument]) -> AsyncGenerator[RemctlOutput, None]:
        """Run a command and iterate over its output tokens as they arrive.

        Yields "output" tokens, then the final "status" or "error" token.
        As with :meth:`remctl.Remctl.stream`, each step is an operation of
        its own: leaving the iteration early is fine, also while keeping a
        reference to the iterator, since the next command on this object
        (from any task) starts afresh; the iterator's next step then raises
        RemctlError.
        """
        return self._stream(command_arguments(command))

    async def _stream(
        self, arguments: list[bytes]
    ) -> AsyncGenerator[RemctlOutput, None]:
        # The lock is taken for each step, never held across a yield: a
        # stream left unfinished must not keep the next operation waiting.
        async with self._serial():
            connection = await self._ready()
            start = functools.partial(connection.remote.stream, arguments)
            tokens = await self._call(connection, start)
        step = functools.partial(next, tokens)
        while True:
            async with self._serial():
                if self._connection is not connection:
                    # Closed, or superseded by an operation cancelled mid-call.
                    if self._connection is None:
                        raise RemctlNotOpenedError(_NOT_OPENED)
                    raise RemctlError(_client.ABANDONED)
                token = await self._call(connection, step)
            yield token
            if token.type != "output":
                return

    async def noop(self) -> None:
        """Send a NOOP to keep the connection alive (needs protocol 3)."""
        async with self._serial():
            connection = await self._ready()
            await self._call(connection, connection.remote.noop)

    # -- internals -------------------------------------------------------------

    def _serial(self) -> asyncio.Lock:
        # Created on first use, inside the running loop (Python 3.9 binds a
        # Lock to the loop current when it is made).
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _new_connection(self) -> _Connection:
        remote = _client.Remctl(
            ccache=self._ccache, source_ip=self._source_ip, timeout=self._timeout
        )
        return _Connection(remote)

    async def _ready(self) -> _Connection:
        """The connection, opened (called with the lock held)."""
        if not self._wanted or self._address is None:
            raise RemctlNotOpenedError(_NOT_OPENED)
        connection = self._connection
        if connection is None:
            connection = self._connection = self._new_connection()
        # Asked between calls: no call of this object is running now.
        if not _client.is_opened(connection.remote):
            opening = functools.partial(connection.remote.open, *self._address)
            await self._call(connection, opening)
        return connection

    async def _setting(self, method: str, value: Any) -> None:
        async with self._serial():
            connection = self._connection
            if connection is None:
                connection = self._connection = self._new_connection()
            await self._call(
                connection, functools.partial(getattr(connection.remote, method), value)
            )

    async def _call(self, connection: _Connection, function: Callable[[], T]) -> T:
        """Run function in the connection's thread and await its result."""
        future = connection.worker.submit(function)
        try:
            return await _await_call(future)
        except asyncio.CancelledError:
            # cancel() fails only for a call that has started: if it is still
            # running, its connection cannot serve the next operation.
            if not future.cancel() and not future.done():
                self._detach(connection)
            raise

    def _detach(self, connection: _Connection) -> None:
        logger.debug(
            "operation cancelled during a blocking call: the connection will be"
            " closed when the call returns, and the next operation opens a new one"
        )
        if self._connection is connection:
            self._connection = None
        connection.retire()


async def remctl(
    host: str,
    port: Port = None,
    principal: str | None = None,
    command: Iterable[Argument] = (),
) -> RemctlSimpleResult:
    """Run one command on host in a thread of its own; see remctl.remctl."""
    port_value = port_number(port)
    arguments = command_arguments(command)
    host = host_name(host)
    worker = _Worker()
    future = worker.submit(
        functools.partial(_client.remctl, host, port_value, principal, arguments)
    )
    worker.stop()
    return await _await_call(future)
