/*
 * The CPU cost of gss_unwrap alone, per MiB of remctl output: the floor under
 * every client's streaming cost, since every client must unwrap each OUTPUT
 * token the server sends.
 *
 * Builds a security context inside this process between the test user
 * (initiator, from KRB5CCNAME) and the remctl service (acceptor, from the
 * keytab in KRB5_KTNAME), so the enctype is the one the real server uses.
 * The acceptor seals OUTPUT messages as remctld does (version 2, type 3,
 * stream 1, length, data, with confidentiality); the initiator's gss_unwrap
 * of them, and the release of each result, is timed in thread CPU time.
 *
 *     gss_unwrap_floor PRINCIPAL CHUNK TOTAL
 *
 * prints {"chunk": ..., "messages": ..., "cpu_ms_per_mib": ...}.
 * Built by bench/run.py with: cc -O2 gss_unwrap_floor.c -lgssapi_krb5
 */
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 64
#define HEADER 7 /* version, type, stream, 4-octet length */

static void
die(const char *what, OM_uint32 major, OM_uint32 minor)
{
    OM_uint32 ctx = 0, ignored;
    gss_buffer_desc text;

    fprintf(stderr, "gss_unwrap_floor: %s failed:", what);
    do {
        gss_display_status(&ignored, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx,
                           &text);
        fprintf(stderr, " %.*s", (int) text.length, (char *) text.value);
        gss_release_buffer(&ignored, &text);
    } while (ctx != 0);
    do {
        gss_display_status(&ignored, minor, GSS_C_MECH_CODE, GSS_C_NO_OID,
                           &ctx, &text);
        fprintf(stderr, ", %.*s", (int) text.length, (char *) text.value);
        gss_release_buffer(&ignored, &text);
    } while (ctx != 0);
    fprintf(stderr, "\n");
    exit(1);
}

static double
thread_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

/* Runs the init/accept exchange until both sides are complete. */
static void
establish(const char *principal, gss_ctx_id_t *initiator,
          gss_ctx_id_t *acceptor)
{
    OM_uint32 major, minor, init_major = GSS_S_CONTINUE_NEEDED;
    OM_uint32 accept_major = GSS_S_CONTINUE_NEEDED;
    gss_buffer_desc name_buffer, to_server = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc to_client = GSS_C_EMPTY_BUFFER;
    gss_cred_id_t accept_cred;
    gss_name_t name;
    int round;

    name_buffer.value = (void *) principal;
    name_buffer.length = strlen(principal);
    major = gss_import_name(&minor, &name_buffer, GSS_KRB5_NT_PRINCIPAL_NAME,
                            &name);
    if (major != GSS_S_COMPLETE)
        die("gss_import_name", major, minor);
    major = gss_acquire_cred(&minor, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
                             GSS_C_ACCEPT, &accept_cred, NULL, NULL);
    if (major != GSS_S_COMPLETE)
        die("gss_acquire_cred (acceptor)", major, minor);
    *initiator = GSS_C_NO_CONTEXT;
    *acceptor = GSS_C_NO_CONTEXT;
    for (round = 0; round < 10; round++) {
        init_major = gss_init_sec_context(
            &minor, GSS_C_NO_CREDENTIAL, initiator, name, gss_mech_krb5,
            GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG
                | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG,
            0, GSS_C_NO_CHANNEL_BINDINGS,
            round == 0 ? GSS_C_NO_BUFFER : &to_client, NULL, &to_server, NULL,
            NULL);
        if (GSS_ERROR(init_major))
            die("gss_init_sec_context", init_major, minor);
        gss_release_buffer(&minor, &to_client);
        if (to_server.length == 0)
            break;
        accept_major = gss_accept_sec_context(
            &minor, acceptor, accept_cred, &to_server,
            GSS_C_NO_CHANNEL_BINDINGS, NULL, NULL, &to_client, NULL, NULL,
            NULL);
        if (GSS_ERROR(accept_major))
            die("gss_accept_sec_context", accept_major, minor);
        gss_release_buffer(&minor, &to_server);
        if (init_major == GSS_S_COMPLETE && to_client.length == 0)
            break;
    }
    if (init_major != GSS_S_COMPLETE || accept_major != GSS_S_COMPLETE) {
        fprintf(stderr, "gss_unwrap_floor: context did not complete\n");
        exit(1);
    }
    gss_release_buffer(&minor, &to_client);
    gss_release_cred(&minor, &accept_cred);
    gss_release_name(&minor, &name);
}

int
main(int argc, char **argv)
{
    gss_ctx_id_t initiator, acceptor;
    gss_buffer_desc message, sealed[BATCH], opened;
    OM_uint32 major, minor;
    unsigned char *data;
    size_t chunk, total, count, done = 0, i, n;
    double cpu = 0.0, started;
    int conf;

    if (argc != 4) {
        fprintf(stderr, "usage: gss_unwrap_floor PRINCIPAL CHUNK TOTAL\n");
        return 2;
    }
    chunk = strtoul(argv[2], NULL, 10);
    total = strtoul(argv[3], NULL, 10);
    if (chunk == 0 || chunk > 65536 - HEADER)
        return 2;
    count = total / chunk < BATCH ? BATCH : total / chunk;
    establish(argv[1], &initiator, &acceptor);

    data = malloc(HEADER + chunk);
    if (data == NULL)
        return 1;
    data[0] = 2;
    data[1] = 3;
    data[2] = 1;
    data[3] = (unsigned char) (chunk >> 24);
    data[4] = (unsigned char) (chunk >> 16);
    data[5] = (unsigned char) (chunk >> 8);
    data[6] = (unsigned char) chunk;
    for (i = 0; i < chunk; i++)
        data[HEADER + i] = (unsigned char) (i % 251);
    message.value = data;
    message.length = HEADER + chunk;

    while (done < count) {
        n = count - done < BATCH ? count - done : BATCH;
        for (i = 0; i < n; i++) {
            major = gss_wrap(&minor, acceptor, 1, GSS_C_QOP_DEFAULT, &message,
                             &conf, &sealed[i]);
            if (major != GSS_S_COMPLETE || !conf)
                die("gss_wrap", major, minor);
        }
        started = thread_seconds();
        for (i = 0; i < n; i++) {
            major = gss_unwrap(&minor, initiator, &sealed[i], &opened, &conf,
                               NULL);
            if (major != GSS_S_COMPLETE || !conf)
                die("gss_unwrap", major, minor);
            if (opened.length != message.length) {
                fprintf(stderr, "gss_unwrap_floor: wrong unwrapped length\n");
                return 1;
            }
            gss_release_buffer(&minor, &opened);
        }
        cpu += thread_seconds() - started;
        for (i = 0; i < n; i++)
            gss_release_buffer(&minor, &sealed[i]);
        done += n;
    }
    printf("{\"chunk\": %zu, \"messages\": %zu, \"cpu_ms_per_mib\": %.4f}\n",
           chunk, done, cpu * 1000.0 / ((double) (done * chunk) / 1048576.0));
    gss_delete_sec_context(&minor, &initiator, GSS_C_NO_BUFFER);
    gss_delete_sec_context(&minor, &acceptor, GSS_C_NO_BUFFER);
    free(data);
    return 0;
}
