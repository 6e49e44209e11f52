"""remctl.backend programs under the real remctld, called through the client.

The session's throwaway realm and remctld (tests/conftest.py) serve two
Python backends, added with remctl.testing.PythonBackend:
tests/server/backends/svc_backend.py as the command ``svc`` (every feature)
and examples/user_backend.py as ``user``.
Their remctl.conf lines carry ``help=help summary=help``, so remctld's own
``help`` command runs them too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

import remctl
from remctl.testing import PythonBackend, RemctlTestEnvironment, RemctlTestError

ROOT = Path(__file__).resolve().parent.parent
SVC = ROOT / "tests" / "server" / "backends" / "svc_backend.py"
USER = ROOT / "examples" / "user_backend.py"


def load(path: Path) -> ModuleType:
    """Import a backend program as a module, to ask it for its help text."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


svc = load(SVC)
user = load(USER)


@pytest.fixture
def env(server: RemctlTestEnvironment) -> RemctlTestEnvironment:
    """The session's realm and remctld, which serve both backends (conftest)."""
    return server


def run(env: RemctlTestEnvironment, *command: str | bytes) -> remctl.RemctlResult:
    with remctl.Remctl(env.host, env.port, env.principal) as connection:
        return connection.run(list(command))


def answer(env: RemctlTestEnvironment, *command: str | bytes) -> tuple[bytes, bytes, int]:
    result = run(env, *command)
    assert result.error is None, result.message
    assert result.status is not None
    return result.stdout, result.stderr, result.status


SVC_HELP = """\
Service remctl help:
  svc echo <arg>...                  Print each argument's bytes, one per line
  svc fail <message>                 Raise an exception with this message
  svc first <text> [<word>...]       Text from standard input first
  svc hello <name>
  svc opts [-v] [-n <count>] [--level <level>] <name>
                                     Show the options given, and the arguments
                                     after them, which is a long summary
                                     wrapped onto the next lines of the help
                                     text
  svc settings                       Show all settings
  svc settings get <key>             Show one setting
  svc settings set <key> <value>     Change a setting
  svc status <status>                Exit with this status
  svc store <name> <data>            Store data sent on standard input and send
                                     it back
  svc typed <count> <ratio> <level>  Convert arguments
"""


def test_help_through_the_command(env: RemctlTestEnvironment) -> None:
    assert svc.backend.help() == SVC_HELP
    assert answer(env, "svc", "help") == (SVC_HELP.encode(), b"", 0)


def test_remctld_summary_is_every_backends_help(env: RemctlTestEnvironment) -> None:
    # "help" alone: remctld runs each summary= program, in configuration order.
    expected = (svc.backend.help() + user.backend.help()).encode()
    assert answer(env, "help") == (expected, b"", 0)


def test_remctld_help_for_one_command(env: RemctlTestEnvironment) -> None:
    # "help svc" runs "PROGRAM help"; "help svc CMD" runs "PROGRAM help CMD".
    assert answer(env, "help", "svc")[0] == SVC_HELP.encode()
    assert answer(env, "help", "svc", "settings") == ((
        "Service remctl help:\n"
        "  svc settings                    Show all settings\n"
        "  svc settings get <key>          Show one setting\n"
        "  svc settings set <key> <value>  Change a setting\n").encode(), b"", 0)
    assert answer(env, "help", "svc", "hello") == (
        b"Service remctl help:\n  svc hello <name>\n", b"", 0)
    assert answer(env, "help", "user", "show")[0] == user.backend.help("show").encode()


def test_output_and_status(env: RemctlTestEnvironment) -> None:
    assert answer(env, "svc", "status", "0") == (b"exiting 0\n", b"to stderr 0\n", 0)
    assert answer(env, "svc", "status", "42") == (b"exiting 42\n", b"to stderr 42\n", 42)
    assert answer(env, "svc", "hello", "world") == (b"hello world\n", b"", 0)


def test_exception_is_a_message_and_status_1(env: RemctlTestEnvironment) -> None:
    assert answer(env, "svc", "fail", "disk full") == (
        b"before the failure\n", b"svc fail: disk full\n", 1)


@pytest.mark.parametrize("command,message", [
    ((), 'svc: no command given (try "svc help")'),
    (("frob",), "svc: unknown command frob"),
    (("settings", "drop"), "svc: unknown command settings drop"),
    (("status",), "svc status: insufficient arguments"),
    (("status", "1", "2"), "svc status: too many arguments"),
    (("hello", "World"), "svc hello: invalid argument: World"),
    (("hello", "a\tb"), "svc hello: invalid data in argument #1"),
    (("status", "x"), "svc status: invalid argument: x (code: expected an integer)"),
    (("typed", "1", "x", "low"), "svc typed: invalid argument: x (ratio: expected a number)"),
    (("typed", "1", "2", "mid"),
     "svc typed: invalid argument: mid (level: expected one of low, high)"),
    (("fail", b"\xff"), "svc fail: invalid data in argument #1 (not valid utf-8)"),
    (("opts", "-x", "a"), "svc opts: unknown option: x"),
    (("opts", "-n"), "svc opts: option n requires an argument"),
    (("opts", "--count=many", "a"),
     'svc opts: value "many" invalid for option count (number expected)'),
    (("opts", "--verbose=2", "a"), "svc opts: option verbose does not take an argument"),
    (("settings", "set", "k", "v"),
     "svc settings set: invalid argument: v (value: expected an integer)"),
])
def test_each_error_message(env: RemctlTestEnvironment, command: tuple[str | bytes, ...],
                            message: str) -> None:
    assert answer(env, "svc", *command) == (b"", message.encode() + b"\n", 1)


def test_binary_arguments_reach_the_program_unchanged(env: RemctlTestEnvironment) -> None:
    args = [b"\xff\xfe", "caf\u00e9".encode(), b"-v", b"", b"\x01\x7f"]
    assert answer(env, "svc", "echo", *args) == (b"".join(a + b"\n" for a in args), b"", 0)


def test_stdin_argument_with_binary_data(env: RemctlTestEnvironment) -> None:
    data = bytes(range(256)) * 4096 + b"\x00end"  # 1 MiB and NULs
    stdout, stderr, status = answer(env, "svc", "store", "blob", data)
    assert status == 0
    assert stdout == data
    assert stderr == f"blob {len(data)} {hashlib.sha256(data).hexdigest()}\n".encode()
    assert answer(env, "svc", "store", "empty", b"") == (
        b"", f"empty 0 {hashlib.sha256(b'').hexdigest()}\n".encode(), 0)
    # The stdin argument is counted and matched like the others.
    assert answer(env, "svc", "store", "a", "b", "data") == (
        b"", b"svc store: too many arguments\n", 1)
    assert answer(env, "svc", "store", "BAD", "data") == (
        b"", b"svc store: invalid argument: BAD\n", 1)


def test_stdin_argument_in_first_place(env: RemctlTestEnvironment) -> None:
    # remctld's stdin=2 (the subcommand is 1) is the backend's stdin=1.
    assert answer(env, "svc", "first", "caf\u00e9 text", "a", "b") == (
        repr(("caf\u00e9 text", ("a", "b"))).encode() + b"\n", b"", 0)
    assert answer(env, "svc", "first", b"\xff", "a") == (
        b"", b"svc first: invalid data in argument #1 (not valid utf-8)\n", 1)


def test_options(env: RemctlTestEnvironment) -> None:
    assert answer(env, "svc", "opts", "-vvn3", "-t", "x", "--tag=y", "--lev", "high",
                  "name", "low")[0] == (
        b"[('count', 3), ('level', 'high'), ('tag', ['x', 'y']), ('verbose', 2)]"
        b" name Level.LOW\n")
    # Options stop at the first argument that is not one.
    assert answer(env, "svc", "opts", "name", "-v") == (
        b"", b"svc opts: invalid argument: -v (level: expected one of low, high)\n", 1)
    assert answer(env, "svc", "opts", "--", "-v")[0] == b"[] -v None\n"


def test_nested_commands(env: RemctlTestEnvironment) -> None:
    assert answer(env, "svc", "settings") == (b"all settings\n", b"", 0)
    assert answer(env, "svc", "settings", "get", "k") == (b"k=1\n", b"", 0)
    assert answer(env, "svc", "settings", "set", "k", "5") == (b"k set to 5\n", b"", 0)


def test_example_user_backend(env: RemctlTestEnvironment) -> None:
    assert answer(env, "user", "add", "-c", "Alice Liddell", "alice", "1001") == (
        b"created alice (1001)\n", b"", 0)
    assert answer(env, "user", "add", "bob", "1002", "zsh")[2] == 0
    assert answer(env, "user", "add", "bob", "1003") == (
        b"", b"user add: user bob already exists\n", 1)
    assert answer(env, "user", "passwd", "alice", b"s3cr\x00t\xff") == (
        b"password of alice set (7 bytes)\n", b"", 0)
    assert answer(env, "user", "group", "add", "bob", "wheel")[2] == 0
    assert answer(env, "user", "group", "members", "wheel") == (b"bob\n", b"", 0)
    assert answer(env, "user", "show", "alice") == (
        b"alice: uid 1001, shell bash\n  Alice Liddell\n", b"", 0)
    assert answer(env, "user", "list", "-l") == (b"alice 1001 bash\nbob 1002 zsh\n", b"", 0)
    assert answer(env, "user", "delete", "bob", "carol") == (b"deleted 1\n", b"", 2)
    assert answer(env, "user", "show", "carol") == (
        b"", b"user show: no such user: carol\n", 1)
    assert answer(env, "user", "help") == (user.backend.help().encode(), b"", 0)


def test_python_backend_script_and_lines(tmp_path: Path) -> None:
    backend = PythonBackend("svc", svc.echo, stdin={"store": "last"}, summary=None)
    assert backend.program == str(SVC)
    lines = backend.install(str(tmp_path), "backend-1")
    script = tmp_path / "backend-1"
    assert lines == (f"svc store {script} stdin=last ANYUSER\n"
                     f"svc ALL {script} help=help ANYUSER\n")
    assert script.stat().st_mode & stat.S_IXUSR
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert f"exec {sys.executable} {SVC} " in text
    # Run the script the way remctld does.
    import subprocess

    process = subprocess.run([str(script), "echo", "x"], capture_output=True,
                             env={"PATH": os.environ.get("PATH", "")}, check=False)
    assert (process.stdout, process.stderr, process.returncode) == (b"x\n", b"", 0)
    assert PythonBackend("svc", svc).program == str(SVC)


def test_python_backend_mistakes(tmp_path: Path) -> None:
    with pytest.raises(RemctlTestError, match="is not a file"):
        PythonBackend("svc", tmp_path / "missing.py")
    with pytest.raises(TypeError, match="a path, a module, or a function"):
        PythonBackend("svc", svc.backend)
    with pytest.raises(ValueError, match="single words"):
        PythonBackend("two words", SVC)
