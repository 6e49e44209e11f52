/*
 * Loads the host's GSS-API library at run time, once per process.
 *
 * The wheel carries no Kerberos: the host's own library reads the host's
 * krb5.conf and ticket caches and gets the host's security updates. The
 * function table below is the library's only global mutable state, written
 * once under pthread_once.
 */
#include "gss.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OIDs of RFC 2744 and RFC 1964, kept here since we have no headers. */
#define KRB5_MECH "\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
#define NT_HOSTBASED_SERVICE "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"
#define NT_USER_NAME "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x01"

static const gss_OID_desc natural_oids[] = {
    {9, (void *) KRB5_MECH},
    {10, (void *) NT_HOSTBASED_SERVICE},
    {10, (void *) NT_USER_NAME},
};
static const gss_OID_desc_apple apple_oids[] = {
    {9, (void *) KRB5_MECH},
    {10, (void *) NT_HOSTBASED_SERVICE},
    {10, (void *) NT_USER_NAME},
};

#if defined(__APPLE__)
/*
 * Apple's GSS.framework (part of macOS, reads the system's tickets), then
 * MIT Kerberos from Homebrew (arm64 and x86_64 prefixes) and MacPorts, then
 * whatever the dynamic linker finds by name.
 */
static const char *const default_names[] = {
    "/System/Library/Frameworks/GSS.framework/GSS",
    "/opt/homebrew/opt/krb5/lib/libgssapi_krb5.2.dylib",
    "/usr/local/opt/krb5/lib/libgssapi_krb5.2.dylib",
    "/opt/local/lib/libgssapi_krb5.2.dylib",
    "libgssapi_krb5.2.dylib",
    NULL,
};

#define INSTALL_HINT                                                          \
    "macOS has GSS.framework; or install MIT Kerberos (brew install krb5, "  \
    "port install kerberos5), or set REMCTL_GSSAPI_LIBRARY to the path of a " \
    "GSS-API library"
#else
/*
 * Names tried when REMCTL_GSSAPI_LIBRARY is not set: MIT, then Heimdal.
 * Alpine's packages use the same names (krb5-libs, heimdal-libs).
 */
static const char *const default_names[] = {
    "libgssapi_krb5.so.2", "libgssapi.so.3", "libgssapi_krb5.so",
    "libgssapi.so.2",      "libgssapi.so",   NULL,
};

#define INSTALL_HINT                                                          \
    "install the GSS-API library (libgssapi-krb5-2 on Debian/Ubuntu, "       \
    "krb5-libs on RHEL/Fedora and Alpine), or set REMCTL_GSSAPI_LIBRARY to "  \
    "the path of a GSS-API library"
#endif

static struct {
    pthread_once_t once;
    bool loaded;
    struct gss_functions table;
    char error[4096];
} gss_state = {PTHREAD_ONCE_INIT, false, {0}, {0}};

/* Appends to the error buffer, never past its end. */
static void
error_append(const char *text)
{
    size_t used = strlen(gss_state.error);
    size_t room = sizeof(gss_state.error) - used;

    if (room > 1)
        snprintf(gss_state.error + used, room, "%s", text);
}

#define LOAD(field, name, required)                                          \
    do {                                                                      \
        *(void **) &table->field = dlsym(handle, name);                      \
        if (table->field == NULL && (required)) {                             \
            *missing = name;                                                  \
            return false;                                                     \
        }                                                                     \
    } while (0)

static bool
resolve(void *handle, struct gss_functions *table, const char **missing)
{
    LOAD(import_name, "gss_import_name", true);
    LOAD(release_name, "gss_release_name", true);
    LOAD(init_sec_context, "gss_init_sec_context", true);
    LOAD(delete_sec_context, "gss_delete_sec_context", true);
    LOAD(wrap, "gss_wrap", true);
    LOAD(unwrap, "gss_unwrap", true);
    LOAD(verify_mic, "gss_verify_mic", true);
    LOAD(release_buffer, "gss_release_buffer", true);
    LOAD(display_status, "gss_display_status", true);
    LOAD(acquire_cred, "gss_acquire_cred", true);
    LOAD(release_cred, "gss_release_cred", true);
    LOAD(acquire_cred_from, "gss_acquire_cred_from", false);
    LOAD(krb5_ccache_name, "gss_krb5_ccache_name", false);
    return true;
}

bool
rc_gss_apple_packing(const char *library)
{
#if defined(__APPLE__) \
    && (defined(__x86_64__) || defined(__i386__) || defined(__ppc__) \
        || defined(__ppc64__))
    /* MIT's and Apple's (Heimdal's) headers both pack here. */
    (void) library;
    return true;
#elif defined(__APPLE__)
    /* arm64: MIT's headers pack on every Apple target, Heimdal's do not. */
    return strstr(library, "gssapi_krb5") != NULL;
#else
    (void) library;
    return false;
#endif
}

/* Points the table's OIDs at the layout the library expects. */
static void
set_oids(struct gss_functions *table, const char *library)
{
    /* GSS-API takes OIDs through non-const pointers but never writes them. */
    if (rc_gss_apple_packing(library)) {
        table->krb5_mech = (gss_OID) (void *) &apple_oids[0];
        table->nt_hostbased_service = (gss_OID) (void *) &apple_oids[1];
        table->nt_user_name = (gss_OID) (void *) &apple_oids[2];
    } else {
        table->krb5_mech = (gss_OID) (void *) &natural_oids[0];
        table->nt_hostbased_service = (gss_OID) (void *) &natural_oids[1];
        table->nt_user_name = (gss_OID) (void *) &natural_oids[2];
    }
}

/* Tries one library; on failure notes why in the error buffer. */
static bool
try_library(const char *name, int attempt)
{
    const char *missing = NULL;
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    const char *why;
    char line[1024];

    if (handle != NULL && resolve(handle, &gss_state.table, &missing)) {
        set_oids(&gss_state.table, name);
        return true;
    }
    if (handle == NULL) {
        why = dlerror();
        snprintf(line, sizeof(line), "%s%s", attempt > 0 ? "; " : "",
                 why != NULL ? why : name);
    } else {
        snprintf(line, sizeof(line), "%s%s: no symbol %s",
                 attempt > 0 ? "; " : "", name, missing);
        memset(&gss_state.table, 0, sizeof(gss_state.table));
        dlclose(handle);
    }
    error_append(line);
    return false;
}

static void
load_once(void)
{
    const char *override = getenv("REMCTL_GSSAPI_LIBRARY");
    int i;

    /* An explicit choice is honoured alone: no silent fallback. */
    if (override != NULL && override[0] != '\0') {
        error_append("cannot load a GSS-API library (REMCTL_GSSAPI_LIBRARY: ");
        gss_state.loaded = try_library(override, 0);
    } else {
        error_append("cannot load a GSS-API library (tried: ");
        for (i = 0; default_names[i] != NULL && !gss_state.loaded; i++)
            gss_state.loaded = try_library(default_names[i], i);
    }
    error_append("): " INSTALL_HINT);
}

const struct gss_functions *
rc_gss_load(const char **error)
{
    pthread_once(&gss_state.once, load_once);
    if (!gss_state.loaded) {
        *error = gss_state.error;
        return NULL;
    }
    return &gss_state.table;
}
