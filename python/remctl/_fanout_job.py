"""The blocking half of fan-out: one host's exchange, in a worker thread.

The event loop connects the TCP socket itself, then hands this thread a
duplicate of its descriptor through ``remctl_open_fd``: the C library
authenticates, sends the command and reads the answer, blocking, with the GIL
released.  The loop keeps the original descriptor, so it can cut the
exchange short at any moment with ``shutdown()``: the blocked call returns at
once and nothing waits for a timeout of the C library.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import threading
from collections.abc import Callable

from . import _remctl
from ._errors import RemctlError
from ._failure import network_failure
from ._result import RemctlResult

__all__ = ["Interrupted", "Link", "exchange"]

# How long a worker waits at a time for the event loop to take lines.
_DELIVERY_POLL = 0.2


class Interrupted(Exception):
    """The event loop cut the exchange short (timeout or cancellation)."""


class Link:
    """What the loop and the worker thread share about one connection.

    The loop owns ``sock`` (connected, non-blocking) and closes it once the
    worker is done with it.  :meth:`interrupt` may be called from the loop at
    any time; the worker checks :attr:`interrupted` between steps.
    """

    def __init__(
        self,
        sock: socket.socket,
        loop: asyncio.AbstractEventLoop,
        on_authenticated: Callable[[], None],
        on_lines: Callable[[list[tuple[int, bytes]]], None] | None,
    ) -> None:
        self.sock = sock
        self.loop = loop
        self.phase = "authenticating to"
        self.sent = False  # the command went out: retrying could repeat it
        self.interrupted = False
        self._lock = threading.Lock()
        self._on_authenticated = on_authenticated
        self._on_lines = on_lines

    @property
    def streaming(self) -> bool:
        return self._on_lines is not None

    def interrupt(self) -> None:
        """Make the worker's blocking call return now (called by the loop)."""
        with self._lock:
            self.interrupted = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected any more: the call fails on its own

    def authenticated(self) -> None:
        self.phase = "running the command on"
        self._call_in_loop(self._on_authenticated)

    def deliver(self, lines: list[tuple[int, bytes]]) -> None:
        """Hand lines to the loop and wait until it has taken them.

        Waiting keeps at most one token of output per host in memory
        however slow the consumer is.
        """
        on_lines = self._on_lines
        if not lines or on_lines is None:
            return
        taken: concurrent.futures.Future[None] = concurrent.futures.Future()

        def take() -> None:
            if not taken.set_running_or_notify_cancel():
                return
            try:
                on_lines(lines)
            except BaseException as exc:  # noqa: BLE001 (re-raised by the loop)
                taken.set_exception(exc)
            else:
                taken.set_result(None)

        if not self._call_in_loop(take):
            raise Interrupted
        while True:
            try:
                taken.result(timeout=_DELIVERY_POLL)
                return
            except concurrent.futures.TimeoutError:
                if self.interrupted or self.loop.is_closed():
                    taken.cancel()
                    raise Interrupted from None

    def _call_in_loop(self, function: Callable[[], None]) -> bool:
        try:
            self.loop.call_soon_threadsafe(function)
        except RuntimeError:  # the loop is closed
            return False
        return True


def _same_socket(fd: int, sock: socket.socket) -> bool:
    """Whether descriptor fd still refers to sock's socket."""
    try:
        mine, theirs = os.fstat(fd), os.fstat(sock.fileno())
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def exchange(
    link: Link,
    host: str,
    principal: str | None,
    command: list[bytes],
    ccache: str | None,
    timeout: int,
) -> RemctlResult:
    """Authenticate over link's socket, run command, return its answer.

    Runs in a worker thread.  Raises the RemctlError subclass naming the
    cause (remctl._failure) on failure,
    Interrupted when the loop cut it short.
    """
    if link.interrupted:
        raise Interrupted
    handle = _remctl.remctl_new()
    try:
        if ccache is not None and not _remctl.remctl_set_ccache(handle, ccache):
            raise RemctlError(_remctl.remctl_error(handle))
        if timeout and not _remctl.remctl_set_timeout(handle, timeout):
            raise RemctlError(_remctl.remctl_error(handle))
        fd = os.dup(link.sock.fileno())
        if not _remctl.remctl_open_fd(handle, host, fd, principal):
            # The library closes the descriptor it was given, except when it
            # fails before taking it: close it then, but only if it is
            # still our socket (the number may have been reused).
            if _same_socket(fd, link.sock):
                os.close(fd)
            raise _failure(link, _remctl.remctl_error(handle))
        link.authenticated()
        link.sent = True
        if not _remctl.remctl_commandv(handle, command):
            raise _failure(link, _remctl.remctl_error(handle))
        return _answer(link, handle)
    finally:
        _remctl.remctl_close(handle)


def _failure(link: Link, message: str) -> BaseException:
    return Interrupted() if link.interrupted else network_failure(message)


def _answer(link: Link, handle: _remctl.RemctlHandle) -> RemctlResult:
    """Read the answer: kept whole, or handed to the loop line by line."""
    kept: dict[int, list[bytes]] = {1: [], 2: []}
    pending = {1: b"", 2: b""}  # the unfinished last line of each stream
    while True:
        token = _remctl.remctl_output(handle)
        if not token:
            raise _failure(link, _remctl.remctl_error(handle))
        kind, data, stream, status, code = token
        if kind == "output":
            channel = 2 if stream == 2 else 1
            if not link.streaming:
                kept[channel].append(data or b"")
                continue
            text = pending[channel] + (data or b"")
            cut = text.rfind(b"\n") + 1
            pending[channel] = text[cut:]
            if cut:
                lines = text[: cut - 1].split(b"\n")
                link.deliver([(channel, line + b"\n") for line in lines])
            continue
        link.deliver([(channel, rest) for channel, rest in pending.items() if rest])
        stdout, stderr = b"".join(kept[1]), b"".join(kept[2])
        if kind == "status":
            return RemctlResult(stdout, stderr, status)
        if kind == "error":
            message = (data or b"").decode("utf-8", errors="replace")
            return RemctlResult(stdout, stderr, None, code, message)
        raise RemctlError(f"unexpected {kind} token from the library")
