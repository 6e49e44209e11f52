"""``remctl.run_many``: the blocking form of ``remctl.aio.run_many``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ._arguments import Argument, Port
from ._host_result import RemctlHostResult, RemctlLine

if TYPE_CHECKING:
    from ._fanout import HostSpec

__all__ = ["run_many"]


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
) -> list[RemctlHostResult]:
    """Run command on every host; return the results in the order of hosts.

    The arguments are those of :func:`remctl.aio.run_many`; ``on_line`` is
    called in this thread.  It runs its own event loop, so it cannot be
    called from a thread whose event loop is running (use the aio form
    there).  Interrupting it (KeyboardInterrupt) cuts the open connections
    before the exception propagates.
    """
    # asyncio is imported on first use only: plain ``import remctl`` stays light.
    import asyncio

    from ._fanout import run_many as start

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "remctl.run_many() cannot run inside a running event loop:"
            " use remctl.aio.run_many()"
        )
    fan_out = start(
        hosts,
        command,
        port=port,
        principal=principal,
        concurrency=concurrency,
        timeout=timeout,
        ccache=ccache,
        retries=retries,
        on_line=on_line,
    )

    async def collect() -> list[RemctlHostResult]:
        async with fan_out:
            return [result async for result in fan_out]

    results = asyncio.run(collect())
    results.sort(key=lambda result: result.index)
    return results
