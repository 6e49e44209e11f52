"""The cases of the hostile server: what it does, what the client does, and
what the client must report.

Each case is a :class:`Case`. Its ``behave`` function runs in the server
process for every connection to the case's port, with a
:class:`hostile.server.Connection`. It usually completes a real GSS-API
context first (``conn.accept()``), reads the client's command, and then
sends something wrong. This module imports nothing from python-gssapi, so the
test process can read the table without it.

Client actions (see ``tests/test_hostile.py``):

``open``
    the failure must come from ``open()``.
``command``
    ``open()`` succeeds, then ``command(["test", "echo", "hostile"])`` and
    ``output()`` until the failure (or, with ``error_token``, until that
    ERROR token).
``noop``
    ``open()``, then ``noop()`` must fail.
``pre_command``
    ``open()``, a pause so the server's unsolicited token arrives, then
    ``command()`` must fail.
``two_commands``
    a first command answered correctly, a pause, then a second must fail.
``commands``
    three commands that must all succeed (the server is odd, not wrong).
"""

from __future__ import annotations

import random
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .server import Connection

# Token flags and message types (docs/protocol.md, sections 2 and 4).
NOOP, CONTEXT, DATA, MIC, CONTEXT_NEXT, SEND_MIC, PROTOCOL = (
    0x01,
    0x02,
    0x04,
    0x08,
    0x10,
    0x20,
    0x40,
)
MSG_COMMAND, MSG_QUIT, MSG_OUTPUT, MSG_STATUS, MSG_ERROR, MSG_VERSION, MSG_NOOP = range(
    1, 8
)
TOKEN_MAX = 1024 * 1024  # whole token, 5-octet prefix included
PAYLOAD_MAX = TOKEN_MAX - 5

GSS_ERROR_INIT = r"^GSS-API error initializing context: .+"
GSS_ERROR_UNWRAP = r"^GSS-API error unwrapping token: .+"
EOF = r"^error receiving token: unexpected end of file$"
EOF_OR_RESET = (
    r"^error (receiving token: unexpected end of file|(sending|receiving) token: "
    r"(Connection reset by peer|Broken pipe))$"
)
TOO_LARGE = r"^error receiving token: token too large$"
TIMED_OUT = r"^error receiving token: timed out$"
MALFORMED = r"^malformed result token from server$"


# Messages, before wrapping.


def message(kind: int, body: bytes = b"", version: int = 2) -> bytes:
    return bytes([version, kind]) + body


def status(code: int = 0, version: int = 2) -> bytes:
    return message(MSG_STATUS, bytes([code]), version)


def output(stream: int, data: bytes, length: int | None = None) -> bytes:
    size = len(data) if length is None else length
    return message(MSG_OUTPUT, struct.pack(">BI", stream, size) + data)


def error(code: int, text: bytes, length: int | None = None) -> bytes:
    size = len(text) if length is None else length
    return message(MSG_ERROR, struct.pack(">II", code, size) + text)


def header(flags: int, length: int) -> bytes:
    return struct.pack(">BI", flags, length)


@dataclass(frozen=True)
class Case:
    name: str
    behave: Callable[[Connection], None]
    client: str = "command"
    expect: str | None = None  # regex the RemctlError message must match
    error_token: tuple[int, bytes] | None = None  # expected ERROR instead
    timeout: int = 2  # the client's timeout, seconds
    slow: bool = False  # waits for a timeout: fewer repetitions
    doc: str = ""


CASES: list[Case] = []


def case(
    name: str,
    client: str = "command",
    expect: str | None = None,
    **options: Any,
) -> Callable[[Callable[[Connection], None]], Callable[[Connection], None]]:
    """Register the decorated function as the behaviour of a case."""

    def register(behave: Callable[[Connection], None]) -> Callable[[Connection], None]:
        CASES.append(
            Case(
                name,
                behave,
                client,
                expect,
                doc=(behave.__doc__ or "").strip(),
                **options,
            )
        )
        return behave

    return register


def answer(conn: Connection, payload: bytes, flags: int = DATA | PROTOCOL) -> None:
    """Complete the context, read the command, send one wrapped message."""
    conn.accept()
    conn.read_command()
    conn.send_token(flags, conn.wrap(payload))


def answer_raw(conn: Connection, raw: bytes, close: bool = True) -> None:
    """Complete the context, read the command, send raw bytes, maybe close."""
    conn.accept()
    conn.read_command()
    conn.send(raw)
    if not close:
        conn.wait_for_close()


# -- Before any context ------------------------------------------------------


@case("close_at_once", "open", EOF_OR_RESET)
def close_at_once(conn: Connection) -> None:
    """Accept the TCP connection and close it at once."""


@case("close_after_first_token", "open", EOF_OR_RESET)
def close_after_first_token(conn: Connection) -> None:
    """Read the client's opening token, then close."""
    conn.recv_token()


def _random_bytes(seed: int) -> Callable[[Connection], None]:
    def behave(conn: Connection) -> None:
        conn.send(random.Random(seed).randbytes(4096))

    behave.__doc__ = f"Send 4 KiB of random bytes (seed {seed}) at once, then close."
    return behave


RANDOM_OPEN = (
    r"^(error receiving token: (token too large|unexpected end of file)|"
    r"error (sending|receiving) token: (Connection reset by peer|Broken pipe)|"
    r"unexpected token flags 0x[0-9a-f]{2} from server during authentication|"
    r"GSS-API error initializing context: .+)$"
)
for _seed in (1, 2, 3, 4):
    case(f"random_bytes_{_seed}", "open", RANDOM_OPEN)(_random_bytes(_seed))


@case("http_banner", "open", TOO_LARGE)
def http_banner(conn: Connection) -> None:
    """Answer like a web server: 'HTTP/' reads as a length over 1 GiB."""
    conn.sock.recv(65536)
    conn.send(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    conn.wait_for_close()


@case("ssh_banner", "open", TOO_LARGE)
def ssh_banner(conn: Connection) -> None:
    """Greet like an SSH server, then wait for the client to give up."""
    conn.send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    conn.wait_for_close()


@case("silence_before_context", "open", TIMED_OUT, timeout=1, slow=True)
def silence_before_context(conn: Connection) -> None:
    """Read what the client sends and never answer."""
    conn.wait_for_close()


@case("context_garbage", "open", GSS_ERROR_INIT)
def context_garbage(conn: Connection) -> None:
    """Answer the context token with a CONTEXT token of random bytes."""
    conn.recv_token()
    conn.recv_token()
    conn.send_token(CONTEXT | PROTOCOL, random.Random(7).randbytes(120))
    conn.wait_for_close()


@case("context_empty", "open", GSS_ERROR_INIT)
def context_empty(conn: Connection) -> None:
    """Answer the context token with an empty CONTEXT token."""
    conn.recv_token()
    conn.recv_token()
    conn.send_token(CONTEXT | PROTOCOL, b"")
    conn.wait_for_close()


@case(
    "context_reply_not_context",
    "open",
    r"^unexpected token flags 0x44 from server during authentication$",
)
def context_reply_not_context(conn: Connection) -> None:
    """Send the genuine reply token, but flagged DATA|PROTOCOL."""
    conn.accept(flags=DATA | PROTOCOL)
    conn.wait_for_close()


@case("context_length_ffffffff", "open", TOO_LARGE)
def context_length_ffffffff(conn: Connection) -> None:
    """Answer the context token with a token announcing 0xFFFFFFFF octets."""
    conn.recv_token()
    conn.recv_token()
    conn.send(header(CONTEXT | PROTOCOL, 0xFFFFFFFF) + b"\0" * 64)
    conn.wait_for_close()


@case("context_length_over_limit", "open", TOO_LARGE)
def context_length_over_limit(conn: Connection) -> None:
    """A context token one octet longer than 1 MiB in all."""
    conn.recv_token()
    conn.recv_token()
    conn.send(header(CONTEXT | PROTOCOL, PAYLOAD_MAX + 1))
    conn.wait_for_close()


@case("context_length_at_limit_then_close", "open", EOF)
def context_length_at_limit_then_close(conn: Connection) -> None:
    """Announce the largest allowed token (1 MiB in all), send 1 KiB, close."""
    conn.recv_token()
    conn.recv_token()
    conn.send(header(CONTEXT | PROTOCOL, PAYLOAD_MAX) + b"\0" * 1024)


@case("wrong_key_same_kvno", "open", GSS_ERROR_INIT)
def wrong_key_same_kvno(conn: Connection) -> None:
    """The server has a key for the right principal and kvno, but not the
    realm's: it cannot read the ticket, and answers with the best it has, a
    genuine reply token of another session."""
    if conn.try_accept(conn.server.wrong_keytab_same_kvno):
        raise AssertionError("accepted a ticket with the wrong key")
    conn.send_token(CONTEXT | PROTOCOL, conn.server.other_session_reply)
    conn.wait_for_close()


@case("wrong_key_other_kvno", "open", f"{GSS_ERROR_INIT}|{EOF_OR_RESET}")
def wrong_key_other_kvno(conn: Connection) -> None:
    """A keytab with another kvno and key for the principal: the server
    cannot complete the context (its GSS-API library may send a Kerberos
    error token) and closes."""
    if conn.try_accept(conn.server.wrong_keytab_other_kvno):
        raise AssertionError("accepted a ticket with the wrong key")


@case("replayed_context_reply", "open", GSS_ERROR_INIT)
def replayed_context_reply(conn: Connection) -> None:
    """Without the key, replay a genuine reply of an earlier session with
    the right principal: mutual authentication must refuse it."""
    conn.recv_token()
    conn.recv_token()
    conn.send_token(CONTEXT | PROTOCOL, conn.server.other_session_reply)
    conn.wait_for_close()


@case("other_principal_reply", "open", GSS_ERROR_INIT)
def other_principal_reply(conn: Connection) -> None:
    """Answer with a genuine reply of a session with another principal of
    the realm (the server holds that principal's key, not ours)."""
    conn.recv_token()
    conn.recv_token()
    conn.send_token(CONTEXT | PROTOCOL, conn.server.other_principal_reply)
    conn.wait_for_close()


# -- Framing after the context -------------------------------------------


@case("length_ffffffff", "command", TOO_LARGE)
def length_ffffffff(conn: Connection) -> None:
    """Answer a command with a token announcing 0xFFFFFFFF octets."""
    answer_raw(conn, header(DATA | PROTOCOL, 0xFFFFFFFF) + b"\0" * 64, close=False)


@case("length_over_limit", "command", TOO_LARGE)
def length_over_limit(conn: Connection) -> None:
    """A token of 1 MiB + 1 octet in all."""
    answer_raw(conn, header(DATA | PROTOCOL, PAYLOAD_MAX + 1), close=False)


@case("length_at_limit_then_close", "command", EOF)
def length_at_limit_then_close(conn: Connection) -> None:
    """The largest token allowed, cut after 64 KiB, then close."""
    answer_raw(conn, header(DATA | PROTOCOL, PAYLOAD_MAX) + b"\x55" * 65536)


@case("header_cut_short", "command", EOF)
def header_cut_short(conn: Connection) -> None:
    """Three octets of a token header, then close."""
    answer_raw(conn, header(DATA | PROTOCOL, 40)[:3])


@case("payload_cut_short", "command", EOF)
def payload_cut_short(conn: Connection) -> None:
    """A genuine wrapped STATUS cut in the middle of its payload, then close."""
    conn.accept()
    conn.read_command()
    token = conn.wrap(status(0))
    conn.send(header(DATA | PROTOCOL, len(token)) + token[: len(token) // 2])


@case("header_cut_then_silence", "command", TIMED_OUT, timeout=1, slow=True)
def header_cut_then_silence(conn: Connection) -> None:
    """Three octets of a header, then nothing: the timeout must fire."""
    answer_raw(conn, header(DATA | PROTOCOL, 40)[:3], close=False)


@case("silence_after_command", "command", TIMED_OUT, timeout=1, slow=True)
def silence_after_command(conn: Connection) -> None:
    """Read the command and never answer."""
    conn.accept()
    conn.read_command()
    conn.wait_for_close()


@case("close_mid_answer", "command", EOF)
def close_mid_answer(conn: Connection) -> None:
    """One OUTPUT token, then close without STATUS."""
    conn.accept()
    conn.read_command()
    conn.send_message(output(1, b"partial\n"))


# -- Protection --------------------------------------------------------------


@case("payload_not_wrapped", "command", GSS_ERROR_UNWRAP)
def payload_not_wrapped(conn: Connection) -> None:
    """A DATA token whose payload is the plain STATUS message."""
    answer_raw(conn, header(DATA | PROTOCOL, 3) + status(0), close=False)


@case("payload_garbage", "command", GSS_ERROR_UNWRAP)
def payload_garbage(conn: Connection) -> None:
    """A DATA token of random bytes that no key unwraps."""
    data = random.Random(11).randbytes(96)
    answer_raw(conn, header(DATA | PROTOCOL, len(data)) + data, close=False)


@case("payload_bit_flipped", "command", GSS_ERROR_UNWRAP)
def payload_bit_flipped(conn: Connection) -> None:
    """A genuine wrapped STATUS with one bit flipped in the ciphertext."""
    conn.accept()
    conn.read_command()
    token = bytearray(conn.wrap(status(0)))
    token[len(token) // 2] ^= 0x10
    conn.send_token(DATA | PROTOCOL, bytes(token))
    conn.wait_for_close()


@case("payload_replayed", "command", GSS_ERROR_UNWRAP)
def payload_replayed(conn: Connection) -> None:
    """A genuine OUTPUT token, then the very same token again."""
    conn.accept()
    conn.read_command()
    token = conn.wrap(output(1, b"once\n"))
    conn.send_token(DATA | PROTOCOL, token)
    conn.send_token(DATA | PROTOCOL, token)
    conn.wait_for_close()


@case("wrapped_without_confidentiality", "command", r"^unencrypted token from server$")
def wrapped_without_confidentiality(conn: Connection) -> None:
    """STATUS wrapped with integrity only, no encryption."""
    conn.accept()
    conn.read_command()
    conn.send_token(DATA | PROTOCOL, conn.wrap(status(0), encrypt=False))
    conn.wait_for_close()


@case("protocol_flag_dropped", "command", r"^unexpected token flags 0x04 from server$")
def protocol_flag_dropped(conn: Connection) -> None:
    """After a protocol 2 opening, answer with DATA only (a downgrade)."""
    answer(conn, status(0), flags=DATA)
    conn.wait_for_close()


@case("flags_noop_added", "command", r"^unexpected token flags 0x45 from server$")
def flags_noop_added(conn: Connection) -> None:
    """DATA|PROTOCOL|NOOP on an answer."""
    answer(conn, status(0), flags=DATA | PROTOCOL | NOOP)
    conn.wait_for_close()


@case(
    "flags_context_after_open", "command", r"^unexpected token flags 0x42 from server$"
)
def flags_context_after_open(conn: Connection) -> None:
    """A CONTEXT token where an answer belongs."""
    answer(conn, status(0), flags=CONTEXT | PROTOCOL)
    conn.wait_for_close()


# -- Messages ----------------------------------------------------------------


def _answer_case(
    name: str, payload: bytes, expect: str, doc: str, client: str = "command"
) -> None:
    def behave(conn: Connection) -> None:
        if client == "noop":
            conn.accept()
            conn.read_command()
            conn.send_message(payload)
        else:
            answer(conn, payload)
        conn.wait_for_close()

    behave.__doc__ = doc
    case(name, client, expect)(behave)


for _kind in (0, 8, 99, 255):
    _answer_case(
        f"unknown_type_{_kind}",
        message(_kind, b"\0\0\0\0"),
        rf"^unknown message type {_kind} from server$",
        f"A message of type {_kind}, which does not exist.",
    )
for _kind, _label in ((MSG_COMMAND, "command"), (MSG_QUIT, "quit"), (MSG_NOOP, "noop")):
    _answer_case(
        f"type_{_label}_as_answer",
        message(_kind, b"" if _kind != MSG_COMMAND else b"\1\0\0\0\0\0"),
        rf"^unexpected message type {_kind} from server$",
        f"A {_label.upper()} message in answer to a command.",
    )
for _version in (0, 1, 4, 99):
    _answer_case(
        f"protocol_byte_{_version}",
        status(0, version=_version),
        rf"^unknown protocol version {_version} from server$",
        f"STATUS with protocol version octet {_version}.",
    )
_answer_case("output_stream_3", output(3, b"x\n"), MALFORMED, "OUTPUT on stream 3.")
_answer_case("output_stream_0", output(0, b"x\n"), MALFORMED, "OUTPUT on stream 0.")
_answer_case(
    "output_length_beyond_token",
    output(1, b"short", length=1000),
    MALFORMED,
    "OUTPUT whose length says 1000 with 5 octets of data.",
)
_answer_case(
    "output_length_ffffffff",
    output(1, b"short", length=0xFFFFFFFF),
    MALFORMED,
    "OUTPUT whose length says 0xFFFFFFFF.",
)
_answer_case(
    "output_length_short",
    output(1, b"longer than said", length=4),
    MALFORMED,
    "OUTPUT whose length is less than the data that follows.",
)
_answer_case(
    "output_header_truncated",
    message(MSG_OUTPUT, b"\1\0\0"),
    MALFORMED,
    "OUTPUT with 3 octets of body, not even a length.",
)
_answer_case("status_empty", message(MSG_STATUS), MALFORMED, "STATUS without a body.")
_answer_case(
    "status_too_long", message(MSG_STATUS, b"\0\0"), MALFORMED, "STATUS of 2 octets."
)
_answer_case(
    "error_too_short",
    message(MSG_ERROR, b"\0\0\0\5\0\0"),
    MALFORMED,
    "ERROR of 6 octets: code and half a length.",
)
_answer_case(
    "error_length_beyond_token",
    error(5, b"Unknown", length=200),
    MALFORMED,
    "ERROR whose length says 200 with 7 octets of text.",
)
_answer_case(
    "error_length_ffffffff",
    error(5, b"Unknown", length=0xFFFFFFFF),
    MALFORMED,
    "ERROR whose length says 0xFFFFFFFF.",
)
_answer_case(
    "error_length_short",
    error(5, b"Unknown command", length=3),
    MALFORMED,
    "ERROR with more text than its length says.",
)
_answer_case("message_empty", b"", MALFORMED, "A wrapped message of zero octets.")
_answer_case("message_one_octet", b"\2", MALFORMED, "A wrapped message of one octet.")
_answer_case(
    "version_as_answer",
    message(MSG_VERSION, b"\2"),
    r"^unexpected message type 6 from server$",
    "VERSION 2 in answer to a protocol 2 command.",
)
_answer_case(
    "version_claiming_1",
    message(MSG_VERSION, b"\1"),
    r"^unexpected message type 6 from server$",
    "VERSION claiming protocol 1 in answer to a command.",
)
_answer_case(
    "noop_answered_version_1",
    message(MSG_VERSION, b"\1"),
    r"^NOOP message not supported$",
    "NOOP answered with VERSION claiming protocol 1: NOOP fails, no downgrade.",
    client="noop",
)
_answer_case(
    "noop_answered_with_status",
    status(0),
    r"^unexpected message type 4 from server$",
    "NOOP answered with STATUS.",
    client="noop",
)
_answer_case(
    "noop_answered_with_output",
    output(1, b"surprise\n"),
    r"^unexpected message type 3 from server$",
    "NOOP answered with OUTPUT.",
    client="noop",
)
_answer_case(
    "noop_reply_with_body",
    message(MSG_NOOP, b"\0", version=3),
    MALFORMED,
    "NOOP answered with a NOOP that has a body.",
    client="noop",
)
_answer_case(
    "noop_answered_version_empty",
    message(MSG_VERSION),
    MALFORMED,
    "NOOP answered with a VERSION without its octet.",
    client="noop",
)


@case("error_unknown_code", "command", error_token=(12345, b"strange error"))
def error_unknown_code(conn: Connection) -> None:
    """An ERROR with a code outside the list: delivered as an error token."""
    answer(conn, error(12345, b"strange error"))
    conn.wait_for_close()


# -- Order -----------------------------------------------------------------


@case(
    "tokens_before_command",
    "pre_command",
    r"^unexpected data from server before command$",
)
def tokens_before_command(conn: Connection) -> None:
    """Right after the context, before any command: OUTPUT and STATUS."""
    conn.accept()
    conn.send_message(output(1, b"unasked\n"))
    conn.send_message(status(0))
    conn.wait_for_close()


@case(
    "tokens_between_commands",
    "two_commands",
    r"^unexpected data from server before command$",
)
def tokens_between_commands(conn: Connection) -> None:
    """Answer a command correctly, then send one more STATUS unasked."""
    conn.accept()
    conn.read_command()
    conn.send_message(output(1, b"hostile\n"))
    conn.send_message(status(0))
    conn.send_message(status(1))
    conn.wait_for_close()


@case("status_twice", "two_commands", r"^unexpected data from server before command$")
def status_twice(conn: Connection) -> None:
    """Two STATUS messages for one command, in one write."""
    conn.accept()
    conn.read_command()
    conn.send(
        conn.token(DATA | PROTOCOL, conn.wrap(output(1, b"hostile\n")))
        + conn.token(DATA | PROTOCOL, conn.wrap(status(0)))
        + conn.token(DATA | PROTOCOL, conn.wrap(status(0)))
    )
    conn.wait_for_close()


# -- Odd but correct: the client must cope --------------------------------


@case("close_after_each_status", "commands")
def close_after_each_status(conn: Connection) -> None:
    """Answer one command, then close although the client asked to keep the
    connection: the next command must reconnect transparently. (The client
    pauses between commands: a command sent before the server's close has
    arrived fails with end of file, as it must, since the client cannot know
    whether the server ran it.)"""
    conn.accept()
    conn.read_command()
    conn.send_message(output(1, b"hostile\n"))
    conn.send_message(status(0))


@case("answer_one_octet_at_a_time", "commands")
def answer_one_octet_at_a_time(conn: Connection) -> None:
    """Correct answers, written one octet per send (no delay)."""
    conn.accept()
    while True:
        try:
            conn.read_command()
        except EOFError:
            return
        data = conn.token(DATA | PROTOCOL, conn.wrap(output(1, b"hostile\n")))
        data += conn.token(DATA | PROTOCOL, conn.wrap(status(0)))
        for index in range(len(data)):
            conn.send(data[index : index + 1])


# -- Cases with their own tests in test_hostile.py (not in the table loop) --


def endless_output(conn: Connection) -> None:
    """OUTPUT tokens of 60,000 octets without end, as fast as the client
    reads, until the client goes away."""
    conn.accept()
    conn.read_command()
    chunk = b"\xa5" * 60000
    while True:
        conn.send_message(output(1, chunk))


def drip(interval: float, count: int) -> Callable[[Connection], None]:
    def behave(conn: Connection) -> None:
        conn.accept()
        conn.read_command()
        data = header(DATA | PROTOCOL, 4000) + b"\0" * 100
        for index in range(count):
            time.sleep(interval)
            conn.send(data[index : index + 1])
        conn.wait_for_close()

    behave.__doc__ = (
        f"{count} octets of an answer, one every {interval:g} s, then silence."
    )
    return behave


def output_then_bad_token(conn: Connection) -> None:
    """A genuine OUTPUT and, in the same write, a DATA token without the
    PROTOCOL flag: the client reads the second while handing out the first."""
    conn.accept()
    conn.read_command()
    conn.send(
        conn.token(DATA | PROTOCOL, conn.wrap(output(1, b"hostile\n")))
        + conn.token(DATA, conn.wrap(status(0)))
    )
    conn.wait_for_close()


EXTRA_CASES: dict[str, Callable[[Connection], None]] = {
    "endless_output": endless_output,
    "output_then_bad_token": output_then_bad_token,
    # One octet per second, four of them, then silence: with a 2 s timeout
    # every single wait is short, so the timeout fires only after the last.
    "drip_one_per_second": drip(1.0, 4),
    # One octet every 3 s with a 1 s timeout: fires during the first wait.
    "drip_slower_than_timeout": drip(3.0, 3),
}


def all_behaviours() -> dict[str, Callable[[Connection], None]]:
    """Every behaviour the server serves, by case name."""
    behaviours = {c.name: c.behave for c in CASES}
    behaviours.update(EXTRA_CASES)
    return behaviours
