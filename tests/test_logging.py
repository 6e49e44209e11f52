"""Logging through logging.getLogger("remctl"): events at DEBUG level, and
never an argument value or a credential."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import remctl
from remctl import aio

SECRETS = ["hunter2-argument", "s3cr3t\u00e9-value", "0xDEADBEEF-token"]


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def assert_nothing_secret(caplog: pytest.LogCaptureFixture, server: Any) -> None:
    assert caplog.records, "nothing was logged"
    for record in caplog.records:
        assert record.name == "remctl"
        assert record.levelno == logging.DEBUG
        text = record.getMessage() + repr(record.args)
        for secret in [*SECRETS, server.ccache, server.ccache_path]:
            assert secret not in text, record.getMessage()


def test_full_interface_events(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="remctl")
    with remctl.Remctl(ccache=server.ccache) as r:
        r.open(server.host, server.port, server.principal)
        r.run(["test", "echo", *SECRETS])
        list(r.stream(["test", "stderr", SECRETS[0]]))
        r.command(["test", "hashargs", *SECRETS])
        while r.output().type == "output":
            pass
        r.run(["test", "denied", SECRETS[1]])
        r.noop()
    logged = messages(caplog)
    where = f"{server.host} (port {server.port}, principal {server.principal})"
    assert f"connecting to {where}" in logged
    assert f"connected and authenticated to {where}" in logged
    assert "sending a command with 5 arguments" in logged
    assert "sending a command with 3 arguments" in logged
    assert "command exited with status 0" in logged
    assert "server answered with error 6" in logged
    assert f"closed the connection to {server.host}" in logged
    assert_nothing_secret(caplog, server)


def test_failures_are_logged(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="remctl")
    principal = f"host/{SECRETS[2]}@{server.realm}"
    with pytest.raises(remctl.RemctlError):
        remctl.Remctl(server.host, server.port, principal)
    assert any(
        m.startswith(f"connection to {server.host}") and "failed: GSS-API" in m
        for m in messages(caplog)
    )
    # The server principal is not a secret: here it is named in the log.
    caplog.clear()
    with pytest.raises(remctl.RemctlProtocolError):
        remctl.remctl(server.host, server.port, server.principal, ["test", "bogus"])
    assert any("failed: Unknown command" in m for m in messages(caplog))
    assert_nothing_secret(caplog, server)


def test_simple_interface_events(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="remctl")
    remctl.remctl(
        server.host, server.port, server.principal, ["test", "echo", *SECRETS[:2]]
    )
    remctl.remctl(server.host, server.port, server.principal, ["test", "echo", "x"])
    logged = messages(caplog)
    assert any(m.startswith("running a command with 4 arguments on") for m in logged)
    assert f"command on {server.host} exited with status 0" in logged
    assert_nothing_secret(caplog, server)


def test_aio_events(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="remctl")

    async def main() -> None:
        async with aio.Remctl(server.host, server.port, server.principal) as r:
            await r.run(["test", "echo", *SECRETS])
            async for _token in r.stream(["test", "echo", SECRETS[0]]):
                pass
        await aio.remctl(
            server.host, server.port, server.principal, ["test", "echo", *SECRETS[1:]]
        )

    asyncio.run(main())
    logged = messages(caplog)
    assert "sending a command with 5 arguments" in logged
    assert any(m.startswith("running a command with 4 arguments") for m in logged)
    assert_nothing_secret(caplog, server)


def test_quiet_by_default(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Nothing reaches a handler at the default WARNING level."""
    caplog.set_level(logging.WARNING)
    remctl.remctl(server.host, server.port, server.principal, ["test", "nothing"])
    assert caplog.records == []
