"""The exceptions raised for failures of the remctl library.

The classes say ``remctl`` as their module, where they are exported, so that
tracebacks and pickles name them by their public path.  The exception a
command's result raises, ``RemctlCommandError``, is in ``_result``.
"""

from __future__ import annotations

__all__ = [
    "RemctlError",
    "RemctlNotOpenedError",
    "RemctlProtocolError",
]


class RemctlError(Exception):
    """The remctl library reported an error."""

    __module__ = "remctl"


class RemctlProtocolError(RemctlError):
    """The simple interface failed: an error token, or a connection failure."""

    __module__ = "remctl"


class RemctlNotOpenedError(RemctlError):
    """The operation needs an open connection and there is none."""

    __module__ = "remctl"
