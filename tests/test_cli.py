"""The command-line client, run as a user would: ``python -m remctl``."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Union

import pytest
import remctl
from expected import stream_bytes
from gss_library import mit_gssapi
from remctl.testing import RemctlTestEnvironment

PACKAGE_ROOT = str(Path(remctl.__file__).resolve().parents[1])
DEBIAN_REMCTL = "/usr/bin/remctl"
HANG_GUARD = 60.0  # seconds; only to fail instead of hanging forever

Arg = Union[str, bytes]


def cli_env(server: Any) -> dict[str, str]:
    env: dict[str, str] = server.subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join(
        [PACKAGE_ROOT, *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


def cli(
    server: Any, *args: Arg, program: Sequence[str] = (sys.executable, "-m", "remctl")
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*program, *args],
        env=cli_env(server),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=HANG_GUARD,
        check=False,
    )


def remote(server: Any, *command: Arg, program: Sequence[str] | None = None) -> Any:
    """Run a command on the test server through a client program."""
    options = ["-p", str(server.port), "-s", server.principal, server.host]
    if program is None:
        return cli(server, *options, *command)
    return cli(server, *options, *command, program=program)


def outcome(done: subprocess.CompletedProcess[bytes]) -> tuple[int, bytes, bytes]:
    return done.returncode, done.stdout, done.stderr


# -- commands -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["test", "echo", "hello", "world"], (0, b"hello world\n", b"")),
        (["test", "stderr", "oops"], (0, b"", b"oops\n")),
        (["test", "mixed"], (3, b"out\n", b"err\n")),
        (["test", "status", "7"], (7, b"", b"")),
        (["test", "nothing"], (0, b"", b"")),
        (["test", "denied"], (255, b"", b"Access denied\n")),
        (["test", "bogus"], (255, b"", b"Unknown command\n")),
    ],
)
def test_commands_like_remctl_1(
    server: Any, command: list[str], expected: tuple[int, bytes, bytes]
) -> None:
    """Same exit status, stdout and stderr as Debian's remctl(1)."""
    ours = outcome(remote(server, *command))
    assert ours == expected
    if os.path.exists(DEBIAN_REMCTL):
        assert outcome(remote(server, *command, program=[DEBIAN_REMCTL])) == ours


def test_arguments_after_host_are_not_options(server: Any) -> None:
    done = remote(server, "test", "echo", "-p", "--", "-h")
    assert outcome(done) == (0, b"-p -- -h\n", b"")


def test_binary_arguments_and_output(server: Any) -> None:
    done = remote(server, "test", "echo", b"\xff\xfe", "caf\u00e9")
    assert outcome(done) == (0, b"\xff\xfe caf\xc3\xa9\n", b"")
    length = 3 * 1024 * 1024 + 5
    big = remote(server, "test", "stream", str(length))
    assert big.returncode == 0
    assert big.stdout == stream_bytes(length)


def test_options_b_and_t(server: Any) -> None:
    done = cli(
        server,
        *("-b", "127.0.0.1", "-t", "10", "-p", str(server.port)),
        *("-s", server.principal, server.host, "test", "echo", "opts"),
    )
    assert outcome(done) == (0, b"opts\n", b"")


def test_timeout_message_like_remctl_1(server: Any) -> None:
    args = ["-t", "1", "-p", str(server.port), "-s", server.principal, server.host]
    done = cli(server, *args, "test", "sleep", "3")
    expected = b"remctl: error reading from server: error receiving token: timed out\n"
    assert outcome(done) == (1, b"", expected)


# -- local failures and usage ------------------------------------------------------


def test_connection_refused(server: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = cli(server, "-p", str(port), "127.0.0.1", "test", "echo")
    message = f"remctl: cannot connect to 127.0.0.1 (port {port}): Connection refused\n"
    assert outcome(done) == (1, b"", message.encode())


def gss_failure(done: subprocess.CompletedProcess[bytes]) -> bytes:
    """The GSS-API text of a client run that failed to initialize the
    context: exit status 1, nothing on stdout, one line on stderr with our
    prefix and a text after it (the GSS-API library's own words)."""
    prefix = b"remctl: GSS-API error initializing context: "
    assert (done.returncode, done.stdout) == (1, b""), done
    assert done.stderr.startswith(prefix), done.stderr
    assert done.stderr.endswith(b"\n") and done.stderr.count(b"\n") == 1
    text = done.stderr[len(prefix) : -1].strip()
    assert text, done.stderr
    return text


def test_wrong_principal(server: Any) -> None:
    principal = f"host/nowhere.invalid@{server.realm}"
    done = cli(server, "-p", str(server.port), "-s", principal, server.host, "test")
    text = gss_failure(done)
    if mit_gssapi():
        assert f"Server {principal} not found in Kerberos database".encode() in text


def test_no_tickets(server: Any, tmp_path: Path) -> None:
    env = cli_env(server)
    env["KRB5CCNAME"] = f"FILE:{tmp_path}/empty"
    done = subprocess.run(
        [sys.executable, "-m", "remctl", "-p", str(server.port)]
        + ["-s", server.principal, server.host, "test", "echo"],
        env=env,
        capture_output=True,
        timeout=HANG_GUARD,
        check=False,
    )
    text = gss_failure(done)
    if mit_gssapi():
        assert b"No Kerberos credentials available" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "abc", "h", "c"], b"remctl: port must be a number: 'abc'\n"),
        (["-p", "70000", "h", "c"], b"remctl: invalid port number: 70000\n"),
        (["-t", "-1", "h", "c"], b"remctl: invalid timeout value -1\n"),
        (["-t", "x", "h", "c"], b"remctl: invalid timeout value x\n"),
    ],
)
def test_bad_option_values(server: Any, args: list[str], message: bytes) -> None:
    assert outcome(cli(server, *args)) == (1, b"", message)


@pytest.mark.ours_only(reason="only our library checks a source address when set")
def test_bad_source_address(server: Any) -> None:
    message = b"remctl: invalid source IP address nowhere\n"
    assert outcome(cli(server, "-b", "nowhere", "h", "c")) == (1, b"", message)


def test_usage_errors(server: Any) -> None:
    for args in ([], ["hostonly"], ["-x", "h", "c"], ["-p"]):
        done = cli(server, *args)
        assert done.returncode == 1, args
        assert done.stdout == b""
        assert b"Usage: python -m remctl [options] host command" in done.stderr
    assert cli(server, "-x", "h", "c").stderr.startswith(
        b"remctl: option -x not recognized\n"
    )


def test_help_and_version(server: Any) -> None:
    done = cli(server, "-h")
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout.startswith(b"Usage: python -m remctl [options] host command")
    for option in b"bdhpstv":
        assert f"    -{chr(option)} ".encode() in done.stdout
    version = cli(server, "-v")
    line = f"remctl-py {remctl.__version__}\n".encode()
    assert outcome(version) == (0, line, b"")


def test_debug_logs_without_argument_values(server: Any) -> None:
    secret = "s3cr3t-argument-value"
    done = remote(server, "-d", "test", "echo", secret)
    assert done.returncode == 255  # "-d" after the host is part of the command
    done = cli(
        server,
        *("-d", "-p", str(server.port), "-s", server.principal, server.host),
        *("test", "echo", secret),
    )
    assert (done.returncode, done.stdout) == (0, f"{secret}\n".encode())
    log = done.stderr.decode()
    assert "remctl: DEBUG: connecting to 127.0.0.1" in log
    assert "remctl: DEBUG: connected and authenticated to 127.0.0.1" in log
    assert "remctl: DEBUG: sending a command with 3 arguments" in log
    assert "remctl: DEBUG: command exited with status 0" in log
    assert secret not in log
    assert server.ccache_path not in log


# -- streaming as output arrives ------------------------------------------------------

WAIT_SCRIPT = """\
#!/bin/sh
# test wait FILE: "first" on stdout and "early" on stderr, then wait until
# FILE exists, then "second" on stdout, exit 4.
printf 'first\\n'
printf 'early\\n' >&2
while [ ! -e "$2" ]; do sleep 0.02; done
printf 'second\\n'
exit 4
"""


@pytest.fixture(scope="module")
def waiting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    scripts = tmp_path_factory.mktemp("scripts")
    script = scripts / "wait"
    script.write_text(WAIT_SCRIPT)
    script.chmod(0o755)
    config = "test wait @SCRIPTS@/wait ANYUSER\n"
    with RemctlTestEnvironment(config_text=config, scripts=scripts) as env:
        yield env


def read_until(pipe: IO[bytes], wanted: bytes) -> bytes:
    """Read from pipe until wanted has arrived (fails instead of hanging)."""
    received = b""
    while wanted not in received:
        ready, _, _ = select.select([pipe], [], [], HANG_GUARD)
        assert ready, f"nothing more after {received!r}"
        chunk = os.read(pipe.fileno(), 4096)
        assert chunk, f"end of file after {received!r}"
        received += chunk
    return received


def test_streams_output_as_it_arrives(waiting_server: Any, tmp_path: Path) -> None:
    flag = tmp_path / "go"
    env = waiting_server
    argv = [sys.executable, "-m", "remctl", "-p", str(env.port), "-s", env.principal]
    process = subprocess.Popen(
        [*argv, env.host, "test", "wait", str(flag)],
        env=cli_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        # The command is still waiting for the flag: this output came early.
        assert read_until(process.stdout, b"first\n") == b"first\n"
        assert read_until(process.stderr, b"early\n") == b"early\n"
        assert process.poll() is None
        flag.touch()
        rest, errors = process.communicate(timeout=HANG_GUARD)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, rest, errors) == (4, b"second\n", b"")


def test_console_script_entry_point(server: Any, tmp_path: Path) -> None:
    """What [project.scripts] remctl-py = "remctl._cli:main" runs."""
    launcher = tmp_path / "remctl-py"
    launcher.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import sys
            from remctl._cli import main
            sys.exit(main())
            """
        )
    )
    launcher.chmod(0o755)
    done = remote(server, "test", "echo", "script", program=[str(launcher)])
    assert outcome(done) == (0, b"script\n", b"")
    usage = cli(server, program=[str(launcher)])
    assert b"Usage: remctl-py [options] host command" in usage.stderr
