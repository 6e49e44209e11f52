"""Which exception a failed network call of the C library raises.

The C API reports a failure as a false result and a message
(``remctl_error``), with no error code.  What is known without reading the
message decides first: the settings calls (``set_*``) only fail for bad
input and raise plain :class:`RemctlError`, and this module is asked only
about the calls that talk to the network (open, command, output, noop).
For those, the class comes from the fixed forms of the library's messages,
which our libremctl.so.1 and the standard one (Debian's libremctl1) share:

==========================================  ===============================
message                                     class
==========================================  ===============================
``GSS-API error <action>: ...``             RemctlAuthenticationError
``server did not negotiate acceptable
GSS-API flags``                             RemctlAuthenticationError
``unknown host <host>: ...``                RemctlConnectionError
``cannot connect to <host> (port <n>): E``  RemctlTimeoutError when E is
                                            strerror(ETIMEDOUT), else
                                            RemctlConnectionError when E is
                                            a network errno's text
``error receiving|sending token: timed
out``                                       RemctlTimeoutError
``error receiving|sending token: E``        RemctlConnectionError when E is
                                            ``unexpected end of file`` or a
                                            network errno's text
``connection to <host> closed and cannot
be reopened ...``                           RemctlConnectionError
anything else                               RemctlError
==========================================  ===============================

The errno texts are computed with ``os.strerror``, from the same C library
that formatted the message.  Messages left as plain :class:`RemctlError` are
malformed or unexpected data from the server, local resource failures, a
missing GSS-API library and bad arguments: none of them is helped by a
retry, another host or new tickets.
"""

from __future__ import annotations

import errno
import os

from ._errors import (
    RemctlAuthenticationError,
    RemctlConnectionError,
    RemctlError,
    RemctlProtocolAuthenticationError,
    RemctlProtocolConnectionError,
    RemctlProtocolError,
    RemctlProtocolTimeoutError,
    RemctlTimeoutError,
)

__all__ = ["failure_class", "network_failure", "simple_failure"]

_TIMED_OUT = os.strerror(errno.ETIMEDOUT)

# The errno values that say the network or the server failed, not the caller.
_NETWORK_ERRORS = frozenset(
    os.strerror(number)
    for number in (
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ENOTCONN,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.ENETRESET,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
    )
)

_TOKEN_IO_PREFIXES = ("error receiving token: ", "error sending token: ")
_CONNECT_PREFIX = "cannot connect to "

_SIMPLE_CLASSES: dict[type[RemctlError], type[RemctlProtocolError]] = {
    RemctlTimeoutError: RemctlProtocolTimeoutError,
    RemctlConnectionError: RemctlProtocolConnectionError,
    RemctlAuthenticationError: RemctlProtocolAuthenticationError,
}


def failure_class(message: str) -> type[RemctlError]:
    """The class for the message of a failed open, command, output or noop."""
    if message.startswith("GSS-API error ") or message == (
        "server did not negotiate acceptable GSS-API flags"
    ):
        return RemctlAuthenticationError
    if message.startswith("unknown host "):
        return RemctlConnectionError
    if message.startswith(_CONNECT_PREFIX) and "): " in message:
        reason = message.rsplit("): ", 1)[1]
        if reason == _TIMED_OUT:
            return RemctlTimeoutError
        if reason in _NETWORK_ERRORS:
            return RemctlConnectionError
        return RemctlError
    for prefix in _TOKEN_IO_PREFIXES:
        if message.startswith(prefix):
            reason = message[len(prefix) :]
            if reason == "timed out":
                return RemctlTimeoutError
            if reason == "unexpected end of file" or reason in _NETWORK_ERRORS:
                return RemctlConnectionError
            return RemctlError
    if message.startswith("connection to ") and " closed and cannot be reopened" in (
        message
    ):
        return RemctlConnectionError
    return RemctlError


def network_failure(message: str) -> RemctlError:
    """The exception for a failed open, command, output or noop call."""
    return failure_class(message)(message)


def simple_failure(message: str) -> RemctlProtocolError:
    """The exception :func:`remctl.remctl` raises for a failed call."""
    cause = failure_class(message)
    return _SIMPLE_CLASSES.get(cause, RemctlProtocolError)(message)
