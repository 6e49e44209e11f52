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
:mod:`remctl.pytest_plugin`.  This package needs only the standard library.

Its modules, one concern each: ``programs`` (finding the programs),
``daemon`` (child processes and their readiness), ``ports``, ``realm`` (the
Kerberos realm and KDC), ``remctld``, ``environment`` (the two together),
``backends`` (Python backend programs), ``fleet`` (:class:`RemctlFleet`:
many remctld servers on loopback addresses in one environment's realm, some
refusing, silent, slow or with a stale key, for testing fan-out) and
``pytest_plugin``.

A Python program written with :mod:`remctl.backend` is served with one
argument, which writes the script that runs it and its remctl.conf lines::

    RemctlTestEnvironment(backends=[PythonBackend("user", "examples/user_backend.py")])
"""

from __future__ import annotations

from .backends import PythonBackend
from .environment import RemctlTestEnvironment
from .errors import RemctlTestError
from .fleet import FleetHost, RemctlFleet
from .programs import REQUIRED_PROGRAMS, MissingProgramsError, find_programs
from .programs import StrPath as StrPath  # the type of path arguments

__all__ = [
    "REQUIRED_PROGRAMS",
    "FleetHost",
    "MissingProgramsError",
    "PythonBackend",
    "RemctlFleet",
    "RemctlTestEnvironment",
    "RemctlTestError",
    "find_programs",
]
