"""Both directions of the libremctl.so.1 ABI, with programs nobody here wrote.

(a) Debian's ``remctl`` command-line client (remctl-client) and Debian's
    Python module (python3-pyremctl, under the system Python) run on our
    libremctl.so.1, put first on the loader path with LD_LIBRARY_PATH naming
    a directory that holds only our library. Each run is checked to have
    really mapped ours (the loader's list, /proc/PID/maps), and what the
    programs print and
    return is compared with the same programs on Debian's own libremctl1.
    These tests are ``ours_only``: with REMCTL_LIBRARY naming another
    library there is no library of ours to put under the programs.

(b) This package on Debian's libremctl1 (REMCTL_LIBRARY): the scenario of
    tests/legacy_scenario.py gives what the old module gives, except for the
    documented differences (README, "Compatibility"), which are checked
    here one by one. The whole suite also runs on Debian's libremctl1, see
    scripts/test-compat.sh and the ``ours_only`` mark in conftest.py.

Needs the Debian packages remctl-client, python3-pyremctl and libremctl1
(scripts/install-system-deps.sh installs them); without them these tests
fail, they do not skip.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import remctl
from conftest import library_under_test
from emulation import as_seen_inside, system_program
from remctl import _library

TESTS_DIR = Path(__file__).resolve().parent
SCENARIO = TESTS_DIR / "legacy_scenario.py"
PACKAGE_ROOT = Path(remctl.__file__).resolve().parent.parent

# Under emulation, the emulated root's (tests/emulation.py).
REMCTL_CLI = system_program("/usr/bin/remctl")
SYSTEM_PYTHON = system_program("/usr/bin/python3")
OLD_MODULE_DIR = "/usr/lib/python3/dist-packages/"
DEBIAN_PACKAGES = "remctl-client python3-pyremctl libremctl1"

# Where the C ABI's plain char is unsigned (AArch64, 32-bit ARM, POWER, IBM Z).
UNSIGNED_CHAR_MACHINES = ("aarch64", "armv7l", "armv8l", "ppc64", "ppc64le", "s390x")

# Variables that would change which library or module a child loads.
LOADER_VARIABLES = ("LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH", "PYTHONHOME")

OURS_ONLY_A = pytest.mark.ours_only(
    reason="runs Debian's programs on our libremctl.so.1; with REMCTL_LIBRARY "
    "naming another library there is no library of ours to run them on"
)


def debian_library() -> str:
    """The path of Debian's libremctl.so.1 (package libremctl1)."""
    found = sorted(
        glob.glob("/usr/lib/*/libremctl.so.1") + glob.glob("/usr/lib*/libremctl.so.1")
    )
    if not found:
        pytest.fail(
            f"Debian's libremctl.so.1 not found: install {DEBIAN_PACKAGES} "
            "(scripts/install-system-deps.sh)",
            pytrace=False,
        )
    return found[0]


@pytest.fixture(scope="module")
def debian() -> str:
    """Debian's library, after checking the Debian programs are installed."""
    missing = [p for p in (REMCTL_CLI, SYSTEM_PYTHON) if not os.access(p, os.X_OK)]
    if not missing:
        probe = [SYSTEM_PYTHON, "-I", "-c", "import remctl, _remctl"]
        if subprocess.run(probe, capture_output=True, check=False).returncode:
            missing.append("the remctl module of the system Python")
    if missing:
        pytest.fail(
            f"needs {DEBIAN_PACKAGES} (missing: {', '.join(missing)}); "
            "run scripts/install-system-deps.sh",
            pytrace=False,
        )
    return debian_library()


@pytest.fixture(scope="module")
def our_library_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only a copy of the libremctl.so.1 under test."""
    directory = tmp_path_factory.mktemp("ourlib")
    shutil.copy2(_library.library_path(), directory / "libremctl.so.1")
    return directory


def child_env(server: Any, our_dir: Path | None) -> dict[str, str]:
    """The test realm's environment, on our library (our_dir) or Debian's."""
    env = server.subprocess_env()
    for name in (*LOADER_VARIABLES, "REMCTL_LIBRARY"):
        env.pop(name, None)
    if our_dir is not None:
        env["LD_LIBRARY_PATH"] = str(our_dir)
    return env


def cli(server: Any, our_dir: Path | None, *args: str) -> tuple[int, bytes, bytes]:
    argv = [REMCTL_CLI, *args]
    done = subprocess.run(
        argv,
        env=child_env(server, our_dir),
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def libremctl_in_maps(pid: int) -> list[str]:
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        paths = {line.split(None, 5)[5].strip() for line in maps if "/" in line}
    return sorted(as_seen_inside(path) for path in paths if "libremctl" in path)


def scenario(server: Any, python: list[str], env: dict[str, str]) -> dict[str, str]:
    args = [str(SCENARIO), server.host, str(server.port), server.principal]
    done = subprocess.run(
        [*python, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    result["maps"] = repr(sorted(map(as_seen_inside, ast.literal_eval(result["maps"]))))
    return result


def old_module(server: Any, our_dir: Path | None) -> dict[str, str]:
    """The scenario on Debian's module, isolated (-I) from this package."""
    result = scenario(server, [SYSTEM_PYTHON, "-I"], child_env(server, our_dir))
    for path in ast.literal_eval(result["modules"]):
        assert as_seen_inside(path).startswith(OLD_MODULE_DIR), result["modules"]
    return result


def this_package(server: Any, library: str | None) -> dict[str, str]:
    """The scenario on this package; library None: the one under test."""
    env = child_env(server, None)
    env["PYTHONPATH"] = str(PACKAGE_ROOT)
    if library is not None:
        env["REMCTL_LIBRARY"] = library
    elif os.environ.get("REMCTL_LIBRARY"):
        env["REMCTL_LIBRARY"] = os.environ["REMCTL_LIBRARY"]
    return scenario(server, [sys.executable], env)


@pytest.fixture(scope="module")
def old_on_debian(server: Any, debian: str) -> dict[str, str]:
    result = old_module(server, None)
    assert ast.literal_eval(result["maps"]) == [os.path.realpath(debian)]
    return result


# (a) Debian's command-line client on our library.


@OURS_ONLY_A
def test_cli_links_our_library(server: Any, debian: str, our_library_dir: Path) -> None:
    for our_dir, expected in ((our_library_dir, our_library_dir), (None, None)):
        # What ldd prints, from the program's own loader (ldd itself is a
        # script naming the host's loaders, useless under emulation).
        env = child_env(server, our_dir)
        env["LD_TRACE_LOADED_OBJECTS"] = "1"
        listing = subprocess.run(
            [REMCTL_CLI], env=env, capture_output=True, text=True, check=True
        ).stdout
        line = next(x for x in listing.splitlines() if "libremctl.so.1" in x)
        resolved = line.split("=>")[1].split("(")[0].strip()
        if expected is None:
            assert os.path.realpath(resolved) == os.path.realpath(debian), line
        else:
            assert Path(resolved).parent == expected, line


@OURS_ONLY_A
def test_cli_maps_our_library(server: Any, debian: str, our_library_dir: Path) -> None:
    """/proc/PID/maps of a running remctl: the library really loaded."""
    for our_dir in (our_library_dir, None):
        argv = [REMCTL_CLI, "-p", str(server.port), "-s", server.principal]
        argv += [server.host, "test", "sleep", "1"]
        process = subprocess.Popen(
            argv,
            env=child_env(server, our_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        mapped: list[str] = []
        try:
            deadline = time.monotonic() + 10
            while not mapped and process.poll() is None and time.monotonic() < deadline:
                mapped = libremctl_in_maps(process.pid)
                time.sleep(0.02)
        finally:
            stdout, stderr = process.communicate(timeout=60)
        assert (process.returncode, stdout, stderr) == (0, b"slept\n", b"")
        if our_dir is None:
            assert mapped == [os.path.realpath(debian)]
        else:
            assert mapped == [str(our_dir / "libremctl.so.1")]


# Each case: CLI options and command, then exit status, stdout, stderr.
CLI_CASES: dict[str, tuple[list[str], tuple[int, bytes, bytes]]] = {
    "stdout": (["test", "echo", "hello", "world"], (0, b"hello world\n", b"")),
    "stderr": (["test", "stderr", "oops"], (0, b"", b"oops\n")),
    "mixed": (["test", "mixed"], (3, b"out\n", b"err\n")),
    "status": (["test", "status", "42"], (42, b"", b"")),
    "status 200": (["test", "status", "200"], (200, b"", b"")),
    "nothing": (["test", "nothing"], (0, b"", b"")),
    "binary": (["test", "echo", "h\u00e9", ""], (0, "h\u00e9 \n".encode(), b"")),
    "unknown command": (["test", "bogus"], (255, b"", b"Unknown command\n")),
    "access denied": (["test", "denied"], (255, b"", b"Access denied\n")),
    "timeout": (
        ["-t", "1", "test", "sleep", "3"],
        (
            1,
            b"",
            b"remctl: error reading from server: error receiving token: timed out\n",
        ),
    ),
}


@OURS_ONLY_A
@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_same_as_on_debian_library(
    server: Any, debian: str, our_library_dir: Path, case: str
) -> None:
    arguments, expected = CLI_CASES[case]
    options = ["-p", str(server.port), "-s", server.principal]
    if arguments[0] == "-t":
        options, arguments = arguments[:2] + options, arguments[2:]
    argv = [*options, server.host, *arguments]
    on_debian = cli(server, None, *argv)
    on_ours = cli(server, our_library_dir, *argv)
    assert on_ours == on_debian
    assert on_ours == expected


@OURS_ONLY_A
def test_cli_connection_refused(
    server: Any, debian: str, our_library_dir: Path
) -> None:
    port = closed_port()
    argv = ["-p", str(port), "-s", server.principal, server.host, "test", "echo"]
    expected = (
        1,
        b"",
        f"remctl: cannot connect to {server.host} (port {port}): "
        "Connection refused\n".encode(),
    )
    assert cli(server, None, *argv) == expected
    assert cli(server, our_library_dir, *argv) == expected


# (a) Debian's Python module on our library.


@OURS_ONLY_A
def test_old_module_same_as_on_debian_library(
    server: Any, old_on_debian: dict[str, str], our_library_dir: Path
) -> None:
    """The same, but for exit statuses of 128 and more (see unsigned_status)."""
    on_ours = old_module(server, our_library_dir)
    assert ast.literal_eval(on_ours["maps"]) == [
        str(our_library_dir / "libremctl.so.1")
    ]
    del on_ours["maps"]
    expected = unsigned_status({k: v for k, v in old_on_debian.items() if k != "maps"})
    assert on_ours == expected


# After a failure, the next successful call clears the error: Debian's
# module reads remctl_error() after each step. Our library refuses a bad
# source address when it is set (Debian's takes it), which gives a failure
# that leaves the connection as it was.
ERROR_AFTER_SUCCESS = """
import json, sys
import remctl
host, port, principal, dead = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
seen = {}
r = remctl.Remctl()
try:
    r.open(host, dead, principal)
except remctl.RemctlError:
    seen["refused"] = r.error().split(":")[0]
def fail_setting():
    try:
        r.set_source_ip("not an address")
    except remctl.RemctlError:
        pass
r.open(host, port, principal)
seen["open"] = r.error()
fail_setting()
r.command([b"test", b"echo", b"x"])
seen["command"] = r.error()
fail_setting()
seen["output"] = (r.output()[0], r.error())
fail_setting()
seen["status"] = (r.output()[0], r.error())
fail_setting()
r.noop()
seen["noop"] = r.error()
print(json.dumps(seen))
"""


@OURS_ONLY_A
def test_old_module_error_after_success(
    server: Any, debian: str, our_library_dir: Path
) -> None:
    """python3-pyremctl's error() says "no error" after a successful open,
    command, output and noop, on our library as on Debian's."""
    expected = {
        "refused": f"cannot connect to {server.host} (port DEAD)",
        "open": "no error",
        "command": "no error",
        "output": ["output", "no error"],
        "status": ["status", "no error"],
        "noop": "no error",
    }
    for our_dir in (our_library_dir, None):
        dead = closed_port()
        argv = [SYSTEM_PYTHON, "-I", "-c", ERROR_AFTER_SUCCESS]
        argv += [server.host, str(server.port), server.principal, str(dead)]
        done = subprocess.run(
            argv,
            env=child_env(server, our_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
        seen["refused"] = seen["refused"].replace(str(dead), "DEAD")
        assert seen == expected, "our library" if our_dir else "Debian's"


# (b) This package, on the library under test and on Debian's libremctl1,
# against the old module on Debian's libremctl1.


def _tokens(text: str) -> str:
    """The old module's output tuples with absent members None, not 0."""
    value = ast.literal_eval(text)
    tokens = value if isinstance(value, list) else [value]
    fixed = []
    for kind, data, stream, status, error in tokens:
        if kind == "output":
            fixed.append((kind, data, stream, None, None))
        elif kind == "status":
            fixed.append((kind, None, None, status, None))
        elif kind == "error":
            fixed.append((kind, data, None, None, error))
        else:
            fixed.append((kind, None, None, None, None))
    return repr(fixed if isinstance(value, list) else fixed[0])


def unsigned_status(debian: dict[str, str]) -> dict[str, str]:
    """What our library gives where Debian's gives a negative exit status.

    Debian's libremctl1 stores the status octet of protocol 2 in a plain
    char, so on x86 an exit status of 200 comes back as -56; ours returns
    200. (The remctl CLI exits with the same code on either.) Where plain
    char is unsigned, Debian's returns 200 as well.
    """
    ours = dict(debian)
    if platform.machine() in UNSIGNED_CHAR_MACHINES:
        assert debian["simple status 200"] == "('RemctlSimpleResult', None, None, 200)"
        return ours
    assert debian["simple status 200"] == "('RemctlSimpleResult', None, None, -56)"
    ours["simple status 200"] = "('RemctlSimpleResult', None, None, 200)"
    ours["status 200"] = debian["status 200"].replace(", -56, ", ", 200, ")
    assert ours["status 200"] != debian["status 200"]
    return ours


def documented(old: dict[str, str], our_library: bool) -> dict[str, str]:
    """What this package must give where the old module gives old.

    Each rule is one of the differences listed in the README's
    "Compatibility" section; every other step must give the same.
    """
    new = unsigned_status(old) if our_library else dict(old)
    # 1. RemctlProtocolError carries the message as str, not bytes.
    for key, value in old.items():
        if value.startswith("raises RemctlProtocolError(b'"):
            new[key] = value.replace("RemctlProtocolError(b'", "RemctlProtocolError('")
    # 2. output() tuples: members a token type does not have are None, not 0.
    for key in ("mixed", "echo", "nothing", "status 200", "unknown", "timeout"):
        if not new[key].startswith("raises"):
            new[key] = _tokens(new[key])
    for index in (1, 2, 3):
        key = f"_remctl.remctl_output {index}"
        new[key] = _tokens(old[key])
    # 3. close() then open() works (the old module raises ValueError).
    assert old["open after close"].startswith("raises ValueError('PyCapsule")
    new["open after close"] = "None"
    assert old["echo after reopen"].startswith("raises RemctlNotOpenedError")
    new["echo after reopen"] = repr(
        [
            ("output", b"again\n", 1, None, None),
            ("status", None, None, 0, None),
            ("done", None, None, None, None),
            ("done", None, None, None, None),
        ]
    )
    # 4. The low-level module: error message str; absent status None;
    #    success flags bool (True == 1).
    assert old["_remctl.remctl unknown"] == "(b'Unknown command', None, None, 0)"
    new["_remctl.remctl unknown"] = "('Unknown command', None, None, None)"
    for key in ("_remctl.remctl_open", "_remctl.remctl_noop"):
        assert old[key] == "1"
        new[key] = "True"
    assert old["_remctl.remctl_set_timeout"] == "1"
    new["_remctl.remctl_set_timeout"] = "True"
    # 5. A failure whose cause is known raises the cause's subclass (README,
    #    "Exceptions"): still a RemctlError, and from remctl.remctl() still a
    #    RemctlProtocolError.
    causes = {
        "timeout": ("RemctlError(", "RemctlTimeoutError("),
        "open refused": ("RemctlError(", "RemctlConnectionError("),
        "simple port 1": ("RemctlProtocolError(", "RemctlProtocolConnectionError("),
    }
    for key, (base, cause) in causes.items():
        assert new[key].startswith("raises " + base), new[key]
        new[key] = new[key].replace(base, cause, 1)
    # 6. Remctl.error() is the text of the last RemctlError a method raised,
    #    also after later calls succeeded; on r that was RemctlNotOpenedError
    #    ("noop before open"). The old module returns what the library says
    #    at that moment, and never knew of RemctlNotOpenedError.
    assert old["noop before open"].startswith("raises RemctlNotOpenedError(")
    assert old["error after success"] == "'no error'"
    new["error after success"] = repr("no currently open connection")
    # Where things come from differs by construction.
    for key in ("maps", "modules", "remctl.VERSION"):
        del new[key]
    return new


@pytest.mark.parametrize("library", ["under-test", "debian"])
def test_this_package_differs_only_as_documented(
    server: Any, old_on_debian: dict[str, str], debian: str, library: str
) -> None:
    ours = this_package(server, debian if library == "debian" else None)
    maps = ast.literal_eval(ours["maps"])
    if library == "debian":
        assert maps == [os.path.realpath(debian)]
    else:
        assert maps == [os.path.realpath(_library.library_path())]
    modules = ast.literal_eval(ours["modules"])
    assert [Path(m).resolve() for m in modules] == [
        PACKAGE_ROOT / "remctl" / "__init__.py",
        PACKAGE_ROOT / "_remctl" / "__init__.py",
    ]
    for key in ("maps", "modules", "remctl.VERSION"):
        del ours[key]
    ours_under_test = library != "debian" and library_under_test()[1]
    assert ours == documented(old_on_debian, our_library=ours_under_test)


def test_library_may_keep_the_strings_given_to_open(server: Any) -> None:
    """Debian's libremctl1 keeps the host and principal pointers given to
    remctl_open and reconnects with them later (after the server closed the
    connection), so the ctypes layer must keep those strings alive as long
    as the handle may use them. Runs on whichever library is under test."""
    from remctl import _remctl

    handle = _remctl.remctl_new()
    host = "".join(list(server.host))  # a str of its own, dropped below
    principal = "".join(list(server.principal))
    assert _remctl.remctl_open(handle, host, server.port, principal)
    del host, principal
    command = [b"test", b"echo", b"x"]
    assert _remctl.remctl_commandv(handle, command)
    assert _remctl.remctl_output(handle)[0] == "output"
    assert _remctl.remctl_output(handle)[0] == "status"
    server.restart()
    # Ours reopens here; Debian's fails once ("unexpected end of file").
    if _remctl.remctl_commandv(handle, command):
        while (token := _remctl.remctl_output(handle)) and token[0] == "output":
            pass
    # Reuse the freed memory, then make Debian's library reconnect.
    junk = [bytes([0x7E]) * len(server.host) for _ in range(20000)]
    assert _remctl.remctl_commandv(handle, command), _remctl.remctl_error(handle)
    assert _remctl.remctl_output(handle) == ("output", b"x\n", 1, None, None)
    del junk
    _remctl.remctl_close(handle)
