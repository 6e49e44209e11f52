"""The package loads its own libremctl.so.1, never another one on the host.

An installed wheel must work on a host that has no remctl, and must not pick
up a system ``libremctl.so.1`` (Debian's libremctl1, say) when the host has
one: the library that ends up mapped into the process is the copy inside the
package. Checked in a fresh process, through /proc/self/maps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import remctl

MAPPED_SCRIPT = """
import json
import remctl
remctl.Remctl().close()
with open("/proc/self/maps") as maps:
    paths = {line.split(None, 5)[5].strip() for line in maps if "/" in line}
mapped = sorted(path for path in paths if "libremctl" in path)
print(json.dumps({"package": remctl.__file__, "mapped": mapped}))
"""


@pytest.mark.skipif(
    bool(os.environ.get("REMCTL_LIBRARY")),
    reason="REMCTL_LIBRARY chooses another library on purpose",
)
@pytest.mark.skipif(
    not Path("/proc/self/maps").exists(), reason="needs Linux /proc/self/maps"
)
def test_loads_the_package_copy() -> None:
    package_root = str(Path(remctl.__file__).resolve().parent.parent)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LD_PRELOAD", "REMCTL_LIBRARY")
    }
    env["PYTHONPATH"] = package_root
    process = subprocess.run(
        [sys.executable, "-c", MAPPED_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    found = json.loads(process.stdout)
    own = Path(found["package"]).resolve().parent / "libremctl.so.1"
    assert [str(Path(path).resolve()) for path in found["mapped"]] == [str(own)]


@pytest.mark.skipif(
    not os.environ.get("REMCTL_TEST_INSTALLED_PREFIX"),
    reason="REMCTL_TEST_INSTALLED_PREFIX not set (scripts/test-matrix.sh sets it)",
)
def test_tested_package_is_the_installed_one() -> None:
    """Under scripts/test-matrix.sh: the suite runs the wheel in the venv."""
    prefix = Path(os.environ["REMCTL_TEST_INSTALLED_PREFIX"]).resolve()
    package = Path(remctl.__file__).resolve()
    assert prefix in package.parents, f"{package} is not inside {prefix}"
    assert Path(sys.prefix).resolve() == prefix


def test_version_written_once() -> None:
    """The installed distribution's version is remctl.__version__: the build
    reads it from python/remctl/__init__.py (pyproject.toml declares the
    version dynamic), so the two cannot disagree."""
    from importlib.metadata import version

    assert version("remctl") == remctl.__version__
