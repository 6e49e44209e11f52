"""Worker for our package: remctl on libremctl.so.1 through ctypes.

Run with the interpreter that has our package: either the checkout
(PYTHONPATH=python, REMCTL_LIBRARY=the CMake-built libremctl.so.1), or an
environment where the wheel is installed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _workloads  # after the path insert above


class OursAdapter(_workloads.RemctlModuleAdapter):
    def __init__(self):
        import remctl
        from remctl import _library

        if not hasattr(remctl._remctl, "_lib"):
            raise RuntimeError(f"{remctl.__file__} is not our ctypes package")
        self.remctl = remctl
        self.library = _library.library_path()

    def describe(self):
        return {
            "module": self.remctl.__file__,
            "version": self.remctl.__version__,
            "library": self.library,
            "gssapi": _workloads.loaded_libraries("libgssapi"),
            "python": sys.version.split()[0],
        }


if __name__ == "__main__":
    _workloads.main(OursAdapter)
