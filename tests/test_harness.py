"""The test harness itself, checked with Debian's remctl client (/usr/bin/remctl).

Nothing here uses our library: the ``server`` fixture, the scripts in
tests/server and remctl.testing are proven against a client nobody here wrote.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from expected import hashargs_output, hashstdin_output, stream_bytes, stream_sha256
from remctl.testing import (
    MissingProgramsError,
    RemctlTestEnvironment,
    RemctlTestError,
)

REMCTL_CLI = "/usr/bin/remctl"
SERVER_DIR = Path(__file__).resolve().parent / "server"


def run_cli(
    server: RemctlTestEnvironment, *command: str, port: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run one command through remctl(1) with the session's environment."""
    argv = [REMCTL_CLI, "-p", str(port or server.port), "-s", server.principal]
    return subprocess.run(
        [*argv, server.host, *command],
        env=server.subprocess_env(),
        capture_output=True,
        timeout=60,
        check=False,
    )


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


# -- the environment --------------------------------------------------------


def test_environment_attributes(server: RemctlTestEnvironment) -> None:
    assert server.host == "127.0.0.1"
    assert server.principal == f"host/127.0.0.1@{server.realm}"
    assert server.user_principal.endswith("@" + server.realm)
    assert server.ccache == "FILE:" + server.ccache_path
    assert os.path.getsize(server.ccache_path) > 0
    assert os.path.getsize(server.user_keytab) > 0
    assert os.path.getsize(server.service_keytab) > 0
    assert server.environ == {
        "KRB5_CONFIG": server.krb5_config,
        "KRB5CCNAME": server.ccache,
    }
    # The session fixture applied them to this process.
    assert os.environ["KRB5_CONFIG"] == server.krb5_config
    assert os.environ["KRB5CCNAME"] == server.ccache
    assert server.running
    assert server.port != server.kdc_port
    klist = subprocess.run(
        ["klist", "-c", server.ccache], capture_output=True, text=True, check=True
    )
    assert f"Default principal: {server.user_principal}" in klist.stdout


# -- the commands of tests/server/remctl.conf.in ----------------------------


def test_echo(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "echo", "hello")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"hello\n", b"")


def test_echo_joins_arguments(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "echo", "a", "b c", "d")
    assert (done.returncode, done.stdout) == (0, b"a b c d\n")


def test_stderr(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "stderr", "oops")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"oops\n")


@pytest.mark.parametrize("status", [0, 1, 7, 255])
def test_status(server: RemctlTestEnvironment, status: int) -> None:
    done = run_cli(server, "test", "status", str(status))
    assert (done.returncode, done.stdout, done.stderr) == (status, b"", b"")


def test_mixed(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "mixed")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")


def test_nothing(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "nothing")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def test_hashargs(server: RemctlTestEnvironment) -> None:
    args = ["one", "", "two words", "caf\u00e9", "", "\u2603"]
    done = run_cli(server, "test", "hashargs", *args)
    assert done.returncode == 0
    assert done.stdout == hashargs_output(args)


def test_hashargs_none(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "hashargs")
    assert done.stdout == hashargs_output([])


def test_hashargs_many(server: RemctlTestEnvironment) -> None:
    args = [("" if i % 7 == 0 else f"arg{i}") for i in range(1000)]
    done = run_cli(server, "test", "hashargs", *args)
    assert done.stdout == hashargs_output(args)


def test_hashstdin(server: RemctlTestEnvironment) -> None:
    data = "some data \u00ff for standard input"
    done = run_cli(server, "test", "hashstdin", "ignored", data)
    assert (done.returncode, done.stdout) == (0, hashstdin_output(data))


def test_stream_small(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "stream", "100000")
    assert done.returncode == 0
    assert done.stdout == stream_bytes(100000)


def test_stream_hash(server: RemctlTestEnvironment) -> None:
    length = 3 * 1024 * 1024 + 17
    done = run_cli(server, "test", "stream", str(length))
    assert len(done.stdout) == length
    assert hashlib.sha256(done.stdout).hexdigest() == stream_sha256(length)


def test_stream_zero(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "stream", "0")
    assert (done.returncode, done.stdout) == (0, b"")


def test_sleep(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "sleep", "0.2")
    assert (done.returncode, done.stdout) == (0, b"slept\n")


def test_denied(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "denied")
    assert done.returncode == 255
    assert done.stderr == b"Access denied\n"


def test_unknown_command(server: RemctlTestEnvironment) -> None:
    done = run_cli(server, "test", "no-such-subcommand")
    assert done.returncode == 255
    assert done.stderr == b"Unknown command\n"


# -- restarting remctld -------------------------------------------------------


def test_restart_keeps_port(server: RemctlTestEnvironment) -> None:
    port, pid = server.port, server.remctld_pid
    assert pid is not None
    server.restart()
    assert server.port == port
    assert server.remctld_pid != pid
    assert not pid_alive(pid)
    done = run_cli(server, "test", "echo", "after", "restart")
    assert done.stdout == b"after restart\n"


def test_restart_cuts_running_command(server: RemctlTestEnvironment) -> None:
    argv = [REMCTL_CLI, "-p", str(server.port), "-s", server.principal]
    slow = subprocess.Popen(
        [*argv, server.host, "test", "sleep", "30"],
        env=server.subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Wait until remctld has forked the command (its log names it); on a
        # loaded machine that can take seconds, and going on without it
        # would test a refused connection instead.
        deadline = time.monotonic() + 60
        while b"test sleep 30" not in Path(server.remctld_log).read_bytes():
            assert time.monotonic() < deadline, "remctld never ran the command"
            time.sleep(0.02)
        server.restart()
        # Which end of the cut the client sees first is a race: either
        # remctld reports the killed command (status 255) or the connection
        # closes under it (remctl(1) exits 1 with a message).  Both end the
        # 30-second command at once.
        status = slow.wait(timeout=10)
        assert status in (1, 255), status
        if status == 1:
            assert slow.stderr is not None
            assert b"remctl:" in slow.stderr.read()
    finally:
        slow.kill()
        slow.communicate()
    assert run_cli(server, "test", "echo", "ok").stdout == b"ok\n"


def test_stop_and_start(server: RemctlTestEnvironment) -> None:
    try:
        server.stop_remctld()
        assert not server.running
        done = run_cli(server, "test", "echo", "x")
        assert done.returncode != 0
        assert b"cannot connect" in done.stderr
    finally:
        server.start_remctld()
    assert server.running
    assert run_cli(server, "test", "echo", "back").stdout == b"back\n"


# -- setup, teardown and failures ---------------------------------------------


def test_close_stops_everything() -> None:
    env = RemctlTestEnvironment(config_text="")
    with env:
        tmpdir = env.tmpdir
        pids = [env.kdc_pid, env.remctld_pid]
        assert all(pid is not None and pid_alive(pid) for pid in pids)
    assert not any(pid is not None and pid_alive(pid) for pid in pids)
    assert not os.path.exists(tmpdir)
    env.close()  # idempotent


def test_failed_remctld_stops_kdc(tmp_path: Path) -> None:
    env = RemctlTestEnvironment(config_text="", remctld="/bin/false")
    with pytest.raises(RemctlTestError, match="remctld failed to start"):
        env.start()
    kdc_pid = env.kdc_pid
    assert kdc_pid is not None
    assert not pid_alive(kdc_pid)
    assert not os.path.exists(env.tmpdir)


def test_missing_remctld() -> None:
    env = RemctlTestEnvironment(config_text="", remctld="/nonexistent/remctld")
    with pytest.raises(MissingProgramsError, match="remctl-server") as info:
        env.start()
    assert info.value.missing == ["remctld"]
    assert env.kdc_pid is None


def test_unrunnable_script(tmp_path: Path) -> None:
    env = RemctlTestEnvironment(
        config_text="test x @SCRIPTS@/missing ANYUSER\n", scripts=tmp_path
    )
    with pytest.raises(RemctlTestError, match="missing does not exist"):
        env.start()
    assert env.kdc_pid is None


def test_busy_ports_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port taken by a stranger between picking and binding is retried."""
    from remctl.testing import ports

    real_free_port = ports.free_port
    strangers: list[socket.socket] = []
    calls: list[int] = []

    def racy_free_port(host: str, udp: bool = False) -> int:
        calls.append(1)
        if len(calls) not in (1, 3):  # the first pick for the KDC and remctld
            return real_free_port(host, udp)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind((host, 0))
        tcp.listen()
        dgram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dgram.bind((host, tcp.getsockname()[1]))
        strangers.extend([tcp, dgram])
        return int(tcp.getsockname()[1])

    monkeypatch.setattr(ports, "free_port", racy_free_port)
    try:
        with RemctlTestEnvironment(
            SERVER_DIR / "remctl.conf.in", SERVER_DIR / "scripts"
        ) as env:
            taken = {s.getsockname()[1] for s in strangers}
            assert len(taken) == 2
            assert env.kdc_port not in taken
            assert env.port not in taken
            done = run_cli(env, "test", "echo", "retried")
            assert done.stdout == b"retried\n"
    finally:
        for stranger in strangers:
            stranger.close()


def test_pytest_plugin_is_opt_in() -> None:
    """The installed distribution declares no pytest11 entry point, as the
    plugin's documentation says: pytest loads the plugin only when asked."""
    from importlib.metadata import distribution

    declared = [ep for ep in distribution("remctl").entry_points]
    assert [ep for ep in declared if ep.group == "pytest11"] == []
    assert [ep.group for ep in declared] == ["console_scripts"]


def test_pytest_plugin(tmp_path: Path) -> None:
    """remctl.pytest_plugin's remctl_server fixture, in a pytest of its own."""
    (tmp_path / "pytest.ini").write_text(
        textwrap.dedent(
            f"""\
            [pytest]
            remctl_conf = {SERVER_DIR / "remctl.conf.in"}
            remctl_scripts = {SERVER_DIR / "scripts"}
            """
        )
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            f"""\
            import os, subprocess

            def test_echo(remctl_server):
                assert os.environ["KRB5CCNAME"] == remctl_server.ccache
                done = subprocess.run(
                    [{REMCTL_CLI!r}, "-p", str(remctl_server.port),
                     "-s", remctl_server.principal, remctl_server.host,
                     "test", "echo", "plugin"],
                    capture_output=True, check=True)
                assert done.stdout == b"plugin\\n"
            """
        )
    )
    import remctl

    package_root = str(Path(remctl.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [package_root, *filter(None, [env.get("PYTHONPATH")])]
    )
    for name in ("KRB5_CONFIG", "KRB5CCNAME"):
        env.pop(name, None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "remctl.pytest_plugin",
            "-p",
            "no:cacheprovider",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
