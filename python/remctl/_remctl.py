"""The low-level interface: one Python function per function of the C API.

This mirrors the historical ``_remctl`` extension module.  Functions return
what the C functions return (success flags, tuples) instead of raising for
remote or network errors; call :func:`remctl_error` to learn why one failed.
They raise only for bad Python arguments, for allocation failure, and for use
of a handle that has been closed.

A :class:`RemctlHandle` is not safe to use from several threads at once; the
high-level :class:`remctl.Remctl` adds the locking.
"""

from __future__ import annotations

import ctypes
import sys
import weakref
from collections.abc import Sequence
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_long,
    c_size_t,
    c_ushort,
    c_void_p,
)
from typing import Any, Optional, Union

from ._library import load_library

__all__ = [
    "OutputTuple",
    "RemctlHandle",
    "ResultTuple",
    "remctl",
    "remctl_close",
    "remctl_command",
    "remctl_commandv",
    "remctl_error",
    "remctl_new",
    "remctl_noop",
    "remctl_open",
    "remctl_open_addrinfo",
    "remctl_open_fd",
    "remctl_open_sockaddr",
    "remctl_output",
    "remctl_set_ccache",
    "remctl_set_source_ip",
    "remctl_set_timeout",
]

# (type, data, stream, status, error), or () when remctl_output failed.
OutputTuple = tuple[str, Optional[bytes], Optional[int], Optional[int], Optional[int]]
# (error, stdout, stderr, status) from the simple interface.
ResultTuple = tuple[Optional[str], Optional[bytes], Optional[bytes], Optional[int]]

c_time_t = c_long
_TIME_T_MAX = 2 ** (8 * ctypes.sizeof(c_time_t) - 1) - 1


class _Result(Structure):
    """struct remctl_result"""

    _fields_ = [
        ("error", c_void_p),
        ("stdout_buf", c_void_p),
        ("stdout_len", c_size_t),
        ("stderr_buf", c_void_p),
        ("stderr_len", c_size_t),
        ("status", c_int),
    ]


class _Output(Structure):
    """struct remctl_output"""

    _fields_ = [
        ("type", c_int),
        ("data", c_void_p),
        ("length", c_size_t),
        ("stream", c_int),
        ("status", c_int),
        ("error", c_int),
    ]


class _IOVec(Structure):
    """struct iovec, its base pointing into a bytes object.

    A c_char_p field takes the bytes object's buffer as it is (NUL bytes
    included; the length says where it ends), and the array keeps a reference
    to every bytes object it points into.
    """

    _fields_ = [("iov_base", c_char_p), ("iov_len", c_size_t)]


class _AddrInfo(Structure):
    """struct addrinfo, in this system's layout"""


# POSIX leaves the order of the members open: Linux puts ai_addr before
# ai_canonname, the BSDs and macOS put it after.
_ADDRESS_AND_NAME: list[tuple[str, Any]] = [
    ("ai_addr", c_void_p),
    ("ai_canonname", c_char_p),
]
if not sys.platform.startswith("linux"):
    _ADDRESS_AND_NAME.reverse()
_AddrInfo._fields_ = [
    ("ai_flags", c_int),
    ("ai_family", c_int),
    ("ai_socktype", c_int),
    ("ai_protocol", c_int),
    ("ai_addrlen", ctypes.c_uint32),
    *_ADDRESS_AND_NAME,
    ("ai_next", POINTER(_AddrInfo)),
]

# enum remctl_output_type
_OUTPUT_TYPES = {0: "output", 1: "status", 2: "error", 3: "done"}

_lib = load_library()
_string_at = ctypes.string_at


def _declare(name: str, restype: object, *argtypes: object) -> None:
    function = getattr(_lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)


_declare("remctl", POINTER(_Result), c_char_p, c_ushort, c_char_p, c_void_p)
_declare("remctl_result_free", None, POINTER(_Result))
_declare("remctl_new", c_void_p)
_declare("remctl_open", c_int, c_void_p, c_char_p, c_ushort, c_char_p)
_declare(
    "remctl_open_addrinfo", c_int, c_void_p, c_char_p, POINTER(_AddrInfo), c_char_p
)
_declare("remctl_open_sockaddr", c_int, c_void_p, c_char_p, c_void_p, c_int, c_char_p)
_declare("remctl_open_fd", c_int, c_void_p, c_char_p, c_int, c_char_p)
_declare("remctl_set_ccache", c_int, c_void_p, c_char_p)
_declare("remctl_set_source_ip", c_int, c_void_p, c_char_p)
_declare("remctl_set_timeout", c_int, c_void_p, c_time_t)
_declare("remctl_command", c_int, c_void_p, c_void_p)
_declare("remctl_commandv", c_int, c_void_p, POINTER(_IOVec), c_size_t)
_declare("remctl_noop", c_int, c_void_p)
# A plain address: reading it with from_address skips building a POINTER.
_declare("remctl_output", c_void_p, c_void_p)
_declare("remctl_error", c_char_p, c_void_p)
_declare("remctl_close", None, c_void_p)


class RemctlHandle:
    """An open or unopened ``struct remctl``, freed exactly once.

    The C object is freed by :func:`remctl_close`, or when the handle is
    garbage collected without having been closed.
    """

    def __init__(self, pointer: int) -> None:
        self._pointer: int | None = pointer
        # Built once: a new c_void_p per call shows up in per-command cost.
        self._c_pointer = c_void_p(pointer)
        # Some libremctl builds (Debian's 3.18) keep the host and principal
        # pointers for reconnecting: the strings must outlive the open.
        self.open_strings: tuple[bytes | None, ...] = ()
        self._finalizer = weakref.finalize(self, _lib.remctl_close, c_void_p(pointer))

    @property
    def closed(self) -> bool:
        """Whether the C object has been freed."""
        return self._pointer is None

    def pointer(self) -> c_void_p:
        """Return the C pointer; raise ValueError if the handle is closed."""
        if self._pointer is None:
            raise ValueError("remctl handle is closed")
        return self._c_pointer

    def close(self) -> None:
        """Free the C object (idempotent)."""
        self._pointer = None
        self._finalizer()

    def __repr__(self) -> str:
        state = "closed" if self._pointer is None else hex(self._pointer)
        return f"<RemctlHandle {state}>"


StrOrBytes = Union[str, bytes]


def _cstring(value: StrOrBytes, what: str) -> bytes:
    """Convert a str (UTF-8) or bytes argument to a C string."""
    if isinstance(value, str):
        encoded = value.encode("utf-8")
    elif isinstance(value, bytes):
        encoded = value
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in encoded:
        raise ValueError(f"{what} must not contain a NUL character")
    return encoded


def _optional_cstring(value: StrOrBytes | None, what: str) -> bytes | None:
    return None if value is None else _cstring(value, what)


def _port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise ValueError(f"invalid port number: {port!r}")
    return port


def _decode(message: bytes | None) -> str:
    return "" if message is None else message.decode("utf-8", errors="replace")


def _buffer(pointer: int | None, length: int) -> bytes | None:
    """Copy C output into bytes; NULL or empty is None."""
    if not pointer or length == 0:
        return None
    return ctypes.string_at(pointer, length)


def _command(command: Sequence[bytes]) -> list[bytes]:
    """Check a command: a list (or tuple) of bytes, nothing converted.

    Stricter than the high-level interface, as the historical module was:
    a str, an int or an iterator is refused, never guessed at.
    """
    if not isinstance(command, (list, tuple)):
        raise TypeError(
            f"command must be a list of bytes, not {type(command).__name__}"
        )
    arguments = []
    for index, argument in enumerate(command):
        if isinstance(argument, bytes):
            arguments.append(argument)
        elif isinstance(argument, (bytearray, memoryview)):
            arguments.append(bytes(argument))
        else:
            raise TypeError(
                f"command argument {index} must be bytes, not {type(argument).__name__}"
            )
    return arguments


def _argv(command: Sequence[bytes]) -> ctypes.Array[c_char_p]:
    """Build a NULL-terminated char ** for the C functions taking one.

    A C string ends at its first NUL, so an argument holding one is refused
    rather than cut short (remctl_commandv sends any bytes).
    """
    arguments = _command(command)
    argv = (c_char_p * (len(arguments) + 1))()
    for index, argument in enumerate(arguments):
        if b"\0" in argument:
            raise ValueError(
                f"command argument {index} contains a NUL byte, which a C"
                " string cannot hold (use remctl_commandv)"
            )
        argv[index] = argument
    argv[len(arguments)] = None
    return argv


def remctl(
    host: StrOrBytes,
    port: int,
    principal: StrOrBytes | None,
    command: Sequence[bytes],
) -> ResultTuple:
    """Run one command: return (error, stdout, stderr, status).

    error is None on success, else the message (and the other members may
    be None).  stdout and stderr are None when empty.
    """
    c_host = _cstring(host, "host")
    c_principal = _optional_cstring(principal, "principal")
    argv = _argv(command)
    result = _lib.remctl(c_host, _port(port), c_principal, argv)
    if not result:
        raise MemoryError("remctl: cannot allocate result")
    try:
        contents = result.contents
        error = contents.error
        if error:
            message = _decode(ctypes.string_at(error))
            return (message, None, None, None)
        return (
            None,
            _buffer(contents.stdout_buf, contents.stdout_len),
            _buffer(contents.stderr_buf, contents.stderr_len),
            int(contents.status),
        )
    finally:
        _lib.remctl_result_free(result)


def remctl_new() -> RemctlHandle:
    """Create a new, unopened connection object."""
    pointer = _lib.remctl_new()
    if not pointer:
        raise MemoryError("remctl_new: cannot allocate")
    return RemctlHandle(int(pointer))


def remctl_open(
    handle: RemctlHandle,
    host: StrOrBytes,
    port: int,
    principal: StrOrBytes | None,
) -> bool:
    """Open a connection; port 0 means the default (4373, then 4444)."""
    c_host = _cstring(host, "host")
    c_principal = _optional_cstring(principal, "principal")
    handle.open_strings = (c_host, c_principal)
    return bool(_lib.remctl_open(handle.pointer(), c_host, _port(port), c_principal))


def remctl_open_addrinfo(
    handle: RemctlHandle,
    host: StrOrBytes | None,
    addresses: Sequence[tuple[int, int, int, bytes]],
    principal: StrOrBytes | None,
) -> bool:
    """Open a connection to the first reachable address of a list.

    Each address is (family, socktype, protocol, packed struct sockaddr).
    """
    if not addresses:
        raise ValueError("addresses must not be empty")
    c_host = _optional_cstring(host, "host")
    c_principal = _optional_cstring(principal, "principal")
    nodes = (_AddrInfo * len(addresses))()
    buffers = []
    for index, (family, socktype, protocol, sockaddr) in enumerate(addresses):
        buffer = ctypes.create_string_buffer(bytes(sockaddr), len(sockaddr))
        buffers.append(buffer)
        node = nodes[index]
        node.ai_family = family
        node.ai_socktype = socktype
        node.ai_protocol = protocol
        node.ai_addrlen = len(sockaddr)
        node.ai_addr = ctypes.cast(buffer, c_void_p)
        if index + 1 < len(addresses):
            node.ai_next = ctypes.pointer(nodes[index + 1])
    first = ctypes.pointer(nodes[0])
    handle.open_strings = (c_host, c_principal)
    return bool(_lib.remctl_open_addrinfo(handle.pointer(), c_host, first, c_principal))


def remctl_open_sockaddr(
    handle: RemctlHandle,
    host: StrOrBytes | None,
    sockaddr: bytes,
    principal: StrOrBytes | None,
) -> bool:
    """Open a connection to one address, given as a packed struct sockaddr."""
    c_host = _optional_cstring(host, "host")
    c_principal = _optional_cstring(principal, "principal")
    buffer = ctypes.create_string_buffer(bytes(sockaddr), len(sockaddr))
    handle.open_strings = (c_host, c_principal)
    return bool(
        _lib.remctl_open_sockaddr(
            handle.pointer(), c_host, buffer, len(sockaddr), c_principal
        )
    )


def remctl_open_fd(
    handle: RemctlHandle,
    host: StrOrBytes | None,
    fd: int,
    principal: StrOrBytes | None,
) -> bool:
    """Open a connection over an already connected socket.

    The C library owns the descriptor from then on and closes it.
    """
    c_host = _optional_cstring(host, "host")
    c_principal = _optional_cstring(principal, "principal")
    handle.open_strings = (c_host, c_principal)
    return bool(_lib.remctl_open_fd(handle.pointer(), c_host, fd, c_principal))


def remctl_set_ccache(handle: RemctlHandle, ccache: StrOrBytes) -> bool:
    """Use this Kerberos ticket cache for later opens of this handle."""
    c_ccache = _cstring(ccache, "ccache")
    return bool(_lib.remctl_set_ccache(handle.pointer(), c_ccache))


def remctl_set_source_ip(handle: RemctlHandle, source: StrOrBytes) -> bool:
    """Bind to this local address for later opens of this handle."""
    c_source = _cstring(source, "source")
    return bool(_lib.remctl_set_source_ip(handle.pointer(), c_source))


def remctl_set_timeout(handle: RemctlHandle, timeout: int) -> bool:
    """Bound each network wait to timeout seconds (0: no limit)."""
    if timeout > _TIME_T_MAX or timeout < -_TIME_T_MAX - 1:
        raise OverflowError(f"timeout out of range: {timeout}")
    return bool(_lib.remctl_set_timeout(handle.pointer(), timeout))


def remctl_command(handle: RemctlHandle, command: Sequence[bytes]) -> bool:
    """Send a command as C strings (an argument with a NUL is refused)."""
    return bool(_lib.remctl_command(handle.pointer(), _argv(command)))


def remctl_commandv(handle: RemctlHandle, command: Sequence[bytes]) -> bool:
    """Send a command; arguments may hold any bytes, NUL included."""
    pointer = handle.pointer()
    arguments = _command(command)
    # (base, length) pairs initialise the structures; typeshed expects _IOVec.
    fields: list[Any] = [(argument, len(argument)) for argument in arguments]
    vector = (_IOVec * max(len(arguments), 1))(*fields)
    return bool(_lib.remctl_commandv(pointer, vector, len(arguments)))


def remctl_noop(handle: RemctlHandle) -> bool:
    """Send a NOOP and wait for the answer (protocol 3)."""
    return bool(_lib.remctl_noop(handle.pointer()))


def remctl_output(handle: RemctlHandle) -> OutputTuple | tuple[()]:
    """Read the next output token: (type, data, stream, status, error).

    type is "output", "status", "error" or "done"; members a type does not
    have are None.  Returns () on failure.
    """
    address = _lib.remctl_output(handle.pointer())
    if not address:
        return ()
    output = _Output.from_address(address)
    kind = _OUTPUT_TYPES.get(output.type, str(output.type))
    if kind == "output":
        data = _string_at(output.data, output.length) if output.length else b""
        return (kind, data, output.stream, None, None)
    if kind == "status":
        return (kind, None, None, output.status, None)
    if kind == "error":
        data = _string_at(output.data, output.length) if output.length else b""
        return (kind, data, None, None, output.error)
    return (kind, None, None, None, None)


def remctl_error(handle: RemctlHandle) -> str:
    """Return the message of the last failure on this handle."""
    return _decode(_lib.remctl_error(handle.pointer()))


def remctl_close(handle: RemctlHandle) -> None:
    """Close the connection (sending QUIT) and free the C object."""
    handle.close()
