"""Worker for purepy-remctl (PyPI), a pure-Python client on python-gssapi.

Run with the interpreter of the virtualenv it is installed in.  Its open()
imports a principal given as a string as a host-based service name, so the
server principal is passed as a gssapi.Name of Kerberos principal type.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _workloads  # after the path insert above


class PurepyAdapter:
    def __init__(self):
        import gssapi
        import purepy_remctl

        self.gssapi = gssapi
        self.purepy = purepy_remctl

    def describe(self):
        from importlib import metadata

        return {
            "module": self.purepy.__file__,
            "version": metadata.version("purepy-remctl"),
            "gssapi_module": metadata.version("gssapi"),
            "gssapi": _workloads.loaded_libraries("libgssapi"),
            "python": sys.version.split()[0],
        }

    def _name(self, principal):
        return self.gssapi.Name(principal, self.gssapi.NameType.kerberos_principal)

    def connect(self, host, port, principal):
        return self.purepy.Remctl(host, port, self._name(principal))

    def command(self, conn, args):
        conn.command(args)

    def output(self, conn):
        out = conn.output()
        return out.type, out.output, out.stream, out.status, out.error

    def close(self, conn):
        conn.close()

    def simple(self, host, port, principal, args):
        result = self.purepy.remctl(host, port, self._name(principal), args)
        return result.stdout, result.stderr, result.status


if __name__ == "__main__":
    _workloads.main(PurepyAdapter)
