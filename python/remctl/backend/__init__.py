"""Write the programs remctld runs (backends) in Python.

A backend program serves one remctl command: remctld runs it as
``PROGRAM SUBCOMMAND ARGS...``.  :class:`Backend` dispatches the subcommand
to a registered function, checks and converts the arguments, and answers
``help``::

    from remctl.backend import Backend

    backend = Backend(command="user", help_banner="User database remctl help:")

    @backend.command(summary="Show a user", syntax="<name>",
                     args_match=[r"^[a-z][a-z0-9]{0,15}$"])
    def show(name: str) -> int:
        print(f"user {name}")
        return 0

    if __name__ == "__main__":
        raise SystemExit(backend.run())

It does what Perl's Net::Remctl::Backend does, with the same semantics:

- ``args_min`` / ``args_max``: how many arguments the command takes;
- ``args_match``: one regular expression per argument position (``None``
  to skip one), searched for in the argument (anchor it with ``^...$``); a
  ``bytes`` pattern is matched against the raw argument;
- ``stdin``: the argument number (from 1, after the options) that is read
  whole from standard input instead, or -1 for after the last one; it is
  counted and matched like the others;
- ``options``: Getopt::Long specifications (``"verbose|v"``, ``"name=s"``,
  ...; see :mod:`remctl.backend._options`), parsed before everything else
  with bundling, case-sensitive, stopping at the first non-option; the
  result, a ``dict``, is the function's first argument;
- ``nested``: another :class:`Backend` whose commands are subcommands of
  this one; without further arguments the command's own function runs (if
  it has one);
- ``syntax`` / ``summary``: the command's line in the help text (commands
  without a syntax are not shown).  ``PROGRAM help`` prints the help text
  (``PROGRAM help SUBCOMMAND`` only that command's lines), unless the
  backend has a ``help`` command of its own.

A problem with the command line prints one line on standard error, such as
``user show: too many arguments``, and gives exit status 1 without calling
the function.

Beyond the Perl module: the function's parameters give the minimum and
maximum number of arguments, and their annotations convert them (``str``,
``bytes``, ``int``, ``float``, ``bool``, ``Enum``, ``Literal``, paths,
unions; see :mod:`remctl.backend._convert`).  Arguments arrive as bytes
from remctld and are decoded strictly (UTF-8 unless ``encoding`` says
otherwise).  A function returns its exit status (``None`` is 0) or raises:
the message goes to standard error and the status is 1.  An ``async def``
function is run with :func:`asyncio.run`.

Importing this package costs about a millisecond and loads neither the C
client library nor GSS-API.
"""

from __future__ import annotations

from ._backend import Backend

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    #: The type of the options dict a command with ``options`` receives.
    Options = dict[str, Any]
else:
    Options = dict

__all__ = ["Backend", "Options"]
