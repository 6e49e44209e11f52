"""The command-line client: ``remctl-py`` and ``python -m remctl``.

It takes the options of remctl(1), runs one command, copies the command's
standard output and standard error to its own as they arrive, and exits
with the command's exit status: 255 when the server answers with an error
(its message goes to standard error), 1 on a local failure (printed as
``remctl: MESSAGE``) or a usage error.

With ``-H`` or ``-f`` it runs the command on many hosts at once instead
(remctl._cli_fanout).
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
from ._cli_fanout import FanOutOptions, parse_hosts, split_host_list
from ._cli_fanout import run as run_many_hosts
from ._client import Remctl
from ._errors import RemctlError
from ._log import logger

__all__ = ["main"]

_OPTIONS = "b:dhp:s:t:vH:f:j:"
_LONG_OPTIONS = ["group", "json"]

_USAGE = """\
Usage: {prog} [options] host command [subcommand [args...]]
       {prog} [options] -H host1,host2,... command [subcommand [args...]]
       {prog} [options] -f hostfile command [subcommand [args...]]

Run a command on a remctl server, or on many at once, authenticating with
Kerberos.

Options:
    -b <source>   source IP address for the connection (one host only)
    -d            print debugging messages on standard error
    -h            show this help and exit
    -p <port>     port of remctld (default: 4373, then 4444)
    -s <service>  service principal of remctld (default: host/<host>)
    -t <timeout>  one host: timeout of each network wait in seconds;
                  many hosts: time allowed to each whole host (default: 0, none)
    -v            show the version and exit

Many hosts:
    -H <hosts>    run on these hosts, separated by commas (may be repeated)
    -f <file>     run on the hosts listed in file, one per line, # starts a
                  comment; "-f -" reads them from standard input
    -j <number>   hosts at a time (default: 64)
    --group       print each host's output as a block when it finishes,
                  instead of every line as "host: line" as it arrives
    --json        print one JSON object per host and line: host, port,
                  status, stdout, stderr, error (class, cause, message) and
                  seconds

With many hosts, output lines are prefixed with "host: " (standard error
lines go to standard error); hosts that did not exit 0 are reported on
standard error, then a summary of hosts ok, exited non-zero and failed by
cause (connection, timeout, authentication, server error). A progress line
is shown on standard error when it is a terminal.

Examples:
    {prog} -H web1,web2,web3 service status
    {prog} -f kdcs.txt -j 8 -t 30 --group kadmin rotate
    printf '%s\\n' db1 db2 | {prog} -f - --json backup status

Exit status: one host: the command's; 255 if the server answered with an
error, 1 if the command could not be run. Many hosts: 0 if every host ran
the command and it exited 0; 2 if some command exited non-zero and every
host was reached; 3 if some host failed (could not connect, timed out,
failed to authenticate, or the server answered with an error); 1 on a usage
or local error; 130 if interrupted.
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
        options, rest = getopt.getopt(arguments, _OPTIONS, _LONG_OPTIONS)
    except getopt.GetoptError as exc:
        _fail(exc.msg)
        _usage(sys.stderr)
        return 1
    settings = _Settings()
    many = FanOutOptions()
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
        elif option == "-H":
            many.hosts.extend(split_host_list(value))
            many.asked = True
        elif option == "-f":
            many.host_files.append(value)
            many.asked = True
        elif option == "-j":
            jobs = _parse_timeout(value)
            if not jobs:
                return _fail(f"invalid number of hosts at a time {value}")
            many.concurrency = jobs
        elif option == "--group":
            many.group = True
        elif option == "--json":
            many.json = True
    if many.asked:
        return _main_many(settings, many, rest)
    for option, _ in options:
        if option in ("-j", "--group", "--json"):
            return _fail(f"{option} needs several hosts: give them with -H or -f")
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


def _read_host_file(path: str) -> list[str]:
    if path == "-":
        return parse_hosts(sys.stdin.read())
    with open(path, encoding="utf-8") as handle:
        return parse_hosts(handle.read())


def _main_many(settings: _Settings, many: FanOutOptions, command: list[str]) -> int:
    """Fan-out mode: the hosts come from -H and -f, command is the rest."""
    if settings.source is not None:
        return _fail("-b works with one host only")
    if not command:
        _usage(sys.stderr)
        return 1
    if many.group and many.json:
        return _fail("give --group or --json, not both")
    hosts = list(many.hosts)
    for path in many.host_files:
        try:
            hosts.extend(_read_host_file(path))
        except (OSError, UnicodeDecodeError) as exc:
            where = "standard input" if path == "-" else path
            return _fail(f"cannot read hosts from {where}: {exc}")
    if not hosts:
        return _fail("no hosts given")
    many.port = settings.port
    many.principal = settings.principal
    many.timeout = settings.timeout
    try:
        return run_many_hosts(many, hosts, [os.fsencode(word) for word in command])
    except BrokenPipeError:
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
