"""The pytest plugin of remctl.testing, under its documented name.

Enable it with ``pytest -p remctl.pytest_plugin`` or ``pytest_plugins =
["remctl.pytest_plugin"]``; the fixtures and the ini options are described
in :mod:`remctl.testing.pytest_plugin`, which defines them.
"""

from __future__ import annotations

from .testing.pytest_plugin import (
    pytest_addoption,
    remctl_config,
    remctl_scripts,
    remctl_server,
)

__all__ = ["pytest_addoption", "remctl_config", "remctl_scripts", "remctl_server"]
