"""A fan-out's own in-memory copy of a FILE ticket cache (MIT Kerberos).

MIT's FILE ticket cache is scanned from its start, locking the file and
checking it with fstat() for each credential, whenever the GSS-API library
looks a service ticket up or stores one.  With a service ticket per host in
the cache, a fan-out over N hosts reads about N credentials per host: 200
cached tickets cost 5.5 ms of client CPU per host, against 2.0 ms when the
same tickets are in a MEMORY cache (``bench/fanout.py``'s fleet).

So a fan-out copies the FILE cache once into a MEMORY cache of this process,
hands that to every connection, and when it ends stores the tickets obtained
meanwhile in the FILE cache (as the connections would have done) and
destroys the copy.  This goes through the libkrb5 that MIT's GSS-API library
already loaded into the process; anything else (Heimdal's or no GSS-API
library, a cache that is not a FILE cache, a Kerberos error) leaves the
fan-out on the cache itself, as before, with the reason logged at DEBUG
level (never the cache's name).
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, Structure, byref, c_char_p, c_int32, c_uint, c_void_p

from . import _remctl
from ._log import logger

__all__ = ["MemoryCcache"]

#: MIT's libkrb5 and GSS-API library, by soname; used only if already loaded.
KRB5_LIBRARY = "libkrb5.so.3"
MIT_GSSAPI_LIBRARY = "libgssapi_krb5.so.2"
HEIMDAL_GSSAPI_LIBRARY = "libgssapi.so.3"

_KRB5_CC_END = -1765328242  # krb5_cc_next_cred: no more credentials


class _Data(Structure):
    _fields_ = [("magic", c_int32), ("length", c_uint), ("data", c_void_p)]


class _Keyblock(Structure):
    _fields_ = [
        ("magic", c_int32),
        ("enctype", c_int32),
        ("length", c_uint),
        ("contents", c_void_p),
    ]


class _Times(Structure):
    _fields_ = [
        ("authtime", c_int32),
        ("starttime", c_int32),
        ("endtime", c_int32),
        ("renew_till", c_int32),
    ]


class _Creds(Structure):
    """MIT's krb5_creds (krb5.h), filled by krb5_cc_next_cred."""

    _fields_ = [
        ("magic", c_int32),
        ("client", c_void_p),
        ("server", c_void_p),
        ("keyblock", _Keyblock),
        ("times", _Times),
        ("is_skey", c_uint),
        ("ticket_flags", c_int32),
        ("addresses", c_void_p),
        ("ticket", _Data),
        ("second_ticket", _Data),
        ("authdata", c_void_p),
    ]


class _Krb5Error(Exception):
    def __init__(self, function: str, code: int) -> None:
        # The code only: MIT's messages can hold the cache's file name.
        super().__init__(f"{function} failed (code {code})")


def _loaded(soname: str) -> ctypes.CDLL | None:
    """The library if the process has it loaded already, else None."""
    try:
        return ctypes.CDLL(soname, mode=os.RTLD_NOLOAD | os.RTLD_NOW)
    except OSError:
        return None


def _mit_krb5() -> ctypes.CDLL | str:
    """MIT's libkrb5 as the C library's GSS-API uses it, or why not."""
    if _loaded(MIT_GSSAPI_LIBRARY) is None and _loaded(HEIMDAL_GSSAPI_LIBRARY) is None:
        # Ours loads its GSS-API on first use; setting a cache on a handle of
        # its own (a copied string, nothing more) is such a use.  A library
        # linked with its GSS-API (Debian's) never gets here.
        probe = _remctl.remctl_new()
        try:
            _remctl.remctl_set_ccache(probe, "MEMORY:")
        finally:
            _remctl.remctl_close(probe)
    if _loaded(MIT_GSSAPI_LIBRARY) is None:
        return "MIT's GSS-API library is not in use"
    if _loaded(HEIMDAL_GSSAPI_LIBRARY) is not None:
        return "Heimdal's GSS-API library is loaded too"
    library = _loaded(KRB5_LIBRARY)
    if library is None:
        return "MIT's libkrb5 is not loaded"
    return library


def _declare(library: ctypes.CDLL) -> None:
    pointer = POINTER(c_void_p)
    signatures: dict[str, tuple[object, ...]] = {
        "krb5_init_context": (pointer,),
        "krb5_free_context": (c_void_p,),
        "krb5_cc_default": (c_void_p, pointer),
        "krb5_cc_resolve": (c_void_p, c_char_p, pointer),
        "krb5_cc_get_type": (c_void_p, c_void_p),
        "krb5_cc_get_principal": (c_void_p, c_void_p, pointer),
        "krb5_cc_new_unique": (c_void_p, c_char_p, c_char_p, pointer),
        "krb5_cc_initialize": (c_void_p, c_void_p, c_void_p),
        "krb5_cc_copy_creds": (c_void_p, c_void_p, c_void_p),
        "krb5_cc_get_full_name": (c_void_p, c_void_p, POINTER(c_void_p)),
        "krb5_cc_start_seq_get": (c_void_p, c_void_p, pointer),
        "krb5_cc_next_cred": (c_void_p, c_void_p, pointer, POINTER(_Creds)),
        "krb5_cc_end_seq_get": (c_void_p, c_void_p, pointer),
        "krb5_cc_store_cred": (c_void_p, c_void_p, POINTER(_Creds)),
        "krb5_cc_destroy": (c_void_p, c_void_p),
        "krb5_cc_close": (c_void_p, c_void_p),
        "krb5_free_cred_contents": (c_void_p, POINTER(_Creds)),
        "krb5_free_principal": (c_void_p, c_void_p),
        "krb5_principal_compare": (c_void_p, c_void_p, c_void_p),
        "krb5_unparse_name": (c_void_p, c_void_p, POINTER(c_void_p)),
        "krb5_free_unparsed_name": (c_void_p, c_void_p),
        "krb5_free_string": (c_void_p, c_void_p),
    }
    for name, argtypes in signatures.items():
        function = getattr(library, name)
        function.argtypes = argtypes
        function.restype = c_char_p if name == "krb5_cc_get_type" else c_int32
    library.krb5_free_context.restype = None
    library.krb5_free_cred_contents.restype = None
    library.krb5_free_principal.restype = None
    library.krb5_free_unparsed_name.restype = None
    library.krb5_free_string.restype = None


class MemoryCcache:
    """A MEMORY copy of a FILE ticket cache, for the length of a fan-out.

    :meth:`copy_of` makes one (or returns None: use the cache itself);
    :attr:`name` is what to give the connections; :meth:`close` writes the
    new tickets back and destroys the copy.  Used from one thread only.
    """

    def __init__(
        self,
        krb5: ctypes.CDLL,
        context: c_void_p,
        source: c_void_p,
        principal: c_void_p,
        copy: c_void_p,
    ) -> None:
        self._krb5 = krb5
        self._context = context
        self._source = source
        self._principal = principal
        self._copy = copy
        self.name = self._full_name(copy)
        self._copied = self._server_names(copy)
        self._closed = False

    @classmethod
    def copy_of(cls, ccache: str | None) -> MemoryCcache | None:
        """Copy ccache (None: the default cache) into memory, if worth it."""
        krb5 = _mit_krb5()
        if isinstance(krb5, str):
            logger.debug("fan-out uses the ticket cache directly: %s", krb5)
            return None
        _declare(krb5)
        context = c_void_p()
        code = krb5.krb5_init_context(byref(context))
        if code:
            logger.debug(
                "fan-out uses the ticket cache directly: %s",
                _Krb5Error("krb5_init_context", code),
            )
            return None
        made: list[c_void_p] = []  # what to release if a step fails
        try:
            source = cls._open(krb5, context, ccache)
            made.append(source)
            kind = krb5.krb5_cc_get_type(context, source) or b""
            if kind != b"FILE":
                reason = f"a {kind.decode(errors='replace')} cache, not a FILE cache"
                logger.debug("fan-out uses the ticket cache directly: %s", reason)
                cls._release(krb5, context, made)
                return None
            principal = c_void_p()
            _check(
                "krb5_cc_get_principal",
                krb5.krb5_cc_get_principal(context, source, byref(principal)),
            )
            made.append(principal)
            copy = c_void_p()
            _check(
                "krb5_cc_new_unique",
                krb5.krb5_cc_new_unique(context, b"MEMORY", None, byref(copy)),
            )
            try:
                _check(
                    "krb5_cc_initialize",
                    krb5.krb5_cc_initialize(context, copy, principal),
                )
                _check(
                    "krb5_cc_copy_creds", krb5.krb5_cc_copy_creds(context, source, copy)
                )
                memory = cls(krb5, context, source, principal, copy)
            except BaseException:
                krb5.krb5_cc_destroy(context, copy)
                raise
        except _Krb5Error as exc:
            logger.debug("fan-out uses the ticket cache directly: %s", exc)
            cls._release(krb5, context, made)
            return None
        except BaseException:
            cls._release(krb5, context, made)
            raise
        logger.debug(
            "fan-out uses an in-memory copy of the ticket cache (%d credentials)",
            len(memory._copied),
        )
        return memory

    def close(self) -> None:
        """Store the tickets obtained since the copy, then destroy it."""
        if self._closed:
            return
        self._closed = True
        krb5, context = self._krb5, self._context
        try:
            self._write_back()
        except _Krb5Error as exc:
            logger.debug("fan-out could not store its new tickets: %s", exc)
        finally:
            krb5.krb5_cc_destroy(context, self._copy)
            self._release(krb5, context, [self._source, self._principal])

    # -- helpers ----------------------------------------------------------------

    @staticmethod
    def _open(krb5: ctypes.CDLL, context: c_void_p, ccache: str | None) -> c_void_p:
        handle = c_void_p()
        if ccache is None:
            _check("krb5_cc_default", krb5.krb5_cc_default(context, byref(handle)))
        else:
            _check(
                "krb5_cc_resolve",
                krb5.krb5_cc_resolve(context, ccache.encode(), byref(handle)),
            )
        return handle

    @staticmethod
    def _release(krb5: ctypes.CDLL, context: c_void_p, made: list[c_void_p]) -> None:
        """Close the source cache and free the principal, then the context."""
        if made:
            krb5.krb5_cc_close(context, made[0])
        if len(made) > 1:
            krb5.krb5_free_principal(context, made[1])
        krb5.krb5_free_context(context)

    def _full_name(self, cache: c_void_p) -> str:
        text = c_void_p()
        _check(
            "krb5_cc_get_full_name",
            self._krb5.krb5_cc_get_full_name(self._context, cache, byref(text)),
        )
        try:
            return ctypes.string_at(text).decode()
        finally:
            self._krb5.krb5_free_string(self._context, text)

    def _credentials(self, cache: c_void_p) -> list[tuple[str, _Creds]]:
        """Every credential of cache with its server's name; the caller
        frees each with krb5_free_cred_contents."""
        krb5, context = self._krb5, self._context
        cursor = c_void_p()
        _check(
            "krb5_cc_start_seq_get",
            krb5.krb5_cc_start_seq_get(context, cache, byref(cursor)),
        )
        found: list[tuple[str, _Creds]] = []
        try:
            while True:
                creds = _Creds()
                code = krb5.krb5_cc_next_cred(
                    context, cache, byref(cursor), byref(creds)
                )
                if code == _KRB5_CC_END:
                    return found
                _check("krb5_cc_next_cred", code)
                found.append((self._unparse(creds.server), creds))
        except BaseException:
            for _, creds in found:
                krb5.krb5_free_cred_contents(context, byref(creds))
            raise
        finally:
            krb5.krb5_cc_end_seq_get(context, cache, byref(cursor))

    def _server_names(self, cache: c_void_p) -> set[str]:
        names = set()
        for name, creds in self._credentials(cache):
            names.add(name)
            self._krb5.krb5_free_cred_contents(self._context, byref(creds))
        return names

    def _unparse(self, principal: int | None) -> str:
        text = c_void_p()
        _check(
            "krb5_unparse_name",
            self._krb5.krb5_unparse_name(self._context, principal, byref(text)),
        )
        try:
            return ctypes.string_at(text).decode("utf-8", errors="replace")
        finally:
            self._krb5.krb5_free_unparsed_name(self._context, text)

    def _write_back(self) -> None:
        """Store in the source the credentials it did not have at the copy,
        unless the source now belongs to someone else (a new kinit)."""
        krb5, context = self._krb5, self._context
        owner = c_void_p()
        _check(
            "krb5_cc_get_principal",
            krb5.krb5_cc_get_principal(context, self._source, byref(owner)),
        )
        try:
            same = krb5.krb5_principal_compare(context, owner, self._principal)
        finally:
            krb5.krb5_free_principal(context, owner)
        if not same:
            logger.debug("fan-out keeps its new tickets: the cache was reinitialized")
            return
        stored = 0
        credentials = self._credentials(self._copy)
        try:
            for name, creds in credentials:
                if name not in self._copied:
                    _check(
                        "krb5_cc_store_cred",
                        krb5.krb5_cc_store_cred(context, self._source, byref(creds)),
                    )
                    stored += 1
        finally:
            for _, creds in credentials:
                krb5.krb5_free_cred_contents(context, byref(creds))
        logger.debug("fan-out stored %d new tickets in the ticket cache", stored)


def _check(function: str, code: int) -> None:
    if code:
        raise _Krb5Error(function, code)
