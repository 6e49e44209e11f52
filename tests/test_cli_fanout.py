"""The command-line client with many hosts (-H, -f): output compared exactly.

The suite's remctld on 127.0.0.1 stands for the good hosts; 127.0.0.2 on
the same port has nothing listening (refused).  Runs with -j 1 finish in
the order given, so whole outputs are compared; the summary's elapsed time
is the only part replaced before comparing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from test_cli import HANG_GUARD, cli_env

SUMMARY_TIME = re.compile(rb"hosts in [0-9]+\.[0-9]{2} s:")
REFUSED = "127.0.0.2"


def fan_out(
    server: Any, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    """Run the CLI with the server's port and principal; elapsed time masked."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "remctl",
            "-p",
            str(server.port),
            "-s",
            server.principal,
            *args,
        ],
        env=env or cli_env(server),
        input=stdin,
        capture_output=True,
        timeout=HANG_GUARD,
        check=False,
    )
    return done.returncode, done.stdout, SUMMARY_TIME.sub(b"hosts in T s:", done.stderr)


# ``python -m remctl`` as started from a terminal, whatever ignores SIGINT now.
# A background job of a shell without job control (``pytest tests &`` in a
# script) ignores SIGINT, and so does everything it starts; Python, like
# every Unix program, then leaves SIGINT ignored: no KeyboardInterrupt ever
# comes.  The client must get SIGINT as a user's Ctrl-C delivers it.
CLI_WITH_SIGINT = (
    "import runpy, signal;"
    " signal.signal(signal.SIGINT, signal.default_int_handler);"
    " runpy.run_module('remctl', run_name='__main__', alter_sys=True)"
)


def hung_client_stacks(process: subprocess.Popen[bytes]) -> str:
    """The C stacks (with gdb, if installed) and the Python stacks of a
    client started with -X faulthandler, which SIGABRT ends."""
    import shutil
    import signal

    text = ""
    gdb = shutil.which("gdb")
    if gdb:
        try:
            done = subprocess.run(
                [gdb, "-batch", "-p", str(process.pid), "-ex", "thread apply all bt"],
                capture_output=True,
                timeout=HANG_GUARD,
                check=False,
            )
        except subprocess.TimeoutExpired:
            text += "(gdb did not answer)\n"
        else:
            text += done.stdout.decode(errors="replace")
    process.send_signal(signal.SIGABRT)
    _, err = process.communicate(timeout=HANG_GUARD)
    return text + err.decode(errors="replace")


def refused_message(server: Any) -> str:
    return f"cannot connect to {REFUSED} (port {server.port}): Connection refused"


# -- the three output forms -----------------------------------------------------------


def test_plain_prefixes_lines_and_keeps_streams_apart(server: Any) -> None:
    hosts = f"{server.host},{server.host}"
    assert fan_out(server, "-j", "1", "-H", hosts, "test", "mixed") == (
        2,
        b"127.0.0.1: out\n127.0.0.1: out\n",
        (
            b"127.0.0.1: err\n"
            b"127.0.0.1: exited with status 3\n"
            b"127.0.0.1: err\n"
            b"127.0.0.1: exited with status 3\n"
            b"remctl: 2 hosts in T s: 0 ok, 2 exited non-zero, 0 failed\n"
        ),
    )


def test_plain_all_ok(server: Any) -> None:
    assert fan_out(
        server, "-H", server.host, "-H", server.host, "test", "echo", "hi"
    ) == (
        0,
        b"127.0.0.1: hi\n127.0.0.1: hi\n",
        b"remctl: 2 hosts in T s: 2 ok, 0 exited non-zero, 0 failed\n",
    )


def test_plain_failures_by_cause(server: Any) -> None:
    hosts = f"{server.host},{REFUSED},{server.host}"
    assert fan_out(server, "-j", "1", "-H", hosts, "test", "echo", "x") == (
        3,
        b"127.0.0.1: x\n127.0.0.1: x\n",
        f"{REFUSED}: failed (connection): {refused_message(server)}\n".encode()
        + b"remctl: 3 hosts in T s: 2 ok, 0 exited non-zero, 1 failed (1 connection)\n",
    )
    assert fan_out(server, "-H", server.host, "test", "denied") == (
        3,
        b"",
        (
            b"127.0.0.1: failed (server error 6): Access denied\n"
            b"remctl: 1 hosts in T s: 0 ok, 0 exited non-zero, 1 failed (1 server error)\n"
        ),
    )


def test_timeout_is_per_host(server: Any) -> None:
    assert fan_out(server, "-t", "1", "-H", server.host, "test", "sleep", "30") == (
        3,
        b"",
        f"127.0.0.1: failed (timeout): timed out after 1 s running the command on"
        f" 127.0.0.1 (port {server.port})\n".encode()
        + b"remctl: 1 hosts in T s: 0 ok, 0 exited non-zero, 1 failed (1 timeout)\n",
    )


def test_binary_and_unterminated_lines(server: Any) -> None:
    """Lines end at newlines only (\r stays inside); the unterminated last
    line gets one; bytes pass unchanged."""
    code, out, _ = fan_out(server, "-H", server.host, "test", "stream", "14")
    assert (code, out) == (
        0,
        b"127.0.0.1: " + bytes(range(10)) + b"\n127.0.0.1: \x0b\x0c\x0d\n",
    )
    code, out, _ = fan_out(server, "-H", server.host, "test", "echo", "\udcff")
    assert (code, out) == (0, b"127.0.0.1: \xff\n")


def test_group(server: Any) -> None:
    hosts = f"{server.host},{REFUSED},{server.host}"
    assert fan_out(server, "--group", "-j", "1", "-H", hosts, "test", "mixed") == (
        3,
        (
            b"== 127.0.0.1 (status 3) ==\nout\n"
            b"== 127.0.0.2 (failed: connection) ==\n"
            b"== 127.0.0.1 (status 3) ==\nout\n"
        ),
        (
            b"== 127.0.0.1 (status 3) ==\nerr\n127.0.0.1: exited with status 3\n"
            + f"{REFUSED}: failed (connection): {refused_message(server)}\n".encode()
            + b"== 127.0.0.1 (status 3) ==\nerr\n127.0.0.1: exited with status 3\n"
            + b"remctl: 3 hosts in T s: 0 ok, 2 exited non-zero, 1 failed (1 connection)\n"
        ),
    )
    assert fan_out(server, "--group", "-H", server.host, "test", "denied") == (
        3,
        b"== 127.0.0.1 (failed: server error 6) ==\n",
        (
            b"127.0.0.1: failed (server error 6): Access denied\n"
            b"remctl: 1 hosts in T s: 0 ok, 0 exited non-zero, 1 failed (1 server error)\n"
        ),
    )


def test_json(server: Any) -> None:
    hosts = f"{server.host},{REFUSED}"
    code, out, err = fan_out(server, "--json", "-j", "1", "-H", hosts, "test", "mixed")
    assert code == 3
    assert err == (
        b"remctl: 2 hosts in T s: 0 ok, 1 exited non-zero, 1 failed (1 connection)\n"
    )
    first, second = (json.loads(line) for line in out.splitlines())
    assert isinstance(first.pop("seconds"), float)
    assert isinstance(second.pop("seconds"), float)
    assert first == {
        "host": "127.0.0.1",
        "port": server.port,
        "status": 3,
        "stdout": "out\n",
        "stderr": "err\n",
        "error": None,
    }
    assert second == {
        "host": REFUSED,
        "port": server.port,
        "status": None,
        "stdout": "",
        "stderr": "",
        "error": {
            "class": "RemctlConnectionError",
            "cause": "connection",
            "message": refused_message(server),
        },
    }
    _, out, _ = fan_out(server, "--json", "-H", server.host, "test", "denied")
    denied = json.loads(out)
    assert denied["error"] == {
        "class": "RemctlCommandError",
        "cause": "server error",
        "code": 6,
        "message": "Access denied",
    }
    assert denied["status"] is None


def test_json_output_that_is_not_utf8(server: Any) -> None:
    _, out, _ = fan_out(server, "--json", "-H", server.host, "test", "echo", "\udcff")
    record = json.loads(out)
    assert record["stdout"] == "\ufffd\n"
    assert record["stdout_base64"] == "/wo="
    assert "stderr_base64" not in record


# -- where hosts come from ----------------------------------------------------------


def test_host_file_with_comments(server: Any, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(
        f"# the fleet\n\n{server.host}   # first\n  {server.host}\n#{REFUSED}\n"
    )
    assert fan_out(server, "-f", str(hosts), "test", "echo", "f") == (
        0,
        b"127.0.0.1: f\n127.0.0.1: f\n",
        b"remctl: 2 hosts in T s: 2 ok, 0 exited non-zero, 0 failed\n",
    )


def test_hosts_on_standard_input_and_combined(server: Any) -> None:
    stdin = f"{server.host}\n{server.host}\n".encode()
    code, out, err = fan_out(
        server, "-H", server.host, "-f", "-", "test", "echo", "s", stdin=stdin
    )
    assert (code, out) == (0, b"127.0.0.1: s\n" * 3)
    assert err == b"remctl: 3 hosts in T s: 3 ok, 0 exited non-zero, 0 failed\n"


def test_usage_errors(server: Any, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    for args, message in [
        (["-H", " , ", "test", "echo"], b"remctl: no hosts given\n"),
        (["-f", str(missing), "test", "echo"], None),
        (
            ["--json", server.host, "test"],
            b"remctl: --json needs several hosts: give them with -H or -f\n",
        ),
        (
            ["-j", "4", server.host, "test"],
            b"remctl: -j needs several hosts: give them with -H or -f\n",
        ),
        (
            ["--group", "--json", "-H", "h", "test"],
            b"remctl: give --group or --json, not both\n",
        ),
        (
            ["-b", "127.0.0.1", "-H", "h", "test"],
            b"remctl: -b works with one host only\n",
        ),
        (
            ["-j", "0", "-H", "h", "test"],
            b"remctl: invalid number of hosts at a time 0\n",
        ),
        (
            ["-j", "x", "-H", "h", "test"],
            b"remctl: invalid number of hosts at a time x\n",
        ),
    ]:
        code, out, err = fan_out(server, *args)
        assert (code, out) == (1, b""), args
        if message is None:
            assert err.startswith(
                f"remctl: cannot read hosts from {missing}: ".encode()
            )
            assert b"No such file or directory" in err
        else:
            assert err == message, args
    code, out, err = fan_out(server, "-H", "h")
    assert (code, out) == (1, b"")
    assert err.startswith(b"Usage: python -m remctl [options] host command")


def test_help_shows_fan_out_with_examples(server: Any) -> None:
    code, out, err = fan_out(server, "-h")
    assert (code, err) == (0, b"")
    for text in (
        b"-H host1,host2,... command",
        b"    -H <hosts> ",
        b"    -f <file> ",
        b"    -j <number> ",
        b"    --group ",
        b"    --json ",
        b"Examples:\n    python -m remctl -H web1,web2,web3 service status\n",
        b"printf '%s\\n' db1 db2 | python -m remctl -f - --json backup status\n",
        b"Many hosts: 0 if every host ran\nthe command and it exited 0; 2 if",
    ):
        assert text in out, text


# -- progress line ----------------------------------------------------------------


def test_progress_only_on_a_terminal(server: Any) -> None:
    """With standard error on a pseudo-terminal: a progress line, cleared
    before each other line and at the end; the pipe runs above had none."""
    import pty
    import select

    master, slave = pty.openpty()
    hosts = ",".join([server.host] * 3)
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "remctl",
                "-p",
                str(server.port),
                "-s",
                server.principal,
                "-j",
                "1",
                "-H",
                hosts,
                "test",
                "mixed",
            ],
            env=cli_env(server),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        slave = -1
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], HANG_GUARD)
            assert ready, "no output from the client"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the client closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        stdout, _ = process.communicate(timeout=HANG_GUARD)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert process.returncode == 2
    assert stdout == b"127.0.0.1: out\n" * 3
    text = seen.replace(b"\r\n", b"\n")  # the terminal's output processing
    progress = re.compile(
        rb"\r\x1b\[Kremctl: [0-3]/3 done, 0 failed, [01] running, [0-9]+\.[0-9] s"
    )
    assert progress.search(text)
    assert re.search(rb"remctl: 3/3 done, 0 failed, 0 running", text)
    # Without the progress lines and their clearing, what is left is exactly
    # what a pipe gets.
    plain = SUMMARY_TIME.sub(
        b"hosts in T s:", progress.sub(b"", text).replace(b"\r\x1b[K", b"")
    )
    assert plain == (
        b"127.0.0.1: err\n127.0.0.1: exited with status 3\n" * 3
        + b"remctl: 3 hosts in T s: 0 ok, 3 exited non-zero, 0 failed\n"
    )
    # Each line starts on a cleared line: never after a progress text.
    for line in text.split(b"\n")[:-1]:
        assert not line or line.startswith(
            (b"\r\x1b[K", b"127.0.0.1", b"remctl: 3 hosts")
        ), line


def test_interrupt_reports_what_finished_and_exits_130(server: Any) -> None:
    """SIGINT while a host runs: the connection is cut, the summary says
    what was not done, the exit status is 130."""
    import signal
    import time
    import uuid

    marker = f"interrupt-{uuid.uuid4().hex}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "faulthandler",  # SIGABRT dumps every thread's stack (see below)
            "-c",
            CLI_WITH_SIGINT,
            "-p",
            str(server.port),
            "-s",
            server.principal,
            "-H",
            f"{server.host},{server.host}",
            "test",
            "sleep",
            "120",
            marker,
        ],
        env=cli_env(server),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        log = Path(server.remctld_log)
        deadline = time.monotonic() + HANG_GUARD
        while log.read_text(errors="replace").count(marker) < 2:
            # Interrupting before both commands run would test another case.
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "remctld never ran both commands"
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "no exit after SIGINT; where the client was stuck:\n"
                + hung_client_stacks(process)
            ) from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert out == b""
    assert SUMMARY_TIME.sub(b"hosts in T s:", err) == (
        b"remctl: 2 hosts in T s: 0 ok, 0 exited non-zero, 0 failed,"
        b" 2 not done (interrupted)\n"
    )
