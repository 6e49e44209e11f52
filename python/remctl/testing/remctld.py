"""remctld in stand-alone mode on a free loopback port, with a remctl.conf
and a keytab; stopped and started again on the same port."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from . import ports
from .daemon import Daemon, wait_until_ready
from .errors import RemctlTestError
from .realm import KerberosRealm

__all__ = ["Remctld", "check_executables"]

_START_ATTEMPTS = 5  # fresh ports tried when remctld fails to start


def check_executables(config: str) -> None:
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


class Remctld:
    """remctld serving ``config`` with ``keytab``, logging to ``log``.

    It runs with the realm's environment plus ``server_env``, bound to the
    realm's host.  :meth:`start` picks a free port; :meth:`stop` and
    :meth:`start_again` keep that port.
    """

    def __init__(
        self,
        program: str,
        realm: KerberosRealm,
        *,
        config: str,
        keytab: str,
        log: str,
        server_env: Mapping[str, str],
        debug: bool,
        timeout: float,
    ) -> None:
        self._program = program
        self._realm = realm
        self.host = realm.host
        self.config = config
        self.keytab = keytab
        self.log = log
        self._server_env = dict(server_env)
        self._debug = debug
        self._timeout = timeout
        self._daemon: Daemon | None = None
        self._port: int | None = None

    @property
    def port(self) -> int | None:
        """The port remctld listens on, None before it has started."""
        return self._port

    @property
    def pid(self) -> int | None:
        """Pid of the current (or last) remctld process, None before any."""
        return self._daemon.pid if self._daemon is not None else None

    @property
    def running(self) -> bool:
        """Whether remctld is running."""
        return self._daemon is not None and self._daemon.alive()

    def start(self) -> None:
        """Start remctld on a free port, trying fresh ports a few times."""
        for _ in range(_START_ATTEMPTS):
            port = ports.free_port(self.host)
            if self._spawn(port):
                self._port = port
                return
        assert self._daemon is not None
        raise RemctlTestError(
            f"remctld failed to start after {_START_ATTEMPTS} attempts; "
            + self._daemon.describe_failure()
        )

    def start_again(self) -> None:
        """Start remctld again on the same port; no-op if running."""
        if self.running:
            return
        assert self._port is not None
        deadline = time.monotonic() + self._timeout
        while True:
            if self._spawn(self._port):
                return
            # The old listener can linger for a moment: retry until timeout.
            assert self._daemon is not None
            if time.monotonic() > deadline:
                raise RemctlTestError(
                    f"remctld could not start again on port {self._port}; "
                    + self._daemon.describe_failure()
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop remctld and everything it forked (open connections included)."""
        if self._daemon is not None:
            self._daemon.stop()

    def _argv(self, port: int) -> list[str]:
        argv = [
            self._program,
            "-m",
            "-F",
            "-S",
            "-p",
            str(port),
            "-b",
            self.host,
            "-f",
            self.config,
            "-k",
            self.keytab,
        ]
        if self._debug:
            argv.append("-d")
        return argv

    def _spawn(self, port: int) -> bool:
        env = self._realm.program_env()
        env.update(self._server_env)
        self._daemon = Daemon("remctld", self._argv(port), env, self.log)
        if wait_until_ready(self._daemon, self.host, port, self._timeout):
            return True
        self._daemon.stop()
        return False
