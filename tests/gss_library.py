"""Which GSS-API library the suite runs on, for tests that check its texts.

The wording of GSS-API errors (and sometimes the call that fails) is the
GSS-API library's, not ours: scripts/test-compat.sh runs the suite on
Heimdal's as well. Tests check what every library gives, and the texts of
MIT's only when MIT's is in use. Import with ``from gss_library import ...``
(tests/ is on sys.path through conftest.py).
"""

from __future__ import annotations

import os


def mit_gssapi() -> bool:
    """Whether the library under test uses MIT's GSS-API (libgssapi_krb5).

    It does when REMCTL_GSSAPI_LIBRARY is unset or empty (our library then
    loads libgssapi_krb5.so.2 first; Debian's libremctl1 is linked with it)
    or names a libgssapi_krb5.
    """
    name = os.environ.get("REMCTL_GSSAPI_LIBRARY", "")
    return not name or os.path.basename(name).startswith("libgssapi_krb5")
