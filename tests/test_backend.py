"""remctl.backend in-process: conversion, decoding, results, help, mistakes.

What the Perl module also does is compared with it in test_backend_perl.py;
everything is run under the real remctld in test_backend_remctld.py.
"""

from __future__ import annotations

import decimal
import enum
import io
import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Literal, Optional, Union

import pytest

from remctl.backend import Backend, Options


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def run(backend: Backend, capsys: pytest.CaptureFixture[str], *argv: str | bytes
        ) -> tuple[int, str, str]:
    status = backend.run(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def backend() -> Backend:
    b = Backend(command="user")

    @b.command()
    def typed(count: int, ratio: float, flag: bool, color: Color, level: Level,
              mode: Literal["fast", "slow"], path: Path) -> None:
        print(repr((count, ratio, flag, color, level, mode, path)))

    @b.command()
    def opt(name: str, count: Optional[int] = None, *rest: bytes) -> int:
        print(repr((name, count, rest)))
        return 0

    @b.command()
    def union(value: Union[int, Color]) -> None:
        print(repr(value))

    @b.command()
    def raw(data: bytes, text: str = "default") -> None:
        print(repr((data, text)))

    return b


def test_annotations_convert_arguments(backend: Backend,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(backend, capsys, "typed", "-12", "2.5e1", "Yes", "green",
                           "HIGH", "slow", "/tmp/x")
    assert (status, err) == (0, "")
    assert out == repr((-12, 25.0, True, Color.GREEN, Level.HIGH, "slow",
                        Path("/tmp/x"))) + "\n"
    status, out, _ = run(backend, capsys, "typed", "+3", "1", "off", "RED", "1",
                         "fast", "p")
    assert out == repr((3, 1.0, False, Color.RED, Level.LOW, "fast", Path("p"))) + "\n"


@pytest.mark.parametrize("position,value,message", [
    (0, "1.5", "invalid argument: 1.5 (count: expected an integer)"),
    (0, " 1", "invalid argument:  1 (count: expected an integer)"),
    (0, "\u0661", "invalid argument: \u0661 (count: expected an integer)"),
    (1, "abc", "invalid argument: abc (ratio: expected a number)"),
    (1, "1_0", "invalid argument: 1_0 (ratio: expected a number)"),
    (2, "maybe", "invalid argument: maybe (flag: expected true or false)"),
    (3, "blue", "invalid argument: blue (color: expected one of red, green)"),
    (4, "3", "invalid argument: 3 (level: expected one of LOW, HIGH)"),
    (5, "medium", "invalid argument: medium (mode: expected one of fast, slow)"),
    (0, "1\x1b[2J", "invalid data in argument #1 (count: expected an integer)"),
])
def test_conversion_errors(backend: Backend, capsys: pytest.CaptureFixture[str],
                           position: int, value: str, message: str) -> None:
    argv = ["1", "1", "yes", "red", "LOW", "fast", "/"]
    argv[position] = value
    status, out, err = run(backend, capsys, "typed", *argv)
    assert (status, out, err) == (1, "", f"user typed: {message}\n")


def test_signature_gives_argument_counts(backend: Backend,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(backend, capsys, "opt") == (1, "", "user opt: insufficient arguments\n")
    assert run(backend, capsys, "opt", "a") == (0, "('a', None, ())\n", "")
    status, out, _ = run(backend, capsys, "opt", "a", "7", "x", b"\xff")
    assert out == repr(("a", 7, (b"x", b"\xff"))) + "\n"
    assert run(backend, capsys, "raw", "a", "b", "c") == (
        1, "", "user raw: too many arguments\n")


def test_unions_try_each_member_in_order(backend: Backend,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(backend, capsys, "union", "5")[1] == "5\n"
    assert run(backend, capsys, "union", "red")[1] == repr(Color.RED) + "\n"
    assert run(backend, capsys, "union", "x") == (
        1, "", "user union: invalid argument: x (value: expected an integer or"
        " one of red, green)\n")


def test_arguments_are_decoded_strictly(backend: Backend,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # bytes parameters get the bytes, str ones only valid UTF-8.
    assert run(backend, capsys, "raw", b"\xff\x00", "\u00e9".encode())[1] == repr(
        (b"\xff\x00", "\u00e9")) + "\n"
    assert run(backend, capsys, "raw", b"x", b"caf\xe9") == (
        1, "", "user raw: invalid data in argument #2 (not valid utf-8)\n")
    latin = Backend(command="user", encoding="latin-1")
    latin.command("echo")(lambda text: print(ascii(text)))
    assert run(latin, capsys, "echo", b"caf\xe9")[1] == "'caf\\xe9'\n"
    with pytest.raises(LookupError):
        Backend(encoding="no-such-encoding")


def test_sys_argv_bytes_come_back_exactly(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    original = [b"show", b"\xff\xfe", b"ok \xc3\xa9"]
    monkeypatch.setattr(sys, "argv", ["prog", *(os.fsdecode(a) for a in original)])
    typed = Backend()

    @typed.command()
    def show(data: bytes, text: str) -> None:
        print(repr((data, text)))

    assert typed.run() == 0
    assert capsys.readouterr().out == repr((b"\xff\xfe", "ok \u00e9")) + "\n"


def test_return_values_and_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="svc")
    b.command("none")(lambda: None)
    b.command("seven")(lambda: 7)
    b.command("true")(lambda: True)
    b.command("big")(lambda: 256)
    b.command("text")(lambda: "0")

    @b.command()
    def boom() -> int:
        print("partial output")
        raise ValueError("the disk is full")

    @b.command()
    def silent() -> None:
        raise KeyError

    @b.command()
    def leave() -> None:
        raise SystemExit(4)

    assert run(b, capsys, "none") == (0, "", "")
    assert run(b, capsys, "seven") == (7, "", "")
    assert run(b, capsys, "true") == (1, "", "svc true: the command returned True,"
                                      " not an exit status\n")
    assert run(b, capsys, "big") == (1, "", "svc big: the command returned exit"
                                     " status 256, outside 0 to 255\n")
    assert run(b, capsys, "text")[2] == "svc text: the command returned '0', not an" \
        " exit status\n"
    assert run(b, capsys, "boom") == (1, "partial output\n", "svc boom: the disk is full\n")
    assert run(b, capsys, "silent") == (1, "", "svc silent: KeyError\n")
    with pytest.raises(SystemExit):
        b.run(["leave"])


def test_traceback_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="svc", traceback=True)

    @b.command()
    def boom() -> None:
        raise ValueError("bad")

    status, _, err = run(b, capsys, "boom")
    assert status == 1
    assert err.startswith("Traceback (most recent call last):\n")
    assert 'raise ValueError("bad")' in err
    assert err.endswith("ValueError: bad\nsvc boom: bad\n")


def fake_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_stdin_argument(monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="store")

    @b.command(stdin=-1, args_max=2)
    def last(name: str, data: bytes) -> None:
        print(repr((name, data)))

    @b.command(stdin=1)
    def first(text: str, *rest: str) -> None:
        print(repr((text, rest)))

    @b.command(stdin=2, args_match=[None, b"^\x00"])
    def second(a: str, data: bytes) -> None:
        print(repr((a, data)))

    fake_stdin(monkeypatch, b"\x00\xffbinary\n")
    assert run(b, capsys, "last", "n")[1] == repr(("n", b"\x00\xffbinary\n")) + "\n"
    fake_stdin(monkeypatch, b"")
    assert run(b, capsys, "last", "n")[1] == repr(("n", b"")) + "\n"
    fake_stdin(monkeypatch, b"x")
    assert run(b, capsys, "last", "n", "m")[2] == "store last: too many arguments\n"
    fake_stdin(monkeypatch, "h\u00e9".encode())
    assert run(b, capsys, "first", "a", "b")[1] == repr(("h\u00e9", ("a", "b"))) + "\n"
    fake_stdin(monkeypatch, b"\xff")
    assert run(b, capsys, "first")[2] == (
        "store first: invalid data in argument #1 (not valid utf-8)\n")
    fake_stdin(monkeypatch, b"\x00ok")
    assert run(b, capsys, "second", "a")[1] == repr(("a", b"\x00ok")) + "\n"
    fake_stdin(monkeypatch, b"no")
    assert run(b, capsys, "second", "a")[2] == "store second: invalid argument: no\n"
    # The stdin argument's place must exist: argument 2 needs argument 1.
    assert run(b, capsys, "second")[2] == "store second: insufficient arguments\n"


def test_options_and_typed_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="user")

    @b.command(options=["verbose|v+", "limit|l=i"])
    def find(options: Options, pattern: str, limit: int = 10) -> None:
        print(repr((options, pattern, limit)))

    assert run(b, capsys, "find", "-vvl3", "a*", "5")[1] == repr(
        ({"verbose": 2, "limit": 3}, "a*", 5)) + "\n"
    # Options stop at the first argument, and "+v" is an argument.
    assert run(b, capsys, "find", "+v", "-v")[2] == (
        "user find: invalid argument: -v (limit: expected an integer)\n")
    assert run(b, capsys, "find", "--limit", b"\xff")[2] == (
        'user find: value "\\udcff" invalid for option limit (number expected)\n')
    b.command("name", options=["name=s"])(lambda options: print(options))
    assert run(b, capsys, "name", "--name", b"\xff")[2] == (
        "user name: invalid data in option name (not valid utf-8)\n")
    assert run(b, capsys, "name", "--name", "\u00e9")[1] == "{'name': '\u00e9'}\n"


def test_dispatch_errors(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="user")
    b.command("show")(lambda: None)
    assert run(b, capsys) == (1, "", 'user: no command given (try "user help")\n')
    assert run(b, capsys, "nope") == (1, "", "user: unknown command nope\n")
    assert run(b, capsys, "no\x1bpe\n")[2] == "user: unknown command no\\x1bpe\\n\n"
    assert run(b, capsys, b"\xff")[2] == "user: unknown command \\xff\n"
    anonymous = Backend()
    assert run(anonymous, capsys, "nope")[2] == "unknown command nope\n"
    assert run(anonymous, capsys)[2] == 'no command given (try "help")\n'


def test_help_command(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="user", help_banner="User help:")
    b.command("show", syntax="<name>", summary="Show a user")(lambda name: None)
    config = Backend()
    config.command("get", syntax="<key>", summary="Get a value")(lambda key: None)
    b.command("config", nested=config, syntax="", summary="Show the configuration")
    b.command("hidden")(lambda: None)
    whole = ("User help:\n"
             "  user config            Show the configuration\n"
             "  user config get <key>  Get a value\n"
             "  user show <name>       Show a user\n")
    assert b.help() == whole
    assert run(b, capsys, "help") == (0, whole, "")
    assert run(b, capsys, "help", "config") == (0, (
        "User help:\n"
        "  user config            Show the configuration\n"
        "  user config get <key>  Get a value\n"), "")
    assert run(b, capsys, "help", "config", "get")[1] == (
        "User help:\n  user config get <key>  Get a value\n")
    assert run(b, capsys, "help", "nope") == (1, "", "user: unknown command nope\n")
    assert run(b, capsys, "help", "show", "x") == (1, "", "user: unknown command show x\n")
    # A help command of the program's own replaces the built-in one.
    b.command("help")(lambda *topic: print("own help", *topic))
    assert run(b, capsys, "help", "x") == (0, "own help x\n", "")


def test_nested_commands(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="afs")
    volume = Backend()
    volume.command("create", args_min=1)(lambda *a: print("create", *a))
    b.command("volume", nested=volume)
    quota = Backend()
    quota.command("set")(lambda size: print("set", size))

    @b.command(nested=quota)
    def show_quota() -> None:
        print("quota summary")

    assert run(b, capsys, "volume", "create", "v1") == (0, "create v1\n", "")
    assert run(b, capsys, "volume", "create") == (
        1, "", "afs volume create: insufficient arguments\n")
    assert run(b, capsys, "volume") == (1, "", "afs: unknown command volume\n")
    assert run(b, capsys, "volume", "drop") == (1, "", "afs: unknown command volume drop\n")
    assert run(b, capsys, "show_quota") == (0, "quota summary\n", "")
    assert run(b, capsys, "show_quota", "set", "5") == (0, "set 5\n", "")


def test_command_names_and_methods(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend()

    @b.command()
    def list_() -> None:
        print("listed")

    class Service:
        def __init__(self) -> None:
            self.prefix = "svc"

        def show(self, name: str, count: int = 1) -> None:
            print(self.prefix, name * count)

    b.command("show")(Service().show)
    assert sorted(b.commands) == ["list", "show"]
    assert run(b, capsys, "list") == (0, "listed\n", "")
    assert run(b, capsys, "show", "ab", "2") == (0, "svc abab\n", "")
    assert run(b, capsys, "show", "a", "b")[2] == (
        "show: invalid argument: b (count: expected an integer)\n")


def test_function_mistakes_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="x")

    def keyword(*, required: str) -> None:
        pass

    b.command("keyword")(keyword)
    b.command("annotation")(lambda: None)
    b.commands["annotation"].function = undefined_annotation
    assert run(b, capsys, "keyword")[2].startswith(
        "x keyword: cannot read the parameters of the command: ")
    assert "required keyword-only parameter 'required'" in run(b, capsys, "keyword")[2]
    assert "NoSuchType" in run(b, capsys, "annotation")[2]


def undefined_annotation(value: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
    pass


@pytest.mark.parametrize("settings,error", [
    ({"args_min": -1}, ValueError), ({"args_min": 2, "args_max": 1}, ValueError),
    ({"args_max": "3"}, ValueError), ({"stdin": 0}, ValueError),
    ({"stdin": -2}, ValueError), ({"stdin": True}, ValueError),
    ({"args_match": "^a$"}, TypeError), ({"args_match": [3]}, TypeError),
    ({"options": "v"}, TypeError), ({"options": ["v", "v"]}, ValueError),
    ({"options": ["bad spec"]}, ValueError), ({"options": ["h=x"]}, ValueError),
    ({"options": ["h=s%"]}, ValueError), ({"options": ["=s"]}, ValueError),
    ({"nested": "x"}, TypeError), ({"summary": 3}, TypeError),
])
def test_registration_mistakes(settings: dict[str, object], error: type) -> None:
    b = Backend()
    with pytest.raises(error):
        b.command("cmd", **settings)(lambda *a: None)  # type: ignore[arg-type]


def test_registration_names() -> None:
    b = Backend()
    b.command("cmd")(lambda: None)
    with pytest.raises(ValueError, match="already registered"):
        b.command("cmd")(lambda: None)
    with pytest.raises(ValueError, match="without spaces"):
        b.command("two words")(lambda: None)
    with pytest.raises(TypeError):
        b.command("other")("not callable")  # type: ignore[type-var]
    with pytest.raises(TypeError):
        b.run("cmd")


IMPORT_CHECK = r"""
import sys
before = set(sys.modules)
import remctl.backend
import os
# Where there is no /proc (macOS), ctypes not being imported is the proof.
maps = open("/proc/self/maps").read() if os.path.exists("/proc/self/maps") else ""
loaded = [name for name in ("libremctl", "libgssapi", "libkrb5") if name in maps]
heavy = sorted({"ctypes", "remctl._remctl", "remctl._client", "remctl._errors", "typing",
                "inspect", "re", "enum", "pathlib", "asyncio"} & (set(sys.modules) - before))
print(loaded, heavy)
"""


def test_import_loads_no_c_library_and_nothing_heavy() -> None:
    # Only what importing remctl.backend adds counts: the interpreter's own
    # start-up (site, .pth files) may import some of these on its own.
    process = subprocess.run([sys.executable, "-c", IMPORT_CHECK], capture_output=True,
                             text=True, check=True)
    assert process.stdout == "[] []\n"


def test_string_union_annotations_without_pep_604_support() -> None:
    # Before Python 3.10, eval("int | None") raises TypeError: each side of
    # the "|" is then evaluated alone.  An object without __or__ does the same
    # on every version.
    # None stands for its type there, as in typing.Union: it accepts no text.
    from remctl.backend._convert import ConversionError, _resolve, convert

    class Marker:
        pass

    resolved = _resolve("marker | None", {"marker": Marker()})
    assert isinstance(resolved, tuple) and resolved[1] is type(None)
    assert convert(b"5", "5", (int, type(None))) == 5
    assert convert(b"5", "5", _resolve("int | None", {})) == 5
    with pytest.raises(ConversionError):
        convert(b"x", "x", (int, type(None)))


def test_async_commands(capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    b = Backend(command="svc")

    @b.command()
    async def wait(seconds: float) -> int:
        await asyncio.sleep(seconds)
        print("waited")
        return 4

    @b.command()
    async def broken() -> None:
        await asyncio.sleep(0)
        raise OSError("no route")

    assert run(b, capsys, "wait", "0.01") == (4, "waited\n", "")
    assert run(b, capsys, "broken") == (1, "", "svc broken: no route\n")


def test_long_arguments_are_cut_in_messages(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="svc")
    b.command("store", stdin=-1, args_match=["^[a-z]+$"])(lambda data: None)
    fake_stdin(monkeypatch, b"x" * 99 + b"Y" * 1_000_000)
    assert run(b, capsys, "store") == (
        1, "", "svc store: invalid argument: " + "x" * 99 + "Y..."
        " (1000099 characters)\n")
    b.command("typed")(typed_count)
    assert run(b, capsys, "typed", "9" * 100 + "x")[2] == (
        "svc typed: invalid argument: " + "9" * 100 + "... (101 characters)"
        " (n: expected an integer)\n")
    assert run(b, capsys, "z" * 200)[2] == (
        "svc: unknown command " + "z" * 100 + "... (200 characters)\n")


def typed_count(n: int) -> None:
    pass


def test_bad_args_match_pattern_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="svc")
    b.command("show", args_match=["^(unclosed"])(lambda name: None)
    status, out, err = run(b, capsys, "show", "x")
    assert (status, out) == (1, "")
    assert err.startswith("svc show: args_match pattern #1 is not a valid regular"
                          " expression: missing ), unterminated subpattern")


def test_other_classes_convert_by_calling_them(capsys: pytest.CaptureFixture[str]) -> None:
    b = Backend(command="net")

    @b.command()
    def route(address: ipaddress.IPv4Address, cost: decimal.Decimal) -> None:
        print(repr((address, cost)))

    assert run(b, capsys, "route", "10.0.0.1", "1.50") == (
        0, repr((ipaddress.IPv4Address("10.0.0.1"), decimal.Decimal("1.50"))) + "\n", "")
    assert run(b, capsys, "route", "10.0.0", "1") == (
        1, "", "net route: invalid argument: 10.0.0 (address: Expected 4 octets in"
        " '10.0.0')\n")
    assert run(b, capsys, "route", "10.0.0.1", "cheap") == (
        1, "", "net route: invalid argument: cheap (cost: expected Decimal)\n")
