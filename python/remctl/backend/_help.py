"""The help text: one line per command, syntax and summary in two columns.

The layout is Net::Remctl::Backend's, so that help output does not change
when a backend moves from Perl to Python:

- the banner first (a newline added if it has none); with a banner, every
  command line is indented by two spaces;
- each line is ``[COMMAND ]SUBCOMMAND SYNTAX``; commands without a syntax are
  left out; nested commands follow their parent, prefixed with its name;
- summaries start two columns after the longest syntax (ignoring syntaxes
  longer than 48 columns including the indentation and command; column 40
  if every syntax is that long), are wrapped to lines of at most 79
  characters, and move to the next line when the syntax is too long;
- commands are sorted by name.
"""

from __future__ import annotations

LINE_WIDTH = 80
MAX_SYNTAX_LENGTH = 48
DEFAULT_SUMMARY_COLUMN = 40

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from ._command import Command


def help_lines(
    commands: Mapping[str, Command],
) -> Iterator[tuple[tuple[str, ...], str, str]]:
    """Yield (names, syntax, summary) for each command with a syntax.

    Nested commands follow their parent; names is the path of command names.
    """
    for name in sorted(commands):
        command = commands[name]
        if command.syntax is not None:
            syntax = f"{name} {command.syntax}" if command.syntax else name
            yield (name,), syntax, command.summary or ""
        if command.nested is not None:
            for path, syntax, summary in help_lines(command.nested.commands):
                yield (name, *path), f"{name} {syntax}", summary


def format_help(
    lines: list[tuple[str, str]], command: str | None, banner: str | None
) -> str:
    """Lay out (syntax, summary) pairs under the banner."""
    prefix = "  " if banner else ""
    if command:
        prefix += command + " "
    limit = MAX_SYNTAX_LENGTH - len(prefix)
    longest = max((len(s) for s, _ in lines if len(s) <= limit), default=0)
    column = len(prefix) + longest + 2 if longest > 0 else DEFAULT_SUMMARY_COLUMN

    output = []
    if banner:
        output.append(banner if banner.endswith("\n") else banner + "\n")
    for syntax, summary in lines:
        if not summary:
            output.append(prefix + syntax + "\n")
            continue
        length = len(prefix) + len(syntax)
        indent = " " * column
        if length <= column - 2:
            first = prefix + syntax + " " * (column - length)
            output.append(wrap(first, indent, summary + "\n"))
        else:
            output.append(prefix + syntax + "\n")
            output.append(wrap(indent, indent, summary + "\n"))
    return "".join(output)


def _is_break(char: str) -> bool:
    return char.isspace()


def wrap(first: str, later: str, text: str, columns: int = LINE_WIDTH) -> str:
    """Fill text into lines shorter than columns, as Perl's Text::Wrap does.

    Each line is the longest run of characters, up to the limit, that is
    followed by white space (which is dropped) or a newline or the end; a
    word longer than a line is cut.  Lines after the first start with
    ``later`` instead of ``first``.  Tabs are expanded first.
    """
    text = text.expandtabs(8)
    first, later = first.expandtabs(8), later.expandtabs(8)
    limit = max(columns - len(first) - 1, 1)
    later_limit = max(columns - len(later) - 1, 1)
    size = len(text)
    output: list[str] = []
    lead, newline, remainder = first, "", ""
    position = 0
    while position < size and not text[position:].isspace():
        end = position
        while end < size and end - position < limit and text[end] != "\n":
            end += 1
        # Back off to the last point followed by white space or the end.
        cut = end
        while cut > position and not (cut == size or _is_break(text[cut])):
            cut -= 1
        if cut > position or cut == size or _is_break(text[cut]):
            line = text[position:cut]
            if cut == size:
                remainder, position = "", cut
            elif text.startswith("\r\n", cut):
                remainder, position = "\r\n", cut + 2
            else:
                remainder, position = text[cut], cut + 1
        else:
            # No white space within reach: cut the word.
            line = text[position:end]
            remainder, position = "\n", end
        output.append(newline + lead + line)
        lead, limit, newline = later, later_limit, "\n"
    output.append(remainder)
    return "".join(output)
