"""A backend exercising every feature of remctl.backend, for remctld tests.

tests/test_backend_remctld.py serves it as the command ``svc`` with
``stdin={"store": "last", "first": 2}`` and calls it through the client.
"""

from __future__ import annotations

import enum
import hashlib
import sys

from remctl.backend import Backend, Options

backend = Backend(command="svc", help_banner="Service remctl help:")
config = Backend()


class Level(enum.Enum):
    LOW = "low"
    HIGH = "high"


@backend.command(syntax="<arg>...", summary="Print each argument's bytes, one per line")
def echo(*args: bytes) -> None:
    for arg in args:
        sys.stdout.buffer.write(arg + b"\n")


@backend.command(syntax="<status>", summary="Exit with this status")
def status(code: int) -> int:
    print(f"exiting {code}")
    print(f"to stderr {code}", file=sys.stderr)
    return code


@backend.command(syntax="<message>", summary="Raise an exception with this message")
def fail(message: str) -> None:
    print("before the failure")
    raise RuntimeError(message)


@backend.command(
    syntax="<name> <data>",
    summary="Store data sent on standard input and send it back",
    stdin=-1,
    args_match=[r"^[a-z]+$"],
)
def store(name: str, data: bytes) -> None:
    print(f"{name} {len(data)} {hashlib.sha256(data).hexdigest()}", file=sys.stderr)
    sys.stdout.buffer.write(data)


@backend.command(syntax="<text> [<word>...]", summary="Text from standard input first",
                 stdin=1)
def first(text: str, *words: str) -> None:
    print(repr((text, words)))


@backend.command(
    syntax="[-v] [-n <count>] [--level <level>] <name>",
    summary="Show the options given, and the arguments after them, which is a"
    " long summary wrapped onto the next lines of the help text",
    options=["verbose|v+", "count|n=i", "level=s", "tag|t=s@"],
)
def opts(options: Options, name: str, level: Level | None = None) -> None:
    print(sorted(options.items()), name, level)


@backend.command(syntax="<count> <ratio> <level>", summary="Convert arguments")
def typed(count: int, ratio: float, level: Level) -> None:
    print(repr((count, ratio, level)))


@backend.command(syntax="<name>", args_match=[r"^[a-z]+$"])
def hello(name: str) -> None:
    print(f"hello {name}")


@config.command(syntax="<key>", summary="Show one setting")
def get(key: str) -> None:
    print(f"{key}=1")


@config.command(name="set", syntax="<key> <value>", summary="Change a setting")
def set_(key: str, value: int) -> None:
    print(f"{key} set to {value}")


@backend.command(nested=config, syntax="", summary="Show all settings")
def settings() -> None:
    print("all settings")


if __name__ == "__main__":
    raise SystemExit(backend.run())
