"""The exceptions raised for failures of the remctl library.

Every failure raises :class:`RemctlError` or a subclass.  Three subclasses
name the cause, so that callers can react to it (retry later, try another
host, renew tickets):

- :class:`RemctlTimeoutError`: a network wait ran out of time;
- :class:`RemctlConnectionError`: the server could not be reached (refused,
  unreachable, unknown host) or the connection broke;
- :class:`RemctlAuthenticationError`: Kerberos / GSS-API failed (no
  tickets, expired tickets, wrong principal, clock skew).

:func:`remctl.remctl` has always raised :class:`RemctlProtocolError`; it
still does, and when the cause is known the exception is also an instance
of the cause class, through the classes at the end of this module.

The classes say ``remctl`` as their module, where they are exported, so that
tracebacks and pickles name them by their public path.  The exception a
command's result raises, ``RemctlCommandError``, is in ``_result``.
"""

from __future__ import annotations

__all__ = [
    "RemctlAuthenticationError",
    "RemctlConnectionError",
    "RemctlError",
    "RemctlNotOpenedError",
    "RemctlProtocolAuthenticationError",
    "RemctlProtocolConnectionError",
    "RemctlProtocolError",
    "RemctlProtocolTimeoutError",
    "RemctlTimeoutError",
]


class RemctlError(Exception):
    """The remctl library reported an error.

    ``str(exc)`` and ``exc.value`` are the message, as the historical module
    offered both.
    """

    @property
    def value(self) -> str:
        """The message as str: the same text as ``str(exc)``."""
        return str(self)

    __module__ = "remctl"


class RemctlProtocolError(RemctlError):
    """The simple interface failed: an error token, or a connection failure."""

    __module__ = "remctl"


class RemctlNotOpenedError(RemctlError):
    """The operation needs an open connection and there is none."""

    __module__ = "remctl"


class RemctlTimeoutError(RemctlError):
    """A network wait (connect, read or write) lasted longer than the timeout."""

    __module__ = "remctl"


class RemctlConnectionError(RemctlError):
    """The server could not be reached, or the connection to it broke.

    Refused or unreachable address, unknown host name, or a connection the
    server closed or reset.
    """

    __module__ = "remctl"


class RemctlAuthenticationError(RemctlError):
    """Kerberos authentication (GSS-API) failed.

    No tickets, expired tickets, a service principal the KDC does not know or
    the server cannot accept, clock skew, or another GSS-API failure.
    """

    __module__ = "remctl"


# What remctl.remctl() raises when the cause is known: still a
# RemctlProtocolError, as it always was, and also the cause.


class RemctlProtocolTimeoutError(RemctlProtocolError, RemctlTimeoutError):
    """:func:`remctl.remctl` failed because a network wait timed out."""

    __module__ = "remctl"


class RemctlProtocolConnectionError(RemctlProtocolError, RemctlConnectionError):
    """:func:`remctl.remctl` failed to reach the server, or lost it."""

    __module__ = "remctl"


class RemctlProtocolAuthenticationError(RemctlProtocolError, RemctlAuthenticationError):
    """:func:`remctl.remctl` failed to authenticate."""

    __module__ = "remctl"
