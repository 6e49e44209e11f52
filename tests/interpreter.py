"""What the suite must know about the interpreter it runs on.

CPython (free-threaded builds too) frees an object as soon as its last
reference goes; PyPy frees it only when its garbage collector runs. Tests
that measure memory, or check that something was freed, call
:func:`settle_garbage` first, so that on PyPy they see what is still
referenced rather than what the collector has not swept yet.
"""

from __future__ import annotations

import gc
import sys

#: Whether dropping the last reference frees an object at once.
REFCOUNTED = sys.implementation.name == "cpython"


def settle_garbage() -> None:
    """Free unreachable objects now where that is not immediate (PyPy)."""
    if not REFCOUNTED:
        gc.collect()
