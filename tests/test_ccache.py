"""Ticket cache per object (Remctl.set_ccache), proved by identity.

remctl.conf allows ``test denied`` to nobody@REALM only. The user's cache
(the session default, KRB5CCNAME) is refused with "Access denied"; a cache
holding nobody's tickets is let through. So each test sees which cache a
connection really authenticated with, not merely that it authenticated.

Our library takes credentials from an object's cache with
gss_acquire_cred_from where the GSS-API library has it (MIT), else with
gss_krb5_ccache_name in a short-lived thread of its own (Heimdal, which
lacks gss_acquire_cred_from; docs/design.md, ticket caches). Every test runs both
ways: ``REMCTL_TEST_NO_CRED_FROM=1`` (a test hook of test builds, read at
each open; see tests/conftest.py) makes our library take the fallback even
on MIT. Under Heimdal
(REMCTL_GSSAPI_LIBRARY=libgssapi.so.3) both runs take the fallback.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import remctl
from collect import Collected, run

ALLOWED = b"let through\n"


@pytest.fixture(
    params=[
        pytest.param("default", id="default-path"),
        pytest.param(
            "ccache_name",
            id="ccache-name-fallback",
            marks=pytest.mark.test_hooks(
                reason="forces the gss_krb5_ccache_name fallback through the "
                "test hook REMCTL_TEST_NO_CRED_FROM"
            ),
        ),
    ]
)
def credential_path(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    if request.param == "ccache_name":
        monkeypatch.setenv("REMCTL_TEST_NO_CRED_FROM", "1")
    else:
        monkeypatch.delenv("REMCTL_TEST_NO_CRED_FROM", raising=False)
    return str(request.param)


def denied_command(server: Any, ccache: str | None = None) -> Collected:
    """Run ``test denied`` on a new object, with ccache if given."""
    r = remctl.Remctl()
    try:
        if ccache is not None:
            r.set_ccache(ccache)
        r.open(server.host, server.port, server.principal)
        return run(r, ["test", "denied", "let", "through"])
    finally:
        r.close()


def is_allowed(result: Collected) -> bool:
    if result.error is not None:
        assert (result.error, result.message) == (6, b"Access denied"), result
        return False
    assert (result.stdout, result.status) == (ALLOWED, 0), result
    return True


def test_object_cache_decides_identity(
    server: Any, nobody_ccache: str, credential_path: str
) -> None:
    assert not is_allowed(denied_command(server))
    assert is_allowed(denied_command(server, nobody_ccache))
    # The default of this thread is untouched.
    assert not is_allowed(denied_command(server))
    assert not is_allowed(denied_command(server, server.ccache))


def test_cache_kept_across_reopen(
    server: Any, nobody_ccache: str, credential_path: str
) -> None:
    r = remctl.Remctl()
    r.set_ccache(nobody_ccache)
    r.open(server.host, server.port, server.principal)
    assert is_allowed(run(r, ["test", "denied", "let", "through"]))
    r.close()
    r.open(server.host, server.port, server.principal)
    assert is_allowed(run(r, ["test", "denied", "let", "through"]))
    r.close()


def test_default_cache_still_follows_environment(
    server: Any,
    nobody_ccache: str,
    credential_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After an object used its own cache, objects without one still use
    whatever KRB5CCNAME says now, in both directions: the fallback must not
    pin this thread to the cache that was the default at the time."""
    assert is_allowed(denied_command(server, nobody_ccache))
    monkeypatch.setenv("KRB5CCNAME", nobody_ccache)
    assert is_allowed(denied_command(server))
    assert not is_allowed(denied_command(server, server.ccache))
    assert is_allowed(denied_command(server))
    monkeypatch.setenv("KRB5CCNAME", server.ccache)
    assert not is_allowed(denied_command(server))


def test_missing_cache_fails_only_that_object(
    server: Any, credential_path: str, tmp_path: Path
) -> None:
    missing = f"FILE:{tmp_path}/nonexistent/ccache"
    r = remctl.Remctl()
    r.set_ccache(missing)
    with pytest.raises(remctl.RemctlError) as info:
        r.open(server.host, server.port, server.principal)
    assert str(info.value).startswith("GSS-API error")
    r.close()
    assert not is_allowed(denied_command(server))


def test_threads_keep_their_own_caches(
    server: Any, nobody_ccache: str, credential_path: str
) -> None:
    """Threads opening at the same time, some with nobody's cache, some with
    the user's, some with the default: each gets its own identity."""
    rounds = 8
    wrong: list[str] = []
    errors: list[BaseException] = []
    cases = [("nobody", nobody_ccache, True), ("user", server.ccache, False)]
    cases.append(("default", None, False))

    def work(name: str, ccache: str | None, allowed: bool) -> None:
        try:
            for index in range(rounds):
                if is_allowed(denied_command(server, ccache)) != allowed:
                    wrong.append(f"{name} round {index}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=case) for case in cases for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert wrong == []
