"""pytest fixtures for a throwaway Kerberos realm and remctld.

Its public name is :mod:`remctl.pytest_plugin`, which re-exports this
module.  Enable the plugin with ``pytest -p remctl.pytest_plugin`` or with
``pytest_plugins = ["remctl.pytest_plugin"]`` in your top-level conftest.py.
It is never loaded by itself: the package declares no ``pytest11`` entry
point on purpose, because loading the plugin loads the C library, which
every pytest run in an environment with the package would otherwise do.
Then point it at your server configuration in the pytest ini file (paths are
relative to the ini file)::

    [pytest]
    remctl_conf = tests/server/remctl.conf.in
    remctl_scripts = tests/server/scripts

or override the ``remctl_config`` and ``remctl_scripts`` fixtures in a
conftest.py.  ``remctl.conf`` is a template, see :mod:`remctl.testing`.

Fixtures (all session-scoped):

``remctl_config``
    Path of the remctl.conf template, from the ``remctl_conf`` ini option.
``remctl_scripts``
    Directory substituted for ``@SCRIPTS@``: the ``remctl_scripts`` ini option,
    else the directory holding the configuration.
``remctl_server``
    A started :class:`remctl.testing.RemctlTestEnvironment`, with its
    ``KRB5_CONFIG`` and ``KRB5CCNAME`` set in ``os.environ`` for the whole
    session.  When the KDC programs or remctld are missing the fixture errors
    (it does not skip) with the packages to install.

Example test::

    def test_echo(remctl_server):
        result = remctl.remctl(remctl_server.host, remctl_server.port,
                               remctl_server.principal, ["test", "echo", "hi"])
        assert result.stdout == b"hi\\n"
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .environment import RemctlTestEnvironment

__all__ = ["remctl_config", "remctl_scripts", "remctl_server"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "remctl_conf",
        "remctl.testing: remctl.conf template for the remctl_server fixture",
        default="",
    )
    parser.addini(
        "remctl_scripts",
        "remctl.testing: directory substituted for @SCRIPTS@ in remctl_conf",
        default="",
    )


def _ini_path(config: pytest.Config, name: str) -> Path | None:
    value = str(config.getini(name)).strip()
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / value).resolve()


@pytest.fixture(scope="session")
def remctl_config(pytestconfig: pytest.Config) -> Path:
    """The remctl.conf template (ini option ``remctl_conf``)."""
    path = _ini_path(pytestconfig, "remctl_conf")
    if path is None:
        pytest.fail(
            "remctl.pytest_plugin: set the 'remctl_conf' ini option or override "
            "the 'remctl_config' fixture",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def remctl_scripts(pytestconfig: pytest.Config, remctl_config: Path) -> Path:
    """Directory for ``@SCRIPTS@`` (ini ``remctl_scripts``, else the conf's)."""
    path = _ini_path(pytestconfig, "remctl_scripts")
    return path if path is not None else remctl_config.parent


@pytest.fixture(scope="session")
def remctl_server(
    remctl_config: Path, remctl_scripts: Path
) -> Iterator[RemctlTestEnvironment]:
    """A running realm and remctld; the client environment set for the session."""
    environment = RemctlTestEnvironment(remctl_config, remctl_scripts)
    with environment as env, env.apply_environ():
        yield env
