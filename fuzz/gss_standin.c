/*
 * A GSS-API stand-in for tests and fuzzing only: never use it for anything
 * else, it protects nothing.
 *
 * libremctl loads it through REMCTL_GSSAPI_LIBRARY like any GSS-API library.
 * Its context exchange always succeeds and grants MUTUAL, CONF and INTEG;
 * gss_wrap and gss_unwrap copy bytes and report confidentiality. So whatever
 * a test writes on the socket reaches the token reader and the message parser
 * of libremctl unchanged, without Kerberos.
 *
 * Two knobs, set with gss_standin_configure() (a test finds it with dlsym on
 * the same library path) or the environment variables GSS_STANDIN_ROUNDS and
 * GSS_STANDIN_FLAGS read at the first call:
 *   rounds  0: init_sec_context completes at once (default);
 *           1: the first call asks for one reply token from the server, the
 *              second accepts any non-empty token and completes.
 *   flags   the flags granted (default MUTUAL|CONF|INTEG|REPLAY|SEQUENCE).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t OM_uint32;

typedef struct {
    size_t length;
    void *value;
} buffer_desc;

#define S_COMPLETE 0u
#define S_CONTINUE_NEEDED 1u
#define S_FAILURE (13u << 16)
#define S_DEFECTIVE_TOKEN (9u << 16)
#define S_BAD_SIG (6u << 16)
#define S_NO_CONTEXT (8u << 16)

#define FLAGS_DEFAULT (2u | 4u | 8u | 16u | 32u)

/* What the stand-in's context token says: no secret, just a marker. */
static const char context_token[] = "STANDIN";

/* Handles are pointers to these, so a leaked one shows in leak checkers. */
struct standin_context {
    int step;
};
struct standin_name {
    char tag;
};
struct standin_cred {
    char tag;
};

static int configured = 0;
static int rounds = 0;
static OM_uint32 granted = FLAGS_DEFAULT;

void gss_standin_configure(int new_rounds, OM_uint32 new_flags);

void
gss_standin_configure(int new_rounds, OM_uint32 new_flags)
{
    rounds = new_rounds;
    granted = new_flags;
    configured = 1;
}

static void
configure_from_environment(void)
{
    const char *value;

    if (configured)
        return;
    configured = 1;
    value = getenv("GSS_STANDIN_ROUNDS");
    if (value != NULL)
        rounds = atoi(value);
    value = getenv("GSS_STANDIN_FLAGS");
    if (value != NULL)
        granted = (OM_uint32) strtoul(value, NULL, 0);
}

/* Copies length bytes into a new buffer; an empty one stays NULL. */
static int
fill(buffer_desc *out, const void *data, size_t length)
{
    out->length = 0;
    out->value = NULL;
    if (length == 0)
        return 1;
    out->value = malloc(length);
    if (out->value == NULL)
        return 0;
    memcpy(out->value, data, length);
    out->length = length;
    return 1;
}

OM_uint32
gss_import_name(OM_uint32 *minor, buffer_desc *input, void *type, void **name)
{
    (void) input;
    (void) type;
    *minor = 0;
    *name = malloc(sizeof(struct standin_name));
    return *name != NULL ? S_COMPLETE : S_FAILURE;
}

OM_uint32
gss_release_name(OM_uint32 *minor, void **name)
{
    *minor = 0;
    if (name != NULL) {
        free(*name);
        *name = NULL;
    }
    return S_COMPLETE;
}

OM_uint32
gss_init_sec_context(OM_uint32 *minor, void *cred, void **context, void *name,
                     void *mech, OM_uint32 req_flags, OM_uint32 time_req,
                     void *bindings, buffer_desc *input, void **actual_mech,
                     buffer_desc *output, OM_uint32 *ret_flags,
                     OM_uint32 *time_rec)
{
    struct standin_context *ctx = *context;

    (void) cred;
    (void) name;
    (void) mech;
    (void) req_flags;
    (void) time_req;
    (void) bindings;
    (void) actual_mech;
    (void) time_rec;
    configure_from_environment();
    *minor = 0;
    output->length = 0;
    output->value = NULL;
    if (ret_flags != NULL)
        *ret_flags = 0;
    if (ctx == NULL) {
        ctx = calloc(1, sizeof(*ctx));
        if (ctx == NULL)
            return S_FAILURE;
        *context = ctx;
        if (!fill(output, context_token, sizeof(context_token) - 1))
            return S_FAILURE;
        if (rounds > 0) {
            ctx->step = 1;
            return S_CONTINUE_NEEDED;
        }
    } else {
        /* The server's reply: anything non-empty will do. */
        if (input == NULL || input->length == 0)
            return S_DEFECTIVE_TOKEN;
        ctx->step = 0;
    }
    if (ret_flags != NULL)
        *ret_flags = granted;
    return S_COMPLETE;
}

OM_uint32
gss_delete_sec_context(OM_uint32 *minor, void **context, buffer_desc *token)
{
    (void) token;
    *minor = 0;
    if (context != NULL) {
        free(*context);
        *context = NULL;
    }
    return S_COMPLETE;
}

OM_uint32
gss_wrap(OM_uint32 *minor, void *context, int conf_req, OM_uint32 qop,
         buffer_desc *input, int *conf_state, buffer_desc *output)
{
    (void) conf_req;
    (void) qop;
    *minor = 0;
    if (context == NULL)
        return S_NO_CONTEXT;
    if (conf_state != NULL)
        *conf_state = 1;
    return fill(output, input->value, input->length) ? S_COMPLETE : S_FAILURE;
}

OM_uint32
gss_unwrap(OM_uint32 *minor, void *context, buffer_desc *input,
           buffer_desc *output, int *conf_state, OM_uint32 *qop)
{
    *minor = 0;
    if (context == NULL)
        return S_NO_CONTEXT;
    if (conf_state != NULL)
        *conf_state = 1;
    if (qop != NULL)
        *qop = 0;
    return fill(output, input->value, input->length) ? S_COMPLETE : S_FAILURE;
}

/* Protocol 1: any non-empty MIC verifies, so the fuzzer reaches the reply. */
OM_uint32
gss_verify_mic(OM_uint32 *minor, void *context, buffer_desc *message,
               buffer_desc *mic, OM_uint32 *qop)
{
    (void) message;
    *minor = 0;
    if (qop != NULL)
        *qop = 0;
    if (context == NULL)
        return S_NO_CONTEXT;
    return mic->length > 0 ? S_COMPLETE : S_BAD_SIG;
}

OM_uint32
gss_release_buffer(OM_uint32 *minor, buffer_desc *buffer)
{
    *minor = 0;
    if (buffer != NULL) {
        free(buffer->value);
        buffer->value = NULL;
        buffer->length = 0;
    }
    return S_COMPLETE;
}

OM_uint32
gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, void *mech,
                   OM_uint32 *context, buffer_desc *text)
{
    static const char message[] = "stand-in status";

    (void) status;
    (void) type;
    (void) mech;
    *minor = 0;
    *context = 0;
    return fill(text, message, sizeof(message) - 1) ? S_COMPLETE : S_FAILURE;
}

OM_uint32
gss_acquire_cred(OM_uint32 *minor, void *name, OM_uint32 time_req,
                 void *mechs, int usage, void **cred, void **actual_mechs,
                 OM_uint32 *time_rec)
{
    (void) name;
    (void) time_req;
    (void) mechs;
    (void) usage;
    (void) actual_mechs;
    (void) time_rec;
    *minor = 0;
    *cred = malloc(sizeof(struct standin_cred));
    return *cred != NULL ? S_COMPLETE : S_FAILURE;
}

OM_uint32
gss_release_cred(OM_uint32 *minor, void **cred)
{
    *minor = 0;
    if (cred != NULL) {
        free(*cred);
        *cred = NULL;
    }
    return S_COMPLETE;
}

/* Per-thread cache name: accepted and ignored. */
OM_uint32
gss_krb5_ccache_name(OM_uint32 *minor, const char *name, const char **old)
{
    (void) name;
    *minor = 0;
    if (old != NULL)
        *old = NULL;
    return S_COMPLETE;
}
