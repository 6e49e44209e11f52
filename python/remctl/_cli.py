"""The command-line client: ``remctl-py`` and ``python -m remctl``.

It takes the options of remctl(1), runs one command, copies the command's
standard output and standard error to its own as they arrive, and exits
with the command's exit status: 255 when the server answers with an error
(its message goes to standard error), 1 on a local failure (printed as
``remctl: MESSAGE``) or a usage error.
"""

from __future__ import annotations

import getopt
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from . import __version__
from ._arguments import port_number
from ._client import Remctl
from ._errors import RemctlError
from ._log import logger

__all__ = ["main"]

_OPTIONS = "b:dhp:s:t:v"

_USAGE = """\
Usage: {prog} [options] host command [subcommand [args...]]

Run a command on a remctl server, authenticating with Kerberos.

Options:
    -b <source>   source IP address for the connection
    -d            print debugging messages on standard error
    -h            show this help and exit
    -p <port>     port of remctld (default: 4373, then 4444)
    -s <service>  service principal of remctld (default: host/<host>)
    -t <timeout>  timeout of each network wait in seconds (default: 0, none)
    -v            show the version and exit

The exit status is the command's; 255 if the server answered with an
error, 1 if the command could not be run.
"""


def _program_name() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name in ("", "__main__.py", "-c"):
        return "python -m remctl"
    return name


def _usage(stream: TextIO) -> None:
    stream.write(_USAGE.format(prog=_program_name()))
    stream.flush()


def _fail(message: str) -> int:
    sys.stderr.write(f"remctl: {message}\n")
    sys.stderr.flush()
    return 1


def _write(stream: TextIO, data: bytes) -> None:
    """Write bytes to a standard stream at once, as they arrived."""
    binary = getattr(stream, "buffer", None)
    if binary is not None:
        stream.flush()
        binary.write(data)
        binary.flush()
    else:
        stream.write(data.decode("utf-8", errors="replace"))
        stream.flush()


def _enable_debugging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


class _Settings:
    """What the options asked for."""

    def __init__(self) -> None:
        self.source: str | None = None
        self.port = 0
        self.principal: str | None = None
        self.timeout: int | None = None


def _parse_timeout(value: str) -> int | None:
    try:
        seconds = int(value, 10)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client with argv (default ``sys.argv[1:]``); return the status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        options, rest = getopt.getopt(arguments, _OPTIONS)
    except getopt.GetoptError as exc:
        _fail(exc.msg)
        _usage(sys.stderr)
        return 1
    settings = _Settings()
    for option, value in options:
        if option == "-h":
            _usage(sys.stdout)
            return 0
        if option == "-v":
            print(f"remctl-py {__version__}")
            return 0
        if option == "-d":
            _enable_debugging()
        elif option == "-b":
            settings.source = value
        elif option == "-p":
            try:
                settings.port = port_number(value)
            except (TypeError, ValueError) as exc:
                return _fail(str(exc))
        elif option == "-s":
            settings.principal = value
        elif option == "-t":
            settings.timeout = _parse_timeout(value)
            if settings.timeout is None:
                return _fail(f"invalid timeout value {value}")
    if len(rest) < 2:
        _usage(sys.stderr)
        return 1
    host, command = rest[0], [os.fsencode(word) for word in rest[1:]]
    try:
        return _run(settings, host, command)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Our reader went away; keep the interpreter from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


def _run(settings: _Settings, host: str, command: list[bytes]) -> int:
    try:
        connection = Remctl(source_ip=settings.source, timeout=settings.timeout)
        connection.open(host, settings.port, settings.principal)
    except RemctlError as exc:
        return _fail(str(exc))
    with connection:
        try:
            connection.command(command)
        except RemctlError as exc:
            return _fail(str(exc))
        while True:
            try:
                token = connection.output()
            except RemctlError as exc:
                return _fail(f"error reading from server: {exc}")
            if token.type == "output":
                target = sys.stderr if token.stream == 2 else sys.stdout
                _write(target, token.data or b"")
            elif token.type == "status":
                return (token.status or 0) & 0xFF
            elif token.type == "error":
                _write(sys.stderr, (token.data or b"") + b"\n")
                return 255
            else:
                return _fail("no status received from server")
