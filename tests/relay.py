"""A TCP relay on loopback in front of the test remctld, to watch clients.

The relay accepts connections on an address of its own and copies bytes both
ways between each one and remctld, unchanged. It counts and remembers the
connections (the client's address of each), so a test can see how many TCP
connections a client made, from which local address, and when the client
closed one, all without touching the client library. ``close()`` drops every
relayed connection and stops listening: the client then sees the server
vanish.

``reserve_port`` binds a fixed port without listening, so connections to it
are refused; ``bind_fixed`` waits for a fixed port (4373, 4444) to be free,
in case another test run on the machine holds it for a moment.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from types import TracebackType

_POLL = 0.05  # seconds between checks of the stop flag
_FIXED_PORT_WAIT = 120.0  # seconds to wait for a fixed port held by someone else


def bind_fixed(
    family: int, address: tuple[str, int], reuse: bool = True
) -> socket.socket:
    """A socket bound to address, waiting while the port is in use.

    reuse sets SO_REUSEADDR, as a listener should; without it the bind is
    exclusive, so a port reserved that way is never shared with a listener.
    """
    deadline = time.monotonic() + _FIXED_PORT_WAIT
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if reuse:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def reserve_port(port: int) -> socket.socket:
    """Hold 127.0.0.1:port without listening: connecting there is refused."""
    return bind_fixed(socket.AF_INET, ("127.0.0.1", port), reuse=False)


class Relay:
    """Relay connections from (host, port) to remctld at target.

    port 0 picks a free port (see :attr:`port`).
    """

    def __init__(
        self, target: tuple[str, int], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.target = target
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if port:
            self._listener = bind_fixed(family, (host, port))
        else:
            self._listener = socket.socket(family, socket.SOCK_STREAM)
            self._listener.bind((host, 0))
        self._listener.listen(16)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: The client address (host, port) of each accepted connection.
        self.clients: list[tuple[str, int]] = []
        #: How many accepted connections the client has closed.
        self.closed_by_client = 0
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        accept = threading.Thread(target=self._accept, name="relay-accept")
        accept.start()
        self._threads.append(accept)

    def __enter__(self) -> Relay:  # noqa: PYI034 - never subclassed
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self.clients)

    def wait_closed_by_client(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until the client has closed count connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.closed_by_client >= count:
                    return True
            time.sleep(_POLL)
        return False

    def close(self) -> None:
        """Stop listening and drop every relayed connection."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, address = self._listener.accept()
            except BlockingIOError:
                time.sleep(_POLL)
                continue
            client.setblocking(True)
            server = socket.create_connection(self.target)
            with self._lock:
                self.clients.append((address[0], address[1]))
                self._sockets += [client, server]
            thread = threading.Thread(
                target=self._pump, args=(client, server), name="relay-pump"
            )
            thread.start()
            self._threads.append(thread)

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        """Copy bytes both ways until both sides have closed or the relay
        stops. Each direction ends on its own (an end of file is passed on
        as a half close), so a client's close is seen even when remctld
        closed first."""
        other = {client: server, server: client}
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(server, selectors.EVENT_READ)
            open_sides = 2
            while open_sides and not self._stop.is_set():
                for key, _ in selector.select(_POLL):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = source.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        try:
                            other[source].sendall(data)
                        except OSError:
                            pass  # that side is gone: its end of file follows
                        continue
                    selector.unregister(source)
                    open_sides -= 1
                    if source is client:
                        with self._lock:
                            self.closed_by_client += 1
                    try:
                        other[source].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
        client.close()
        server.close()
