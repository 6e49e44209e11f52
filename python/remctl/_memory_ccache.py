"""A fan-out's own in-memory copies of a FILE ticket cache (MIT Kerberos).

MIT's FILE ticket cache is scanned from its start, locking the file and
checking it with fstat() for each credential, whenever the GSS-API library
looks a service ticket up or stores one.  With a service ticket per host in
the cache, a fan-out over N hosts reads about N credentials per host: 200
cached tickets cost 5.5 ms of client CPU per host, against 2.0 ms when the
same tickets are in one MEMORY cache (``bench/fanout.py``'s fleet).  A
MEMORY cache is walked from its start too, each credential copied and
freed on the way: with 1,200 credentials, 4.7 ms per host.

So a fan-out reads the FILE cache once, and each connection gets a MEMORY
cache of its own holding the ticket-granting tickets, MIT's cache settings
and the tickets of that connection's server only (1.1-1.2 ms per host,
whatever the size of the FILE cache).  A ticket a connection obtained is kept for
the next connection to the same server, and when the fan-out ends the
tickets obtained are stored in the FILE cache (as the connections would have
done).  This goes through the libkrb5 that MIT's GSS-API library already
loaded into the process; anything else (Heimdal's or no GSS-API library, a
cache that is not a FILE cache, a Kerberos error) leaves the fan-out on the
cache itself, as before, with the reason logged at DEBUG level (never the
cache's name).
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
_CONFIG_REALM = "X-CACHECONF:"  # the realm of MIT's cache settings entries


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


class HostCcache:
    """The MEMORY cache one connection of a fan-out uses (:attr:`name`)."""

    def __init__(self, handle: c_void_p, name: str, key: str) -> None:
        self.handle = handle
        self.name = name
        self.key = key


class MemoryCcache:
    """A fan-out's in-memory copy of a FILE ticket cache.

    :meth:`copy_of` reads the cache once (or returns None: use the cache
    itself).  :meth:`for_host` makes a small MEMORY cache for one connection,
    holding the ticket-granting tickets and that host's service tickets only,
    since MIT walks a MEMORY cache from its start, copying each credential,
    for every lookup.  :meth:`release` keeps the tickets the connection
    obtained and destroys its cache; :meth:`close` stores the tickets
    obtained in the FILE cache and destroys what is left.  Used from one
    thread only (the krb5 context is not shared).
    """

    def __init__(
        self,
        krb5: ctypes.CDLL,
        context: c_void_p,
        source: c_void_p,
        principal: c_void_p,
    ) -> None:
        self._krb5 = krb5
        self._context = context
        self._source = source
        self._principal = principal
        self._owned: list[_Creds] = []  # every credential held; freed at close
        self._shared: list[_Creds] = []  # ticket-granting tickets, cache settings
        self._tickets: dict[str, list[_Creds]] = {}  # by server without realm
        self._known: set[str] = set()  # server names in the FILE cache or new
        self._new: list[_Creds] = []  # obtained during the fan-out
        self._live: dict[int, HostCcache] = {}  # per-host caches not yet released
        self._closed = False

    @classmethod
    def copy_of(cls, ccache: str | None) -> MemoryCcache | None:
        """Read ccache (None: the default cache) into memory, if worth it."""
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
            memory = cls(krb5, context, source, principal)
            try:
                memory._read_source()
            except BaseException:
                memory._free_owned()
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
            len(memory._owned),
        )
        return memory

    def for_host(self, host: str, principal: str | None) -> HostCcache | None:
        """A new MEMORY cache for a connection to host as principal (None:
        host/HOST), or None if it cannot be made (then use the FILE cache)."""
        if self._closed:
            return None
        key = _without_realm(principal) if principal else f"host/{host}"
        krb5, context = self._krb5, self._context
        handle = c_void_p()
        try:
            _check(
                "krb5_cc_new_unique",
                krb5.krb5_cc_new_unique(context, b"MEMORY", None, byref(handle)),
            )
        except _Krb5Error as exc:
            logger.debug("fan-out uses the ticket cache directly for %s: %s", host, exc)
            return None
        try:
            _check(
                "krb5_cc_initialize",
                krb5.krb5_cc_initialize(context, handle, self._principal),
            )
            for creds in (*self._shared, *self._tickets.get(key, ())):
                _check(
                    "krb5_cc_store_cred",
                    krb5.krb5_cc_store_cred(context, handle, byref(creds)),
                )
            cache = HostCcache(handle, self._full_name(handle), key)
        except BaseException as exc:
            krb5.krb5_cc_destroy(context, handle)
            if not isinstance(exc, _Krb5Error):
                raise
            logger.debug("fan-out uses the ticket cache directly for %s: %s", host, exc)
            return None
        self._live[id(cache)] = cache
        return cache

    def release(self, cache: HostCcache) -> None:
        """Keep the tickets cache gained, then destroy it.  Only once no
        connection uses it any more."""
        if self._live.pop(id(cache), None) is None:
            return
        krb5, context = self._krb5, self._context
        try:
            for name, creds in self._credentials(cache.handle):
                if name in self._known:
                    krb5.krb5_free_cred_contents(context, byref(creds))
                    continue
                self._owned.append(creds)
                # A ticket obtained for this host: for the FILE cache at the
                # end, and for the next connection to the same host.
                self._known.add(name)
                self._new.append(creds)
                self._tickets.setdefault(_without_realm(name), []).append(creds)
        except _Krb5Error as exc:
            logger.debug("fan-out could not keep a connection's tickets: %s", exc)
        finally:
            krb5.krb5_cc_destroy(context, cache.handle)

    def close(self) -> None:
        """Store the tickets obtained since the copy, then destroy it all."""
        if self._closed:
            return
        for cache in list(self._live.values()):
            self.release(cache)
        self._closed = True
        try:
            self._write_back()
        except _Krb5Error as exc:
            logger.debug("fan-out could not store its new tickets: %s", exc)
        finally:
            self._free_owned()
            self._release(self._krb5, self._context, [self._source, self._principal])

    # -- helpers ----------------------------------------------------------------

    def _read_source(self) -> None:
        for name, creds in self._credentials(self._source):
            self._owned.append(creds)
            self._known.add(name)
            key, _, realm = name.rpartition("@")
            if key.startswith("krbtgt/") or realm == _CONFIG_REALM:
                self._shared.append(creds)
            else:
                self._tickets.setdefault(key, []).append(creds)

    def _free_owned(self) -> None:
        owned, self._owned = self._owned, []
        for creds in owned:
            self._krb5.krb5_free_cred_contents(self._context, byref(creds))

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
                try:
                    found.append((self._unparse(creds.server), creds))
                except BaseException:
                    krb5.krb5_free_cred_contents(context, byref(creds))
                    raise
        except BaseException:
            for _, creds in found:
                krb5.krb5_free_cred_contents(context, byref(creds))
            raise
        finally:
            krb5.krb5_cc_end_seq_get(context, cache, byref(cursor))

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
        """Store in the source the credentials obtained since it was read,
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
        for creds in self._new:
            _check(
                "krb5_cc_store_cred",
                krb5.krb5_cc_store_cred(context, self._source, byref(creds)),
            )
        logger.debug(
            "fan-out stored %d new tickets in the ticket cache", len(self._new)
        )


def _without_realm(principal: str) -> str:
    """A principal's name without its realm (after the last @), which MIT
    files a referral's ticket under as well as the empty one."""
    name, at, _ = principal.rpartition("@")
    return name if at else principal


def _check(function: str, code: int) -> None:
    if code:
        raise _Krb5Error(function, code)
