"""The low-level remctl interface under its historical top-level name.

Code written for the old ``_remctl`` extension module keeps working::

    import _remctl
    r = _remctl.remctl_new()
    if not _remctl.remctl_open(r, "host.example.org", 0, None):
        print(_remctl.remctl_error(r))

This module is :mod:`remctl._remctl`: the same functions, one per C call,
returning status codes rather than raising (see that module for each one).
New code should use :mod:`remctl`.
"""

from remctl import __version__ as _package_version
from remctl._remctl import (
    OutputTuple,
    RemctlHandle,
    ResultTuple,
    remctl,
    remctl_close,
    remctl_command,
    remctl_commandv,
    remctl_error,
    remctl_new,
    remctl_noop,
    remctl_open,
    remctl_open_addrinfo,
    remctl_open_fd,
    remctl_open_sockaddr,
    remctl_output,
    remctl_set_ccache,
    remctl_set_source_ip,
    remctl_set_timeout,
)

#: The old module's version string; here the version of this package.
VERSION = _package_version

__all__ = [
    "VERSION",
    "OutputTuple",
    "RemctlHandle",
    "ResultTuple",
    "remctl",
    "remctl_close",
    "remctl_command",
    "remctl_commandv",
    "remctl_error",
    "remctl_new",
    "remctl_noop",
    "remctl_open",
    "remctl_open_addrinfo",
    "remctl_open_fd",
    "remctl_open_sockaddr",
    "remctl_output",
    "remctl_set_ccache",
    "remctl_set_source_ip",
    "remctl_set_timeout",
]
