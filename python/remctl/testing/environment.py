"""RemctlTestEnvironment: a throwaway realm and a remctld serving a given
remctl.conf, set up and torn down together."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import RemctlTestError
from .programs import StrPath, find_programs
from .realm import KerberosRealm
from .remctld import Remctld, check_executables

if TYPE_CHECKING:
    from typing_extensions import Self

    from .backends import PythonBackend

__all__ = ["RemctlTestEnvironment"]


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
        backends: :class:`~remctl.testing.PythonBackend` programs; their
            lines are added to remctl.conf, after the template's.
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

    # Its public name, as before remctl.testing became a package.
    __module__ = "remctl.testing"

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
        backends: Iterable[PythonBackend] = (),
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
        self._backends = list(backends)
        self._debug = debug
        self._timeout = timeout
        self._keep_tmpdir = keep_tmpdir

        self._tmpdir: str | None = None
        self._realm: KerberosRealm | None = None
        self._remctld: Remctld | None = None
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
        port = self._remctld.port if self._remctld is not None else None
        where = f"{self.host}:{port}" if port is not None else "not started"
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
        programs = find_programs(self._remctld_override)
        atexit.register(self.close)
        try:
            self._tmpdir = tempfile.mkdtemp(prefix="remctl-test-")
            self._realm = KerberosRealm(
                self._tmpdir,
                programs,
                realm=self.realm,
                host=self.host,
                timeout=self._timeout,
            )
            self._realm.create(
                [
                    (self.principal, self.service_keytab),
                    (self.user_principal, self.user_keytab),
                ]
            )
            self._realm.kinit(self.ccache, self.user_principal, self.user_keytab)
            config = self._substitute(config) + "".join(
                backend.install(self.tmpdir, f"backend-{number}")
                for number, backend in enumerate(self._backends, 1)
            )
            with open(self.remctl_config, "w", encoding="utf-8") as handle:
                handle.write(config)
            self._remctld = Remctld(
                programs["remctld"],
                self._realm,
                config=self.remctl_config,
                keytab=self.service_keytab,
                log=self.remctld_log,
                server_env=self._server_env,
                debug=self._debug,
                timeout=self._timeout,
            )
            self._remctld.start()
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
                if self._realm is not None:
                    self._realm.stop()
            finally:
                if self._tmpdir is not None and not self._keep_tmpdir:
                    shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- remctld control ----------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether remctld is running."""
        return self._remctld is not None and self._remctld.running

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
        assert self._remctld is not None
        self._remctld.start_again()

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
        assert self._realm is not None
        self._realm.add_principal(principal, keytab)
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
        assert self._realm is not None
        self._realm.kinit(
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
        port = self._remctld.port if self._remctld is not None else None
        if port is None:
            raise RemctlTestError("remctld has no port yet")
        return port

    @property
    def kdc_port(self) -> int:
        """The KDC's port (TCP and UDP) on :attr:`host`."""
        self._require_started()
        port = self._realm.kdc_port if self._realm is not None else None
        if port is None:
            raise RemctlTestError("the KDC has no port yet")
        return port

    @property
    def tmpdir(self) -> str:
        """The temporary directory holding every file of the environment."""
        if self._tmpdir is None:
            raise RemctlTestError("the environment has not been started")
        return self._tmpdir

    @property
    def krb5_config(self) -> str:
        """Path of the realm's krb5.conf (the value for ``KRB5_CONFIG``)."""
        return self._started_realm().krb5_config

    @property
    def kdc_config(self) -> str:
        """Path of the KDC's kdc.conf (``KRB5_KDC_PROFILE``)."""
        return self._started_realm().kdc_config

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
        return self._started_realm().kdc_log

    @property
    def remctld_pid(self) -> int | None:
        """Pid of the current (or last) remctld process, None before any."""
        return self._remctld.pid if self._remctld is not None else None

    @property
    def kdc_pid(self) -> int | None:
        """Pid of the current (or last) KDC process, None before any."""
        return self._realm.kdc_pid if self._realm is not None else None

    # -- internals -----------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started or self._tmpdir is None:
            raise RemctlTestError("the environment has not been started")
        if self._closed:
            raise RemctlTestError("the environment has been closed")

    def _path(self, name: str) -> str:
        return os.path.join(self.tmpdir, name)

    def _started_realm(self) -> KerberosRealm:
        if self._realm is None:
            raise RemctlTestError("the environment has not been started")
        return self._realm

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
        check_executables(self._substitute(text, tmpdir="/nonexistent"))
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
