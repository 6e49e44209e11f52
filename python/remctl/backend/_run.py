"""Running one command line: find the command, check and convert, call.

The steps and their order are Net::Remctl::Backend's: find the (possibly
nested) command, parse options, splice standard input into the arguments,
check the number of arguments, match them against ``args_match``; then,
beyond the Perl module, convert them as the function's annotations say.
Any problem ends the run with one line on standard error and status 1
before the command's function is called.
"""

from __future__ import annotations

import os
import sys

from ._convert import ConversionError, convert, signature
from ._options import OptionError, parse_options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ._backend import Argv, Backend
    from ._command import ArgPattern, Command


class UsageError(Exception):
    """The command line is wrong; label is the command it was for."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label = label
        self.message = message


#: Arguments longer than this are cut in messages (saying so), so that a
#: megabyte from standard input does not become one line of error.
SHOWN_LENGTH = 100


def _printable(text: str) -> bool:
    return text.isprintable()


def _shown(text: str) -> str:
    if len(text) <= SHOWN_LENGTH:
        return text
    return f"{text[:SHOWN_LENGTH]}... ({len(text)} characters)"


def _escape(text: str) -> str:
    """Make text safe for one line of a terminal: escape what is not printable."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _report(label: str, message: str) -> None:
    line = f"{label}: {message}" if label else message
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write((line + "\n").encode("utf-8", "backslashreplace"))
            buffer.flush()
        else:
            stream.write(line + "\n")
            stream.flush()
    except (OSError, ValueError):
        pass  # nowhere left to report to


def _raw_arguments(argv: Argv | None) -> list[bytes]:
    if argv is None:
        # Python decoded argv with surrogateescape: fsencode gives back the
        # exact bytes remctld passed.
        return [os.fsencode(arg) for arg in sys.argv[1:]]
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv is a sequence of arguments, not a single str or bytes")
    raw = []
    for arg in argv:
        if isinstance(arg, bytes):
            raw.append(arg)
        elif isinstance(arg, str):
            raw.append(os.fsencode(arg))
        else:
            raise TypeError(f"arguments are str or bytes, not {arg!r}")
    return raw


def _decode(raw: bytes, encoding: str) -> str | None:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return None


def _shown_name(raw: bytes, encoding: str) -> str:
    return _shown(_escape(raw.decode(encoding, "backslashreplace")))


def _read_stdin() -> bytes:
    stream = sys.stdin
    if stream is None:
        return b""
    buffer = getattr(stream, "buffer", None)
    data = buffer.read() if buffer is not None else stream.read()
    return data if isinstance(data, bytes) else os.fsencode(data)


def run(backend: Backend, argv: Argv | None) -> int:
    """Backend.run(): the exit status for this command line."""
    args = _raw_arguments(argv)
    try:
        return _dispatch(backend, args)
    except UsageError as error:
        _report(error.label, error.message)
        return 1


def _dispatch(backend: Backend, args: list[bytes]) -> int:
    top = backend.name or ""
    encoding = backend.encoding
    if not args:
        hint = f"{top} help" if top else "help"
        raise UsageError(top, f'no command given (try "{hint}")')
    commands = backend.commands
    path: list[str] = []
    index = 0
    while True:
        name = _decode(args[index], encoding)
        found = commands.get(name) if name is not None else None
        if found is None:
            if not path and name == "help":
                return _help(backend, args[1:])
            shown = " ".join([*path, _shown_name(args[index], encoding)])
            raise UsageError(top, f"unknown command {shown}")
        assert name is not None
        path.append(name)
        index += 1
        if found.nested is not None and index < len(args):
            commands = found.nested.commands
            continue
        if found.function is None:
            raise UsageError(top, f"unknown command {' '.join(path)}")
        label = " ".join([top, *path]) if top else " ".join(path)
        return _call(backend, found, label, args[index:])


def _help(backend: Backend, topic: list[bytes]) -> int:
    """The built-in help command: all of the help, or one command's."""
    top = backend.name or ""
    names: list[str] = []
    commands = backend.commands
    for raw in topic:
        name = _decode(raw, backend.encoding)
        found = commands.get(name) if name is not None else None
        if found is None:
            shown = " ".join([*names, _shown_name(raw, backend.encoding)])
            raise UsageError(top, f"unknown command {shown}")
        assert name is not None
        names.append(name)
        commands = found.nested.commands if found.nested is not None else {}
    sys.stdout.write(backend.help(*names))
    sys.stdout.flush()
    return 0


def _call(backend: Backend, command: Command, label: str, args: list[bytes]) -> int:
    encoding = backend.encoding
    options: dict[str, object] | None = None
    if command.option_table is not None:
        options, args = _options(command, label, args, encoding)

    if command.stdin is not None:
        position = len(args) if command.stdin == -1 else command.stdin - 1
        if position > len(args):
            raise UsageError(label, "insufficient arguments")
        args.insert(position, _read_stdin())

    function = command.function
    assert function is not None
    try:
        accepts = signature(function, 1 if options is not None else 0)
    except Exception as exc:  # noqa: BLE001 (a mistake in the program, reported)
        raise UsageError(label, f"cannot read the parameters of the command: {exc}") from None
    maximum = accepts.maximum
    if command.args_max is not None and (maximum is None or command.args_max < maximum):
        maximum = command.args_max
    minimum = max(command.args_min or 0, accepts.minimum)
    if maximum is not None and len(args) > maximum:
        raise UsageError(label, "too many arguments")
    if len(args) < minimum:
        raise UsageError(label, "insufficient arguments")
    if command.args_match:
        _match(command.args_match, label, args, encoding)

    values: list[object] = [] if options is None else [options]
    for number, raw in enumerate(args, 1):
        parameter = accepts.parameter(number - 1)
        assert parameter is not None
        text = _decode(raw, encoding)
        try:
            values.append(convert(raw, text, parameter.hint))
        except UnicodeError:
            raise UsageError(
                label, f"invalid data in argument #{number} (not valid {encoding})"
            ) from None
        except ConversionError as exc:
            reason = f"{parameter.name}: {exc}"
            if text is not None and _printable(text):
                raise UsageError(
                    label, f"invalid argument: {_shown(text)} ({reason})"
                ) from None
            raise UsageError(
                label, f"invalid data in argument #{number} ({_escape(reason)})"
            ) from None
    return _finish(backend, label, function, values)


def _options(
    command: Command, label: str, args: list[bytes], encoding: str
) -> tuple[dict[str, object], list[bytes]]:
    assert command.option_table is not None
    # surrogateescape keeps undecodable bytes so the arguments left after the
    # options go back to their exact bytes.
    texts = [arg.decode(encoding, "surrogateescape") for arg in args]
    try:
        options, rest = parse_options(command.option_table, texts)
    except OptionError as exc:
        raise UsageError(label, _escape(str(exc))) from None
    for key, value in options.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _undecodable(item):
                raise UsageError(label, f"invalid data in option {key} (not valid {encoding})")
    return options, [text.encode(encoding, "surrogateescape") for text in rest]


def _undecodable(text: str) -> bool:
    """Whether surrogateescape decoding left bytes it could not decode."""
    return any("\udc80" <= c <= "\udcff" for c in text)


def _compile(pattern: ArgPattern, label: str, number: int) -> ArgPattern:
    if isinstance(pattern, (str, bytes)):
        import re  # here, not at the top: commands without args_match skip it

        try:
            return re.compile(pattern)
        except re.error as exc:
            raise UsageError(
                label, f"args_match pattern #{number} is not a valid regular expression: {exc}"
            ) from None
    return pattern


def _match(patterns: Sequence[ArgPattern], label: str, args: list[bytes], encoding: str) -> None:
    for number, (raw, pattern) in enumerate(zip(args, patterns), 1):
        compiled = _compile(pattern, label, number)
        if compiled is None or isinstance(compiled, (str, bytes)):
            continue
        text = _decode(raw, encoding)
        if isinstance(compiled.pattern, bytes):
            matched = compiled.search(raw) is not None
        elif text is None:
            raise UsageError(label, f"invalid data in argument #{number} (not valid {encoding})")
        else:
            matched = compiled.search(text) is not None
        if not matched:
            if text is not None and _printable(text):
                raise UsageError(label, f"invalid argument: {_shown(text)}")
            raise UsageError(label, f"invalid data in argument #{number}")


def _wait_for(awaitable: Any) -> object:
    import asyncio  # only for async commands: it costs every other run 10 ms

    async def wait() -> object:
        return await awaitable

    return asyncio.run(wait())


def _finish(backend: Backend, label: str, function: object, values: list[object]) -> int:
    try:
        result = function(*values)  # type: ignore[operator]
        if hasattr(result, "__await__"):  # an async def command
            result = _wait_for(result)
    except Exception as exc:  # noqa: BLE001 (the command failed: say why, status 1)
        if backend.traceback:
            import traceback

            sys.stdout.flush()
            traceback.print_exc()
        _report(label, str(exc) or type(exc).__name__)
        return 1
    if result is None:
        return 0
    if type(result) is not int:
        _report(label, f"the command returned {result!r}, not an exit status")
        return 1
    if not 0 <= result <= 255:
        _report(label, f"the command returned exit status {result}, outside 0 to 255")
        return 1
    return result
