"""One scenario of the historical remctl Python API, run as a script.

    python legacy_scenario.py HOST PORT PRINCIPAL

It runs the calls the old module's README documents (and a few it does not)
against a remctld with the test configuration, and prints one JSON object:
each step's label, mapped to repr() of what it returned or of the exception
it raised. It uses only what both implementations offer, so the very same
script runs on Debian's python3-pyremctl (under the system Python) and on
this package, and tests/test_abi_compat.py compares the two outputs.

"maps" lists the libremctl files mapped into the process, and "modules" the
files the remctl and _remctl modules came from.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import _remctl
import remctl


def outcome(step: Callable[[], Any]) -> str:
    try:
        return repr(step())
    except Exception as exc:  # noqa: BLE001 - the exception is the result
        return f"raises {type(exc).__name__}{exc.args!r}"


def simple(*args: Any, **kwargs: Any) -> Callable[[], Any]:
    def step() -> Any:
        result = remctl.remctl(*args, **kwargs)
        return (type(result).__name__, result.stdout, result.stderr, result.status)

    return step


def answer(r: remctl.Remctl, command: list[Any]) -> list[tuple[Any, ...]]:
    """command, then output() until status or error, then two more calls.

    Output tokens are sorted: remctld reads stdout and stderr from separate
    pipes, so their order varies.
    """
    r.command(command)
    outputs = []
    while True:
        token = tuple(r.output())
        if token[0] != "output":
            break
        outputs.append(token)
    return sorted(outputs) + [token, tuple(r.output()), tuple(r.output())]


def main() -> None:
    host, port, principal = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    results: dict[str, str] = {}

    def record(label: str, step: Callable[[], Any]) -> None:
        results[label] = outcome(step)

    # The simple interface.
    record("simple positional", simple(host, port, principal, ["test", "echo", "a"]))
    record(
        "simple keywords",
        simple(
            host=host,
            port=str(port),
            principal=principal,
            command=iter([b"test", "echo", "h\u00e9", b"\xff"]),
        ),
    )
    record("simple empty streams", simple(host, port, principal, ["test", "nothing"]))
    record("simple stderr", simple(host, port, principal, ["test", "stderr", "e"]))
    record("simple status", simple(host, port, principal, ["test", "status", "7"]))
    record(
        "simple status 200", simple(host, port, principal, ["test", "status", "200"])
    )
    record("simple unknown", simple(host, port, principal, ["test", "bogus"]))
    record("simple denied", simple(host, port, principal, ["test", "denied"]))
    record("simple port 1", simple(host, 1, principal, ["test", "echo"]))
    record("simple port 'foo'", simple(host, "foo", principal, ["test"]))
    record("simple port -1", simple(host, -1, principal, ["test"]))
    record("simple port 65536", simple(host, 65536, principal, ["test"]))
    record("simple command str", simple(host, port, principal, "test echo"))
    record("simple command bytes", simple(host, port, principal, b"test"))
    record("simple command empty", simple(host, port, principal, []))

    # The full interface.
    r = remctl.Remctl()
    record("error before open", r.error)
    record("command before open", lambda: r.command(["test", "echo"]))
    record("output before open", r.output)
    record("noop before open", r.noop)
    record("open port 'foo'", lambda: r.open(host, "foo", principal))
    record("open port -1", lambda: r.open(host, -1, principal))
    record("open", lambda: r.open(host, str(port), principal))
    record("mixed", lambda: answer(r, ["test", "mixed"]))
    record("echo", lambda: answer(r, [b"test", "echo", "x"]))
    record("nothing", lambda: answer(r, ["test", "nothing"]))
    record("status 200", lambda: answer(r, ["test", "status", "200"]))
    record("unknown", lambda: answer(r, ["test", "bogus"]))
    record("command str", lambda: r.command("test"))
    record("command empty", lambda: r.command([]))
    record("noop", r.noop)
    record("error after success", r.error)
    record("close", r.close)
    record("error after close", r.error)
    record("command after close", lambda: r.command(["test", "echo"]))
    record("output after close", r.output)
    record("open after close", lambda: r.open(host, port, principal))
    record("echo after reopen", lambda: answer(r, ["test", "echo", "again"]))
    record(
        "open in constructor",
        lambda: type(remctl.Remctl(host, port, principal)).__name__,
    )
    t = remctl.Remctl()
    record("set_timeout", lambda: t.set_timeout(1))
    record("open with timeout", lambda: t.open(host, port, principal))
    record("timeout", lambda: answer(t, ["test", "sleep", "3"]))
    record("open refused", lambda: remctl.Remctl().open(host, 1, principal))

    # Classes and names.
    record(
        "exception classes",
        lambda: [
            (c.__name__, [b.__name__ for b in c.__mro__[1:-2]])
            for c in (
                remctl.RemctlError,
                remctl.RemctlProtocolError,
                remctl.RemctlNotOpenedError,
            )
        ],
    )
    record("remctl.VERSION", lambda: type(remctl.VERSION).__name__)
    record("_remctl.VERSION", lambda: type(_remctl.VERSION).__name__)

    # The low-level module.
    record(
        "_remctl.remctl",
        lambda: _remctl.remctl(host, port, principal, [b"test", b"echo", b"l"]),
    )
    record(
        "_remctl.remctl unknown",
        lambda: _remctl.remctl(host, port, principal, [b"test", b"bogus"]),
    )
    low = _remctl.remctl_new()
    record("_remctl.remctl_error new", lambda: _remctl.remctl_error(low))
    record(
        "_remctl.remctl_open", lambda: _remctl.remctl_open(low, host, port, principal)
    )
    record(
        "_remctl.remctl_commandv",
        lambda: _remctl.remctl_commandv(low, [b"test", b"echo", b"v"]),
    )
    record("_remctl.remctl_output 1", lambda: _remctl.remctl_output(low))
    record("_remctl.remctl_output 2", lambda: _remctl.remctl_output(low))
    record("_remctl.remctl_output 3", lambda: _remctl.remctl_output(low))
    record("_remctl.remctl_noop", lambda: _remctl.remctl_noop(low))
    record("_remctl.remctl_set_timeout", lambda: _remctl.remctl_set_timeout(low, 5))
    # Not _remctl.remctl_close(low): in the old module the handle's capsule
    # frees the C object again when collected, a double free that aborts.

    with open("/proc/self/maps", encoding="utf-8") as maps:
        mapped = {
            line.split(None, 5)[5].strip() for line in maps if "libremctl" in line
        }
    results["maps"] = repr(sorted(mapped))
    results["modules"] = repr([remctl.__file__, _remctl.__file__])
    print(json.dumps(results, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
