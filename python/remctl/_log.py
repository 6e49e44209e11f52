"""The package's logger, ``logging.getLogger("remctl")``.

Connection, authentication and command events are logged at DEBUG level.
Messages name hosts, ports and server principals, and count a command's
arguments; they never contain argument values, ticket cache names or any
other credential.
"""

from __future__ import annotations

import logging

__all__ = ["logger"]

logger = logging.getLogger("remctl")
logger.addHandler(logging.NullHandler())
