"""Find and load the C library, libremctl.so.1.

The library normally sits inside the installed package, next to this file;
it is found from ``__file__`` rather than through importlib.resources, which
would add pathlib and zipfile to every import (about 10 ms) for nothing: a
shared library inside a zip archive cannot be loaded anyway.
Setting ``$REMCTL_LIBRARY`` to the path of another ``libremctl.so.1`` (for
example a system one) loads that instead.
"""

from __future__ import annotations

import ctypes
import os

ENVIRONMENT_VARIABLE = "REMCTL_LIBRARY"
SONAME = "libremctl.so.1"


def library_path() -> str:
    """Return the path of the C library this package will load."""
    override = os.environ.get(ENVIRONMENT_VARIABLE)
    if override:
        return override
    return os.path.join(os.path.dirname(os.path.realpath(__file__)), SONAME)


def load_library() -> ctypes.CDLL:
    """Load the C library, or raise ImportError saying what failed and why.

    ctypes releases the GIL around every call into a CDLL, so threads can
    run remctl commands in parallel.
    """
    path = library_path()
    try:
        return ctypes.CDLL(path)
    except OSError as exc:
        raise ImportError(
            f"cannot load the remctl C library {path}: {exc}"
            f" (set {ENVIRONMENT_VARIABLE} to the path of a working {SONAME})"
        ) from exc
