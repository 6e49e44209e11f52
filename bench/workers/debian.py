"""Worker for Debian's C-extension module (python3-pyremctl).

Run with the system interpreter in isolated mode (``/usr/bin/python3 -I``),
so PYTHONPATH and user site-packages cannot bring in our package.  The module
is imported from /usr/lib/python3/dist-packages explicitly, and the worker
refuses to run if what got imported is anything else, or if the libremctl it
loaded is not the system one.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _workloads  # after the path insert above

DIST_PACKAGES = "/usr/lib/python3/dist-packages"


class DebianAdapter(_workloads.RemctlModuleAdapter):
    def __init__(self):
        sys.path.insert(0, DIST_PACKAGES)
        import remctl

        module = os.path.realpath(remctl.__file__)
        if os.path.dirname(module) != DIST_PACKAGES:
            raise RuntimeError(f"imported {module}, not Debian's remctl module")
        self.remctl = remctl
        libraries = _workloads.loaded_libraries("libremctl")
        if not libraries or any(not lib.startswith("/usr/lib") for lib in libraries):
            raise RuntimeError(
                f"Debian's module loaded {libraries}, not the system libremctl"
            )
        self.libraries = libraries

    def describe(self):
        import _remctl

        return {
            "module": self.remctl.__file__,
            "extension": _remctl.__file__,
            "library": self.libraries,
            "gssapi": _workloads.loaded_libraries("libgssapi"),
            "python": sys.version.split()[0],
        }


if __name__ == "__main__":
    _workloads.main(DebianAdapter)
