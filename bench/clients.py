"""Setting up the clients compared: our package on a library built from
this checkout (or given), Debian's module, purepy-remctl in its own
virtualenv, Debian's command-line client; the gss_unwrap floor program; and
the realm harness (remctl.testing) from this checkout."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from settings import (
    BENCH,
    CLI,
    DEBIAN_MODULE,
    PUREPY_REQUIREMENT,
    REPO,
    SYSTEM_PYTHON,
    WORKERS,
    log,
)


@dataclass
class Client:
    name: str
    argv: list = field(default_factory=list)  # interpreter and worker script
    env: dict = field(default_factory=dict)  # set on top of the realm's env
    unset: tuple = ()  # variables removed from the worker's environment
    problem: str | None = None  # why it cannot run
    info: dict = field(default_factory=dict)


def cache_dir(args) -> str:
    if args.cache_dir:
        return args.cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "remctl-bench")


def build_library(build_dir: str) -> str:
    """Build the checkout's C library with CMake (Release); return its path."""
    log(f"building libremctl.so.1 in {build_dir}")
    steps = [
        ["cmake", "-S", REPO, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"],
        ["cmake", "--build", build_dir],
    ]
    for step in steps:
        done = subprocess.run(
            step,
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(step)} failed:\n{done.stdout.decode(errors='replace')}"
            )
    for root, _, files in os.walk(build_dir):
        if "libremctl.so.1" in files and "CMakeFiles" not in root:
            return os.path.join(root, "libremctl.so.1")
    raise RuntimeError(f"no libremctl.so.1 under {build_dir} after the build")


def build_floor(cache: str) -> str:
    """Compile bench/gss_unwrap_floor.c against the host's GSS-API library."""
    source = os.path.join(BENCH, "gss_unwrap_floor.c")
    program = os.path.join(cache, "gss_unwrap_floor")
    if os.path.exists(program) and os.path.getmtime(program) >= os.path.getmtime(
        source
    ):
        return program
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc) for bench/gss_unwrap_floor.c")
    step = [compiler, "-O2", "-o", program, source, "-lgssapi_krb5"]
    done = subprocess.run(
        step, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(step)} failed (it needs the GSS-API headers: apt-get install "
            f"libkrb5-dev):\n{done.stdout.decode(errors='replace')}"
        )
    return program


def setup_ours(args, cache: str) -> Client:
    client = Client("ours")
    script = os.path.join(WORKERS, "ours.py")
    if args.ours_python:
        client.argv = [args.ours_python, script]
        client.unset = ("PYTHONPATH", "REMCTL_LIBRARY")
        return client
    library = args.library or os.environ.get("REMCTL_LIBRARY")
    if not library:
        library = build_library(os.path.join(cache, "build"))
    client.argv = [args.python, script]
    client.env = {
        "PYTHONPATH": os.path.join(REPO, "python"),
        "REMCTL_LIBRARY": os.path.abspath(library),
    }
    return client


def setup_debian() -> Client:
    client = Client("debian")
    if not os.path.exists(SYSTEM_PYTHON) or not os.path.exists(DEBIAN_MODULE):
        client.problem = f"{DEBIAN_MODULE} not found: apt-get install python3-pyremctl"
        return client
    # -I: no PYTHONPATH, no user site; the worker also checks what it imported.
    client.argv = [SYSTEM_PYTHON, "-I", os.path.join(WORKERS, "debian.py")]
    client.unset = ("PYTHONPATH", "REMCTL_LIBRARY", "LD_LIBRARY_PATH", "LD_PRELOAD")
    return client


def default_python() -> str:
    """The interpreter for the Python clients: Debian's module needs the
    system one, and the others run on it too, so that the comparison is of
    the clients, not of two builds of CPython."""
    if os.access(SYSTEM_PYTHON, os.X_OK):
        return SYSTEM_PYTHON
    return sys.executable


def purepy_venv(cache: str, base_python: str) -> tuple:
    """The virtualenv with purepy-remctl: (python path, problem or None)."""
    key = hashlib.sha256(os.path.realpath(base_python).encode()).hexdigest()[:10]
    venv = os.path.join(cache, f"purepy-venv-{key}")
    python = os.path.join(venv, "bin", "python")
    probe = [python, "-I", "-c", "import purepy_remctl, gssapi"]
    if (
        os.path.exists(python)
        and subprocess.run(probe, check=False, capture_output=True).returncode == 0
    ):
        return python, None
    log(f"creating a virtualenv for {PUREPY_REQUIREMENT} in {venv}")
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [base_python, "-m", "venv", venv],
        [python, "-m", "pip", "install", "--quiet", PUREPY_REQUIREMENT],
    ]
    for step in steps:
        try:
            done = subprocess.run(
                step,
                check=False,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=900,
            )
        except subprocess.TimeoutExpired:
            return python, f"{' '.join(step)} timed out"
        if done.returncode != 0:
            tail = done.stdout.decode(errors="replace")[-2000:]
            return python, (
                f"{' '.join(step)} failed (python-gssapi builds against "
                f"libkrb5-dev):\n{tail}"
            )
    if subprocess.run(probe, check=False, capture_output=True).returncode != 0:
        return python, "purepy_remctl does not import after installation"
    return python, None


def setup_purepy(cache: str, base_python: str) -> Client:
    client = Client("purepy")
    python, problem = purepy_venv(cache, base_python)
    client.problem = problem
    client.argv = [python, "-I", os.path.join(WORKERS, "purepy.py")]
    client.unset = ("PYTHONPATH", "REMCTL_LIBRARY")
    return client


def setup_cli() -> Client:
    client = Client("cli")
    if not os.access(CLI, os.X_OK):
        client.problem = f"{CLI} not found: apt-get install remctl-client"
        return client
    client.argv = [sys.executable, os.path.join(WORKERS, "cli.py")]
    client.env = {"REMCTL_BENCH_CLI": CLI}
    return client


def load_harness(clients: dict):
    """remctl.testing.RemctlTestEnvironment from this checkout.

    The harness needs only the standard library, but importing it through
    the package loads the C library; if that fails (say, the library under
    test is broken), load the subpackage on its own, so that the failure
    is reported as the client's, in the table.
    """
    if "ours" in clients and "REMCTL_LIBRARY" in clients["ours"].env:
        os.environ.setdefault("REMCTL_LIBRARY", clients["ours"].env["REMCTL_LIBRARY"])
    sys.path.insert(0, os.path.join(REPO, "python"))
    try:
        from remctl.testing import RemctlTestEnvironment
    except ImportError as exc:
        log(
            f"importing remctl.testing through the package failed ({exc}); "
            "loading the python/remctl/testing package by itself"
        )
        # The subpackage imports only its own modules (relatively), so it
        # loads under another name without the parent package.
        package = os.path.join(REPO, "python", "remctl", "testing")
        spec = importlib.util.spec_from_file_location(
            "_bench_remctl_testing",
            os.path.join(package, "__init__.py"),
            submodule_search_locations=[package],
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module.RemctlTestEnvironment
    return RemctlTestEnvironment


def setup_clients(names: list[str], args, cache: str) -> dict[str, Client]:
    """Set up the named clients; raises RuntimeError, OSError or
    SubprocessError when something they all need cannot be built."""
    clients = {}
    for name in names:
        if name == "ours":
            clients[name] = setup_ours(args, cache)
        elif name == "debian":
            clients[name] = setup_debian()
        elif name == "purepy":
            clients[name] = setup_purepy(cache, args.python)
        elif name == "cli":
            clients[name] = setup_cli()
    return clients
