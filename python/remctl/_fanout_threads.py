"""The threads of one fan-out: at most N, never started by the event loop
after the first.

Starting a thread waits until the new thread runs, which takes a scheduler
round trip: tens of milliseconds on a busy machine.  A thread pool that
starts its threads in ``submit`` makes the event loop wait that long each
time.  Here the loop starts only the first thread; a thread that takes a job
while no other is idle starts one more (up to the limit) before running it,
so a spare is usually waiting for the next job.  :meth:`close` ends and joins
them all.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["WorkerThreads"]

T = TypeVar("T")
_Job = tuple["concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class WorkerThreads:
    """Runs blocking calls in at most ``size`` threads named ``name-N``."""

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._jobs: collections.deque[_Job] = collections.deque()
        self._threads: list[threading.Thread] = []
        self._starting = 0
        self._idle = 0
        self._closed = False
        self._numbers = 0

    def submit(
        self, function: Callable[..., T], *args: Any
    ) -> concurrent.futures.Future[T]:
        """Queue function(*args); return the future of its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker threads have been closed")
            self._jobs.append((future, function, args))
            self._changed.notify()
            first = not self._threads and not self._starting
        if first and not self._start_thread():
            raise RuntimeError("cannot start a worker thread")
        return future

    def close(self) -> None:
        """Let the threads finish the queued jobs, then end and join them."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()
            while self._starting:
                self._changed.wait()
            threads = list(self._threads)
        for thread in threads:
            thread.join()

    def _start_thread(self) -> bool:
        with self._lock:
            if self._closed or len(self._threads) + self._starting >= self._size:
                return False
            self._starting += 1
            self._numbers += 1
            name = f"{self._name}-{self._numbers}"
        thread = threading.Thread(target=self._run, name=name, daemon=True)
        try:
            thread.start()
        except RuntimeError:  # the system has no thread to give
            started = False
        else:
            started = True
        with self._lock:
            self._starting -= 1
            if started:
                self._threads.append(thread)
            self._changed.notify_all()
        return started

    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
                while not self._jobs and not self._closed:
                    self._changed.wait()
                self._idle -= 1
                if not self._jobs:
                    return
                future, function, args = self._jobs.popleft()
                spare = (
                    self._idle == 0 and len(self._threads) + self._starting < self._size
                )
            if spare:
                self._start_thread()
            if future.set_running_or_notify_cancel():
                try:
                    result = function(*args)
                except BaseException as exc:  # noqa: BLE001 (the awaiting task gets it)
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, function, args
