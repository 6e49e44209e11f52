"""A host without a usable GSS-API library gets a clear error at open.

``import remctl`` must work without Kerberos; ``open()`` must then fail with a
RemctlError that says what was tried, what to install and how to choose
another library. The C library loads GSS-API once per process, after the TCP
connection is made and before anything is sent, so every case runs in a fresh
Python process with its own ``REMCTL_GSSAPI_LIBRARY``, and the server is a
plain TCP listener of the test's own: the client fails before it reads
anything. No Kerberos realm, remctld or GSS-API library is needed, so these
tests also run in the cibuildwheel containers.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import remctl
from remctl import _library

PRINCIPAL = "host/nowhere.invalid@INVALID"

# Prints one line per step, so a failure shows how far it got.
OPEN_SCRIPT = """
import sys
import remctl
print("imported")
host, port, principal = sys.argv[1], int(sys.argv[2]), sys.argv[3]
connection = remctl.Remctl()
try:
    connection.open(host, port, principal)
except remctl.RemctlError as exc:
    print("open:", type(exc).__name__, exc)
else:
    print("open: no error")
try:
    remctl.remctl(host, port, principal, ["test", "echo"])
except remctl.RemctlError as exc:
    print("simple:", type(exc).__name__, exc)
else:
    print("simple: no error")
"""


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def _run_open(port: int, gssapi_library: str) -> list[str]:
    """Open a connection in a fresh process; return its output lines."""
    package_root = str(Path(remctl.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, REMCTL_GSSAPI_LIBRARY=gssapi_library, PYTHONPATH=path)
    process = subprocess.run(
        [sys.executable, "-c", OPEN_SCRIPT, "127.0.0.1", str(port), PRINCIPAL],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert len(lines) == 3, process.stdout
    assert lines[0] == "imported"
    return lines


def _not_gssapi_library() -> str:
    """A shared library that loads but is not GSS-API: zlib, else our own."""
    try:
        ctypes.CDLL("libz.so.1")
    except OSError:
        return _library.library_path()
    return "libz.so.1"


def test_missing_library_names_what_to_install(listening_port: int) -> None:
    missing = "/nonexistent/lib.so"
    lines = _run_open(listening_port, missing)
    expected = (
        (lines[1], "open: RemctlError "),
        (lines[2], "simple: RemctlProtocolError "),
    )
    for line, start in expected:
        assert line.startswith(start), line
        message = line[len(start) :]
        assert missing in message
        assert "libgssapi-krb5-2" in message
        assert "krb5-libs" in message
        assert "REMCTL_GSSAPI_LIBRARY" in message


def test_library_without_gssapi_names_missing_symbol(listening_port: int) -> None:
    library = _not_gssapi_library()
    lines = _run_open(listening_port, library)
    assert lines[1].startswith("open: RemctlError "), lines[1]
    message = lines[1].split(" ", 2)[2]
    assert library in message
    assert "symbol gss_import_name" in message
    assert "REMCTL_GSSAPI_LIBRARY" in message
    assert lines[2].startswith("simple: RemctlProtocolError "), lines[2]
    assert "symbol gss_import_name" in lines[2]
