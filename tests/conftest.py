"""pytest wiring: the real-server fixture ``server`` used by the test suite.

``server`` is a started :class:`remctl.testing.RemctlTestEnvironment` (a
throwaway MIT realm and remctld on free loopback ports) serving
``tests/server/remctl.conf.in`` with the scripts in ``tests/server/scripts``.
For the whole session ``KRB5_CONFIG`` and ``KRB5CCNAME`` in ``os.environ``
point at its krb5.conf and ticket cache (restored afterwards).  Use
``server.host``, ``server.port``, ``server.principal``, ``server.ccache``
(a ``FILE:`` cache name) and ``server.restart()``.  Missing KDC or remctld
programs make the fixture error, never skip.

``remctl.testing`` is imported only when the fixture is first used, so test
modules that never touch a server are collected even if ``import remctl``
fails.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from remctl.testing import RemctlTestEnvironment

TESTS_DIR = Path(__file__).resolve().parent
SERVER_DIR = TESTS_DIR / "server"

# Make tests/expected.py importable under every pytest import mode.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


#: The remctl.backend programs the session's remctld also serves
#: (tests/test_backend_remctld.py): one realm for the whole session, because
#: Heimdal's GSS-API reads krb5.conf once per thread and would keep talking
#: to the first realm's KDC if a module started a second one.
BACKEND_SVC = SERVER_DIR / "backends" / "svc_backend.py"
BACKEND_USER = TESTS_DIR.parent / "examples" / "user_backend.py"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemctlTestEnvironment]:
    """A running realm and remctld, with the client environment applied."""
    from remctl.testing import PythonBackend, RemctlTestEnvironment

    database = tmp_path_factory.mktemp("users") / "users.json"
    environment = RemctlTestEnvironment(
        SERVER_DIR / "remctl.conf.in",
        SERVER_DIR / "scripts",
        backends=[
            PythonBackend("svc", BACKEND_SVC, stdin={"store": "last", "first": 2}),
            PythonBackend("user", BACKEND_USER, stdin={"passwd": "last"}),
        ],
        server_env={"USER_BACKEND_DB": str(database)},
    )
    with environment as env, env.apply_environ():
        yield env


@pytest.fixture(scope="session")
def nobody_keytab(server: RemctlTestEnvironment) -> tuple[str, str]:
    """nobody@REALM (``test denied`` lets only nobody through) and its keytab."""
    return server.add_principal("nobody")


@pytest.fixture(scope="session")
def nobody_ccache(
    server: RemctlTestEnvironment,
    nobody_keytab: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A ticket cache (FILE: name) holding tickets of nobody@REALM."""
    path = tmp_path_factory.mktemp("nobody") / "ccache"
    return str(server.kinit(path, *nobody_keytab))


@pytest.fixture
def handle(server: RemctlTestEnvironment) -> Iterator[Any]:
    """A low-level ``_remctl`` handle opened to the session's remctld, closed
    afterwards (tests/test_open_forms.py has its own, unopened one)."""
    from remctl import _remctl

    h = _remctl.remctl_new()
    assert _remctl.remctl_open(h, server.host, server.port, server.principal)
    yield h
    _remctl.remctl_close(h)


# -- ours_only: behaviour our libremctl.so.1 adds on purpose -----------------
#
# The suite also runs with REMCTL_LIBRARY naming another libremctl.so.1, such
# as Debian's libremctl1 (scripts/test-compat.sh). A test that checks
# something only our library does carries
#
#     @pytest.mark.ours_only(reason="what ours does that the other does not")
#
# and is deselected, never skipped, when the library under test is not ours;
# the deselected tests and their reasons are listed at the end of the run.
# In the normal run they all run. A mark without a reason is a usage error.
# Modules of other owners that are ours-only as a whole are listed in
# OURS_ONLY_MODULES instead of carrying a module-level pytestmark.

#: Our library carries this text so that it can be told from another
#: libremctl.so.1 (library_identity in vendor/libremctl/src/api.c).
OURS_MARKER = b"libremctl of the remctl Python package"
#: ... and a test build (CMake REMCTL_TEST_HOOKS=ON) says so after it.
TEST_BUILD_MARKER = OURS_MARKER + b", test build with test hooks"

# -- test_hooks: tests that need a test build of our library ----------------
#
# The test hooks (REMCTL_TEST_PROTOCOL=1 forces protocol 1,
# REMCTL_TEST_NO_CRED_FROM=1 the gss_krb5_ccache_name path) exist only in a
# test build of our library, never in a release build such as the wheel's.
# A test that needs them carries
#
#     @pytest.mark.test_hooks(reason="what it forces through which hook")
#
# which implies ours_only. On a release build of our library such tests are
# deselected and listed at the end (the wheel matrix, scripts/test-matrix.sh,
# runs the release wheel). scripts/dev-env.sh builds .venv's library as a
# test build, and the stages that run on it set REMCTL_REQUIRE_TEST_HOOKS=1:
# then a release build is a usage error, so these tests cannot go missing.

OURS_ONLY_MODULES = {
    "test_hostile.py": (
        "the hostile-server tests check our library's exact messages and "
        "limits for malformed tokens"
    ),
    "test_gssapi_missing.py": (
        "only our library loads GSS-API at run time and honours "
        "REMCTL_GSSAPI_LIBRARY; Debian's links libgssapi_krb5 directly"
    ),
}

_DESELECTED = pytest.StashKey[list[tuple[str, str]]]()


def _library_bytes() -> tuple[str, bytes | None]:
    """Where the library under test is, and its contents (None: unreadable)."""
    path = os.environ.get("REMCTL_LIBRARY")
    if not path:
        # Found as remctl._library finds it, without importing the package.
        spec = importlib.util.find_spec("remctl")
        if spec is None or not spec.submodule_search_locations:
            return "the package's own libremctl.so.1", None
        package = os.path.realpath(next(iter(spec.submodule_search_locations)))
        path = os.path.join(package, "libremctl.so.1")
    try:
        return path, Path(path).read_bytes()
    except OSError:
        return path, None


def library_under_test() -> tuple[str, bool]:
    """The libremctl.so.1 the suite loads, and whether it is ours.

    Without REMCTL_LIBRARY the package loads its own copy, which is ours. A
    library named by REMCTL_LIBRARY is ours when it carries OURS_MARKER; one
    that cannot be read counts as foreign.
    """
    path, data = _library_bytes()
    if not os.environ.get("REMCTL_LIBRARY"):
        return path, True
    return path, data is not None and OURS_MARKER in data


def library_has_test_hooks() -> bool:
    """Whether the library under test is a test build of ours."""
    data = _library_bytes()[1]
    return data is not None and TEST_BUILD_MARKER in data


def ours_only_reason(item: pytest.Item) -> str | None:
    """The reason of the item's ours_only mark; None if it has none."""
    marks = list(item.iter_markers("ours_only"))
    if not marks:
        return None
    reason = marks[0].kwargs.get("reason") or (marks[0].args or [""])[0]
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(f"{item.nodeid}: ours_only needs a reason")
    return reason


def test_hooks_reason(item: pytest.Item) -> str | None:
    """The reason of the item's test_hooks mark; None if it has none."""
    marks = list(item.iter_markers("test_hooks"))
    if not marks:
        return None
    reason = marks[0].kwargs.get("reason") or (marks[0].args or [""])[0]
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(f"{item.nodeid}: test_hooks needs a reason")
    return reason


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ours_only(reason): behaviour only our libremctl.so.1 has; deselected "
        "when REMCTL_LIBRARY names another library (see tests/conftest.py)",
    )
    config.addinivalue_line(
        "markers",
        "test_hooks(reason): needs a test build of our libremctl.so.1 (its "
        "test hooks); implies ours_only (see tests/conftest.py)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    path, ours = library_under_test()
    if not ours:
        kind = "NOT ours: ours_only tests are deselected"
    elif library_has_test_hooks():
        kind = "ours, test build"
    else:
        kind = "ours, release build: test_hooks tests are deselected"
    return [f"libremctl under test: {path} ({kind})", f"interpreter: {interpreter()}"]


# -- the interpreter: which one, and whether its GIL is on --------------------
#
# The suite also runs under PyPy, emulated aarch64 and free-threaded CPython
# (scripts/test-platforms.sh). The header names the interpreter, and with
# REMCTL_TEST_EXPECT_GIL=off the run fails unless the GIL is still disabled
# when the session ends (an extension module not marked free-threading safe
# would have turned it back on during the run).


def gil_enabled() -> bool | None:
    """Whether the GIL is on; None for interpreters that cannot tell."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return None if probe is None else bool(probe())


def interpreter() -> str:
    import platform

    gil = gil_enabled()
    gil_text = "GIL always on" if gil is None else f"GIL enabled: {gil}"
    return (
        f"{platform.python_implementation()} {platform.python_version()}"
        f" on {platform.machine()}, {gil_text}"
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    expect = os.environ.get("REMCTL_TEST_EXPECT_GIL")
    if expect not in (None, "", "off"):
        raise pytest.UsageError(f"REMCTL_TEST_EXPECT_GIL={expect!r}: only 'off'")
    if expect == "off" and gil_enabled() is not False:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    for item in items:
        reason = OURS_ONLY_MODULES.get(item.path.name)
        if reason is not None:
            item.add_marker(pytest.mark.ours_only(reason=reason))
    for item in items:
        reason = test_hooks_reason(item)
        if reason is not None and ours_only_reason(item) is None:
            item.add_marker(pytest.mark.ours_only(reason=reason))
    if library_under_test()[1]:
        reasons = {item.nodeid: test_hooks_reason(item) for item in items}
        if library_has_test_hooks() or not any(reasons.values()):
            return
        if os.environ.get("REMCTL_REQUIRE_TEST_HOOKS") == "1":
            raise pytest.UsageError(
                f"REMCTL_REQUIRE_TEST_HOOKS=1 but {library_under_test()[0]} is "
                "a release build of our library, without the test hooks "
                "(scripts/dev-env.sh builds a test build)"
            )
    else:
        reasons = {item.nodeid: ours_only_reason(item) for item in items}
    deselected = [item for item in items if reasons[item.nodeid] is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if reasons[item.nodeid] is None]
    config.stash[_DESELECTED] = [
        (item.nodeid, reasons[item.nodeid] or "") for item in deselected
    ]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if os.environ.get("REMCTL_TEST_EXPECT_GIL") == "off":
        gil = gil_enabled()
        terminalreporter.section("free-threading")
        terminalreporter.write_line(
            f"sys._is_gil_enabled() at the end of the run: {gil}"
            + ("" if gil is False else " -- FAILED: the GIL was expected off")
        )
    deselected = config.stash.get(_DESELECTED, None)
    if deselected is None:
        return
    path, ours = library_under_test()
    kind = "test_hooks" if ours else "ours_only"
    terminalreporter.section(f"{kind} tests deselected for {path}")
    by_reason: dict[str, list[str]] = {}
    for nodeid, reason in deselected:
        by_reason.setdefault(reason, []).append(nodeid)
    for reason, nodeids in by_reason.items():
        terminalreporter.write_line(f"{len(nodeids)} test(s): {reason}")
        modules = sorted({nodeid.split("::")[0] for nodeid in nodeids})
        for module in modules:
            tests = [n.split("::", 1)[-1] for n in nodeids if n.startswith(module)]
            if len(tests) > 6:
                terminalreporter.write_line(f"    {module}: {len(tests)} tests")
            else:
                for test in tests:
                    terminalreporter.write_line(f"    {module}::{test}")
