"""A throwaway Kerberos realm and remctld, for testing code that uses remctl.

:class:`RemctlTestEnvironment` builds, in a new temporary directory, a private
MIT Kerberos realm (its own ``krb5.conf`` and ``kdc.conf``, database, a KDC
running as a child process on a free loopback port), a service principal with
a keytab, a user principal with a keytab and a ticket cache, and then starts
``remctld`` in stand-alone mode on another free loopback port with the
``remctl.conf`` and command scripts you provide.  Everything it starts is
stopped, by process id, when the environment is closed, also when setup fails
half-way::

    from remctl.testing import RemctlTestEnvironment

    with RemctlTestEnvironment("tests/server/remctl.conf.in",
                               "tests/server/scripts") as env:
        with env.apply_environ():        # KRB5_CONFIG and KRB5CCNAME
            result = remctl.remctl(env.host, env.port, env.principal,
                                   ["test", "echo", "hello"])

The configuration file is a template: ``@SCRIPTS@`` is replaced by the
absolute path of the scripts directory, ``@REALM@`` by the realm,
``@USER@`` by the user principal and ``@TMPDIR@`` by the environment's
temporary directory.  A line looks like::

    test echo @SCRIPTS@/echo ANYUSER

remctld runs the executable as ``EXECUTABLE SUBCOMMAND ARGS...`` (argv[0] is
the full path): the first argument a script receives is its subcommand
(``echo`` above), never the command (``test``), which is in
``$REMCTL_COMMAND``.  With the ``stdin=last`` option the last argument is fed
to standard input instead; when the subcommand is the only argument, remctld
3.18 feeds the subcommand itself.

It needs the MIT KDC programs and remctld (on Debian and Ubuntu: ``apt-get
install krb5-kdc krb5-admin-server krb5-user remctl-server``; on Fedora and
RHEL with EPEL: ``dnf install krb5-server krb5-workstation remctl-server``).
Without them, starting raises :class:`MissingProgramsError` naming them.

A pytest plugin with fixtures built on this class is in
:mod:`remctl.pytest_plugin`.  This module needs only the standard library.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "REQUIRED_PROGRAMS",
    "MissingProgramsError",
    "RemctlTestEnvironment",
    "RemctlTestError",
    "find_programs",
]

#: A file system path as accepted by the constructor.
StrPath = Union[str, "os.PathLike[str]"]

#: Programs needed, each with (Debian/Ubuntu package, Fedora/RHEL package).
REQUIRED_PROGRAMS: dict[str, tuple[str, str]] = {
    "krb5kdc": ("krb5-kdc", "krb5-server"),
    "kdb5_util": ("krb5-kdc", "krb5-server"),
    "kadmin.local": ("krb5-admin-server", "krb5-server"),
    "kinit": ("krb5-user", "krb5-workstation"),
    "remctld": ("remctl-server", "remctl-server"),
}

# KDC programs live in sbin, which is often not on an ordinary user's PATH.
_EXTRA_PATH = ("/usr/local/sbin", "/usr/sbin", "/sbin")

# Variables that would point our Kerberos programs at someone else's realm.
_KRB5_VARIABLES = (
    "KRB5_CONFIG",
    "KRB5_KDC_PROFILE",
    "KRB5CCNAME",
    "KRB5_KTNAME",
    "KRB5_CLIENT_KTNAME",
    "KRB5RCACHEDIR",
    "KRB5RCACHENAME",
    "KRB5RCACHETYPE",
)

_START_ATTEMPTS = 5  # fresh ports tried when a daemon fails to start
_STOP_TIMEOUT = 5.0  # seconds a daemon gets to exit after SIGTERM
_GRACE = 0.3  # seconds its leftover helpers get before SIGKILL
_LOG_TAIL = 4000  # characters of a daemon's log quoted in an error


class RemctlTestError(RuntimeError):
    """The test environment could not be set up or operated."""


class MissingProgramsError(RemctlTestError):
    """Kerberos KDC programs or remctld are not installed.

    ``missing`` lists the program names that were not found.
    """

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        debian = sorted(
            {REQUIRED_PROGRAMS[p][0] for p in missing if p in REQUIRED_PROGRAMS}
        )
        redhat = sorted(
            {REQUIRED_PROGRAMS[p][1] for p in missing if p in REQUIRED_PROGRAMS}
        )
        message = (
            "remctl.testing needs programs that are not installed: "
            + ", ".join(missing)
            + ". Install them: on Debian/Ubuntu `apt-get install "
            + " ".join(debian or ["remctl-server"])
            + "`, on Fedora/RHEL `dnf install "
            + " ".join(redhat or ["remctl-server"])
            + "`"
            + (" (remctl-server is in EPEL on RHEL)" if "remctld" in missing else "")
            + "."
        )
        super().__init__(message)


def find_programs(remctld: StrPath | None = None) -> dict[str, str]:
    """Return the absolute path of every program in :data:`REQUIRED_PROGRAMS`.

    Programs are looked up on ``PATH`` and then in the usual sbin directories.
    ``remctld`` may name a specific remctld binary instead.  Raises
    :class:`MissingProgramsError` naming the packages to install when any is
    missing.
    """
    search = os.pathsep.join(
        [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
        + list(_EXTRA_PATH)
    )
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in REQUIRED_PROGRAMS:
        if name == "remctld" and remctld is not None:
            given = os.fspath(remctld)
            usable = os.path.isfile(given) and os.access(given, os.X_OK)
            path: str | None = given if usable else None
        else:
            path = shutil.which(name, path=search)
        if path is None:
            missing.append(name)
        else:
            found[name] = os.path.abspath(path)
    if missing:
        raise MissingProgramsError(missing)
    return found


def _free_port(host: str, udp: bool = False) -> int:
    """A loopback port that is free now (for TCP, and for UDP when asked)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            if not udp:
                return port
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dgram:
                    dgram.bind((host, port))
            except OSError:
                continue
            return port
    raise RemctlTestError(f"cannot find a free port on {host}")


def _tail(path: str, limit: int = _LOG_TAIL) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no output)"
    return text.strip() or "(no output)"


def _group_has_live_members(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member that is not a zombie.

    Orphaned members that exited stay zombies until init reaps them, which
    can take a while; they hold nothing, so they do not count.  Without
    /proc, any member counts.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            return True
    return False


class _Daemon:
    """A child process in its own process group, logging to a file.

    It is stopped by signalling its process group (whose id is the child's
    pid), so helpers it forked, such as remctld's per-connection children and
    the commands they run, are stopped with it.
    """

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], log: str
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                argv,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.pid = self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def _signal_group(self, sig: int) -> bool:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def stop(self) -> None:
        """Stop the child and everything left in its process group.

        SIGTERM goes to the whole group; the child gets a few seconds to exit.
        Members that outlive it (remctld's per-connection children ignore
        SIGTERM while they wait for the next command) get a short grace
        period, then SIGKILL.  The child is always reaped.
        """
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        grace = time.monotonic() + _GRACE
        deadline = time.monotonic() + _STOP_TIMEOUT
        killed = False
        while _group_has_live_members(self.pid):
            now = time.monotonic()
            if not killed and now > grace:
                self._signal_group(signal.SIGKILL)
                killed = True
            elif now > deadline:
                raise RemctlTestError(
                    f"processes of {self.name} (process group {self.pid}) "
                    "survived SIGKILL"
                )
            time.sleep(0.01)

    def describe_failure(self) -> str:
        status = self.process.poll()
        state = "is running" if status is None else f"exited with status {status}"
        return f"{self.name} (pid {self.pid}) {state}; its output:\n{_tail(self.log)}"


def _listening_inodes(port: int) -> set[str] | None:
    """Socket inodes listening on TCP ``port``; None without /proc/net."""
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for row in rows:
            fields = row.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN.
            listening = len(fields) > 9 and fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes if readable else None


def _owns_listener(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` listens on TCP ``port``; None if unknowable."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return None
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for descriptor in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_until_ready(
    daemon: _Daemon,
    host: str,
    port: int,
    timeout: float,
    log: str | None = None,
    marker: str | None = None,
) -> bool:
    """Wait until ``daemon`` itself listens on ``port``; False if it exits.

    Ready means: the process holds a listening socket on the port (checked
    through /proc, so a stranger on the port does not count; where /proc is
    unavailable, the port accepting a connection), and ``marker`` has
    appeared in the file ``log`` when both are given.  Raises
    :class:`RemctlTestError` with the daemon's output after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while daemon.alive():
        ready = True
        if log is not None and marker is not None:
            try:
                with open(log, encoding="utf-8", errors="replace") as handle:
                    ready = marker in handle.read()
            except OSError:
                ready = False
        if ready:
            owns = _owns_listener(daemon.pid, port)
            ready = _accepts(host, port) if owns is None else owns
        if ready:
            return daemon.alive()
        if time.monotonic() > deadline:
            raise RemctlTestError(
                f"{daemon.name} did not listen on {host}:{port} within "
                f"{timeout:g} s; {daemon.describe_failure()}"
            )
        time.sleep(0.01)
    return False


def _check_executables(config: str) -> None:
    """Fail early when remctl.conf names an executable that cannot run."""
    problems: list[str] = []
    logical: list[str] = []
    pending = ""
    for raw in config.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        logical.append(pending + raw)
        pending = ""
    if pending:
        logical.append(pending)
    for line in logical:
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("#") or fields[0] == "include":
            continue
        program = fields[2]
        if program.startswith("/") and not (
            os.path.isfile(program) and os.access(program, os.X_OK)
        ):
            state = "is not executable" if os.path.exists(program) else "does not exist"
            problems.append(f"{fields[0]} {fields[1]}: {program} {state}")
    if problems:
        raise RemctlTestError(
            "remctl.conf names programs that cannot run: " + "; ".join(problems)
        )


class RemctlTestEnvironment:
    """A throwaway MIT Kerberos realm and a remctld serving a given remctl.conf.

    Parameters:
        config: path of the remctl.conf template (see the module docstring for
            the ``@SCRIPTS@``, ``@REALM@``, ``@USER@``, ``@TMPDIR@``
            placeholders).
        scripts: directory substituted for ``@SCRIPTS@``; defaults to the
            directory holding ``config``.
        config_text: the template as a string, instead of ``config``.  With
            neither, remctld runs with an empty configuration.
        realm: the realm name.
        service: the service principal without realm; the full name is
            :attr:`principal`.
        user: the user principal without realm; see :attr:`user_principal`.
        host: the loopback address everything binds to.
        remctld: path of the remctld binary, instead of searching for it.
        server_env: extra environment variables for remctld and its commands.
        debug: pass ``-d`` to remctld (verbose log, see :attr:`remctld_log`).
        timeout: seconds allowed for each setup step and daemon start.
        keep_tmpdir: leave the temporary directory in place after closing.

    Use it as a context manager, or call :meth:`start` and :meth:`close`.
    Once started, the attributes below describe the environment.

    Attributes:
        host: address of remctld and the KDC, ``"127.0.0.1"``.
        realm: the realm name, ``"REMCTL.TEST"`` by default.
        principal: remctld's service principal, ``"host/127.0.0.1@REALM"``;
            clients pass it explicitly.
        user_principal: the user whose tickets are in :attr:`ccache`.
    """

    def __init__(
        self,
        config: StrPath | None = None,
        scripts: StrPath | None = None,
        *,
        config_text: str | None = None,
        realm: str = "REMCTL.TEST",
        service: str = "host/127.0.0.1",
        user: str = "testuser",
        host: str = "127.0.0.1",
        remctld: StrPath | None = None,
        server_env: Mapping[str, str] | None = None,
        debug: bool = False,
        timeout: float = 30.0,
        keep_tmpdir: bool = False,
    ) -> None:
        if config is not None and config_text is not None:
            raise ValueError("give either config or config_text, not both")
        self._config_path = (
            os.path.abspath(os.fspath(config)) if config is not None else None
        )
        if scripts is not None:
            self._scripts: str | None = os.path.abspath(os.fspath(scripts))
        elif self._config_path is not None:
            self._scripts = os.path.dirname(self._config_path)
        else:
            self._scripts = None
        self._config_text = config_text
        self.host = host
        self.realm = realm
        self.principal = f"{service}@{realm}"
        self.user_principal = f"{user}@{realm}"
        self._remctld_override = remctld
        self._server_env = dict(server_env or {})
        self._debug = debug
        self._timeout = timeout
        self._keep_tmpdir = keep_tmpdir

        self._programs: dict[str, str] = {}
        self._tmpdir: str | None = None
        self._kdc: _Daemon | None = None
        self._remctld: _Daemon | None = None
        self._kdc_port: int | None = None
        self._port: int | None = None
        self._started = False
        self._closed = False

    # -- life cycle ---------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f"{self.host}:{self._port}" if self._port is not None else "not started"
        return f"<RemctlTestEnvironment {self.principal} at {where}>"

    def start(self) -> Self:
        """Create the realm, start the KDC, get tickets, start remctld.

        On any failure everything already started is stopped and the
        temporary directory removed before the exception propagates.
        """
        if self._started:
            raise RemctlTestError("this environment has already been started")
        self._started = True
        config = self._read_config()
        self._programs = find_programs(self._remctld_override)
        atexit.register(self.close)
        try:
            self._tmpdir = tempfile.mkdtemp(prefix="remctl-test-")
            os.mkdir(self._path("rcache"))
            self._create_realm()
            self._kinit(self.ccache, self.user_principal, self.user_keytab)
            with open(self.remctl_config, "w", encoding="utf-8") as handle:
                handle.write(self._substitute(config))
            self._start_remctld_on_free_port()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop remctld and the KDC and remove the temporary directory.

        Safe to call more than once.
        """
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            if self._remctld is not None:
                self._remctld.stop()
        finally:
            try:
                if self._kdc is not None:
                    self._kdc.stop()
            finally:
                if self._tmpdir is not None and not self._keep_tmpdir:
                    shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- remctld control ----------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether remctld is running."""
        return self._remctld is not None and self._remctld.alive()

    def stop_remctld(self) -> None:
        """Stop remctld and everything it forked (open connections included).

        The port stays reserved for :meth:`start_remctld`, in the sense that
        nothing else of ours will take it.
        """
        if self._remctld is not None:
            self._remctld.stop()

    def start_remctld(self) -> None:
        """Start remctld again on the same :attr:`port`; no-op if running."""
        self._require_started()
        if self.running:
            return
        assert self._port is not None
        deadline = time.monotonic() + self._timeout
        while True:
            if self._spawn_remctld(self._port):
                return
            # The old listener can linger for a moment: retry until timeout.
            assert self._remctld is not None
            if time.monotonic() > deadline:
                raise RemctlTestError(
                    f"remctld could not start again on port {self._port}; "
                    + self._remctld.describe_failure()
                )
            time.sleep(0.1)

    def restart(self) -> None:
        """Stop remctld and start it again on the same port.

        Connections to the old server are cut (their handler processes are
        stopped too), so a client must reconnect for its next command.
        """
        self.stop_remctld()
        self.start_remctld()

    # -- environment for clients --------------------------------------------

    @property
    def environ(self) -> dict[str, str]:
        """``KRB5_CONFIG`` and ``KRB5CCNAME`` for clients, as a new dict."""
        return {"KRB5_CONFIG": self.krb5_config, "KRB5CCNAME": self.ccache}

    def subprocess_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) updated with :attr:`environ`."""
        env = dict(os.environ if base is None else base)
        env.update(self.environ)
        return env

    @contextlib.contextmanager
    def apply_environ(self) -> Iterator[dict[str, str]]:
        """Set :attr:`environ` in ``os.environ`` for the ``with`` block.

        The previous values (or their absence) are restored on exit.
        """
        values = self.environ
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield values
        finally:
            for name, old in saved.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old

    # -- extra principals and caches -----------------------------------------

    def add_principal(self, name: str) -> tuple[str, str]:
        """Create principal ``name`` (realm added if absent) with a keytab.

        Returns ``(principal, keytab_path)``.
        """
        self._require_started()
        principal = name if "@" in name else f"{name}@{self.realm}"
        keytab = self._path("keytab-" + secrets.token_hex(4))
        self._kadmin(f"addprinc -randkey {principal}")
        self._kadmin(f"ktadd -k {keytab} {principal}")
        return principal, keytab

    def kinit(
        self,
        ccache: StrPath,
        principal: str | None = None,
        keytab: StrPath | None = None,
    ) -> str:
        """Get tickets into another cache; returns its name (``FILE:path``).

        ``ccache`` is a path (or a ``FILE:`` name); the principal and keytab
        default to :attr:`user_principal` and :attr:`user_keytab`.
        """
        self._require_started()
        name = os.fspath(ccache)
        if not name.startswith("FILE:"):
            name = "FILE:" + os.path.abspath(name)
        self._kinit(
            name,
            principal or self.user_principal,
            os.fspath(keytab) if keytab is not None else self.user_keytab,
        )
        return name

    # -- where things are ---------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port remctld listens on (kept across :meth:`restart`)."""
        self._require_started()
        if self._port is None:
            raise RemctlTestError("remctld has no port yet")
        return self._port

    @property
    def kdc_port(self) -> int:
        """The KDC's port (TCP and UDP) on :attr:`host`."""
        self._require_started()
        if self._kdc_port is None:
            raise RemctlTestError("the KDC has no port yet")
        return self._kdc_port

    @property
    def tmpdir(self) -> str:
        """The temporary directory holding every file of the environment."""
        if self._tmpdir is None:
            raise RemctlTestError("the environment has not been started")
        return self._tmpdir

    @property
    def krb5_config(self) -> str:
        """Path of the realm's krb5.conf (the value for ``KRB5_CONFIG``)."""
        return self._path("krb5.conf")

    @property
    def kdc_config(self) -> str:
        """Path of the KDC's kdc.conf (``KRB5_KDC_PROFILE``)."""
        return self._path("kdc.conf")

    @property
    def ccache_path(self) -> str:
        """Plain file path of the user's ticket cache."""
        return self._path("krb5cc_user")

    @property
    def ccache(self) -> str:
        """The user's ticket cache *name*, ``"FILE:" + ccache_path``.

        Usable as ``KRB5CCNAME`` and with ``Remctl.set_ccache``.
        """
        return "FILE:" + self.ccache_path

    @property
    def user_keytab(self) -> str:
        """Keytab of :attr:`user_principal`."""
        return self._path("user.keytab")

    @property
    def service_keytab(self) -> str:
        """Keytab of :attr:`principal`, the one remctld uses."""
        return self._path("service.keytab")

    @property
    def remctl_config(self) -> str:
        """The remctl.conf remctld reads (the template, substituted)."""
        return self._path("remctl.conf")

    @property
    def remctld_log(self) -> str:
        """File collecting remctld's standard output and error."""
        return self._path("remctld.log")

    @property
    def kdc_log(self) -> str:
        """The KDC's log file (its stdout and stderr go to kdc.out beside it)."""
        return self._path("kdc.log")

    @property
    def remctld_pid(self) -> int | None:
        """Pid of the current (or last) remctld process, None before any."""
        return self._remctld.pid if self._remctld is not None else None

    @property
    def kdc_pid(self) -> int | None:
        """Pid of the current (or last) KDC process, None before any."""
        return self._kdc.pid if self._kdc is not None else None

    # -- internals -----------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started or self._tmpdir is None:
            raise RemctlTestError("the environment has not been started")
        if self._closed:
            raise RemctlTestError("the environment has been closed")

    def _path(self, name: str) -> str:
        return os.path.join(self.tmpdir, name)

    def _read_config(self) -> str:
        if self._config_path is not None:
            try:
                with open(self._config_path, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise RemctlTestError(
                    f"cannot read remctl.conf template: {exc}"
                ) from exc
        else:
            text = self._config_text or ""
        if "@SCRIPTS@" in text and self._scripts is None:
            raise RemctlTestError(
                "remctl.conf uses @SCRIPTS@ but no scripts directory was given"
            )
        # Check with a stand-in tmpdir: only @SCRIPTS@ paths matter here.
        _check_executables(self._substitute(text, tmpdir="/nonexistent"))
        return text

    def _substitute(self, text: str, tmpdir: str | None = None) -> str:
        values = {
            "@SCRIPTS@": self._scripts or "",
            "@REALM@": self.realm,
            "@USER@": self.user_principal,
            "@TMPDIR@": tmpdir if tmpdir is not None else self.tmpdir,
        }
        for key, value in values.items():
            text = text.replace(key, value)
        return text

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _KRB5_VARIABLES}
        env["KRB5_CONFIG"] = self.krb5_config
        env["KRB5_KDC_PROFILE"] = self.kdc_config
        env["KRB5RCACHEDIR"] = self._path("rcache")
        env["KRB5CCNAME"] = "FILE:" + self._path("krb5cc_unused")
        return env

    def _run(self, argv: list[str], what: str) -> None:
        try:
            done = subprocess.run(
                argv,
                env=self._base_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RemctlTestError(
                f"{what} timed out after {self._timeout:g} s: {argv}"
            ) from exc
        except OSError as exc:
            raise RemctlTestError(f"{what} could not run: {exc}") from exc
        output = done.stdout.decode("utf-8", "replace").strip()
        if done.returncode != 0:
            raise RemctlTestError(
                f"{what} failed with status {done.returncode}: {' '.join(argv)}\n{output}"
            )

    def _kadmin(self, query: str) -> None:
        argv = [self._programs["kadmin.local"], "-r", self.realm, "-q", query]
        self._run(argv, "kadmin.local")

    def _kinit(self, ccache: str, principal: str, keytab: str) -> None:
        argv = [self._programs["kinit"], "-k", "-t", keytab, "-c", ccache, principal]
        self._run(argv, "kinit")

    def _write_krb5_config(self, kdc_port: int) -> None:
        realm, host = self.realm, self.host
        krb5_conf = f"""\
[libdefaults]
    default_realm = {realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    ticket_lifetime = 24h
    forwardable = false

[realms]
    {realm} = {{
        kdc = {host}:{kdc_port}
    }}

[domain_realm]
    {host} = {realm}
    localhost = {realm}
"""
        kdc_conf = f"""\
[kdcdefaults]
    kdc_listen = {host}:{kdc_port}
    kdc_tcp_listen = {host}:{kdc_port}

[realms]
    {realm} = {{
        database_name = {self._path("db/principal")}
        key_stash_file = {self._path("db/stash")}
        acl_file = {self._path("db/kadm5.acl")}
        kdc_listen = {host}:{kdc_port}
        kdc_tcp_listen = {host}:{kdc_port}
        max_life = 24h
        max_renewable_life = 0
    }}

[logging]
    kdc = FILE:{self.kdc_log}
"""
        with open(self.krb5_config, "w", encoding="utf-8") as handle:
            handle.write(krb5_conf)
        with open(self.kdc_config, "w", encoding="utf-8") as handle:
            handle.write(kdc_conf)

    def _create_realm(self) -> None:
        os.mkdir(self._path("db"))
        with open(self._path("db/kadm5.acl"), "w", encoding="utf-8"):
            pass
        kdc_port = _free_port(self.host, udp=True)
        self._write_krb5_config(kdc_port)
        master_password = secrets.token_hex(16)
        self._run(
            [
                self._programs["kdb5_util"],
                "-r",
                self.realm,
                "create",
                "-s",
                "-P",
                master_password,
            ],
            "kdb5_util create",
        )
        for principal, keytab in (
            (self.principal, self.service_keytab),
            (self.user_principal, self.user_keytab),
        ):
            self._kadmin(f"addprinc -randkey {principal}")
            self._kadmin(f"ktadd -k {keytab} {principal}")
            if not os.path.isfile(keytab) or os.path.getsize(keytab) == 0:
                raise RemctlTestError(f"kadmin.local wrote no keytab for {principal}")
        self._start_kdc(kdc_port)

    def _start_kdc(self, port: int) -> None:
        argv = [self._programs["krb5kdc"], "-n", "-r", self.realm]
        for attempt in range(_START_ATTEMPTS):
            if attempt:
                port = _free_port(self.host, udp=True)
                self._write_krb5_config(port)
            self._kdc = _Daemon(
                "krb5kdc", argv, self._base_env(), self._path("kdc.out")
            )
            ready = _wait_until_ready(
                self._kdc,
                self.host,
                port,
                self._timeout,
                self.kdc_log,
                "commencing operation",
            )
            if ready:
                self._kdc_port = port
                return
            self._kdc.stop()
        assert self._kdc is not None
        raise RemctlTestError(
            f"krb5kdc failed to start after {_START_ATTEMPTS} attempts; "
            + self._kdc.describe_failure()
            + "\nKDC log:\n"
            + _tail(self.kdc_log)
        )

    def _remctld_argv(self, port: int) -> list[str]:
        argv = [
            self._programs["remctld"],
            "-m",
            "-F",
            "-S",
            "-p",
            str(port),
            "-b",
            self.host,
            "-f",
            self.remctl_config,
            "-k",
            self.service_keytab,
        ]
        if self._debug:
            argv.append("-d")
        return argv

    def _spawn_remctld(self, port: int) -> bool:
        env = self._base_env()
        env.update(self._server_env)
        self._remctld = _Daemon(
            "remctld", self._remctld_argv(port), env, self.remctld_log
        )
        if _wait_until_ready(self._remctld, self.host, port, self._timeout):
            return True
        self._remctld.stop()
        return False

    def _start_remctld_on_free_port(self) -> None:
        for _ in range(_START_ATTEMPTS):
            port = _free_port(self.host)
            if self._spawn_remctld(port):
                self._port = port
                return
        assert self._remctld is not None
        raise RemctlTestError(
            f"remctld failed to start after {_START_ATTEMPTS} attempts; "
            + self._remctld.describe_failure()
        )
