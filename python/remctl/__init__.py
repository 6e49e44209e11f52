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

Command arguments are bytes (passed unchanged), str (encoded as UTF-8),
os.PathLike (their os.fspath()) or other objects (their str(); None, bools,
collections and objects without a text of their own are refused).
Every RemctlError has ``value``, its message as str.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
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

# The client is imported on first use, not here, so that ``import
# remctl.backend`` (once per command a server runs) loads neither ctypes nor
# the C library.  ``import remctl`` still gives every name below; a missing C
# library is reported (as ImportError) when the client is first used.  A new
# public name goes here (and in the imports above, for type checkers), not in
# an import at module level: tests/test_backend.py checks what gets imported.
_MODULES = {
    "._client": ("Remctl", "remctl"),
    "._errors": (
        "RemctlAuthenticationError",
        "RemctlConnectionError",
        "RemctlError",
        "RemctlNotOpenedError",
        "RemctlProtocolAuthenticationError",
        "RemctlProtocolConnectionError",
        "RemctlProtocolError",
        "RemctlProtocolTimeoutError",
        "RemctlTimeoutError",
    ),
    "._host_result": ("RemctlHostResult", "RemctlLine"),
    "._result": (
        "RemctlCommandError",
        "RemctlOutput",
        "RemctlResult",
        "RemctlSimpleResult",
    ),
    "._run_many": ("run_many",),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}
_LAZY["_remctl"] = ""


def __getattr__(name: str) -> object:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    if where:
        value = getattr(import_module(where, __name__), name)
    else:
        value = import_module("." + name, __name__)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
