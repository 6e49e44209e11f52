"""mypy --strict must reject this: a command that returns no exit status.

scripts/lint.sh checks that mypy reports exactly this error, so that the
type of Backend.command keeps catching the mistake.
"""

from __future__ import annotations

from remctl.backend import Backend

backend = Backend(command="user")


@backend.command()
def show(name: str) -> str:  # the error: a str is not an exit status
    return name
