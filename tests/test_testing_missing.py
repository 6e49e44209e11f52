"""remctl.testing when the KDC programs or remctld are not installed: a clear
error naming the packages, from the class and from the pytest plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import remctl
import remctl.testing
import remctl.testing.programs
from remctl.testing import (
    REQUIRED_PROGRAMS,
    MissingProgramsError,
    RemctlTestEnvironment,
    find_programs,
)

SERVER_DIR = Path(__file__).resolve().parent / "server"
PACKAGE_ROOT = str(Path(remctl.__file__).resolve().parents[1])


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with no programs, and no sbin directories searched either."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(remctl.testing.programs, "EXTRA_PATH", ())


@pytest.mark.usefixtures("nothing_installed")
def test_find_programs_names_every_package() -> None:
    with pytest.raises(MissingProgramsError) as info:
        find_programs()
    error = info.value
    assert error.missing == list(REQUIRED_PROGRAMS)
    message = str(error)
    assert message.startswith(
        "remctl.testing needs programs that are not installed: "
        "krb5kdc, kdb5_util, kadmin.local, kinit, remctld."
    )
    assert (
        "apt-get install krb5-admin-server krb5-kdc krb5-user remctl-server" in message
    )
    assert "dnf install krb5-server krb5-workstation remctl-server" in message
    assert "(remctl-server is in EPEL on RHEL)" in message


@pytest.mark.usefixtures("nothing_installed")
def test_environment_fails_before_starting_anything() -> None:
    env = RemctlTestEnvironment(SERVER_DIR / "remctl.conf.in", SERVER_DIR / "scripts")
    with pytest.raises(MissingProgramsError, match="krb5-kdc"), env:
        pass
    assert env.kdc_pid is None
    assert env.remctld_pid is None
    with pytest.raises(remctl.testing.RemctlTestError, match="not been started"):
        env.tmpdir  # noqa: B018 (the property raises)


def test_only_kdc_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """remctld found (given explicitly), the KDC programs not: only those named."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(remctl.testing.programs, "EXTRA_PATH", ())
    with pytest.raises(MissingProgramsError) as info:
        find_programs(remctld=sys.executable)
    assert "remctld" not in info.value.missing
    assert "remctl-server" not in str(info.value)
    assert "krb5-kdc" in str(info.value)


def test_plugin_fixture_errors_with_the_packages(tmp_path: Path) -> None:
    """The remctl_server fixture errors (does not skip) and names the package.

    With PATH pointing at an empty directory, kinit (from /usr/bin) is not
    found; the KDC programs and remctld, in the sbin directories searched
    besides PATH, may be.
    """
    (tmp_path / "pytest.ini").write_text(
        textwrap.dedent(
            f"""\
            [pytest]
            remctl_conf = {SERVER_DIR / "remctl.conf.in"}
            remctl_scripts = {SERVER_DIR / "scripts"}
            """
        )
    )
    (tmp_path / "test_user.py").write_text(
        "def test_uses_server(remctl_server):\n    pass\n"
    )
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = dict(os.environ)
    env["PATH"] = str(empty)
    env["PYTHONPATH"] = os.pathsep.join(
        [PACKAGE_ROOT, *filter(None, [env.get("PYTHONPATH")])]
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "remctl.pytest_plugin"]
        + ["-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "1 error" in output
    assert "skipped" not in output
    assert "MissingProgramsError" in output
    assert "needs programs that are not installed: " in output
    assert "kinit" in output
    assert "krb5-user" in output
