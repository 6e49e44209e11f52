"""Fan-out: one command on many hosts at once, from one process.

:func:`run_many` (exported as ``remctl.aio.run_many``) returns a
:class:`FanOut`, an async iterator yielding a :class:`RemctlHostResult` per
host as each finishes; ``remctl.run_many`` is the blocking form.

How it runs: ``concurrency`` worker coroutines take the hosts in order.  For
each host, the event loop resolves the name and connects the TCP socket
itself (no thread needed), then a thread of a pool of at most
``concurrency`` threads authenticates and runs the command through the C
library on a duplicate of that socket (see remctl._fanout_job; the threads
are remctl._fanout_threads).  A FILE ticket cache is read into memory once,
and each connection gets a small MEMORY cache of its own holding what it
needs from it (remctl._memory_ccache).  The loop
keeps the original, so a deadline or a cancellation shuts the socket down and
the blocked call returns at once.  Each host's coroutine waits for its
thread to be done before taking the next host, and closing the fan-out waits
for every coroutine and joins the pool: no thread or descriptor outlives it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Union

from ._arguments import Argument, Port, command_arguments, host_name, port_number
from ._errors import RemctlConnectionError, RemctlError, RemctlTimeoutError
from ._failure import network_failure
from ._fanout_job import Interrupted, Link, exchange
from ._fanout_threads import WorkerThreads
from ._host_result import RemctlHostResult, RemctlLine
from ._log import logger
from ._memory_ccache import MemoryCcache
from ._result import RemctlResult

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["FanOut", "HostSpec", "RemctlHostResult", "RemctlLine", "run_many"]

T = TypeVar("T")

#: A host for run_many: a name, or (host,), (host, port), (host, port, principal).
HostSpec = Union[str, tuple[str], tuple[str, Port], tuple[str, Port, Union[str, None]]]

_DEFAULT_PORTS = (4373, 4444)  # port 0: the IANA port, then the legacy one
# Stock remctld -m listens with a backlog of 5: more simultaneous handshakes
# to one server get reset.  Hosts listed several times are paced by this.
_HANDSHAKES_PER_SERVER = 4
_RETRY_DELAY = 0.2  # seconds before the first retry, doubled each time
_RETRY_DELAY_MAX = 2.0
_BACKSTOP_MARGIN = 5  # seconds the C library's own timeout allows past the deadline


@dataclass(frozen=True)
class _Target:
    index: int
    host: str
    port: int
    principal: str | None


@dataclass(frozen=True)
class _Settings:
    command: list[bytes]
    timeout: float | None
    ccache: str | None
    retries: int
    on_line: Callable[[RemctlLine], object] | None


def _targets(
    hosts: Iterable[HostSpec], port: Port, principal: str | None
) -> list[_Target]:
    if isinstance(hosts, (str, bytes)):
        raise TypeError("hosts must be an iterable of host names, not a single string")
    default_port = port_number(port)
    targets = []
    for index, entry in enumerate(hosts):
        if isinstance(entry, str):
            fields: tuple[Any, ...] = (entry,)
        elif isinstance(entry, tuple) and 1 <= len(entry) <= 3:
            fields = entry
        else:
            raise TypeError(
                f"host {index} must be a host name or a (host, port, principal)"
                f" tuple, not {entry!r}"
            )
        name = host_name(fields[0])
        if not name:
            raise ValueError(f"host {index} is an empty name")
        entry_port = fields[1] if len(fields) > 1 else None
        entry_principal = fields[2] if len(fields) > 2 else None
        if entry_principal is not None and not isinstance(entry_principal, str):
            raise TypeError(f"principal of host {index} must be str or None")
        targets.append(
            _Target(
                index,
                name,
                default_port if entry_port is None else port_number(entry_port),
                principal if entry_principal is None else entry_principal,
            )
        )
    return targets


def _settings(
    command: Iterable[Argument],
    timeout: float | None,
    ccache: str | None,
    retries: int,
    on_line: Callable[[RemctlLine], object] | None,
) -> _Settings:
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of seconds: {timeout!r}")
        if not 0 < timeout < math.inf:
            raise ValueError(
                f"invalid timeout {timeout}: give a positive number or None"
            )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"invalid retries {retries!r}: give an int of 0 or more")
    if ccache is not None and not isinstance(ccache, str):
        raise TypeError("ccache must be str or None")
    if on_line is not None and not callable(on_line):
        raise TypeError("on_line must be callable")
    return _Settings(command_arguments(command), timeout, ccache, retries, on_line)


def run_many(
    hosts: Iterable[HostSpec],
    command: Iterable[Argument],
    *,
    port: Port = None,
    principal: str | None = None,
    concurrency: int = 64,
    timeout: float | None = None,
    ccache: str | None = None,
    retries: int = 0,
    on_line: Callable[[RemctlLine], object] | None = None,
) -> FanOut:
    """Run command on every host, at most ``concurrency`` at a time.

    Returns a :class:`FanOut`: iterate over it with ``async for`` (better
    inside ``async with``) to get a :class:`RemctlHostResult` per host as
    each finishes.  Arguments are checked here, before anything starts.

    ``hosts`` holds names or ``(host, port, principal)`` tuples (shorter
    tuples, and None members, take ``port`` and ``principal``); principal
    None means ``host/<host>``.  ``timeout`` bounds each host's whole run
    (connecting, authenticating and the command) in seconds; None means no
    limit.  ``ccache`` names the Kerberos ticket cache.  ``retries`` is how
    many times a host is tried again after a connection failure that
    happened before the command was sent (never after: the command could
    run twice).  With ``on_line``, each line of output is passed to it as a
    :class:`RemctlLine` as it arrives, in the event loop's thread, and the
    results hold no output.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise TypeError(f"concurrency must be an int: {concurrency!r}")
    if concurrency < 1:
        raise ValueError(f"invalid concurrency {concurrency}: give 1 or more")
    targets = _targets(hosts, port, principal)
    settings = _settings(command, timeout, ccache, retries, on_line)
    return FanOut(targets, settings, concurrency)


class _Crash:
    """A worker coroutine failed unexpectedly (or on_line raised)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


async def _settle(waiter: asyncio.Future[T]) -> None:
    """Wait until waiter is done, even if cancelled meanwhile; then re-raise."""
    cancelled = False
    while not waiter.done():
        try:
            await asyncio.wait({waiter})
        except asyncio.CancelledError:
            cancelled = True
    if not waiter.cancelled():
        waiter.exception()  # retrieved: the caller reports what matters
    if cancelled:
        raise asyncio.CancelledError


def _backstop(timeout: float | None) -> int:
    """The C library's timeout for each wait: a margin past the deadline.

    The event loop ends a host at its deadline; this only frees the thread
    should the loop never get to it (0: none, like the deadline)."""
    return 0 if timeout is None else math.ceil(timeout) + _BACKSTOP_MARGIN


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


class FanOut:
    """The running fan-out returned by :func:`run_many`.

    An async iterator of :class:`RemctlHostResult`, in the order the hosts
    finish, and an async context manager.  Nothing starts before the first
    ``__anext__``.  :meth:`aclose` (called on leaving ``async with``, at the
    end of the iteration, and when the iterating task is cancelled) stops
    starting hosts, cuts the open connections and returns once every thread
    and socket it used is gone.
    """

    def __init__(
        self, targets: list[_Target], settings: _Settings, concurrency: int
    ) -> None:
        self._targets = targets
        self._settings = settings
        self._workers_wanted = max(1, min(concurrency, len(targets)))
        self._next = 0
        self._left = len(targets)
        self._started = False
        self._closed = False
        self._pool: WorkerThreads | None = None
        self._queue: asyncio.Queue[RemctlHostResult | _Crash] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._gates: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._memory_ccache: MemoryCcache | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._started else "new"
        return f"<remctl.aio.FanOut {len(self._targets)} hosts {state}>"

    # -- iteration and closing ------------------------------------------------

    def __aiter__(self) -> AsyncIterator[RemctlHostResult]:
        return self

    async def __anext__(self) -> RemctlHostResult:
        if self._closed or self._left == 0:
            await self.aclose()
            raise StopAsyncIteration
        if not self._started:
            self._start()
        assert self._queue is not None
        try:
            item = await self._queue.get()
        except BaseException:
            await self.aclose()
            raise
        if isinstance(item, _Crash):
            await self.aclose()
            raise item.error
        self._left -= 1
        return item

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop: no new host starts, open connections are cut; wait for all."""
        self._closed = True
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.cancel()
        cancelled = False
        for worker in workers:
            try:
                await _settle(worker)
            except asyncio.CancelledError:
                cancelled = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()  # every job is done: the threads just exit
        memory, self._memory_ccache = self._memory_ccache, None
        if memory is not None:
            memory.close()  # no thread uses it any more
        if cancelled:
            raise asyncio.CancelledError

    # -- workers --------------------------------------------------------------

    def _start(self) -> None:
        self._started = True
        self._memory_ccache = MemoryCcache.copy_of(self._settings.ccache)
        self._queue = asyncio.Queue(maxsize=self._workers_wanted)
        self._pool = WorkerThreads(self._workers_wanted, "remctl-fanout")
        self._workers = [
            asyncio.ensure_future(self._work()) for _ in range(self._workers_wanted)
        ]

    async def _work(self) -> None:
        assert self._queue is not None
        try:
            while not self._closed and self._next < len(self._targets):
                target = self._targets[self._next]
                self._next += 1
                await self._queue.put(await self._host(target))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 (handed to the iterator)
            self._closed = True
            await self._queue.put(_Crash(exc))

    async def _host(self, target: _Target) -> RemctlHostResult:
        settings = self._settings
        started = time.monotonic()
        deadline = None if settings.timeout is None else started + settings.timeout
        attempt = 0
        while True:
            link: list[Link] = []
            try:
                result = await self._attempt(target, deadline, link)
            except RemctlError as exc:
                sent = bool(link) and link[0].sent
                retry = (
                    isinstance(exc, RemctlConnectionError)
                    and not isinstance(exc, RemctlTimeoutError)
                    and not sent
                    and attempt < settings.retries
                    and not self._closed
                )
                delay = min(_RETRY_DELAY * 2**attempt, _RETRY_DELAY_MAX)
                remaining = _remaining(deadline)
                if retry and (remaining is None or remaining > delay):
                    logger.debug(
                        "%s: %s; trying again in %g s", target.host, exc, delay
                    )
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                return self._finished(target, None, exc, started)
            return self._finished(target, result, None, started)

    def _finished(
        self,
        target: _Target,
        result: RemctlResult | None,
        error: RemctlError | None,
        started: float,
    ) -> RemctlHostResult:
        seconds = time.monotonic() - started
        if error is not None:
            logger.debug("%s: failed after %.3f s: %s", target.host, seconds, error)
        return RemctlHostResult(
            target.index,
            target.host,
            target.port,
            target.principal,
            result,
            error,
            seconds,
        )

    # -- one attempt on one host ----------------------------------------------

    async def _attempt(
        self, target: _Target, deadline: float | None, links: list[Link]
    ) -> RemctlResult:
        """Connect, then authenticate and run in a thread; raise RemctlError."""
        loop = asyncio.get_running_loop()
        gate = self._gates.setdefault(
            (target.host, target.port), asyncio.Semaphore(_HANDSHAKES_PER_SERVER)
        )
        await self._bounded(gate.acquire(), deadline, target, "waiting to connect to")
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                gate.release()

        try:
            sock, port = await self._connect(target, deadline)
        except BaseException:
            release()
            raise
        try:
            # The C library gets a duplicate sharing the file status flags:
            # blocking, as libraries that do plain reads need (ours polls
            # either way).  The loop only shuts the socket down from now on.
            sock.setblocking(True)
            on_lines = None
            if self._settings.on_line is not None:
                on_lines = functools.partial(self._lines, target)
            link = Link(sock, loop, release, on_lines)
            links.append(link)
            assert self._pool is not None
            settings = self._settings
            memory = self._memory_ccache
            cache = memory and memory.for_host(target.host, target.principal)
            job = None
            try:
                job = self._pool.submit(
                    exchange,
                    link,
                    target.host,
                    target.principal,
                    settings.command,
                    cache.name if cache else settings.ccache,
                    _backstop(settings.timeout),
                )
                return await self._wait(job, link, deadline, target, port)
            finally:
                # A job still running keeps its cache until the fan-out closes.
                if memory is not None and cache and (job is None or job.done()):
                    memory.release(cache)
        finally:
            release()
            sock.close()

    def _lines(self, target: _Target, lines: list[tuple[int, bytes]]) -> None:
        on_line = self._settings.on_line
        assert on_line is not None
        for stream, data in lines:
            on_line(RemctlLine(target.index, target.host, stream, data))

    async def _wait(
        self,
        job: concurrent.futures.Future[RemctlResult],
        link: Link,
        deadline: float | None,
        target: _Target,
        port: int,
    ) -> RemctlResult:
        """Await the thread's exchange; cut it at the deadline or on cancel."""
        waiter = asyncio.wrap_future(job)
        try:
            done, _ = await asyncio.wait({waiter}, timeout=_remaining(deadline))
        except asyncio.CancelledError:
            link.interrupt()
            job.cancel()
            await _settle(waiter)
            raise
        if not done:
            phase = link.phase
            link.interrupt()
            job.cancel()
            await _settle(waiter)
            raise self._timeout(target, port, phase)
        try:
            return waiter.result()
        except Interrupted:
            # Only interrupt() makes it, and only this coroutine calls it.
            raise RemctlError("the exchange was interrupted") from None
        except RemctlTimeoutError:
            # The library's own timeout, which only backs the deadline up,
            # fired first (a busy loop woke late): the deadline is the cause.
            if deadline is not None and time.monotonic() >= deadline:
                raise self._timeout(target, port, link.phase) from None
            raise

    def _timeout(self, target: _Target, port: int, phase: str) -> RemctlTimeoutError:
        return RemctlTimeoutError(
            f"timed out after {self._settings.timeout:g} s {phase} {target.host}"
            f" (port {port})"
        )

    async def _bounded(
        self,
        step: Awaitable[T],
        deadline: float | None,
        target: _Target,
        phase: str,
        port: int | None = None,
    ) -> T:
        """Await a step of the loop's own, within the host's deadline."""
        try:
            return await asyncio.wait_for(step, _remaining(deadline))
        except asyncio.TimeoutError as exc:
            if getattr(exc, "errno", None):
                raise  # the kernel's ETIMEDOUT (an OSError), not our deadline
            where = target.port if port is None else port
            raise self._timeout(target, where or _DEFAULT_PORTS[0], phase) from None

    async def _connect(
        self, target: _Target, deadline: float | None
    ) -> tuple[socket.socket, int]:
        """A connected socket and its port; port 0 tries 4373 then 4444."""
        ports = (target.port,) if target.port else _DEFAULT_PORTS
        first: RemctlError | None = None
        for port in ports:
            try:
                return await self._connect_port(target, port, deadline), port
            except RemctlError as exc:
                if _remaining(deadline) == 0:
                    raise
                first = first or exc
        assert first is not None
        raise first

    async def _connect_port(
        self, target: _Target, port: int, deadline: float | None
    ) -> socket.socket:
        loop = asyncio.get_running_loop()
        host = target.host
        try:
            # A numeric address resolves at once, without a thread.
            addresses = socket.getaddrinfo(
                host,
                port,
                0,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                socket.AI_NUMERICHOST,
            )
        except socket.gaierror:
            assert self._pool is not None
            lookup = asyncio.wrap_future(
                self._pool.submit(
                    socket.getaddrinfo,
                    host,
                    port,
                    0,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                )
            )
            try:
                addresses = await self._bounded(
                    asyncio.shield(lookup), deadline, target, "looking up", port
                )
            except socket.gaierror as exc:
                raise RemctlConnectionError(
                    f"unknown host {host}: {exc.strerror}"
                ) from None
            except BaseException:
                await _settle(lookup)  # its thread is ours until it returns
                raise
        error: OSError | None = None
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await self._bounded(
                    loop.sock_connect(sock, address),
                    deadline,
                    target,
                    "connecting to",
                    port,
                )
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        reason = os.strerror(error.errno) if error and error.errno else "no address"
        raise network_failure(f"cannot connect to {host} (port {port}): {reason}")
