"""The hostile remctl server: one loopback listening port per case.

Run as ``python3 -m hostile.server --keytab ... --principal ...`` (with
``tests/`` on ``sys.path``) in the test realm's environment (``KRB5_CONFIG``
and ``KRB5CCNAME`` of the realm's user). It prints one JSON line mapping each
case name to its port, serves every connection in its own thread, and exits
when its standard input reaches end of file, so it never outlives the test
process that started it. Errors of the behaviours (the client hung up early,
for instance) go to standard error, which the tests keep in a log.

The server's key comes from a keytab through the GSS-API credential store
(``gss_acquire_cred_from``, the programmatic form of ``KRB5_KTNAME``), so one
process can hold the realm's key and the wrong keys of the wrong-key cases.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import struct
import sys
import threading
import traceback
from typing import Callable

import gssapi
import gssapi.raw
from gssapi.raw.misc import GSSError

from .cases import (
    CONTEXT,
    CONTEXT_NEXT,
    DATA,
    NOOP,
    PROTOCOL,
    TOKEN_MAX,
    all_behaviours,
)

KRB5_MECH = gssapi.MechType.kerberos
IO_TIMEOUT = 30.0  # no behaviour waits on a client longer than this


# -- Keytabs (the MIT file format, version 0x0502) ---------------------------


def _counted(data: bytes, offset: int) -> tuple[bytes, int]:
    (length,) = struct.unpack_from(">H", data, offset)
    return data[offset + 2 : offset + 2 + length], offset + 2 + length


def read_keytab(path: str) -> list[dict[str, object]]:
    """The entries of a keytab: principal parts, kvno, enctype, key."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] != b"\x05\x02":
        raise ValueError(f"{path}: not a version 0x0502 keytab")
    entries: list[dict[str, object]] = []
    offset = 2
    while offset + 4 <= len(data):
        (size,) = struct.unpack_from(">i", data, offset)
        offset += 4
        if size <= 0:  # a hole left by a deleted entry
            offset += -size
            continue
        record = data[offset : offset + size]
        offset += size
        (count,) = struct.unpack_from(">H", record, 0)
        realm, pos = _counted(record, 2)
        parts = []
        for _ in range(count):
            part, pos = _counted(record, pos)
            parts.append(part)
        name_type, timestamp, kvno8, enctype = struct.unpack_from(">IIBH", record, pos)
        key, pos = _counted(record, pos + 11)
        kvno = kvno8
        if pos + 4 <= len(record):
            (kvno,) = struct.unpack_from(">I", record, pos)
        entries.append(
            {
                "realm": realm,
                "parts": parts,
                "name_type": name_type,
                "timestamp": timestamp,
                "kvno": kvno,
                "enctype": enctype,
                "key": key,
            }
        )
    return entries


def write_keytab(path: str, entries: list[dict[str, object]]) -> None:
    out = bytearray(b"\x05\x02")
    for entry in entries:
        parts: list[bytes] = entry["parts"]  # type: ignore[assignment]
        realm: bytes = entry["realm"]  # type: ignore[assignment]
        key: bytes = entry["key"]  # type: ignore[assignment]
        kvno = int(entry["kvno"])  # type: ignore[call-overload]
        record = bytearray(struct.pack(">H", len(parts)))
        record += struct.pack(">H", len(realm)) + realm
        for part in parts:
            record += struct.pack(">H", len(part)) + part
        record += struct.pack(
            ">IIBH",
            entry["name_type"],
            entry["timestamp"],
            kvno & 0xFF,
            entry["enctype"],
        )
        record += struct.pack(">H", len(key)) + key
        record += struct.pack(">I", kvno)
        out += struct.pack(">i", len(record)) + record
    with open(path, "wb") as handle:
        handle.write(bytes(out))


def wrong_keytab(source: str, target: str, kvno_offset: int) -> str:
    """A keytab for the same principal with random keys (same enctypes)."""
    entries = read_keytab(source)
    for entry in entries:
        entry["key"] = secrets.token_bytes(len(entry["key"]))  # type: ignore[arg-type]
        entry["kvno"] = int(entry["kvno"]) + kvno_offset  # type: ignore[call-overload]
    write_keytab(target, entries)
    return target


# -- GSS-API -------------------------------------------------------------------


def acceptor_credentials(keytab: str) -> gssapi.Credentials:
    return gssapi.Credentials(
        usage="accept", mechs=[KRB5_MECH], store={"keytab": keytab}
    )


def genuine_reply(principal: str, keytab: str) -> bytes:
    """The reply token (AP-REP) of a fresh session of the realm's user with
    principal: genuine, but for a session nobody else will ever use."""
    name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
    initiator = gssapi.SecurityContext(
        name=name,
        mech=KRB5_MECH,
        usage="initiate",
        flags=gssapi.RequirementFlag.mutual_authentication
        | gssapi.RequirementFlag.confidentiality
        | gssapi.RequirementFlag.integrity,
    )
    request = initiator.step()
    acceptor = gssapi.SecurityContext(
        creds=acceptor_credentials(keytab), usage="accept"
    )
    reply = acceptor.step(request)
    assert reply, "the acceptor produced no reply token"
    initiator.step(reply)
    return bytes(reply)


# -- One client connection -----------------------------------------------------


class Connection:
    """The server's side of one connection, with the helpers behaviours use."""

    def __init__(self, server: HostileServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.context: gssapi.SecurityContext | None = None
        sock.settimeout(IO_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # Framing.

    def _recv_exact(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            block = self.sock.recv(count - len(data))
            if not block:
                raise EOFError("client closed the connection")
            data += block
        return bytes(data)

    def recv_token(self) -> tuple[int, bytes]:
        flags, length = struct.unpack(">BI", self._recv_exact(5))
        if length > TOKEN_MAX - 5:
            raise ValueError(f"client sent a token of {length} octets")
        return flags, self._recv_exact(length)

    @staticmethod
    def token(flags: int, payload: bytes) -> bytes:
        return struct.pack(">BI", flags, len(payload)) + payload

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_token(self, flags: int, payload: bytes) -> None:
        self.send(self.token(flags, payload))

    def wait_for_close(self) -> None:
        """Read and discard until the client closes (or IO_TIMEOUT)."""
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass

    # The context.

    def _opening(self) -> None:
        flags, payload = self.recv_token()
        expected = NOOP | CONTEXT_NEXT | PROTOCOL
        if flags != expected or payload:
            raise ValueError(
                f"bad opening token: flags 0x{flags:02x}, {len(payload)} octets"
            )

    def _exchange(self, keytab: str, flags: int) -> None:
        context = gssapi.SecurityContext(
            creds=acceptor_credentials(keytab), usage="accept"
        )
        while not context.complete:
            token_flags, payload = self.recv_token()
            if token_flags != CONTEXT | PROTOCOL:
                raise ValueError(f"bad context token flags 0x{token_flags:02x}")
            reply = context.step(payload)
            if reply:
                self.send_token(flags, reply)
        self.context = context

    def accept(
        self, flags: int = CONTEXT | PROTOCOL, keytab: str | None = None
    ) -> None:
        """Read the opening token and complete the context as remctld does,
        sending replies with the given flags."""
        self._opening()
        self._exchange(keytab or self.server.keytab, flags)

    def try_accept(self, keytab: str) -> bool:
        """Like accept() with another keytab; False when GSS-API refuses."""
        self._opening()
        try:
            self._exchange(keytab, CONTEXT | PROTOCOL)
        except GSSError:
            return False
        return True

    # Messages.

    def wrap(self, message: bytes, encrypt: bool = True) -> bytes:
        assert self.context is not None
        return bytes(self.context.wrap(message, encrypt).message)

    def send_message(self, message: bytes, flags: int = DATA | PROTOCOL) -> None:
        self.send_token(flags, self.wrap(message))

    def read_command(self) -> bytes:
        """Read one whole COMMAND (all its parts), or a NOOP; return it."""
        assert self.context is not None
        parts = []
        while True:
            flags, payload = self.recv_token()
            if flags != DATA | PROTOCOL:
                raise ValueError(f"bad message flags 0x{flags:02x}")
            result = self.context.unwrap(payload)
            if not result.encrypted:
                raise ValueError("client sent an unencrypted message")
            message = bytes(result.message)
            if len(message) < 2 or message[1] != 1:
                return message  # NOOP, QUIT: one token
            parts.append(message)
            if message[3] in (0, 3):
                return b"".join(parts)


# -- The server ------------------------------------------------------------------


class HostileServer:
    def __init__(
        self,
        host: str,
        keytab: str,
        principal: str,
        workdir: str,
        other_principal: str,
        other_keytab: str,
    ) -> None:
        self.host = host
        self.keytab = keytab
        self.principal = principal
        self.wrong_keytab_same_kvno = wrong_keytab(
            keytab, os.path.join(workdir, "wrong-same-kvno.keytab"), 0
        )
        self.wrong_keytab_other_kvno = wrong_keytab(
            keytab, os.path.join(workdir, "wrong-other-kvno.keytab"), 1
        )
        self.other_session_reply = genuine_reply(principal, keytab)
        self.other_principal_reply = genuine_reply(other_principal, other_keytab)
        self.listeners: dict[str, socket.socket] = {}

    def listen(
        self, behaviours: dict[str, Callable[[Connection], None]]
    ) -> dict[str, int]:
        ports = {}
        for name, behave in behaviours.items():
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, 0))
            listener.listen(64)
            self.listeners[name] = listener
            ports[name] = listener.getsockname()[1]
            threading.Thread(
                target=self._accept_loop, args=(name, listener, behave), daemon=True
            ).start()
        return ports

    def _accept_loop(
        self, name: str, listener: socket.socket, behave: Callable[[Connection], None]
    ) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(name, sock, behave), daemon=True
            ).start()

    def _serve(
        self, name: str, sock: socket.socket, behave: Callable[[Connection], None]
    ) -> None:
        try:
            behave(Connection(self, sock))
        except (EOFError, ConnectionError, socket.timeout):
            pass  # the client gave up first: expected in many cases
        except Exception:  # noqa: BLE001 - logged for the test to show
            sys.stderr.write(f"case {name}:\n{traceback.format_exc()}\n")
            sys.stderr.flush()
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--keytab", required=True)
    parser.add_argument("--principal", required=True)
    parser.add_argument("--other-keytab", required=True)
    parser.add_argument("--other-principal", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    server = HostileServer(
        args.host,
        args.keytab,
        args.principal,
        args.workdir,
        args.other_principal,
        args.other_keytab,
    )
    ports = server.listen(all_behaviours())
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    sys.stdin.read()  # until the test process closes our stdin or exits
    os._exit(0)


if __name__ == "__main__":
    main()
