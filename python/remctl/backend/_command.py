"""What is known about one command: its function and its settings."""

from __future__ import annotations

from ._options import parse_specs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from re import Pattern
    from typing import Optional, Union

    from ._backend import Backend
    from ._options import OptionSpec

    Function = Callable[..., Union[Optional[int], Awaitable[Optional[int]]]]
    ArgPattern = Union[str, bytes, "Pattern[str]", "Pattern[bytes]", None]


def _check_count(label: str, value: int | None) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise ValueError(f"{label} must be a non-negative int or None, not {value!r}")


class Command:
    """One subcommand: how to check its arguments and what to call."""

    __slots__ = (
        "args_match",
        "args_max",
        "args_min",
        "function",
        "name",
        "nested",
        "option_table",
        "options",
        "stdin",
        "summary",
        "syntax",
    )

    def __init__(
        self,
        name: str,
        function: Function | None,
        *,
        summary: str | None,
        syntax: str | None,
        args_min: int | None,
        args_max: int | None,
        args_match: Sequence[ArgPattern] | None,
        stdin: int | None,
        options: Sequence[str] | None,
        nested: Backend | None,
    ) -> None:
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValueError(f"a command name is a non-empty str without spaces: {name!r}")
        _check_count("args_min", args_min)
        _check_count("args_max", args_max)
        if args_min is not None and args_max is not None and args_min > args_max:
            raise ValueError(f"args_min {args_min} is more than args_max {args_max}")
        if stdin is not None and (type(stdin) is not int or (stdin < 1 and stdin != -1)):
            raise ValueError(f"stdin must be an argument number from 1, or -1: {stdin!r}")
        for label, text in (("summary", summary), ("syntax", syntax)):
            if text is not None and not isinstance(text, str):
                raise TypeError(f"{label} must be a str or None, not {text!r}")
        if args_match is not None:
            if isinstance(args_match, (str, bytes)):
                raise TypeError("args_match is a sequence of patterns, one per argument")
            args_match = list(args_match)
            for pattern in args_match:
                plain = pattern is None or isinstance(pattern, (str, bytes))
                if not plain and not hasattr(pattern, "search"):
                    raise TypeError(f"args_match holds a non-pattern: {pattern!r}")
        if options is not None and isinstance(options, (str, bytes)):
            raise TypeError("options is a sequence of Getopt::Long specifications")
        if nested is not None and not hasattr(nested, "commands"):
            raise TypeError(f"nested must be a Backend, not {nested!r}")
        self.name = name
        self.function = function
        self.summary = summary
        self.syntax = syntax
        self.args_min = args_min
        self.args_max = args_max
        self.args_match: list[ArgPattern] | None = args_match
        self.stdin = stdin
        self.options = None if options is None else list(options)
        self.option_table: dict[str, tuple[OptionSpec, bool]] | None = (
            None if self.options is None else parse_specs(self.options)
        )
        self.nested = nested

    def __repr__(self) -> str:
        return f"<remctl.backend command {self.name!r}>"
