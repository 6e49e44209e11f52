"""The base exception of remctl.testing."""

from __future__ import annotations

__all__ = ["RemctlTestError"]


class RemctlTestError(RuntimeError):
    """The test environment could not be set up or operated."""

    # Its public name, as before remctl.testing became a package.
    __module__ = "remctl.testing"
