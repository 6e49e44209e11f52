"""Many remctld servers on loopback addresses, for testing fan-out.

:class:`RemctlFleet` starts, in the realm of a running
:class:`~remctl.testing.RemctlTestEnvironment`, one remctld per address
127.0.0.2, 127.0.0.3, ... (then 127.0.1.1 and so on: every 127.x.y.z
address reaches the loopback interface on Linux), all on one port.  Each
has its own host principal ``host/ADDRESS`` and keytab, so a client's
default principal ``host/<host>`` works.  Chosen hosts misbehave::

    from remctl.testing import RemctlFleet, RemctlTestEnvironment

    with RemctlTestEnvironment() as env, env.apply_environ():
        with RemctlFleet(env, 8, refuse={1}, hang={2}, slow={3}, wrong_key={4}) as fleet:
            results = remctl.run_many(fleet.addresses, ["fleet", "hello"],
                                      port=fleet.port, timeout=5)

- ``refuse``: nothing listens there (connection refused);
- ``hang``: a listener that accepts connections and never answers;
- ``slow``: remctld, but every ``fleet`` command first sleeps ``delay``
  seconds;
- ``wrong_key``: remctld with a stale key of its principal (the KDC has a
  newer one), so authentication fails.

Every server runs the ``fleet`` commands below, and the commands of the
environment's remctl.conf (included):

=========================  ===============================================
``fleet hello``            prints ``hello from ADDRESS``
``fleet mixed``            prints ``out from ADDRESS`` on standard output
                           and ``err from ADDRESS`` on standard error,
                           exits with the address's last number modulo 4
``fleet sleep SECONDS``    sleeps, prints ``slept on ADDRESS``; its start
                           and end are recorded (:meth:`command_spans`)
``fleet kib``              prints one line of 1 KiB (1023 ``x`` and a
                           newline)
=========================  ===============================================

The fleet shares the environment's KDC and temporary directory and stops
every process it started, by process group, on :meth:`close` (also when
starting fails half-way).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from .daemon import Daemon, wait_until_ready
from .environment import RemctlTestEnvironment
from .errors import RemctlTestError
from .programs import find_programs

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["FleetHost", "RemctlFleet"]

BEHAVIOURS = ("ok", "refuse", "hang", "slow", "wrong-key")

_FIRST_ADDRESS = ipaddress.IPv4Address("127.0.0.2")
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
_PORT_ATTEMPTS = 5

_FLEET_SCRIPT = """\
#!/bin/sh
# remctld runs "fleet SUBCOMMAND ARGS...": $1 is the subcommand.
host=$REMCTL_FLEET_HOST
if [ -n "$REMCTL_FLEET_DELAY" ]; then sleep "$REMCTL_FLEET_DELAY"; fi
case "$1" in
hello)
    printf 'hello from %s\\n' "$host" ;;
mixed)
    printf 'out from %s\\n' "$host"
    printf 'err from %s\\n' "$host" >&2
    exit $(( ${host##*.} % 4 )) ;;
sleep)
    printf 'start %s %s %s\\n' "$host" $$ "$(date +%s.%N)" >> "$REMCTL_FLEET_LOG"
    sleep "$2"
    printf 'end %s %s %s\\n' "$host" $$ "$(date +%s.%N)" >> "$REMCTL_FLEET_LOG"
    printf 'slept on %s\\n' "$host" ;;
kib)
    printf '%01023d\\n' 0 | tr 0 x ;;
*)
    printf 'unknown fleet command %s\\n' "$1" >&2
    exit 2 ;;
esac
"""

# Accepts connections and keeps them open, silent, until it is stopped.
_SILENT_LISTENER = """\
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(128)
held = []
while True:
    connection, _ = server.accept()
    held.append(connection)
"""


@dataclass
class FleetHost:
    """One server of the fleet."""

    index: int
    address: str
    port: int
    principal: str
    behaviour: str
    keytab: str | None
    log: str
    pid: int | None = None


def _addresses(env: RemctlTestEnvironment, count: int) -> list[str]:
    """count loopback addresses no other fleet of env has used.

    Fleets of one realm never share an address: a principal made again
    would get a new key while clients still hold tickets for the old one.
    They count up from 127.0.0.2, skipping addresses ending in .0 and .255.
    """
    record = os.path.join(env.tmpdir, "fleet-next-address")
    try:
        with open(record, encoding="ascii") as handle:
            address = ipaddress.IPv4Address(handle.read().strip())
    except FileNotFoundError:
        address = _FIRST_ADDRESS
    found: list[str] = []
    while len(found) < count:
        if address not in _LOOPBACK:
            raise RemctlTestError("no loopback addresses left for another fleet")
        if str(address).rsplit(".", 1)[1] not in ("0", "255"):
            found.append(str(address))
        address += 1
    with open(record, "w", encoding="ascii") as handle:
        handle.write(f"{address}\n")
    return found


def _port_free_everywhere(addresses: list[str], port: int) -> bool:
    for address in addresses:
        with socket.socket() as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def _fleet_port(addresses: list[str]) -> int:
    """A TCP port free on every address (nothing listens there now)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind((addresses[0], 0))
            port = int(sock.getsockname()[1])
        if _port_free_everywhere(addresses, port):
            return port
    raise RemctlTestError("cannot find a port free on every fleet address")


class RemctlFleet:
    """``count`` remctld servers (and misbehaving hosts) on loopback addresses.

    Parameters:
        env: a started RemctlTestEnvironment whose realm and KDC they share.
        count: how many hosts.
        refuse, hang, slow, wrong_key: indexes (0-based) of hosts that
            misbehave so (see the module docstring).
        delay: seconds a ``slow`` host waits before each fleet command.
        timeout: seconds allowed to setting up and starting each server.

    Attributes (once started): ``hosts`` (:class:`FleetHost` list),
    ``addresses``, ``port`` (the same on every address), ``targets``
    (``(address, port, principal)`` tuples for ``run_many``).
    """

    def __init__(
        self,
        env: RemctlTestEnvironment,
        count: int,
        *,
        refuse: Collection[int] = (),
        hang: Collection[int] = (),
        slow: Collection[int] = (),
        wrong_key: Collection[int] = (),
        delay: float = 2.0,
        timeout: float = 30.0,
    ) -> None:
        if count < 1:
            raise ValueError(f"a fleet needs at least one host, not {count}")
        self.env = env
        self.count = count
        self.delay = delay
        self._timeout = timeout
        self._behaviour = ["ok"] * count
        for behaviour, indexes in (
            ("refuse", refuse),
            ("hang", hang),
            ("slow", slow),
            ("wrong-key", wrong_key),
        ):
            for index in indexes:
                if not 0 <= index < count:
                    raise ValueError(
                        f"{behaviour} host {index} is not in 0..{count - 1}"
                    )
                if self._behaviour[index] != "ok":
                    raise ValueError(
                        f"host {index} cannot both {self._behaviour[index]} and {behaviour}"
                    )
                self._behaviour[index] = behaviour
        self.hosts: list[FleetHost] = []
        self.port = 0
        self._programs: dict[str, str] = {}
        self._program_env: dict[str, str] = {}
        self._daemons: list[Daemon] = []
        self._directory: str | None = None
        self._started = False
        self._closed = False

    # -- life cycle -----------------------------------------------------------

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
        return f"<RemctlFleet {self.count} hosts on port {self.port or '-'}>"

    def start(self) -> Self:
        """Create the principals and keytabs, start every server."""
        if self._started:
            raise RemctlTestError("this fleet has already been started")
        self._started = True
        # The environment's own programs and settings (same package).
        realm = self.env._started_realm()
        self._programs = find_programs(self.env._remctld_override)
        self._program_env = realm.program_env()
        try:
            self._directory = tempfile.mkdtemp(prefix="fleet-", dir=self.env.tmpdir)
            addresses = _addresses(self.env, self.count)
            self._write_files()
            self._create_principals(addresses)
            for attempt in range(_PORT_ATTEMPTS):
                self.port = _fleet_port(addresses)
                self.hosts = [self._host(i, a) for i, a in enumerate(addresses)]
                if self._start_servers():
                    break
                self._stop_all()
            else:
                raise RemctlTestError(
                    f"the fleet's servers could not start after {_PORT_ATTEMPTS}"
                    " attempts (their port was taken)"
                )
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every process the fleet started.  Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop_all()

    # -- where things are -----------------------------------------------------

    @property
    def addresses(self) -> list[str]:
        return [host.address for host in self.hosts]

    @property
    def targets(self) -> list[tuple[str, int, str]]:
        return [(h.address, h.port, h.principal) for h in self.hosts]

    @property
    def directory(self) -> str:
        """The fleet's directory (scripts, configuration, keytabs, logs)."""
        if self._directory is None:
            raise RemctlTestError("the fleet has not been started")
        return self._directory

    @property
    def command_log(self) -> str:
        """The file where ``fleet sleep`` records its start and end."""
        return os.path.join(self.directory, "commands.log")

    def command_spans(self) -> list[tuple[str, float, float | None]]:
        """``(address, start, end)`` of each ``fleet sleep`` (end None if running)."""
        spans: list[tuple[str, float, float | None]] = []
        where: dict[tuple[str, str], int] = {}  # (address, pid) -> its span
        try:
            with open(self.command_log, encoding="ascii") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            return spans
        for line in lines:
            event, address, pid, stamp = line.split()
            if event == "start":
                where[address, pid] = len(spans)
                spans.append((address, float(stamp), None))
            elif (address, pid) in where:
                index = where.pop((address, pid))
                spans[index] = (address, spans[index][1], float(stamp))
        return spans

    def peak_concurrent_commands(self) -> int:
        """The most ``fleet sleep`` commands that ran at the same time."""
        events = []
        for _, start, end in self.command_spans():
            events.append((start, 1))
            events.append((end if end is not None else float("inf"), -1))
        peak = current = 0
        for _, change in sorted(events):  # an end sorts before a start at a tie
            current += change
            peak = max(peak, current)
        return peak

    def open_connections(self) -> int:
        """Established TCP connections to the fleet's servers (server side).

        Counts the connections found in two consecutive reads of
        /proc/net/tcp.  One read is not atomic: a connection that closed
        while it ran and one that opened meanwhile could both appear.  One
        seen in both reads was open for the whole time between them, so the
        count never exceeds what was open at one moment.
        """
        return len(self._established() & self._established())

    def _established(self) -> set[tuple[str, str]]:
        wanted = {f"{_hex_address(h.address)}:{self.port:04X}" for h in self.hosts}
        found = set()
        with open("/proc/net/tcp", encoding="ascii") as table:
            for row in table.read().splitlines()[1:]:
                fields = row.split()
                if fields[3] == "01" and fields[1] in wanted:
                    found.add((fields[1], fields[2]))
        return found

    # -- internals ------------------------------------------------------------

    def _path(self, *names: str) -> str:
        return os.path.join(self.directory, *names)

    def _host(self, index: int, address: str) -> FleetHost:
        behaviour = self._behaviour[index]
        keytab = (
            None if behaviour in ("refuse", "hang") else self._path(f"{address}.keytab")
        )
        return FleetHost(
            index,
            address,
            self.port,
            f"host/{address}@{self.env.realm}",
            behaviour,
            keytab,
            self._path(f"{address}.log"),
        )

    def _write_files(self) -> None:
        script = self._path("fleet")
        with open(script, "w", encoding="ascii") as handle:
            handle.write(_FLEET_SCRIPT)
        os.chmod(script, 0o755)
        lines = [f"include {self.env.remctl_config}"]
        lines += [
            f"fleet {name} {script} ANYUSER"
            for name in ("hello", "mixed", "sleep", "kib")
        ]
        with open(self._path("remctl.conf"), "w", encoding="ascii") as handle:
            handle.write("\n".join(lines) + "\n")

    def _create_principals(self, addresses: list[str]) -> None:
        """One kadmin.local run for every principal and keytab."""
        queries: list[str] = []
        for index, address in enumerate(addresses):
            behaviour = self._behaviour[index]
            principal = f"host/{address}@{self.env.realm}"
            # Every host has a principal, so that clients get tickets and
            # reach the refusing or silent host before anything fails.
            queries.append(f"addprinc -randkey {principal}")
            if behaviour in ("refuse", "hang"):
                continue
            queries.append(f"ktadd -k {self._path(address + '.keytab')} {principal}")
            if behaviour == "wrong-key":
                # A second ktadd gives the KDC a new key (kvno 2); the
                # server keeps only the stale one.
                queries.append(f"ktadd -k {self._path(address + '.newer')} {principal}")
        done = subprocess.run(
            [self._programs["kadmin.local"], "-r", self.env.realm],
            input="\n".join([*queries, "quit"]) + "\n",
            env=self._program_env,
            capture_output=True,
            text=True,
            timeout=self._timeout + len(queries),
            check=False,
        )
        keytabs = [q.split()[2] for q in queries if q.startswith("ktadd")]
        if done.returncode != 0 or not all(_non_empty(path) for path in keytabs):
            output = (done.stdout + done.stderr).strip()[-2000:]
            raise RemctlTestError(
                f"kadmin.local (status {done.returncode}) did not create the fleet's"
                f" principals and keytabs: {output}"
            )

    def _start_servers(self) -> bool:
        """Start every server; False if one could not listen (port taken)."""
        env = self._program_env
        remctld = self._programs["remctld"]
        started: list[tuple[FleetHost, Daemon]] = []
        for host in self.hosts:
            if host.behaviour == "refuse":
                continue
            if host.behaviour == "hang":
                argv = [
                    sys.executable,
                    "-c",
                    _SILENT_LISTENER,
                    host.address,
                    str(host.port),
                ]
                daemon = Daemon(f"silent listener {host.address}", argv, env, host.log)
            else:
                assert host.keytab is not None
                server_env = dict(env)
                server_env["REMCTL_FLEET_HOST"] = host.address
                server_env["REMCTL_FLEET_LOG"] = self.command_log
                if host.behaviour == "slow":
                    server_env["REMCTL_FLEET_DELAY"] = f"{self.delay:g}"
                argv = [
                    remctld,
                    "-m",
                    "-F",
                    "-S",
                    "-p",
                    str(host.port),
                    "-b",
                    host.address,
                    "-f",
                    self._path("remctl.conf"),
                    "-k",
                    host.keytab,
                ]
                daemon = Daemon(f"remctld {host.address}", argv, server_env, host.log)
            self._daemons.append(daemon)
            host.pid = daemon.pid
            started.append((host, daemon))
        for host, daemon in started:
            if not wait_until_ready(daemon, host.address, host.port, self._timeout):
                return False
        return True

    def _stop_all(self) -> None:
        daemons, self._daemons = self._daemons, []
        for daemon in daemons:  # all at once first: they stop in parallel
            try:
                os.killpg(daemon.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        failures = []
        for daemon in daemons:
            try:
                daemon.stop()
            except RemctlTestError as exc:
                failures.append(str(exc))
        if failures:
            raise RemctlTestError("; ".join(failures))


def _non_empty(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def _hex_address(address: str) -> str:
    """An IPv4 address as /proc/net/tcp writes it (little-endian hex)."""
    return socket.inet_aton(address)[::-1].hex().upper()
