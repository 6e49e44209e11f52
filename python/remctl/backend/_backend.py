"""The Backend class: a table of commands, the help text, and run()."""

from __future__ import annotations

from ._command import Command
from ._help import format_help, help_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from typing import Optional, TypeVar, Union

    from ._command import ArgPattern

    F = TypeVar(
        "F",
        bound=Callable[..., Union[Optional[int], Awaitable[Optional[int]]]],
    )
    Argv = Sequence[Union[str, bytes]]


class Backend:
    """The commands of one remctl backend program.

    Args:
        command: the remctl command this program serves (``user`` in
            ``remctl HOST user show NAME``): shown before every line of help
            and every error message.
        help_banner: the first line of the help text.
        encoding: how arguments are decoded into ``str`` (strictly: an
            argument that does not decode is rejected).
        traceback: when a command raises, print the traceback on standard
            error as well as the message.
    """

    def __init__(
        self,
        command: str | None = None,
        help_banner: str | None = None,
        *,
        encoding: str = "utf-8",
        traceback: bool = False,
    ) -> None:
        if command is not None and not isinstance(command, str):
            raise TypeError(f"command must be a str or None, not {command!r}")
        if help_banner is not None and not isinstance(help_banner, str):
            raise TypeError(f"help_banner must be a str or None, not {help_banner!r}")
        "".encode(encoding)  # LookupError now for an unknown encoding
        self.name = command
        self.help_banner = help_banner
        self.encoding = encoding
        self.traceback = traceback
        #: The registered commands by name.
        self.commands: dict[str, Command] = {}

    def __repr__(self) -> str:
        return f"<remctl.backend.Backend {self.name!r} commands={sorted(self.commands)}>"

    def command(
        self,
        name: str | None = None,
        *,
        summary: str | None = None,
        syntax: str | None = None,
        args_min: int | None = None,
        args_max: int | None = None,
        args_match: Sequence[ArgPattern] | None = None,
        stdin: int | None = None,
        options: Sequence[str] | None = None,
        nested: Backend | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function as the command ``name``.

        ``name`` defaults to the function's name without trailing
        underscores (``list_`` is ``list``).  The other settings are those of
        Net::Remctl::Backend (see the module documentation).  With ``nested``
        and a ``name``, the command is registered at once, so that a nested
        command needs no function of its own::

            backend.command("config", nested=config_commands)
        """
        def make(label: str, function: F | None) -> Command:
            return self._add(
                Command(
                    label,
                    function,
                    summary=summary,
                    syntax=syntax,
                    args_min=args_min,
                    args_max=args_max,
                    args_match=args_match,
                    stdin=stdin,
                    options=options,
                    nested=nested,
                )
            )

        registered = make(name, None) if nested is not None and name is not None else None

        def decorate(function: F) -> F:
            if not callable(function):
                raise TypeError(f"a command is a callable, not {function!r}")
            if registered is not None:
                registered.function = function
            else:
                label = name
                if label is None:
                    label = getattr(function, "__name__", "").rstrip("_")
                make(label, function)
            return function

        return decorate

    def _add(self, command: Command) -> Command:
        if command.name in self.commands:
            raise ValueError(f"command {command.name!r} is already registered")
        self.commands[command.name] = command
        return command

    def help(self, *subcommand: str) -> str:
        """The help text; with a subcommand, only that command's lines."""
        depth = len(subcommand)
        lines = [
            (syntax, summary)
            for path, syntax, summary in help_lines(self.commands)
            if path[:depth] == subcommand
        ]
        return format_help(lines, self.name, self.help_banner)

    def run(self, argv: Argv | None = None) -> int:
        """Run the command named by the arguments; return the exit status.

        ``argv`` defaults to ``sys.argv[1:]``, with each argument turned back
        into the bytes remctld passed.  Errors in the arguments print one
        line on standard error and return 1 without running anything.
        """
        from ._run import run

        return run(self, argv)
