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

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
