"""Running the system's programs when the suite itself runs under qemu.

scripts/test-platforms.sh runs the suite with an arm64 Debian root's
python3 under qemu user-mode emulation: QEMU_LD_PREFIX names that root, and
qemu looks up every path the emulated process opens in the root first.  A
program the tests start is different: the kernel finds it on the host, so
``/usr/bin/remctl`` would be the host's x86_64 one, which cannot load the
arm64 library under test.  These helpers give the root's programs instead,
and turn the root's paths that /proc/PID/maps shows back into the paths
the emulated processes see.  Outside emulation they change nothing.
"""

from __future__ import annotations

import os


def emulated_root() -> str | None:
    """The emulated system's root directory, or None when not emulated."""
    root = os.environ.get("QEMU_LD_PREFIX", "").rstrip("/")
    return root or None


def system_program(path: str) -> str:
    """What to execute for the system program at absolute path."""
    root = emulated_root()
    if root is not None and os.path.exists(root + path):
        return root + path
    return path


def as_seen_inside(path: str) -> str:
    """A path from /proc/PID/maps as the emulated processes name it."""
    root = emulated_root()
    if root is not None and path.startswith(root + "/"):
        return path[len(root) :]
    return path
