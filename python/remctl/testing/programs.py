"""The programs remctl.testing runs, where they are, and which packages
provide them when they are missing."""

from __future__ import annotations

import os
import shutil
from typing import Union

from .errors import RemctlTestError

__all__ = [
    "EXTRA_PATH",
    "REQUIRED_PROGRAMS",
    "MissingProgramsError",
    "StrPath",
    "find_programs",
]

#: A file system path as accepted by the constructor.
StrPath = Union[str, "os.PathLike[str]"]

#: Programs needed, each with (Debian/Ubuntu package, Fedora/RHEL package).
REQUIRED_PROGRAMS: dict[str, tuple[str, str]] = {
    "krb5kdc": ("krb5-kdc", "krb5-server"),
    "kdb5_util": ("krb5-kdc", "krb5-server"),
    "kadmin.local": ("krb5-admin-server", "krb5-server"),
    "kinit": ("krb5-user", "krb5-workstation"),
    "remctld": ("remctl-server", "remctl-server"),
}

# KDC programs live in sbin, which is often not on an ordinary user's PATH.
EXTRA_PATH = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class MissingProgramsError(RemctlTestError):
    """Kerberos KDC programs or remctld are not installed.

    ``missing`` lists the program names that were not found.
    """

    # Its public name, as before remctl.testing became a package.
    __module__ = "remctl.testing"

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        debian = sorted(
            {REQUIRED_PROGRAMS[p][0] for p in missing if p in REQUIRED_PROGRAMS}
        )
        redhat = sorted(
            {REQUIRED_PROGRAMS[p][1] for p in missing if p in REQUIRED_PROGRAMS}
        )
        message = (
            "remctl.testing needs programs that are not installed: "
            + ", ".join(missing)
            + ". Install them: on Debian/Ubuntu `apt-get install "
            + " ".join(debian or ["remctl-server"])
            + "`, on Fedora/RHEL `dnf install "
            + " ".join(redhat or ["remctl-server"])
            + "`"
            + (" (remctl-server is in EPEL on RHEL)" if "remctld" in missing else "")
            + "."
        )
        super().__init__(message)


def find_programs(remctld: StrPath | None = None) -> dict[str, str]:
    """Return the absolute path of every program in :data:`REQUIRED_PROGRAMS`.

    Programs are looked up on ``PATH`` and then in the usual sbin directories.
    ``remctld`` may name a specific remctld binary instead.  Raises
    :class:`MissingProgramsError` naming the packages to install when any is
    missing.
    """
    search = os.pathsep.join(
        [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
        + list(EXTRA_PATH)
    )
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in REQUIRED_PROGRAMS:
        if name == "remctld" and remctld is not None:
            given = os.fspath(remctld)
            usable = os.path.isfile(given) and os.access(given, os.X_OK)
            path: str | None = given if usable else None
        else:
            path = shutil.which(name, path=search)
        if path is None:
            missing.append(name)
        else:
            found[name] = os.path.abspath(path)
    if missing:
        raise MissingProgramsError(missing)
    return found
