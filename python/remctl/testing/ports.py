"""Free loopback ports for the daemons."""

from __future__ import annotations

import socket

from .errors import RemctlTestError

__all__ = ["free_port"]


def free_port(host: str, udp: bool = False) -> int:
    """A loopback port that is free now (for TCP, and for UDP when asked)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            if not udp:
                return port
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dgram:
                    dgram.bind((host, port))
            except OSError:
                continue
            return port
    raise RemctlTestError(f"cannot find a free port on {host}")
