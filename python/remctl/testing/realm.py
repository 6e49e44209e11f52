"""A private MIT Kerberos realm: configuration files, database, principals
with keytabs, tickets, and the KDC, all in one directory."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Mapping

from . import ports
from .daemon import Daemon, tail, wait_until_ready
from .errors import RemctlTestError

__all__ = ["KerberosRealm"]

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

_START_ATTEMPTS = 5  # fresh ports tried when the KDC fails to start


class KerberosRealm:
    """A realm whose files live in ``directory`` and whose KDC listens on
    ``host``.

    ``programs`` maps the names of :data:`~remctl.testing.programs.
    REQUIRED_PROGRAMS` to their paths; ``timeout`` bounds each program run
    and the KDC's start.  :meth:`create` builds the database and starts the
    KDC; :meth:`stop` stops it.  The directory is the caller's to remove.
    """

    def __init__(
        self,
        directory: str,
        programs: Mapping[str, str],
        *,
        realm: str,
        host: str,
        timeout: float,
    ) -> None:
        self.directory = directory
        self.realm = realm
        self.host = host
        self._programs = dict(programs)
        self._timeout = timeout
        self._kdc: Daemon | None = None
        self._kdc_port: int | None = None

    # -- files and processes -------------------------------------------------

    def path(self, name: str) -> str:
        """The path of file ``name`` in the realm's directory."""
        return os.path.join(self.directory, name)

    @property
    def krb5_config(self) -> str:
        """Path of the realm's krb5.conf (the value for ``KRB5_CONFIG``)."""
        return self.path("krb5.conf")

    @property
    def kdc_config(self) -> str:
        """Path of the KDC's kdc.conf (``KRB5_KDC_PROFILE``)."""
        return self.path("kdc.conf")

    @property
    def kdc_log(self) -> str:
        """The KDC's log file (its stdout and stderr go to kdc.out beside it)."""
        return self.path("kdc.log")

    @property
    def kdc_port(self) -> int | None:
        """The KDC's port (TCP and UDP), None until it has started."""
        return self._kdc_port

    @property
    def kdc_pid(self) -> int | None:
        """Pid of the current (or last) KDC process, None before any."""
        return self._kdc.pid if self._kdc is not None else None

    def program_env(self) -> dict[str, str]:
        """The environment for Kerberos programs and daemons of this realm:
        ``os.environ`` without anything pointing at another realm."""
        env = {k: v for k, v in os.environ.items() if k not in _KRB5_VARIABLES}
        env["KRB5_CONFIG"] = self.krb5_config
        env["KRB5_KDC_PROFILE"] = self.kdc_config
        env["KRB5RCACHEDIR"] = self.path("rcache")
        env["KRB5CCNAME"] = "FILE:" + self.path("krb5cc_unused")
        return env

    # -- life cycle ----------------------------------------------------------

    def create(self, principals: list[tuple[str, str]]) -> None:
        """Create the database with ``principals``, each a (principal,
        keytab path) pair given a random key, then start the KDC."""
        os.mkdir(self.path("rcache"))
        os.mkdir(self.path("db"))
        with open(self.path("db/kadm5.acl"), "w", encoding="utf-8"):
            pass
        kdc_port = ports.free_port(self.host, udp=True)
        self._write_config(kdc_port)
        master_password = secrets.token_hex(16)
        self.run(
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
        for principal, keytab in principals:
            self.add_principal(principal, keytab)
            if not os.path.isfile(keytab) or os.path.getsize(keytab) == 0:
                raise RemctlTestError(f"kadmin.local wrote no keytab for {principal}")
        self._start_kdc(kdc_port)

    def stop(self) -> None:
        """Stop the KDC, if it was started."""
        if self._kdc is not None:
            self._kdc.stop()

    # -- principals and tickets ----------------------------------------------

    def add_principal(self, principal: str, keytab: str) -> None:
        """Create ``principal`` with a random key, written to ``keytab``."""
        self.kadmin(f"addprinc -randkey {principal}")
        self.kadmin(f"ktadd -k {keytab} {principal}")

    def kadmin(self, query: str) -> None:
        """Run one kadmin.local query on the database."""
        argv = [self._programs["kadmin.local"], "-r", self.realm, "-q", query]
        self.run(argv, "kadmin.local")

    def kinit(self, ccache: str, principal: str, keytab: str) -> None:
        """Get tickets for ``principal`` from ``keytab`` into ``ccache``."""
        argv = [self._programs["kinit"], "-k", "-t", keytab, "-c", ccache, principal]
        self.run(argv, "kinit")

    def run(self, argv: list[str], what: str) -> None:
        """Run a Kerberos program; raise RemctlTestError with its output if it
        fails or outlasts the timeout."""
        try:
            done = subprocess.run(
                argv,
                env=self.program_env(),
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

    # -- internals -----------------------------------------------------------

    def _write_config(self, kdc_port: int) -> None:
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
        database_name = {self.path("db/principal")}
        key_stash_file = {self.path("db/stash")}
        acl_file = {self.path("db/kadm5.acl")}
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

    def _start_kdc(self, port: int) -> None:
        argv = [self._programs["krb5kdc"], "-n", "-r", self.realm]
        for attempt in range(_START_ATTEMPTS):
            if attempt:
                port = ports.free_port(self.host, udp=True)
                self._write_config(port)
            self._kdc = Daemon(
                "krb5kdc", argv, self.program_env(), self.path("kdc.out")
            )
            ready = wait_until_ready(
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
            + tail(self.kdc_log)
        )
