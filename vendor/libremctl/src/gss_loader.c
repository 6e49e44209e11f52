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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const gss_OID_desc gss_oid_krb5_mech = {9, (void *) "\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"};
const gss_OID_desc gss_oid_nt_hostbased_service = {10, (void *) "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};
const gss_OID_desc gss_oid_nt_user_name = {10, (void *) "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x01"};

/* Names tried when REMCTL_GSSAPI_LIBRARY is not set: MIT, then Heimdal. */
static const char *const default_names[] = {
    "libgssapi_krb5.so.2", "libgssapi.so.3", "libgssapi_krb5.so",
    "libgssapi.so.2",      "libgssapi.so",   NULL,
};

#define INSTALL_HINT                                                          \
    "install the GSS-API library (libgssapi-krb5-2 on Debian/Ubuntu, "       \
    "krb5-libs on RHEL/Fedora), or set REMCTL_GSSAPI_LIBRARY to the path of " \
    "a GSS-API library"

static struct {
    pthread_once_t once;
    int loaded;
    struct gss_functions table;
    char error[4096];
} gss_state = {PTHREAD_ONCE_INIT, 0, {0}, {0}};

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
            return 0;                                                         \
        }                                                                     \
    } while (0)

static int
resolve(void *handle, struct gss_functions *table, const char **missing)
{
    LOAD(import_name, "gss_import_name", 1);
    LOAD(release_name, "gss_release_name", 1);
    LOAD(init_sec_context, "gss_init_sec_context", 1);
    LOAD(delete_sec_context, "gss_delete_sec_context", 1);
    LOAD(wrap, "gss_wrap", 1);
    LOAD(unwrap, "gss_unwrap", 1);
    LOAD(verify_mic, "gss_verify_mic", 1);
    LOAD(release_buffer, "gss_release_buffer", 1);
    LOAD(display_status, "gss_display_status", 1);
    LOAD(acquire_cred, "gss_acquire_cred", 1);
    LOAD(release_cred, "gss_release_cred", 1);
    LOAD(acquire_cred_from, "gss_acquire_cred_from", 0);
    LOAD(krb5_ccache_name, "gss_krb5_ccache_name", 0);
    return 1;
}

/* Tries one library; on failure notes why in the error buffer. */
static int
try_library(const char *name, int attempt)
{
    const char *missing = NULL;
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    const char *why;
    char line[1024];

    if (handle != NULL && resolve(handle, &gss_state.table, &missing))
        return 1;
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
    return 0;
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
gss_load(const char **error)
{
    pthread_once(&gss_state.once, load_once);
    if (!gss_state.loaded) {
        *error = gss_state.error;
        return NULL;
    }
    return &gss_state.table;
}
