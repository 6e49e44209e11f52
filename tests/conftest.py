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


@pytest.fixture(scope="session")
def server() -> Iterator[RemctlTestEnvironment]:
    """A running realm and remctld, with the client environment applied."""
    from remctl.testing import RemctlTestEnvironment

    environment = RemctlTestEnvironment(
        SERVER_DIR / "remctl.conf.in", SERVER_DIR / "scripts"
    )
    with environment as env, env.apply_environ():
        yield env


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

#: Only our library contains this test hook (see tests/test_protocol1.py).
OURS_MARKER = b"REMCTL_TEST_PROTOCOL"

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


def library_under_test() -> tuple[str, bool]:
    """The libremctl.so.1 the suite loads, and whether it is ours.

    Without REMCTL_LIBRARY the package loads its own copy. A library named
    by REMCTL_LIBRARY is ours when it contains our test hooks; one that
    cannot be read counts as foreign.
    """
    path = os.environ.get("REMCTL_LIBRARY")
    if not path:
        return "the package's own libremctl.so.1", True
    try:
        return path, OURS_MARKER in Path(path).read_bytes()
    except OSError:
        return path, False


def ours_only_reason(item: pytest.Item) -> str | None:
    """The reason of the item's ours_only mark; None if it has none."""
    marks = list(item.iter_markers("ours_only"))
    if not marks:
        return None
    reason = marks[0].kwargs.get("reason") or (marks[0].args or [""])[0]
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(f"{item.nodeid}: ours_only needs a reason")
    return reason


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ours_only(reason): behaviour only our libremctl.so.1 has; deselected "
        "when REMCTL_LIBRARY names another library (see tests/conftest.py)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    path, ours = library_under_test()
    kind = "ours" if ours else "NOT ours: ours_only tests are deselected"
    return f"libremctl under test: {path} ({kind})"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    for item in items:
        reason = OURS_ONLY_MODULES.get(item.path.name)
        if reason is not None:
            item.add_marker(pytest.mark.ours_only(reason=reason))
    reasons = {item.nodeid: ours_only_reason(item) for item in items}
    if library_under_test()[1]:
        return
    deselected = [item for item in items if reasons[item.nodeid] is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if reasons[item.nodeid] is None]
    config.stash[_DESELECTED] = [
        (item.nodeid, reasons[item.nodeid] or "") for item in deselected
    ]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    deselected = config.stash.get(_DESELECTED, None)
    if deselected is None:
        return
    path = library_under_test()[0]
    terminalreporter.section(f"ours_only tests deselected for {path}")
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
