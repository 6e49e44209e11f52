/*
 * The GSS-API exchange that authenticates a connected socket
 * (docs/protocol.md, section 3): the server's name, the credentials of the
 * handle's ticket cache, and the gss_init_sec_context loop.
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Flags we ask for, and those protocol 2 requires the server to grant. */
#define REQUESTED_FLAGS                                                       \
    (GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG                   \
     | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG)
#define REQUIRED_FLAGS (GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG)

/* The server's name: host@HOST without a principal, else the principal. */
static bool
import_server_name(struct remctl *r, const char *host, const char *principal,
                   gss_name_t *name)
{
    gss_buffer_desc buffer;
    OM_uint32 major, minor;
    char *service = NULL;
    gss_OID type;

    if (principal != NULL) {
        buffer.value = (void *) principal;
        buffer.length = strlen(principal);
        type = r->gss->nt_user_name;
    } else {
        if (asprintf(&service, "host@%s", host) < 0) {
            rc_set_error(r, "cannot allocate memory");
            return false;
        }
        buffer.value = service;
        buffer.length = strlen(service);
        type = r->gss->nt_hostbased_service;
    }
    major = r->gss->import_name(&minor, &buffer, type, name);
    free(service);
    if (major != GSS_S_COMPLETE) {
        rc_set_gss_error(r, "parsing name", major, minor);
        return false;
    }
    return true;
}

/*
 * The gss_krb5_ccache_name fallback of acquire_credentials. That setting
 * is per thread in MIT and Heimdal, and cannot be put back reliably:
 * Heimdal 7 reports no previous name, crashes on NULL and ignores "", so
 * nothing makes it follow KRB5CCNAME again; MIT reports the name in effect,
 * not whether the thread had chosen one, so restoring that would pin the
 * thread to what KRB5CCNAME said at the time.
 * So the name is set in a short-lived thread of our own that acquires the
 * credential and exits, taking the setting with it; the credential, which
 * holds its ticket cache, is then used by the calling thread.
 */
struct ccache_job {
    struct remctl *r; /* only touched while the caller waits in join */
    gss_cred_id_t cred;
    bool ok;
};

static void *
acquire_in_thread(void *data)
{
    struct ccache_job *job = data;
    struct remctl *r = job->r;
    gss_OID_set_desc mechs = {1, r->gss->krb5_mech};
    OM_uint32 major, minor;

    major = r->gss->krb5_ccache_name(&minor, r->ccache, NULL);
    if (major != GSS_S_COMPLETE) {
        rc_set_gss_error(r, "setting credential cache", major, minor);
        return NULL;
    }
    major = r->gss->acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                 &mechs, GSS_C_INITIATE, &job->cred, NULL,
                                 NULL);
    if (major != GSS_S_COMPLETE) {
        rc_set_gss_error(r, "acquiring credentials", major, minor);
        job->cred = GSS_C_NO_CREDENTIAL;
        return NULL;
    }
    job->ok = true;
    return NULL;
}

static bool
acquire_with_ccache_name(struct remctl *r, gss_cred_id_t *cred)
{
    struct ccache_job job = {r, GSS_C_NO_CREDENTIAL, false};
    pthread_t thread;
    int status;

    status = pthread_create(&thread, NULL, acquire_in_thread, &job);
    if (status != 0) {
        rc_set_errno_error(r, "cannot start thread to acquire credentials",
                           status);
        return false;
    }
    pthread_join(thread, NULL);
    *cred = job.cred;
    return job.ok;
}

static bool
use_acquire_cred_from(const struct gss_functions *gss)
{
#ifdef REMCTL_TEST_HOOKS
    /* Test hook of test builds only: REMCTL_TEST_NO_CRED_FROM takes the
       gss_krb5_ccache_name path even where this function exists. */
    if (getenv("REMCTL_TEST_NO_CRED_FROM") != NULL)
        return false;
#endif
    return gss->acquire_cred_from != NULL;
}

/*
 * Credentials from the handle's ticket cache, without touching any other
 * handle or thread: gss_acquire_cred_from where the library has it, else
 * gss_krb5_ccache_name in a thread of its own (above).
 */
static bool
acquire_credentials(struct remctl *r, gss_cred_id_t *cred)
{
    gss_OID_set_desc mechs = {1, r->gss->krb5_mech};
    const struct gss_functions *gss = r->gss;
    OM_uint32 major, minor;

    *cred = GSS_C_NO_CREDENTIAL;
    if (r->ccache == NULL)
        return true;
    if (use_acquire_cred_from(gss)) {
        gss_key_value_element_desc element = {"ccache", r->ccache};
        gss_key_value_set_desc store = {1, &element};

        major = gss->acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                       &mechs, GSS_C_INITIATE, &store, cred,
                                       NULL, NULL);
    } else if (gss->krb5_ccache_name != NULL) {
        return acquire_with_ccache_name(r, cred);
    } else {
        rc_set_error(r, "setting credential cache not supported");
        return false;
    }
    if (major != GSS_S_COMPLETE) {
        rc_set_gss_error(r, "acquiring credentials", major, minor);
        *cred = GSS_C_NO_CREDENTIAL;
        return false;
    }
    return true;
}

/* The gss_init_sec_context loop, exchanging tokens with the server. */
static bool
negotiate(struct remctl *r, gss_cred_id_t cred, gss_name_t name,
          OM_uint32 *granted)
{
    const struct gss_functions *gss = r->gss;
    gss_buffer_desc in = GSS_C_EMPTY_BUFFER, out;
    gss_buffer_t in_ptr = GSS_C_NO_BUFFER;
    OM_uint32 major, minor, release_minor;
    unsigned char flags;
    bool sent;

    for (;;) {
        out.length = 0;
        out.value = NULL;
        major = gss->init_sec_context(
            &minor, cred, &r->context, name, gss->krb5_mech,
            REQUESTED_FLAGS, 0, GSS_C_NO_CHANNEL_BINDINGS, in_ptr, NULL, &out,
            granted, NULL);
        sent = true;
        if (out.length > 0 && !GSS_ERROR(major)) {
            flags = TOKEN_CONTEXT | (r->protocol > 1 ? TOKEN_PROTOCOL : 0);
            sent = rc_token_send(r, flags, out.value, out.length,
                                 "error sending token");
        }
        if (out.value != NULL)
            gss->release_buffer(&release_minor, &out);
        if (GSS_ERROR(major)) {
            rc_set_gss_error(r, "initializing context", major, minor);
            return false;
        }
        if (!sent)
            return false;
        if (!(major & GSS_S_CONTINUE_NEEDED))
            return true;
        if (!rc_token_recv(r, &flags, &in))
            return false;
        if (!(flags & TOKEN_CONTEXT)) {
            rc_set_error(r, "unexpected token flags 0x%02x from server "
                            "during authentication", flags);
            return false;
        }
        /* A server that drops the PROTOCOL flag speaks protocol 1. */
        if (r->protocol > 1 && !(flags & TOKEN_PROTOCOL))
            r->protocol = 1;
        in_ptr = &in;
    }
}

bool
rc_establish(struct remctl *r, const char *host, const char *principal)
{
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_name_t name = GSS_C_NO_NAME;
    OM_uint32 granted = 0, minor;
    const char *load_error = NULL;
    unsigned char flags;
    bool ok = false;

    r->gss = rc_gss_load(&load_error);
    if (r->gss == NULL) {
        rc_set_error(r, "%s", load_error);
        return false;
    }
    r->protocol = r->force_protocol == 1 ? 1 : 2;
    flags = TOKEN_NOOP | TOKEN_CONTEXT_NEXT
            | (r->protocol > 1 ? TOKEN_PROTOCOL : 0);
    if (!rc_token_send(r, flags, "", 0, "error sending token"))
        return false;
    if (!import_server_name(r, host, principal, &name))
        return false;
    if (acquire_credentials(r, &cred) && negotiate(r, cred, name, &granted)) {
        /* Some libraries report flags late: check only once complete. */
        if (r->protocol > 1 && (granted & REQUIRED_FLAGS) != REQUIRED_FLAGS)
            rc_set_error(r, "server did not negotiate acceptable GSS-API "
                            "flags");
        else
            ok = true;
    }
    if (cred != GSS_C_NO_CREDENTIAL)
        r->gss->release_cred(&minor, &cred);
    r->gss->release_name(&minor, &name);
    return ok;
}
