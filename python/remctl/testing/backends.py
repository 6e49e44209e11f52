"""Python backend programs (see :mod:`remctl.backend`) for the test remctld.

remctld runs an executable file, so a Python program it should run for a
command needs an interpreter that can import it and ``remctl``.
:class:`PythonBackend` writes, into the environment's temporary directory, a
small shell script that runs the program with this Python (``sys.executable``)
and this ``remctl`` package on ``PYTHONPATH``, and the ``remctl.conf`` lines
for the command::

    from remctl.testing import PythonBackend, RemctlTestEnvironment

    with RemctlTestEnvironment(backends=[PythonBackend("user", "examples/user_backend.py",
                                                       stdin={"passwd": "last"})]) as env:
        ...   # "remctl 127.0.0.1 user help" now runs the program

The program is a Python file run as ``__main__`` (so it ends with ``raise
SystemExit(backend.run())`` under ``if __name__ == "__main__":``), given as
a path, a module, or a function or class defined in that module.
"""

from __future__ import annotations

import os
import shlex
import sys
import types
from collections.abc import Mapping

from .errors import RemctlTestError
from .programs import StrPath

__all__ = ["PythonBackend"]


def _program_path(program: StrPath | types.ModuleType | object) -> str:
    if isinstance(program, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(program))
    elif isinstance(program, types.ModuleType):
        path = getattr(program, "__file__", None) or ""
    elif isinstance(program, (types.FunctionType, type)):
        module = sys.modules.get(program.__module__)
        path = getattr(module, "__file__", None) or ""
        if not path and isinstance(program, types.FunctionType):
            path = program.__code__.co_filename  # a module not in sys.modules
    else:
        raise TypeError(
            "a backend program is a path, a module, or a function or class"
            f" defined in one, not {program!r}"
        )
    if not path or not os.path.isfile(path):
        raise RemctlTestError(f"backend program {program!r} is not a file ({path!r})")
    return os.path.abspath(path)


def _remctl_root() -> str:
    """The directory holding this remctl package, for the program's imports."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.dirname(package)


class PythonBackend:
    """A Python program that remctld runs for every subcommand of ``command``.

    Args:
        command: the remctl command (``user`` in ``remctl HOST user show``).
        program: the program: a path, a module, or a function or class
            defined in the module to run.
        stdin: subcommands whose arguments remctld passes partly on standard
            input, and which (remctld's ``stdin=`` option: a number counting
            the subcommand as 1, or ``"last"``).
        help: the argument that prints a command's help (remctld's ``help=``
            option), ``None`` for none.
        summary: the argument that prints the summary (``summary=``).
        acl: the ACL of the lines.
        python: the interpreter, ``sys.executable`` by default.
    """

    def __init__(
        self,
        command: str,
        program: StrPath | types.ModuleType | object,
        *,
        stdin: Mapping[str, int | str] | None = None,
        help: str | None = "help",  # remctld's option name
        summary: str | None = "help",
        acl: str = "ANYUSER",
        python: StrPath | None = None,
    ) -> None:
        words = [command, acl, *(stdin or {})]
        if any(not word or any(c.isspace() for c in word) for word in words):
            raise ValueError(f"commands, subcommands and ACLs are single words: {words}")
        self.command = command
        self.program = _program_path(program)
        self.stdin = dict(stdin or {})
        self.help = help
        self.summary = summary
        self.acl = acl
        self.python = os.fspath(python) if python is not None else sys.executable

    def __repr__(self) -> str:
        return f"<PythonBackend {self.command!r} {self.program}>"

    def script(self) -> str:
        """The shell script that runs the program."""
        root = shlex.quote(_remctl_root())
        # remctld clears the environment: an interpreter run by qemu
        # user-mode emulation needs its root named again to find its loader.
        emulated = os.environ.get("QEMU_LD_PREFIX")
        emulation = (
            f"QEMU_LD_PREFIX={shlex.quote(emulated)}\nexport QEMU_LD_PREFIX\n"
            if emulated
            else ""
        )
        return (
            "#!/bin/sh\n"
            f"# remctl command {self.command!r}, written by remctl.testing\n"
            f"PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}\n"
            "export PYTHONPATH\n"
            f"{emulation}"
            f'exec {shlex.quote(self.python)} {shlex.quote(self.program)} "$@"\n'
        )

    def config_lines(self, executable: str) -> str:
        """remctl.conf lines running executable for the command."""
        lines = [
            f"{self.command} {subcommand} {executable} stdin={where} {self.acl}\n"
            for subcommand, where in self.stdin.items()
        ]
        options = []
        if self.help is not None:
            options.append(f"help={self.help}")
        if self.summary is not None:
            options.append(f"summary={self.summary}")
        lines.append(f"{self.command} ALL {executable} {' '.join([*options, self.acl])}\n")
        return "".join(lines)

    def install(self, directory: str, name: str) -> str:
        """Write the script as directory/name; return its remctl.conf lines."""
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.script())
        os.chmod(path, 0o755)
        return self.config_lines(path)
