"""Callers doing wrong things: clear exceptions, nothing sent, nothing leaked.

Argument checks that need no server (non-iterable or empty commands, None
or int elements, lone surrogates, bad ports, negative or non-integer
timeouts) are in test_arguments.py; this file covers the rest of issue 6's
list, mostly against the real server:

- a source IP that is not an address; a malformed principal; NUL bytes;
- commands after close; close twice; an open object dropped without close
  (its connection is closed, file descriptors do not pile up);
- more arguments than the server allows (its ERROR comes back at once);
- misuse of the call order (a new command or a NOOP before the last answer
  was read).
"""

from __future__ import annotations

import gc
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import remctl
from collect import run
from gss_library import mit_gssapi

SOURCE_IP_CHECKED = pytest.mark.ours_only(
    reason="only our library checks a source address when set"
)


def open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def established_to(port: int) -> int:
    """Our ESTABLISHED TCP connections to 127.0.0.1:port (from /proc/net/tcp)."""
    count = 0
    with open("/proc/net/tcp") as handle:
        next(handle)
        for line in handle:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == "01" and int(remote.split(":")[1], 16) == port:
                count += 1
    return count


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback listener that must never see a connection."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(0.2)
    yield sock
    try:
        connection, _ = sock.accept()
    except socket.timeout:
        pass
    else:
        connection.close()
        pytest.fail("something connected to the listener")
    finally:
        sock.close()


# -- Settings and names --------------------------------------------------------


@SOURCE_IP_CHECKED
@pytest.mark.parametrize(
    "source",
    ["not-an-ip", "999.1.1.1", "", " 127.0.0.1", "127.0.0.1/8", "::g", "localhost"],
)
def test_source_ip_not_an_address(source: str, listener: socket.socket) -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        r.set_source_ip(source)
    assert str(info.value) == f"invalid source IP address {source}"


@SOURCE_IP_CHECKED
def test_bad_source_ip_keeps_previous_setting(server: Any) -> None:
    r = remctl.Remctl()
    r.set_source_ip("127.0.0.1")
    with pytest.raises(remctl.RemctlError):
        r.set_source_ip("bogus")
    r.open(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "source"]).stdout == b"source\n"
    r.close()


# Which GSS-API call refuses a name depends on the libraries: gss_import_name
# ("GSS-API error parsing name") or gss_init_sec_context ("GSS-API error
# initializing context"). Heimdal refuses a@B@C and a lone backslash when
# importing them, MIT only when initializing the context. Our library imports
# a principal as a user name, which MIT refuses for ""; Debian's libremctl1
# imports it as a Kerberos principal name, "" becomes "@REALM", and the
# context fails. Each case gives the calls allowed to refuse it and, if it
# shows the cause, MIT's text (checked only on MIT's GSS-API).
PARSING = "parsing name"
CONTEXT = "initializing context"
MALFORMED_PRINCIPALS = [
    (
        "",
        (PARSING, CONTEXT),
        r"An invalid name was supplied|Server @REMCTL\.TEST not found",
    ),
    ("a@B@C", (PARSING, CONTEXT), r"Malformed representation of principal"),
    ("\\", (PARSING, CONTEXT), r"Malformed representation of principal"),
    (
        "host//x@REMCTL.TEST",
        (CONTEXT,),
        r"Server host//x@REMCTL\.TEST not found in Kerberos database",
    ),
    ("x" * 5000, (CONTEXT,), None),
    # A name the test realm lacks too: for host/127.0.0.1@NO.SUCH.REALM,
    # Heimdal finds no path to that realm, asks the client's realm instead (a
    # referral), gets host/127.0.0.1@REMCTL.TEST and authenticates.
    (
        "host/nowhere.invalid@NO.SUCH.REALM",
        (CONTEXT,),
        r"Server krbtgt/NO\.SUCH\.REALM@REMCTL\.TEST not found",
    ),
]


@pytest.mark.parametrize(
    ("principal", "calls", "mit_text"),
    MALFORMED_PRINCIPALS,
    ids=[repr(case[0])[:24] for case in MALFORMED_PRINCIPALS],
)
def test_malformed_principal(
    server: Any, principal: str, calls: tuple[str, ...], mit_text: str | None
) -> None:
    """GSS-API refuses the name with a clear message (our prefix naming the
    call that refused it, then GSS-API's text), before any authentication
    token is sent (only the empty opening token of docs/protocol.md,
    section 3, goes out: the library connects before it parses the name);
    the same object then opens with a good principal."""
    r = remctl.Remctl()
    r.set_timeout(10)
    started = time.monotonic()
    with pytest.raises(remctl.RemctlError) as info:
        r.open(server.host, server.port, principal)
    assert time.monotonic() - started < 5
    message = str(info.value)
    prefix = "|".join(re.escape(call) for call in calls)
    assert re.match(rf"GSS-API error ({prefix}): \s*\S", message), message
    if mit_text is not None and mit_gssapi():
        assert re.search(mit_text, message), message
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.command(["test", "echo"])
    r.open(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "fine"]).stdout == b"fine\n"
    r.close()


@pytest.mark.parametrize("where", ["host", "principal"])
def test_nul_in_names_nothing_sent(listener: socket.socket, where: str) -> None:
    port = listener.getsockname()[1]
    host, principal = "127.0.0.1", "host/127.0.0.1@REMCTL.TEST"
    if where == "host":
        host += "\0evil"
    else:
        principal += "\0evil"
    with pytest.raises(ValueError, match="NUL"):
        remctl.Remctl().open(host, port, principal)
    with pytest.raises((ValueError, remctl.RemctlError), match="NUL"):
        remctl.remctl(host, port, principal, ["test"])


@pytest.mark.parametrize("host", [42, b"127.0.0.1", ["127.0.0.1"]])
def test_host_wrong_type_nothing_sent(listener: socket.socket, host: Any) -> None:
    port = listener.getsockname()[1]
    with pytest.raises(TypeError, match="host"):
        remctl.Remctl().open(host, port)
    with pytest.raises(TypeError, match="host"):
        remctl.remctl(host, port, None, ["test"])


# -- Life cycle ------------------------------------------------------------------


def test_commands_after_close(server: Any) -> None:
    r = remctl.Remctl(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "before"]).stdout == b"before\n"
    r.close()
    for call in (lambda: r.command(["test", "echo"]), r.output, r.noop):
        with pytest.raises(
            remctl.RemctlNotOpenedError, match=r"^no currently open connection$"
        ):
            call()
    assert r.error() == "no currently open connection"
    r.open(server.host, server.port, server.principal)
    assert run(r, ["test", "echo", "after"]).stdout == b"after\n"
    r.close()


def test_close_twice(server: Any) -> None:
    fds = open_fds()
    r = remctl.Remctl(server.host, server.port, server.principal)
    r.command(["test", "echo", "unread"])
    r.close()
    r.close()
    assert open_fds() == fds
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.output()


def test_close_after_failed_open(server: Any) -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError):
        r.open(server.host, server.port, "nobody/nowhere@NO.SUCH.REALM")
    r.close()
    r.close()


@pytest.mark.parametrize("state", ["idle", "answer unread", "mid answer"])
def test_dropped_without_close(server: Any, state: str) -> None:
    """Objects dropped while open: their sockets are closed (our side leaves
    ESTABLISHED) and file descriptors do not pile up over many objects."""

    def make() -> None:
        r = remctl.Remctl(server.host, server.port, server.principal)
        if state == "answer unread":
            r.command(["test", "mixed"])
        elif state == "mid answer":
            r.command(["test", "mixed"])
            assert r.output()[0] == "output"
        # r goes out of scope here, never closed

    make()
    gc.collect()
    fds = open_fds()
    for _ in range(30):
        make()
    gc.collect()
    assert open_fds() == fds
    deadline = time.monotonic() + 5
    while established_to(server.port) > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert established_to(server.port) == 0


def test_dropped_in_a_cycle(server: Any) -> None:
    """An object kept alive only by a reference cycle is closed by gc."""
    fds = open_fds()

    class Holder:
        pass

    holder = Holder()
    holder.self = holder  # type: ignore[attr-defined]
    holder.connection = remctl.Remctl(server.host, server.port, server.principal)  # type: ignore[attr-defined]
    del holder
    gc.collect()
    assert open_fds() == fds


# -- The server's limits -----------------------------------------------------


def test_too_many_arguments(server: Any) -> None:
    """remctld refuses more than 4,096 arguments: its ERROR comes back at
    once, and the connection stays usable."""
    r = remctl.Remctl()
    r.set_timeout(10)
    r.open(server.host, server.port, server.principal)
    started = time.monotonic()
    result = run(r, ["test", "echo"] + ["x"] * 5000)
    assert time.monotonic() - started < 5
    assert (result.error, result.message) == (7, b"Too many arguments")
    assert run(r, ["test", "echo", "still"]).stdout == b"still\n"
    r.close()
    with pytest.raises(remctl.RemctlProtocolError, match=r"^Too many arguments$"):
        remctl.remctl(
            server.host, server.port, server.principal, ["test", "echo"] + ["x"] * 5000
        )


def test_argument_beyond_exec_limit(server: Any) -> None:
    """One argument longer than the kernel allows for exec: remctld reports
    it (on stderr, with a failure status); no hang."""
    r = remctl.Remctl()
    r.set_timeout(10)
    r.open(server.host, server.port, server.principal)
    result = run(r, ["test", "echo", "x" * 200_000])
    assert b"Argument list too long" in result.stderr
    assert result.status != 0
    assert run(r, ["test", "echo", "still"]).stdout == b"still\n"
    r.close()


# -- Call order -----------------------------------------------------------------


@pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 reads the rest of "
    "the old answer as the new one's"
)
def test_new_command_before_answer_read(server: Any) -> None:
    """A command sent while the last answer is unread abandons that answer
    (the library reconnects) and gets its own answer."""
    r = remctl.Remctl(server.host, server.port, server.principal)
    r.command(["test", "mixed"])
    assert run(r, ["test", "echo", "second"]).stdout == b"second\n"
    r.command(["test", "mixed"])
    assert r.output()[0] == "output"
    assert run(r, ["test", "echo", "third"]).stdout == b"third\n"
    r.close()


@pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 reads the rest of "
    "the old answer as the new one's"
)
def test_noop_before_answer_read(server: Any) -> None:
    r = remctl.Remctl(server.host, server.port, server.principal)
    r.command(["test", "mixed"])
    r.noop()
    assert r.output()[0] == "done"
    assert run(r, ["test", "echo", "fine"]).stdout == b"fine\n"
    r.close()


def test_output_without_command(server: Any) -> None:
    r = remctl.Remctl(server.host, server.port, server.principal)
    assert r.output()[0] == "done"
    assert r.output()[0] == "done"
    r.close()


# -- Signals ----------------------------------------------------------------------


def test_signal_handlers_do_not_break_waits(server: Any) -> None:
    """A program with signal handlers (SIGALRM here; asyncio's SIGCHLD, a
    terminal's SIGWINCH) gets signals while the library waits for an answer:
    the wait goes on instead of failing with "Interrupted system call"."""
    import signal

    caught: list[int] = []
    previous = signal.signal(
        signal.SIGALRM, lambda number, frame: caught.append(number)
    )
    r = remctl.Remctl()
    r.set_timeout(10)
    r.open(server.host, server.port, server.principal)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        result = run(r, ["test", "sleep", "1"])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert caught
    assert (result.stdout, result.status) == (b"slept\n", 0)
    r.close()


@pytest.mark.ours_only(
    reason="our library waits again after a signal only for what is left of "
    "the timeout; Debian's starts the whole timeout again, so signals "
    "more frequent than the timeout make the wait unbounded"
)
def test_signals_do_not_extend_the_timeout(server: Any) -> None:
    """Signals arriving every 50 ms during a wait with a 1 s timeout: the
    timeout still bounds the whole wait, signals or not."""
    import signal

    previous = signal.signal(signal.SIGALRM, lambda number, frame: None)
    r = remctl.Remctl()
    r.set_timeout(1)
    r.open(server.host, server.port, server.principal)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        r.command(["test", "sleep", "3"])
        started = time.monotonic()
        with pytest.raises(
            remctl.RemctlError, match=r"^error receiving token: timed out$"
        ):
            r.output()
        assert time.monotonic() - started < 2.5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    r.close()
