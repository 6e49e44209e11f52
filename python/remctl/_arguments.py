"""Checks and conversions of Python arguments, done before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Union

Port = Union[int, str, None]
Argument = Union[str, bytes, bytearray]

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

    bytes pass unchanged (NUL bytes and empty arguments included), str is
    encoded as UTF-8.  A str or bytes given as the whole command, or
    anything that is not iterable, raises TypeError "command must be a
    sequence or iterator"; an empty command raises ValueError "command must
    not be empty".
    """
    if isinstance(command, (str, bytes, bytearray, memoryview)):
        raise TypeError("command must be a sequence or iterator")
    try:
        iterator = iter(command)
    except TypeError:
        raise TypeError("command must be a sequence or iterator") from None
    arguments = [_argument(index, value) for index, value in enumerate(iterator)]
    if not arguments:
        raise ValueError("command must not be empty")
    return arguments


def _argument(index: int, value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"command argument {index} cannot be encoded as UTF-8: {exc.reason}"
            ) from None
    raise TypeError(
        f"command argument {index} must be str or bytes, not {type(value).__name__}"
    )


def timeout_seconds(timeout: int) -> int:
    """Check a timeout: a non-negative int (0 means no timeout)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise TypeError(f"timeout must be an integer: {timeout!r}")
    if not 0 <= timeout <= _TIMEOUT_MAX:
        raise ValueError(f"invalid timeout {timeout}")
    return timeout
