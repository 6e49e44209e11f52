"""Every promise of the historical remctl module's documentation, as a test.

The documentation of the Python 2 era ``remctl`` module is what existing code
was written against. Each behavioural statement in it is listed below in our
own words (P1...), with the tests that prove it, here or elsewhere. The
tests run end to end against the real KDC and remctld of the ``server``
fixture; tests/relay.py puts a byte-for-byte TCP relay in front of remctld
where a promise is about connections (how many, from where, on which port,
when closed), so nothing in the client is faked.

Where this package deliberately does something else (bytes for output,
Python 3), the README's "Compatibility" section says which statement and
why; the tests below check what we do instead.

Overview
  P1  three interfaces: low-level, simple call, full connection object
      -> test_offers_low_level_simple_and_full_interfaces
Simple interface
  P2  remctl() runs one command and returns an object with the results
      -> test_simple_runs_command_and_returns_result_object
  P3  host is required, a string -> test_simple_host_is_required_string
  P4  port is optional, an unsigned short (0-65535)
      -> test_legacy_api.py::test_simple_argument_errors (-1, 65536, "foo"),
         test_simple_port_is_optional_unsigned_short
  P5  without a port, 4373 is tried first -> test_default_port_is_4373_first
  P6  ... then the legacy port 4444 -> test_default_port_falls_back_to_4444
  P7  without a principal, host/HOST in the realm of the domain-realm
      mapping -> test_default_principal_is_host_service_of_host
  P8  command is required -> test_simple_command_is_required
  P9  defaults by giving only host and command by name, or None for port
      and principal -> test_simple_defaults_by_name_or_none
  P10 command: any sequence or iterator of strings or things convertible to
      strings -> test_command_any_sequence_or_iterator,
      test_command_converts_numbers_paths_and_objects,
      test_command_refuses_almost_sure_mistakes
  P11 the result has stdout, stderr and status
      -> test_simple_result_has_stdout_stderr_status
  P12 ValueError or TypeError for an invalid argument
      -> test_legacy_api.py::test_simple_argument_errors,
         test_command_refuses_almost_sure_mistakes
  P13 RemctlProtocolError when the remctl communication fails
      -> test_simple_failure_raises_protocol_error
  P14 its value attribute and its string value are the library's message
      -> test_protocol_error_value_is_library_message,
         test_value_attribute_on_every_remctl_error
  P15 ... a local (network) error or one the server returned
      -> test_protocol_error_value_is_library_message (both kinds)
  P16 the example program works as shown -> test_documented_example_runs
Full interface
  P17 several commands on one persistent connection (protocol 2 and up)
      -> test_several_commands_share_one_connection
  P18 a server without protocol 2: transparently a connection per command
      -> test_protocol1_server_gets_a_connection_per_command
  P19 Remctl(), open() (or constructor arguments), command(), output()
      until the status token, then the next command
      -> test_full_workflow_both_ways
  P20 constructor arguments optional; given, it opens with them at once,
      with open()'s exceptions -> test_constructor_opens_with_its_arguments,
      test_legacy_api.py::test_constructor_opens_only_with_host
  P21 set_source_ip() sets the local address of outgoing connections
      -> test_set_source_ip_sets_local_address
  P22 ... must come before open(), applies to every later open()
      -> test_set_source_ip_applies_to_later_opens
  P23 ... IPv4 or IPv6 -> test_set_source_ip_ipv6
  P24 ... an IP address, not a host name -> test_set_source_ip_refuses_host_name
  P25 set_source_ip() raises RemctlError on memory exhaustion: NOT TESTED
      (malloc cannot be made to fail in the real library without a
      fault-injection build)
  P26 open() connects and authenticates, returns None, raises on any error
      -> test_open_returns_none_after_authenticating
  P27 open() defaults as for remctl() -> test_default_port_is_4373_first,
      test_default_port_falls_back_to_4444,
      test_default_principal_is_host_service_of_host (each also for open())
  P28 open(): ValueError/TypeError for bad arguments, RemctlError for a
      network or authentication failure
      -> test_open_bad_arguments, test_open_failure_raises_remctl_error
  P29 ... whose value and string are the library's, as error() returns
      -> test_open_failure_raises_remctl_error
  P30 command() sends, returns None, raises on any error
      -> test_command_returns_none
  P31 command() needs an open connection: RemctlNotOpenedError
      -> test_legacy_api.py::test_not_opened
  P32 a command may hold any byte; servers judge NUL themselves
      -> test_command_any_byte_server_judges_nul
  P33 command() takes the same commands as remctl() -> the P10 tests run on
      both
  P34 command(): ValueError/TypeError, RemctlError on a network failure,
      RemctlNotOpenedError -> test_command_network_failure_raises_remctl_error,
      test_legacy_api.py::test_full_argument_errors and test_not_opened
  P35 ... value and string as error() -> test_command_network_failure_...
  P36 output() returns the next token as a tuple
      -> test_output_token_members_by_type
  P37 one error token, or zero or more output tokens then a status token
      -> test_answer_is_one_error_or_outputs_then_status
  P38 done tokens after the end until the next command()
      -> test_legacy_api.py::test_output_tuples_and_done_until_next_command,
         test_done_tokens_after_error_and_status
  P39 the members: type, output, stream, status, error
      -> test_output_token_members_by_type
  P40 type always set; the others None by type; done all None
      -> test_output_token_members_by_type
  P41 error tokens: the numeric code is the value to check; the text is
      English and may change -> test_error_token_code_and_text
  P42 output() without a connection: RemctlNotOpenedError
      -> test_legacy_api.py::test_not_opened
  P43 after close(), open() again before more commands
      -> test_close_then_open_before_more_commands
  P44 closed automatically when the object is destroyed
      -> test_destroyed_object_closes_its_connection,
         test_bad_callers.py::test_dropped_without_close
  P45 error(): the message of the last failed method
      -> test_error_keeps_last_failure_after_success
  P46 ... the same string as the exception's
      -> test_error_is_the_exception_text
Low-level interface
  P47 _remctl: essentially the C API
      -> test_legacy_api.py::test_import_low_level_module_at_top_level
  P48 its simple call returns a tuple -> test_low_level_simple_call_tuple
  P49 failures are return values, not exceptions
      -> test_low_level_failures_are_return_values
  P50 less argument checking, some left to the C library
      -> test_low_level_leaves_checks_to_c_library
  P51 command arguments are lists (of bytes), not arbitrary iterables
      -> test_low_level_command_must_be_a_list_of_bytes
"""

from __future__ import annotations

import decimal
import fractions
import gc
import hashlib
import ipaddress
import os
import pathlib
import pickle
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import remctl
from collect import run
from relay import Relay, reserve_port
from remctl import _remctl as low

DONE = ("done", None, None, None, None)
NOT_OPEN = "no currently open connection"
DEFAULT_PORT, LEGACY_PORT = 4373, 4444

PROTOCOL1 = pytest.mark.test_hooks(
    reason="forces protocol 1 through the test hook REMCTL_TEST_PROTOCOL"
)
SOURCE_CHECKED_WHEN_SET = pytest.mark.ours_only(
    reason="only our library checks a source address when it is set"
)


@pytest.fixture
def relay(server: Any) -> Iterator[Relay]:
    """A relay to remctld on a free loopback port."""
    with Relay((server.host, server.port)) as forwarder:
        yield forwarder


def answer(r: remctl.Remctl) -> list[tuple[Any, ...]]:
    """output() until the token that ends the answer, as plain tuples."""
    tokens = []
    while True:
        token = tuple(r.output())
        tokens.append(token)
        if token[0] != "output":
            return tokens


def echoed(server: Any, *arguments: Any) -> bytes | None:
    """What ``test echo ARGUMENTS`` prints, through remctl.remctl()."""
    command = ["test", "echo", *arguments]
    return remctl.remctl(server.host, server.port, server.principal, command).stdout


# -- P1: three interfaces -------------------------------------------------------


def test_offers_low_level_simple_and_full_interfaces(server: Any) -> None:
    host, port, principal = server.host, server.port, server.principal
    command = [b"test", b"echo", b"three"]
    assert low.remctl(host, port, principal, command) == (None, b"three\n", None, 0)
    simple = remctl.remctl(host, port, principal, command)
    assert (simple.stdout, simple.stderr, simple.status) == (b"three\n", None, 0)
    with remctl.Remctl(host, port, principal) as full:
        for word in ("one", "two"):
            full.command(["test", "echo", word])
            assert answer(full) == [
                ("output", f"{word}\n".encode(), 1, None, None),
                ("status", None, None, 0, None),
            ]


# -- P2-P16: the simple interface ------------------------------------------------


def test_simple_runs_command_and_returns_result_object(server: Any) -> None:
    result = remctl.remctl(
        server.host, server.port, server.principal, ["test", "status", "4"]
    )
    assert isinstance(result, remctl.RemctlSimpleResult)
    assert (result.stdout, result.stderr, result.status) == (None, None, 4)


def test_simple_host_is_required_string(server: Any) -> None:
    with pytest.raises(TypeError):
        remctl.remctl(command=["test", "echo"])  # type: ignore[call-arg]
    with pytest.raises(TypeError) as info:
        remctl.remctl(None, server.port, None, ["test", "echo"])  # type: ignore[arg-type]
    assert info.value.args == ("host must be str, not NoneType",)


def test_simple_port_is_optional_unsigned_short(server: Any) -> None:
    """The port as an int or as digits reaches the server; past 65535 it is
    refused (left out: see the default port tests)."""
    for port in (server.port, str(server.port)):
        command = ["test", "echo", "p"]
        result = remctl.remctl(server.host, port, server.principal, command)
        assert result.stdout == b"p\n"
    with pytest.raises(ValueError, match=r"^invalid port number: 65536$"):
        remctl.remctl(server.host, 65536, server.principal, ["test"])


def default_port_call(server: Any, how: str) -> bytes | None:
    """Run ``test echo default`` on the default port, with the principal
    left out too, through remctl() or Remctl.open()."""
    if how == "remctl()":
        return remctl.remctl(server.host, command=["test", "echo", "default"]).stdout
    r = remctl.Remctl()
    r.open(server.host)
    r.command(["test", "echo", "default"])
    tokens = answer(r)
    r.close()
    assert tokens[-1] == ("status", None, None, 0, None)
    return b"".join(t[1] for t in tokens[:-1])


@pytest.mark.parametrize("how", ["remctl()", "open()"])
def test_default_port_is_4373_first(server: Any, how: str) -> None:
    legacy = reserve_port(LEGACY_PORT)  # refused there, should it be tried
    try:
        with Relay((server.host, server.port), port=DEFAULT_PORT) as relay:
            assert default_port_call(server, how) == b"default\n"
            assert relay.accepted == 1
    finally:
        legacy.close()


@pytest.mark.parametrize("how", ["remctl()", "open()"])
def test_default_port_falls_back_to_4444(server: Any, how: str) -> None:
    refused = reserve_port(DEFAULT_PORT)
    try:
        with Relay((server.host, server.port), port=LEGACY_PORT) as relay:
            assert default_port_call(server, how) == b"default\n"
            assert relay.accepted == 1
    finally:
        refused.close()


def test_default_principal_is_host_service_of_host(server: Any) -> None:
    """The test server's principal is host/127.0.0.1@REALM: left out, the
    principal is derived from the host name given, so 127.0.0.1 works and
    localhost asks for host/localhost@REALM, which does not exist."""
    result = remctl.remctl(server.host, server.port, None, ["test", "echo", "d"])
    assert result.stdout == b"d\n"
    r = remctl.Remctl(server.host, server.port)
    r.command(["test", "echo", "o"])
    assert answer(r)[0] == ("output", b"o\n", 1, None, None)
    r.close()
    wanted = f"host/localhost@{server.realm}"
    with pytest.raises(remctl.RemctlProtocolError) as simple:
        remctl.remctl("localhost", server.port, None, ["test", "echo"])
    assert wanted in str(simple.value)
    with pytest.raises(remctl.RemctlError) as full:
        remctl.Remctl().open("localhost", server.port)
    assert wanted in str(full.value)


def test_simple_command_is_required(server: Any) -> None:
    with pytest.raises(ValueError) as info:
        remctl.remctl(server.host, server.port, server.principal)
    assert info.value.args == ("command must not be empty",)


def test_simple_defaults_by_name_or_none(server: Any) -> None:
    with Relay((server.host, server.port), port=DEFAULT_PORT) as relay:
        by_name = remctl.remctl(host=server.host, command=("test", "echo", "n"))
        by_none = remctl.remctl(server.host, None, None, ("test", "echo", "0"))
        assert (by_name.stdout, by_none.stdout) == (b"n\n", b"0\n")
        assert relay.accepted == 2


class Named:
    """An object whose text is its own __str__."""

    def __str__(self) -> str:
        return "named"


class Shown:
    """An object with only a __repr__, which str() uses."""

    def __repr__(self) -> str:
        return "Shown()"


class BytesPath:
    """An os.PathLike whose path is bytes (not valid UTF-8)."""

    def __fspath__(self) -> bytes:
        return b"/srv/\xff"


CONVERTED: list[tuple[object, bytes]] = [
    ("str \u00e9", "str \u00e9".encode()),
    (b"raw \xff", b"raw \xff"),
    (bytearray(b"ba"), b"ba"),
    (memoryview(b"mv"), b"mv"),
    (3, b"3"),
    (-17, b"-17"),
    (2**70, str(2**70).encode()),
    (1.5, b"1.5"),
    (0.1, b"0.1"),
    (pathlib.Path("/tmp/some file"), b"/tmp/some file"),
    (pathlib.PurePosixPath("rel/p\u00e4th"), "rel/p\u00e4th".encode()),
    (BytesPath(), b"/srv/\xff"),
    (decimal.Decimal("1.10"), b"1.10"),
    (fractions.Fraction(1, 3), b"1/3"),
    (uuid.UUID(int=1), b"00000000-0000-0000-0000-000000000001"),
    (ipaddress.ip_address("192.0.2.1"), b"192.0.2.1"),
    (Named(), b"named"),
    (Shown(), b"Shown()"),
]


def send_each_way(server: Any, how: str, command: Any) -> bytes:
    """Run ``test hashargs``-style commands through one public entry point."""
    if how == "remctl()":
        result = remctl.remctl(server.host, server.port, server.principal, command)
        return result.stdout or b""
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        if how == "command()":
            collected = run(r, command)
            assert collected.status == 0
            return collected.stdout
        return r.run(command, check=True).stdout


ENTRY_POINTS = ["remctl()", "command()", "run()"]


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_command_any_sequence_or_iterator(server: Any, how: str) -> None:
    words = ["test", "echo", "a", "b"]

    def generate() -> Iterator[str]:
        yield from words

    for command in (list(words), tuple(words), iter(words), generate()):
        assert send_each_way(server, how, command) == b"a b\n"


@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_command_converts_numbers_paths_and_objects(server: Any, how: str) -> None:
    """Each argument reaches the server as the bytes in CONVERTED (hashargs
    hashes every argument with its length, so any byte counts)."""
    arguments = [value for value, _ in CONVERTED]
    expected = [sent for _, sent in CONVERTED]
    ours = send_each_way(server, how, ["test", "hashargs", *arguments])
    reference = send_each_way(server, how, ["test", "hashargs", *expected])
    assert ours == reference
    assert ours.startswith(f"{len(expected)} ".encode())
    words = send_each_way(server, how, ["test", "echo", 7, 2.5, pathlib.Path("/x")])
    assert words == b"7 2.5 /x\n"


REFUSED: list[tuple[object, type[Exception], str]] = [
    (None, TypeError, "command argument 2 is None"),
    (
        True,
        TypeError,
        "command argument 2 is a bool (True): pass the string the command expects",
    ),
    (
        ["a", "b"],
        TypeError,
        (
            "command argument 2 is a collection or iterator (list): pass its"
            " items as separate arguments"
        ),
    ),
    (
        (x for x in "ab"),
        TypeError,
        (
            "command argument 2 is a collection or iterator (generator): pass"
            " its items as separate arguments"
        ),
    ),
    (
        object(),
        TypeError,
        "command argument 2 has no text of its own (object object): pass a string",
    ),
    (
        "\udc80",
        ValueError,
        "command argument 2 cannot be encoded as UTF-8: surrogates not allowed",
    ),
    (
        pathlib.PurePosixPath("\udcff"),
        ValueError,
        "command argument 2 cannot be encoded as UTF-8: surrogates not allowed",
    ),
]


@pytest.mark.parametrize(("value", "kind", "message"), REFUSED)
@pytest.mark.parametrize("how", ENTRY_POINTS)
def test_command_refuses_almost_sure_mistakes(
    server: Any, relay: Relay, how: str, value: Any, kind: type, message: str
) -> None:
    """Refused before anything is sent (the relay sees no command: a
    Remctl object sends one more echo on the same connection after it)."""
    command = ["test", "echo", value]
    if how == "remctl()":
        with pytest.raises(kind) as info:
            remctl.remctl(server.host, relay.port, server.principal, command)
        assert relay.accepted == 0
    else:
        with remctl.Remctl(server.host, relay.port, server.principal) as r:
            with pytest.raises(kind) as info:
                r.command(command) if how == "command()" else r.run(command)
            assert r.run(["test", "echo", "next"]).stdout == b"next\n"
    assert info.value.args == (message,)


def _every_remctl_error() -> list[type[remctl.RemctlError]]:
    found: list[type[remctl.RemctlError]] = []
    pending: list[type[remctl.RemctlError]] = [remctl.RemctlError]
    while pending:
        kind = pending.pop()
        if kind not in found:
            found.append(kind)
            pending += kind.__subclasses__()
    return found


def test_value_attribute_on_every_remctl_error() -> None:
    """value is the message as str for RemctlError and every subclass
    (the cause classes, RemctlCommandError), also after pickling."""
    kinds = _every_remctl_error()
    assert remctl.RemctlCommandError in kinds
    assert remctl.RemctlProtocolError in kinds and len(kinds) >= 4
    failed = remctl.RemctlResult(b"o", b"e", 3)
    for kind in kinds:
        if issubclass(kind, remctl.RemctlCommandError):
            exc: remctl.RemctlError = kind("command exited with status 3", failed)
        else:
            exc = kind("the library's message \u00e9")
        copy = pickle.loads(pickle.dumps(exc))
        for instance in (exc, copy):
            assert isinstance(instance.value, str), kind
            assert instance.value == str(instance) == instance.args[0], kind


def test_simple_result_has_stdout_stderr_status(server: Any) -> None:
    result = remctl.remctl(
        server.host, server.port, server.principal, ["test", "mixed"]
    )
    assert (result.stdout, result.stderr, result.status) == (b"out\n", b"err\n", 3)
    assert all(isinstance(x, bytes) for x in (result.stdout, result.stderr))
    assert isinstance(result.status, int)


def test_simple_failure_raises_protocol_error(server: Any) -> None:
    failures = {
        "network": (server.host, 1, server.principal),
        "authentication": (server.host, server.port, f"host/none@{server.realm}"),
    }
    for name, (host, port, principal) in failures.items():
        with pytest.raises(remctl.RemctlProtocolError) as info:
            remctl.remctl(host, port, principal, ["test", "echo"])
        assert str(info.value), name


@pytest.mark.parametrize("case", ["network", "server"])
def test_protocol_error_value_is_library_message(server: Any, case: str) -> None:
    """value and str() are the message the C library gives for the same
    call (the low-level simple call returns it as its first member)."""
    port = 1 if case == "network" else server.port
    command = ["test", "bogus"]
    with pytest.raises(remctl.RemctlProtocolError) as info:
        remctl.remctl(server.host, port, server.principal, command)
    library = low.remctl(server.host, port, server.principal, [b"test", b"bogus"])[0]
    assert library is not None
    assert info.value.value == str(info.value) == library
    assert isinstance(info.value.value, str)
    if case == "network":
        assert (
            library == f"cannot connect to {server.host} (port 1): Connection refused"
        )
    else:
        assert library == "Unknown command"


EXAMPLE = """
import remctl, sys
command = ('test', 'WHAT')
try:
    result = remctl.remctl(host=sys.argv[1], port=int(sys.argv[2]),
                           principal=sys.argv[3], command=command)
except remctl.RemctlProtocolError as error:
    print("Error:", str(error))
    sys.exit(1)
if result.stdout:
    print("stdout:", result.stdout)
if result.stderr:
    print("stderr:", result.stderr)
print("exit status:", result.status)
"""


@pytest.mark.parametrize(
    ("what", "code", "printed"),
    [
        ("test", 1, "Error: Unknown command\n"),
        ("mixed", 0, "stdout: b'out\\n'\nstderr: b'err\\n'\nexit status: 3\n"),
        ("nothing", 0, "exit status: 0\n"),
    ],
)
def test_documented_example_runs(
    server: Any, what: str, code: int, printed: str
) -> None:
    """The documented example, in Python 3 syntax, as a program of its own."""
    program = EXAMPLE.replace("WHAT", what)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            program,
            server.host,
            str(server.port),
            server.principal,
        ],
        env=server.subprocess_env(dict(os.environ)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (code, printed, "")


# -- P17-P46: the full interface ---------------------------------------------------


def test_several_commands_share_one_connection(server: Any, relay: Relay) -> None:
    with remctl.Remctl(server.host, relay.port, server.principal) as r:
        for index in range(3):
            r.command(["test", "echo", str(index)])
            assert answer(r)[0] == ("output", f"{index}\n".encode(), 1, None, None)
        r.noop()
        assert r.run(["test", "status", "2"]).status == 2
    assert relay.accepted == 1


@PROTOCOL1
def test_protocol1_server_gets_a_connection_per_command(
    server: Any, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMCTL_TEST_PROTOCOL", "1")
    with remctl.Remctl(server.host, relay.port, server.principal) as r:
        for index in range(3):
            r.command(["test", "echo", str(index)])
            assert answer(r) == [
                ("output", f"{index}\n".encode(), 1, None, None),
                ("status", None, None, 0, None),
            ]
        assert r.error() == "no error"
    # The first connection, then one new connection for each later command.
    assert relay.accepted == 3


def test_full_workflow_both_ways(server: Any) -> None:
    later = remctl.Remctl()
    assert later.open(server.host, server.port, server.principal) is None
    at_once = remctl.Remctl(server.host, server.port, server.principal)
    for r in (later, at_once):
        r.command(["test", "mixed"])
        tokens = answer(r)
        assert sorted(tokens[:-1]) == [
            ("output", b"err\n", 2, None, None),
            ("output", b"out\n", 1, None, None),
        ]
        assert tokens[-1] == ("status", None, None, 3, None)
        # The command is complete: the next one can be sent.
        r.command(["test", "echo", "next"])
        assert answer(r) == [
            ("output", b"next\n", 1, None, None),
            ("status", None, None, 0, None),
        ]
        r.close()


def test_constructor_opens_with_its_arguments(server: Any, relay: Relay) -> None:
    r = remctl.Remctl(server.host, relay.port, server.principal)
    assert relay.accepted == 1
    r.close()
    with pytest.raises(remctl.RemctlError) as refused:
        remctl.Remctl(server.host, 1, server.principal)
    assert refused.value.value == (
        f"cannot connect to {server.host} (port 1): Connection refused"
    )
    with pytest.raises(ValueError, match=r"^invalid port number: 65536$"):
        remctl.Remctl(server.host, 65536, server.principal)
    with pytest.raises(TypeError, match=r"^port must be a number: 'x'$"):
        remctl.Remctl(server.host, "x", server.principal)
    assert relay.accepted == 1


def test_set_source_ip_sets_local_address(server: Any, relay: Relay) -> None:
    r = remctl.Remctl()
    assert r.set_source_ip("127.0.0.2") is None
    r.open(server.host, relay.port, server.principal)
    assert r.run(["test", "echo", "s"]).stdout == b"s\n"
    r.close()
    assert [host for host, _ in relay.clients] == ["127.0.0.2"]


def test_set_source_ip_applies_to_later_opens(server: Any, relay: Relay) -> None:
    r = remctl.Remctl(server.host, relay.port, server.principal)
    r.set_source_ip("127.0.0.3")
    # The connection already open is kept as it is...
    assert r.run(["test", "echo", "1"]).stdout == b"1\n"
    assert [host for host, _ in relay.clients] == ["127.0.0.1"]
    # ...and every later open() of the object uses the address.
    for _ in range(2):
        r.close()
        r.open(server.host, relay.port, server.principal)
        assert r.run(["test", "echo", "2"]).stdout == b"2\n"
    r.close()
    assert [host for host, _ in relay.clients] == [
        "127.0.0.1",
        "127.0.0.3",
        "127.0.0.3",
    ]


def test_set_source_ip_ipv6(server: Any) -> None:
    """An IPv6 source for a server reached over IPv6 (a relay on ::1)."""
    with Relay((server.host, server.port), host="::1") as relay:
        r = remctl.Remctl()
        r.set_source_ip("::1")
        r.open("::1", relay.port, server.principal)
        assert r.run(["test", "echo", "six"]).stdout == b"six\n"
        r.close()
        assert [host for host, _ in relay.clients] == ["::1"]


def test_set_source_ip_refuses_host_name(server: Any, relay: Relay) -> None:
    """A host name is refused, by set_source_ip() or by the open() after it
    (Debian's library checks the address only when connecting)."""
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        r.set_source_ip("localhost")
        r.open(server.host, relay.port, server.principal)
    assert info.value.value == r.error() != "no error"
    assert relay.accepted == 0


@SOURCE_CHECKED_WHEN_SET
def test_set_source_ip_refuses_host_name_when_set() -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        r.set_source_ip("localhost")
    assert str(info.value) == r.error()
    assert "localhost" in str(info.value)


def test_open_returns_none_after_authenticating(server: Any, relay: Relay) -> None:
    r = remctl.Remctl()
    assert r.open(server.host, relay.port, server.principal) is None
    assert relay.accepted == 1
    assert r.error() == "no error"
    r.close()


def test_open_bad_arguments(server: Any) -> None:
    r = remctl.Remctl()
    with pytest.raises(TypeError, match=r"^host must be str, not int$"):
        r.open(7, server.port, server.principal)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^port must be a number: 'x'$"):
        r.open(server.host, "x", server.principal)
    with pytest.raises(ValueError, match=r"^invalid port number: -1$"):
        r.open(server.host, -1, server.principal)
    with pytest.raises(ValueError, match=r"^principal must not contain a NUL"):
        r.open(server.host, server.port, "host/a\0b")
    assert r.error() == "no error"  # argument errors are not RemctlErrors


@pytest.fixture
def no_tickets(tmp_path: pathlib.Path) -> str:
    return f"FILE:{tmp_path / 'no-such-cache'}"


@pytest.mark.parametrize("failure", ["refused", "unknown principal", "no tickets"])
def test_open_failure_raises_remctl_error(
    server: Any, failure: str, no_tickets: str
) -> None:
    """A network or an authentication failure: RemctlError whose value and
    string are the library's message (the same call through the low-level
    module gives it), and what error() then returns."""
    port, principal = server.port, server.principal
    if failure == "refused":
        port = 1
    elif failure == "unknown principal":
        principal = f"host/none@{server.realm}"
    r = remctl.Remctl()
    handle = low.remctl_new()
    if failure == "no tickets":
        r.set_ccache(no_tickets)
        assert low.remctl_set_ccache(handle, no_tickets)
    with pytest.raises(remctl.RemctlError) as info:
        r.open(server.host, port, principal)
    assert type(info.value) is not remctl.RemctlProtocolError
    assert not low.remctl_open(handle, server.host, port, principal)
    library = low.remctl_error(handle)
    low.remctl_close(handle)
    assert info.value.value == str(info.value) == r.error() == library
    assert library not in ("", "no error")
    r.close()


def test_command_returns_none(server: Any) -> None:
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        assert r.command(["test", "echo", "x"]) is None
        assert answer(r)[0] == ("output", b"x\n", 1, None, None)


def test_command_any_byte_server_judges_nul(server: Any) -> None:
    """Every octet but NUL passes in any argument; NUL passes where the
    server allows it (the argument it feeds to standard input) and
    otherwise the server, not the client, refuses the command."""
    every = bytes(range(256))
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        printed = run(r, ["test", "hashargs", every[1:], every[1:]]).stdout
        assert printed.startswith(b"2 ")
        assert printed == run(r, ["test", "hashargs", every[1:], every[1:]]).stdout
        digest = hashlib.sha256(every).hexdigest()
        assert run(r, ["test", "hashstdin", every]).stdout == f"256 {digest}\n".encode()
        r.command(["test", "echo", b"a\0b"])
        assert answer(r) == [("error", b"Invalid command token", None, None, 4)]


@pytest.mark.ours_only(
    reason="ours starts afresh on a new connection when a command is sent "
    "before the last answer was read; Debian's libremctl1 sends it on the "
    "old connection"
)
def test_command_network_failure_raises_remctl_error(server: Any) -> None:
    """The server vanishes while an answer is unread: the next command()
    must reconnect, which fails; RemctlError with the library's message,
    which error() also returns."""
    relay = Relay((server.host, server.port))
    r = remctl.Remctl(server.host, relay.port, server.principal)
    r.command(["test", "echo", "unread"])
    relay.close()
    with pytest.raises(remctl.RemctlError) as info:
        r.command(["test", "echo", "next"])
    expected = (
        f"cannot connect to {server.host} (port {relay.port}): Connection refused"
    )
    assert info.value.value == str(info.value) == r.error() == expected
    r.close()


def test_output_token_members_by_type(server: Any) -> None:
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        r.command(["test", "mixed"])
        tokens = answer(r) + [tuple(r.output())]
        r.command(["test", "bogus"])
        tokens += answer(r) + [tuple(r.output())]
    for token in tokens:
        assert isinstance(token, tuple) and len(token) == 5
        kind, output, stream, status, error = token
        assert kind in ("output", "status", "error", "done")
        present = {
            "output": (True, True, False, False),
            "status": (False, False, True, False),
            "error": (True, False, False, True),
            "done": (False, False, False, False),
        }[kind]
        members = (output, stream, status, error)
        assert tuple(m is not None for m in members) == present, token
        if output is not None:
            assert isinstance(output, bytes)
        for number in (stream, status, error):
            assert number is None or isinstance(number, int)
        if stream is not None:
            assert stream in (1, 2)
    assert sorted(t[2] for t in tokens if t[0] == "output") == [1, 2]


@pytest.mark.parametrize(
    ("command", "outputs", "last"),
    [
        (["test", "nothing"], 0, ("status", None, None, 0, None)),
        (["test", "echo", "x"], 1, ("status", None, None, 0, None)),
        (["test", "mixed"], 2, ("status", None, None, 3, None)),
        (["test", "bogus"], 0, ("error", b"Unknown command", None, None, 5)),
    ],
)
def test_answer_is_one_error_or_outputs_then_status(
    server: Any, command: list[str], outputs: int, last: tuple[Any, ...]
) -> None:
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        r.command(command)
        tokens = answer(r)
    assert [t[0] for t in tokens[:-1]] == ["output"] * outputs
    assert tokens[-1] == last


def test_done_tokens_after_error_and_status(server: Any) -> None:
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        for command in (["test", "denied"], ["test", "status", "1"]):
            r.command(command)
            answer(r)
            assert [tuple(r.output()) for _ in range(3)] == [DONE] * 3
        r.command(["test", "echo", "again"])
        assert answer(r)[0] == ("output", b"again\n", 1, None, None)


@pytest.mark.parametrize(
    ("subcommand", "code"), [("bogus", 5), ("denied", 6)], ids=["unknown", "denied"]
)
def test_error_token_code_and_text(server: Any, subcommand: str, code: int) -> None:
    """The code is the protocol's (5 unknown command, 6 access denied); the
    text is English words for it, not to be matched exactly."""
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        r.command(["test", subcommand])
        (token,) = answer(r)
    assert token[0] == "error" and token[4] == code
    text = token[1].decode("ascii")
    assert text and all(word.isalpha() for word in text.split())


def test_close_then_open_before_more_commands(server: Any, relay: Relay) -> None:
    r = remctl.Remctl(server.host, relay.port, server.principal)
    r.close()
    assert relay.wait_closed_by_client(1)
    with pytest.raises(remctl.RemctlNotOpenedError):
        r.command(["test", "echo"])
    r.open(server.host, relay.port, server.principal)
    assert r.run(["test", "echo", "reopened"]).stdout == b"reopened\n"
    r.close()
    assert relay.accepted == 2


def test_destroyed_object_closes_its_connection(server: Any, relay: Relay) -> None:
    r = remctl.Remctl(server.host, relay.port, server.principal)
    assert r.run(["test", "echo", "x"]).stdout == b"x\n"
    del r
    gc.collect()
    assert relay.wait_closed_by_client(1)


def test_error_keeps_last_failure_after_success(server: Any, relay: Relay) -> None:
    """error() returns the last failure's message even after later calls
    succeeded: a successful call does not make it "no error" again."""
    r = remctl.Remctl()
    assert r.error() == "no error"
    with pytest.raises(remctl.RemctlError) as info:
        r.open(server.host, 1, server.principal)
    r.open(server.host, relay.port, server.principal)
    assert r.run(["test", "echo", "ok"]).stdout == b"ok\n"
    r.command(["test", "nothing"])
    assert answer(r) == [("status", None, None, 0, None)]
    r.noop()
    assert r.error() == str(info.value)
    # A later failure replaces it; an error token is an answer, not a failure.
    r.set_timeout(1)
    with pytest.raises(remctl.RemctlError) as timeout:
        r.run(["test", "sleep", "3"])
    assert r.run(["test", "bogus"]).error == 5
    assert r.error() == str(timeout.value) != str(info.value)
    # While closed, and after a new open(), as the old module did.
    r.close()
    assert r.error() == NOT_OPEN
    r.open(server.host, relay.port, server.principal)
    assert r.error() == "no error"
    r.close()


def _not_opened(server: Any, r: remctl.Remctl) -> None:
    r.output()


def _open_refused(server: Any, r: remctl.Remctl) -> None:
    r.open(server.host, 1, server.principal)


def _output_timeout(server: Any, r: remctl.Remctl) -> None:
    r.set_timeout(1)
    r.open(server.host, server.port, server.principal)
    r.command(["test", "sleep", "3"])
    answer(r)


def _stream_timeout(server: Any, r: remctl.Remctl) -> None:
    r.set_timeout(1)
    r.open(server.host, server.port, server.principal)
    list(r.stream(["test", "sleep", "3"]))


def _run_checked(server: Any, r: remctl.Remctl) -> None:
    r.open(server.host, server.port, server.principal)
    r.run(["test", "status", "9"], check=True)


FAILING_CALLS = {
    "not opened": _not_opened,
    "open refused": _open_refused,
    "output timeout": _output_timeout,
    "stream timeout": _stream_timeout,
    "run check": _run_checked,
}


@pytest.mark.parametrize("call", sorted(FAILING_CALLS))
def test_error_is_the_exception_text(server: Any, call: str) -> None:
    r = remctl.Remctl()
    with pytest.raises(remctl.RemctlError) as info:
        FAILING_CALLS[call](server, r)
    assert r.error() == str(info.value) == info.value.value
    assert r.error() not in ("", "no error")
    r.close()


@PROTOCOL1
def test_error_is_the_exception_text_noop_protocol1(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMCTL_TEST_PROTOCOL", "1")
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        with pytest.raises(remctl.RemctlError) as info:
            r.noop()
        assert r.error() == info.value.value == "NOOP message not supported"
        assert r.run(["test", "echo", "still"]).stdout == b"still\n"
        assert r.error() == "NOOP message not supported"


# -- P47-P51: the low-level interface ----------------------------------------------


def test_low_level_simple_call_tuple(server: Any) -> None:
    host, port, principal = server.host, server.port, server.principal
    assert low.remctl(host, port, principal, [b"test", b"mixed"]) == (
        None,
        b"out\n",
        b"err\n",
        3,
    )
    assert low.remctl(host, port, principal, [b"test", b"denied"]) == (
        "Access denied",
        None,
        None,
        None,
    )


def test_low_level_failures_are_return_values(server: Any) -> None:
    handle = low.remctl_new()
    assert low.remctl_commandv(handle, [b"test", b"echo"]) is False
    assert low.remctl_output(handle) == ()
    assert low.remctl_noop(handle) is False
    assert low.remctl_open(handle, server.host, 1, server.principal) is False
    refused = f"cannot connect to {server.host} (port 1): Connection refused"
    assert low.remctl_error(handle) == refused
    assert low.remctl(server.host, 1, server.principal, [b"test"]) == (
        refused,
        None,
        None,
        None,
    )
    assert low.remctl_open(handle, server.host, server.port, server.principal)
    assert low.remctl_commandv(handle, [b"test", b"bogus"]) is True
    assert low.remctl_output(handle) == ("error", b"Unknown command", None, None, 5)
    low.remctl_close(handle)


def test_low_level_leaves_checks_to_c_library(server: Any) -> None:
    """An empty command or host is not refused in Python (the full
    interface raises ValueError): the C library decides. Ours fails the
    call; Debian's sends the empty command and remctld answers with an
    error token."""
    handle = low.remctl_new()
    assert low.remctl_open(handle, server.host, server.port, server.principal)
    if low.remctl_commandv(handle, []):
        token = low.remctl_output(handle)
        assert token and token[0] == "error", token
    else:
        assert low.remctl_error(handle) not in ("", "no error")
    r = remctl.Remctl(server.host, server.port, server.principal)
    with pytest.raises(ValueError, match="^command must not be empty$"):
        r.command([])
    r.close()
    assert low.remctl_open(handle, "", server.port, server.principal) is False
    low.remctl_close(handle)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            iter([b"test", b"echo"]),
            # The iterator's type name is the interpreter's (PyPy: another).
            "command must be a list of bytes, not "
            + type(iter([b"test"])).__name__,
        ),
        (b"test echo", "command must be a list of bytes, not bytes"),
        ([b"test", "echo"], "command argument 1 must be bytes, not str"),
        ([b"test", b"status", 3], "command argument 2 must be bytes, not int"),
        ([b"test", None], "command argument 1 must be bytes, not NoneType"),
    ],
)
def test_low_level_command_must_be_a_list_of_bytes(
    server: Any, command: Any, message: str
) -> None:
    handle = low.remctl_new()
    assert low.remctl_open(handle, server.host, server.port, server.principal)
    for call in (
        lambda: low.remctl_commandv(handle, command),
        lambda: low.remctl_command(handle, command),
        lambda: low.remctl(server.host, server.port, server.principal, command),
    ):
        with pytest.raises(TypeError) as info:
            call()
        assert info.value.args == (message,)
    # Nothing was sent: the connection still runs a command.
    assert low.remctl_commandv(handle, (b"test", b"echo", b"ok"))
    assert low.remctl_output(handle) == ("output", b"ok\n", 1, None, None)
    low.remctl_close(handle)


def test_low_level_c_string_calls_refuse_nul(server: Any) -> None:
    """remctl() and remctl_command() pass C strings: a NUL is refused, not
    cut short; remctl_commandv sends it (and the server judges)."""
    handle = low.remctl_new()
    assert low.remctl_open(handle, server.host, server.port, server.principal)
    message = (
        "command argument 2 contains a NUL byte, which a C string cannot hold"
        " (use remctl_commandv)"
    )
    command = [b"test", b"echo", b"a\0b"]
    for call in (
        lambda: low.remctl_command(handle, command),
        lambda: low.remctl(server.host, server.port, server.principal, command),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert info.value.args == (message,)
    assert low.remctl_commandv(handle, command)
    assert low.remctl_output(handle) == (
        "error",
        b"Invalid command token",
        None,
        None,
        4,
    )
    low.remctl_close(handle)


def test_relay_sees_what_it_claims(server: Any) -> None:
    """The relay itself: connections counted, client closes seen."""
    with Relay((server.host, server.port)) as relay:
        with socket.create_connection(("127.0.0.1", relay.port)):
            pass
        assert relay.wait_closed_by_client(1)
        assert relay.accepted == 1
