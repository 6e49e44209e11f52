"""remctl.aio against the test remctld: async with, run, stream, the simple
call, concurrency, and cancellation.

No pytest plugin for asyncio is needed: each test drives its coroutine with
asyncio.run().  The wall time of concurrent commands is shown by
bench/aio_concurrency.py; these tests check only results (tests do not time
things).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import remctl
from expected import stream_bytes
from remctl import aio

T = TypeVar("T")
HANG_GUARD = 60.0  # seconds; only to fail instead of hanging forever
STEP = 20.0  # seconds; one awaited step that hangs fails instead
LEFT_UNFINISHED = pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 reads the rest of "
    "the old answer as the new one's"
)


def run(coroutine: Awaitable[T]) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(coroutine, HANG_GUARD)

    return asyncio.run(guarded())


def connect(server: Any) -> aio.Remctl:
    return aio.Remctl(server.host, server.port, server.principal)


async def wait_for_command(server: Any, text: str) -> None:
    """Wait until remctld has logged that it runs ``text``."""
    while text.encode() not in Path(server.remctld_log).read_bytes():
        await asyncio.sleep(0.02)


def unique_sleep() -> str:
    """A sleep of about 1.5 s, its duration unique enough to find in the log."""
    return f"1.5{secrets.randbelow(10**6):06d}"


# -- basics -------------------------------------------------------------------


def test_async_with_run(server: Any) -> None:
    async def main() -> tuple[remctl.RemctlResult, str, str]:
        async with connect(server) as r:
            result = await r.run(["test", "mixed"])
            inside = repr(r)
        return result, inside, repr(r)

    result, inside, after = run(main())
    assert (result.stdout, result.stderr, result.status) == (b"out\n", b"err\n", 3)
    assert inside == (
        f"<remctl.aio.Remctl host={server.host!r} port={server.port}"
        f" principal={server.principal!r} open>"
    )
    assert after.endswith(" closed>")


def test_run_check(server: Any) -> None:
    async def main() -> None:
        async with connect(server) as r:
            with pytest.raises(remctl.RemctlCommandError) as info:
                await r.run(["test", "denied"], check=True)
            assert (info.value.code, info.value.message) == (6, "Access denied")
            with pytest.raises(remctl.RemctlCommandError) as status:
                await r.run(["test", "status", "4"], check=True)
            assert status.value.status == 4
            ok = await r.run(["test", "echo", "fine"], check=True)
            assert ok.stdout == b"fine\n"

    run(main())


def test_stream(server: Any) -> None:
    length = 1_500_001

    async def main() -> list[remctl.RemctlOutput]:
        async with connect(server) as r:
            return [token async for token in r.stream(["test", "stream", str(length)])]

    tokens = run(main())
    assert tokens[-1] == ("status", None, None, 0, None)
    assert all(token.type == "output" and token.stream == 1 for token in tokens[:-1])
    assert b"".join(token.data or b"" for token in tokens[:-1]) == stream_bytes(length)


def test_stream_error_token(server: Any) -> None:
    async def main() -> list[remctl.RemctlOutput]:
        async with connect(server) as r:
            return [token async for token in r.stream(["test", "bogus"])]

    assert run(main()) == [("error", b"Unknown command", None, None, 5)]


def test_simple_call(server: Any) -> None:
    async def main() -> remctl.RemctlSimpleResult:
        return await aio.remctl(
            server.host, server.port, server.principal, ["test", "echo", "simple"]
        )

    result = run(main())
    assert (result.stdout, result.stderr, result.status) == (b"simple\n", None, 0)

    async def failing() -> None:
        await aio.remctl(server.host, server.port, server.principal, ["test", "bogus"])

    with pytest.raises(remctl.RemctlProtocolError, match="Unknown command"):
        run(failing())


def test_lazy_open_close_and_reopen(server: Any) -> None:
    async def main() -> None:
        r = connect(server)
        assert repr(r).endswith(" closed>")
        assert (await r.run(["test", "echo", "lazy"])).stdout == b"lazy\n"
        await r.noop()
        await r.close()
        with pytest.raises(remctl.RemctlNotOpenedError):
            await r.run(["test", "echo"])
        await r.open(server.host, server.port, server.principal)
        assert (await r.run(["test", "echo", "reopened"])).stdout == b"reopened\n"
        await r.aclose()

    run(main())


def test_not_opened_and_bad_arguments(server: Any) -> None:
    async def main() -> None:
        r = aio.Remctl()
        assert repr(r) == "<remctl.aio.Remctl closed>"
        with pytest.raises(remctl.RemctlNotOpenedError):
            await r.run(["test", "echo"])
        with pytest.raises(ValueError, match="command must not be empty"):
            r.stream([])
        with pytest.raises(TypeError, match="command must be a sequence"):
            await r.run("test echo")

    run(main())
    with pytest.raises(TypeError, match="port must be a number"):
        aio.Remctl(server.host, "http")


def test_settings(server: Any) -> None:
    async def main() -> None:
        r = aio.Remctl(ccache=server.ccache, timeout=5, source_ip="127.0.0.1")
        await r.set_timeout(1)
        await r.open(server.host, server.port, server.principal)
        with pytest.raises(remctl.RemctlError, match="timed out"):
            await r.run(["test", "sleep", "3"])
        await r.set_timeout(0)
        assert (await r.run(["test", "echo", "ok"])).stdout == b"ok\n"
        await r.close()

    run(main())


def test_open_failure(server: Any) -> None:
    async def main() -> None:
        r = aio.Remctl(server.host, server.port, "host/nowhere@" + server.realm)
        with pytest.raises(remctl.RemctlError, match="GSS-API"):
            async with r:
                pass
        # A failed entry closes the object, as a with block would.
        assert r._connection is None
        with pytest.raises(remctl.RemctlNotOpenedError):
            await r.run(["test", "echo"])
        await r.open(server.host, server.port, server.principal)
        assert (await r.run(["test", "echo", "fixed"])).stdout == b"fixed\n"
        await r.close()

    run(main())


# -- concurrency ----------------------------------------------------------------


def test_fifty_objects_concurrently(server: Any) -> None:
    """50 commands sleeping 1 s on 50 objects run at once (see the bench)."""

    async def main() -> list[remctl.RemctlResult]:
        async with contextlib.AsyncExitStack() as stack:
            # Stock remctld listens with a backlog of 5: connect one by one,
            # then run the commands all at once.
            objects = [
                await stack.enter_async_context(connect(server)) for _ in range(50)
            ]
            return await asyncio.gather(
                *(r.run(["test", "sleep", "1"]) for r in objects)
            )

    results = run(main())
    assert [(r.stdout, r.status) for r in results] == [(b"slept\n", 0)] * 50


def test_one_object_serializes(server: Any) -> None:
    async def main() -> list[remctl.RemctlResult]:
        async with connect(server) as r:
            return await asyncio.gather(
                *(r.run(["test", "echo", str(n)]) for n in range(20))
            )

    results = run(main())
    assert [result.stdout for result in results] == [
        f"{n}\n".encode() for n in range(20)
    ]


@LEFT_UNFINISHED
def test_run_from_another_task_abandons_a_stream(server: Any) -> None:
    """A run() started by another task during a stream goes between two of
    the stream's steps, as with threads on a blocking Remctl: it gets its
    own answer, and the stream's next step says it was abandoned."""

    async def main() -> tuple[bytes, str]:
        async with connect(server) as r:
            tokens = r.stream(["test", "stream", "2000000"])
            assert (await tokens.__anext__()).type == "output"
            task = asyncio.ensure_future(r.run(["test", "echo", "later"]))
            other = await asyncio.wait_for(task, STEP)
            with pytest.raises(remctl.RemctlError) as info:
                async for _token in tokens:
                    pass
            return other.stdout, str(info.value)

    later, message = run(main())
    assert later == b"later\n"
    assert message == "another command was sent before this command's output was read"


# -- cancellation -----------------------------------------------------------------


def test_cancel_during_blocking_call(server: Any) -> None:
    """Cancelled while the thread waits on the server: the next command runs
    on a new connection, and the old one is closed once its call returns."""
    seconds = unique_sleep()

    async def main() -> tuple[bytes, bool]:
        async with connect(server) as r:
            old = r._connection
            assert old is not None
            task = asyncio.ensure_future(r.run(["test", "sleep", seconds]))
            await wait_for_command(server, f"test sleep {seconds}")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            after = await r.run(["test", "echo", "after", "cancel"])
            assert r._connection is not old
            thread = old.worker.thread
            assert thread is not None
            await asyncio.get_running_loop().run_in_executor(
                None, thread.join, HANG_GUARD
            )
            return after.stdout, thread.is_alive()

    stdout, old_thread_alive = run(main())
    assert stdout == b"after cancel\n"
    assert not old_thread_alive


@LEFT_UNFINISHED
def test_cancel_stream_mid_output(server: Any) -> None:
    async def main() -> bytes:
        async with connect(server) as r:
            first = asyncio.Event()

            async def consume() -> None:
                async for _token in r.stream(["test", "stream", "20000000"]):
                    first.set()

            task = asyncio.ensure_future(consume())
            await first.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            result = await r.run(["test", "echo", "next"])
            return result.stdout

    assert run(main()) == b"next\n"


@LEFT_UNFINISHED
def test_leave_stream_early(server: Any) -> None:
    async def main() -> tuple[bytes, bytes]:
        async with connect(server) as r:
            async for token in r.stream(["test", "stream", "5000000"]):
                assert token.type == "output"
                break
            first = (await r.run(["test", "echo", "one"])).stdout
            tokens = r.stream(["test", "stream", "5000000"])
            async for _token in tokens:
                break
            await tokens.aclose()
            second = (await r.run(["test", "echo", "two"])).stdout
            return first, second

    assert run(main()) == (b"one\n", b"two\n")


@LEFT_UNFINISHED
def test_stream_left_with_a_reference_then_run(server: Any) -> None:
    """Leave a stream early while keeping the iterator, then run a command
    on the object from the same task: it runs at once, and the iterator's
    next step says the stream was left."""

    async def main() -> tuple[bytes, bytes]:
        async with connect(server) as r:
            tokens = r.stream(["test", "stream", "5000000"])
            async for token in tokens:
                assert token.type == "output"
                break
            result = await asyncio.wait_for(r.run(["test", "echo", "next"]), STEP)
            with pytest.raises(remctl.RemctlError) as info:
                await asyncio.wait_for(tokens.__anext__(), STEP)
            assert str(info.value) == (
                "another command was sent before this command's output was read"
            )
            await tokens.aclose()
            again = await asyncio.wait_for(r.run(["test", "echo", "again"]), STEP)
            return result.stdout, again.stdout

    assert run(main()) == (b"next\n", b"again\n")


def test_stream_left_with_a_reference_then_open(server: Any) -> None:
    """The same with open(), which needs nothing of the library: the object
    is not kept waiting for the iterator."""

    async def main() -> bytes:
        async with connect(server) as r:
            tokens = r.stream(["test", "stream", "5000000"])
            async for _token in tokens:
                break
            opening = r.open(server.host, server.port, server.principal)
            await asyncio.wait_for(opening, STEP)
            result = await asyncio.wait_for(r.run(["test", "echo", "fresh"]), STEP)
            with pytest.raises(remctl.RemctlError, match="another command was sent"):
                await asyncio.wait_for(tokens.__anext__(), STEP)
            return result.stdout

    assert run(main()) == b"fresh\n"


def test_close_during_a_stream(server: Any) -> None:
    async def main() -> bytes:
        async with connect(server) as r:
            tokens = r.stream(["test", "stream", "5000000"])
            assert (await tokens.__anext__()).type == "output"
            await asyncio.wait_for(r.close(), STEP)
            with pytest.raises(remctl.RemctlNotOpenedError):
                await asyncio.wait_for(tokens.__anext__(), STEP)
            await r.open(server.host, server.port, server.principal)
            return (await asyncio.wait_for(r.run(["test", "echo", "x"]), STEP)).stdout

    assert run(main()) == b"x\n"


@LEFT_UNFINISHED
def test_stream_left_for_another_stream(server: Any) -> None:
    async def main() -> list[bytes]:
        async with connect(server) as r:
            first = r.stream(["test", "stream", "5000000"])
            async for _token in first:
                break
            second = [t.data async for t in r.stream(["test", "echo", "two"])]
            with pytest.raises(remctl.RemctlError, match="another command was sent"):
                await asyncio.wait_for(first.__anext__(), STEP)
            return second

    assert run(main()) == [b"two\n", None]


def test_cancel_waiting_for_the_object(server: Any) -> None:
    """A task cancelled before its call started leaves the connection alone."""
    seconds = f"0.{secrets.randbelow(10**6):06d}"

    async def main() -> tuple[bytes, bytes]:
        async with connect(server) as r:
            connection = r._connection
            busy = asyncio.ensure_future(r.run(["test", "sleep", seconds]))
            await wait_for_command(server, f"test sleep {seconds}")
            waiting = asyncio.ensure_future(r.run(["test", "echo", "never"]))
            await asyncio.sleep(0)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert r._connection is connection
            done = await busy
            after = await r.run(["test", "echo", "same"])
            assert r._connection is connection
            return done.stdout, after.stdout

    assert run(main()) == (b"slept\n", b"same\n")


def test_wait_for_timeout_then_usable(server: Any) -> None:
    async def main() -> bytes:
        async with connect(server) as r:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(r.run(["test", "sleep", "3"]), 0.3)
            return (await r.run(["test", "echo", "usable"])).stdout

    assert run(main()) == b"usable\n"


def test_threads_end(server: Any) -> None:
    """A closed object's thread ends; so does a forgotten object's."""

    async def main() -> list[threading.Thread]:
        unused = connect(server)
        await unused.close()  # never used: no thread was started
        closed = connect(server)
        await closed.run(["test", "nothing"])
        assert closed._connection is not None
        threads = [closed._connection.worker.thread]
        await closed.close()
        forgotten = connect(server)
        await forgotten.run(["test", "nothing"])
        assert forgotten._connection is not None
        threads.append(forgotten._connection.worker.thread)
        del forgotten
        gc.collect()
        return [thread for thread in threads if thread is not None]

    threads = run(main())
    assert len(threads) == 2
    for thread in threads:
        thread.join(HANG_GUARD)
        assert not thread.is_alive()
