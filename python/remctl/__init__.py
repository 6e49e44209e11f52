"""Run Kerberos-authenticated commands on remctl servers.

Two interfaces, as in the historical ``remctl`` module:

- :func:`remctl` runs one command and returns a :class:`RemctlSimpleResult`
  with its complete standard output, standard error and exit status.
- :class:`Remctl` keeps a connection open and runs several commands on it:
  :meth:`Remctl.run` returns a command's whole answer as a
  :class:`RemctlResult`, :meth:`Remctl.stream` yields its output tokens as
  they arrive, and the historical :meth:`Remctl.command` and
  :meth:`Remctl.output` pair still works.
- :func:`run_many` runs one command on many hosts at once and returns a
  :class:`RemctlHostResult` per host.

:mod:`remctl.aio` offers the same for asyncio, ``python -m remctl`` is a
command-line client, and :mod:`remctl.testing` starts a throwaway Kerberos
realm and remctld for tests.  Events are logged at DEBUG level to
``logging.getLogger("remctl")``.

Command arguments are bytes (passed unchanged) or str (encoded as UTF-8).
"""

from __future__ import annotations

from . import _remctl as _remctl  # the low-level module, as always
from ._client import Remctl, remctl
from ._errors import (
    RemctlAuthenticationError,
    RemctlConnectionError,
    RemctlError,
    RemctlNotOpenedError,
    RemctlProtocolAuthenticationError,
    RemctlProtocolConnectionError,
    RemctlProtocolError,
    RemctlProtocolTimeoutError,
    RemctlTimeoutError,
)
from ._host_result import RemctlHostResult, RemctlLine
from ._result import (
    RemctlCommandError,
    RemctlOutput,
    RemctlResult,
    RemctlSimpleResult,
)
from ._run_many import run_many

__all__ = [
    "VERSION",
    "Remctl",
    "RemctlAuthenticationError",
    "RemctlCommandError",
    "RemctlConnectionError",
    "RemctlError",
    "RemctlHostResult",
    "RemctlLine",
    "RemctlNotOpenedError",
    "RemctlOutput",
    "RemctlProtocolAuthenticationError",
    "RemctlProtocolConnectionError",
    "RemctlProtocolError",
    "RemctlProtocolTimeoutError",
    "RemctlResult",
    "RemctlSimpleResult",
    "RemctlTimeoutError",
    "__version__",
    "remctl",
    "run_many",
]

# The one place the version is written; pyproject.toml reads it from here.
__version__ = "0.1.0"
#: The historical module's name for the version string.
VERSION = __version__
