"""Checks and conversions of Python arguments, done before anything is sent."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Union

Port = Union[int, str, None]
#: What command arguments are annotated as.  At run time any object but the
#: few refused by command_argument() is converted with str().
Argument = Union[
    str, bytes, bytearray, memoryview, int, float, os.PathLike[str], os.PathLike[bytes]
]

_TIMEOUT_MAX = 2**63 - 1


def host_name(host: str) -> str:
    """Check that a host name is a str."""
    if not isinstance(host, str):
        raise TypeError(f"host must be str, not {type(host).__name__}")
    return host


def port_number(port: Port) -> int:
    """Return the port as an int; None means 0, the default port.

    Raises TypeError "port must be a number: 'foo'" for anything that is not
    an int or a string of digits, and ValueError "invalid port number: N"
    outside 0 to 65535.
    """
    if port is None:
        return 0
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise TypeError(f"port must be a number: {port!r}")
    try:
        number = int(port)
    except ValueError:
        raise TypeError(f"port must be a number: {port!r}") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"invalid port number: {number!r}")
    return number


def command_arguments(command: Iterable[Argument]) -> list[bytes]:
    """Return a command as a list of bytes.

    A command is any iterable of arguments except a single str or bytes;
    anything else raises TypeError "command must be a sequence or
    iterator", and an empty command ValueError "command must not be empty".
    See :func:`command_argument` for each argument.
    """
    if isinstance(command, (str, bytes, bytearray, memoryview)):
        raise TypeError("command must be a sequence or iterator")
    try:
        iterator = iter(command)
    except TypeError:
        raise TypeError("command must be a sequence or iterator") from None
    arguments = [command_argument(index, value) for index, value in enumerate(iterator)]
    if not arguments:
        raise ValueError("command must not be empty")
    return arguments


def command_argument(index: int, value: object) -> bytes:
    """Convert argument number index of a command to the bytes sent.

    bytes pass unchanged (NUL bytes and empty arguments included), other
    bytes-like objects are copied, str is encoded as UTF-8, an os.PathLike
    becomes its os.fspath() (a bytes path stays bytes), and anything else
    is sent as its str(): int, float, Decimal, UUID, IP addresses...
    Refused with TypeError because they are almost surely mistakes: None,
    a bool (does the command expect "True", "true", "yes" or "1"?), a
    collection or iterator (an argument list not unpacked), and an object
    whose only text is the default "<Name object at 0x...>".
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return _utf8(index, value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return path if isinstance(path, bytes) else _utf8(index, path)
    return _utf8(index, _text(index, value))


def _utf8(index: int, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"command argument {index} cannot be encoded as UTF-8: {exc.reason}"
        ) from None


def _text(index: int, value: object) -> str:
    """str(value), unless value is almost surely not meant as an argument."""
    if value is None:
        raise TypeError(f"command argument {index} is None")
    if isinstance(value, bool):
        raise TypeError(
            f"command argument {index} is a bool ({value}): pass the string"
            " the command expects"
        )
    kind = type(value)
    name = kind.__name__
    if isinstance(value, Iterable):
        raise TypeError(
            f"command argument {index} is a collection or iterator ({name}):"
            " pass its items as separate arguments"
        )
    if kind.__str__ is object.__str__ and kind.__repr__ is object.__repr__:
        raise TypeError(
            f"command argument {index} has no text of its own ({name} object):"
            " pass a string"
        )
    return str(value)


def timeout_seconds(timeout: int) -> int:
    """Check a timeout: a non-negative int (0 means no timeout)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise TypeError(f"timeout must be an integer: {timeout!r}")
    if not 0 <= timeout <= _TIMEOUT_MAX:
        raise ValueError(f"invalid timeout {timeout}")
    return timeout
