"""Daemons of the test environment: started in their own process group,
stopped by process id with everything they forked, and waited for until
they listen on their port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping

from .errors import RemctlTestError

__all__ = ["Daemon", "tail", "wait_until_ready"]

_STOP_TIMEOUT = 5.0  # seconds a daemon gets to exit after SIGTERM
_GRACE = 0.3  # seconds its leftover helpers get before SIGKILL
_LOG_TAIL = 4000  # characters of a daemon's log quoted in an error


def tail(path: str, limit: int = _LOG_TAIL) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no output)"
    return text.strip() or "(no output)"


def _group_has_live_members(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member that is not a zombie.

    Orphaned members that exited stay zombies until init reaps them, which
    can take a while; they hold nothing, so they do not count.  Without
    /proc, any member counts.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            return True
    return False


class Daemon:
    """A child process in its own process group, logging to a file.

    It is stopped by signalling its process group (whose id is the child's
    pid), so helpers it forked, such as remctld's per-connection children and
    the commands they run, are stopped with it.
    """

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], log: str
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                argv,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.pid = self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def _signal_group(self, sig: int) -> bool:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def stop(self) -> None:
        """Stop the child and everything left in its process group.

        SIGTERM goes to the whole group; the child gets a few seconds to exit.
        Members that outlive it (remctld's per-connection children ignore
        SIGTERM while they wait for the next command) get a short grace
        period, then SIGKILL.  The child is always reaped.
        """
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        grace = time.monotonic() + _GRACE
        deadline = time.monotonic() + _STOP_TIMEOUT
        killed = False
        while _group_has_live_members(self.pid):
            now = time.monotonic()
            if not killed and now > grace:
                self._signal_group(signal.SIGKILL)
                killed = True
            elif now > deadline:
                raise RemctlTestError(
                    f"processes of {self.name} (process group {self.pid}) "
                    "survived SIGKILL"
                )
            time.sleep(0.01)

    def describe_failure(self) -> str:
        status = self.process.poll()
        state = "is running" if status is None else f"exited with status {status}"
        return f"{self.name} (pid {self.pid}) {state}; its output:\n{tail(self.log)}"


def _listening_inodes(port: int) -> set[str] | None:
    """Socket inodes listening on TCP ``port``; None without /proc/net."""
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for row in rows:
            fields = row.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN.
            listening = len(fields) > 9 and fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes if readable else None


def _owns_listener(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` listens on TCP ``port``; None if unknowable."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return None
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for descriptor in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_ready(
    daemon: Daemon,
    host: str,
    port: int,
    timeout: float,
    log: str | None = None,
    marker: str | None = None,
) -> bool:
    """Wait until ``daemon`` itself listens on ``port``; False if it exits.

    Ready means: the process holds a listening socket on the port (checked
    through /proc, so a stranger on the port does not count; where /proc is
    unavailable, the port accepting a connection), and ``marker`` has
    appeared in the file ``log`` when both are given.  Raises
    :class:`RemctlTestError` with the daemon's output after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while daemon.alive():
        ready = True
        if log is not None and marker is not None:
            try:
                with open(log, encoding="utf-8", errors="replace") as handle:
                    ready = marker in handle.read()
            except OSError:
                ready = False
        if ready:
            owns = _owns_listener(daemon.pid, port)
            ready = _accepts(host, port) if owns is None else owns
        if ready:
            return daemon.alive()
        if time.monotonic() > deadline:
            raise RemctlTestError(
                f"{daemon.name} did not listen on {host}:{port} within "
                f"{timeout:g} s; {daemon.describe_failure()}"
            )
        time.sleep(0.01)
    return False
