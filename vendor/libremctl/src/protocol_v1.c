/*
 * Protocol 1 (PROTOCOL.md §4), for legacy servers: one command per
 * connection, answered by a MIC over the command and one DATA token.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* Builds argc, then (length, bytes) per argument; NULL if too large. */
static unsigned char *
build_command(struct remctl *r, const struct iovec *command, size_t count,
              size_t *length)
{
    size_t total = 4, i, offset;
    unsigned char *buffer;

    for (i = 0; i < count; i++) {
        total += 4 + command[i].iov_len;
        if (total > TOKEN_MAX_DATA) {
            remctl_set_error(r, "command too long for protocol 1 "
                                "(at most %u octets)", TOKEN_MAX_DATA);
            return NULL;
        }
    }
    buffer = malloc(total);
    if (buffer == NULL) {
        remctl_set_error(r, "cannot allocate memory");
        return NULL;
    }
    put_u32(buffer, (uint32_t) count);
    offset = 4;
    for (i = 0; i < count; i++) {
        put_u32(buffer + offset, (uint32_t) command[i].iov_len);
        memcpy(buffer + offset + 4, command[i].iov_base, command[i].iov_len);
        offset += 4 + command[i].iov_len;
    }
    *length = total;
    return buffer;
}

/* Reads the server's MIC and checks it covers exactly what we sent. */
static int
verify_mic(struct remctl *r, unsigned char *command, size_t length)
{
    gss_buffer_desc message, mic;
    OM_uint32 major, minor;
    unsigned char flags;

    if (!remctl_token_recv(r, &flags, &mic))
        return 0;
    if (flags != TOKEN_MIC) {
        remctl_set_error(r, "unexpected token flags 0x%02x from server",
                         flags);
        return 0;
    }
    message.value = command;
    message.length = length;
    major = r->gss->verify_mic(&minor, r->context, &message, &mic, NULL);
    if (major != GSS_S_COMPLETE) {
        remctl_set_gss_error(r, "verifying signature", major, minor);
        return 0;
    }
    return 1;
}

/* Reads the DATA reply: exit status, length, output (all stdout). */
static int
read_reply(struct remctl *r)
{
    gss_buffer_desc payload, reply = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor;
    unsigned char flags;
    const unsigned char *p;
    int ok = 0;

    if (!remctl_token_recv(r, &flags, &payload))
        return 0;
    if (flags != TOKEN_DATA) {
        remctl_set_error(r, "unexpected token flags 0x%02x from server",
                         flags);
        return 0;
    }
    major = r->gss->unwrap(&minor, r->context, &payload, &reply, NULL, NULL);
    if (major != GSS_S_COMPLETE) {
        remctl_set_gss_error(r, "unwrapping token", major, minor);
        return 0;
    }
    p = reply.value;
    if (reply.length < 8 || get_u32(p + 4) != reply.length - 8) {
        remctl_set_error(r, "malformed result token from server");
    } else if (reply.length > 8
               && (r->v1_data = malloc(reply.length - 8)) == NULL) {
        remctl_set_error(r, "cannot allocate memory");
    } else {
        r->v1_status = (int) get_u32(p);
        r->v1_length = reply.length - 8;
        if (r->v1_length > 0)
            memcpy(r->v1_data, p + 8, r->v1_length);
        ok = 1;
    }
    r->gss->release_buffer(&minor, &reply);
    return ok;
}

/*
 * Sends the command and checks the MIC, which the server sends as soon as it
 * has the command; the reply comes when the command has run, and is read by
 * remctl_v1_output, so that, as on protocol 2, command returns at once and
 * output waits (and times out).
 */
int
remctl_v1_command(struct remctl *r, const struct iovec *command, size_t count)
{
    unsigned char *data;
    size_t length;
    int ok;

    data = build_command(r, command, count, &length);
    if (data == NULL)
        return 0;
    ok = remctl_token_send_wrapped(r, TOKEN_DATA | TOKEN_SEND_MIC, data,
                                   length)
         && verify_mic(r, data, length);
    free(data);
    if (!ok) {
        remctl_disconnect(r, false);
        return 0;
    }
    r->state = STATE_WAITING;
    return 1;
}

/*
 * Reads the reply, then drops the connection (the server closes it after
 * one command; the next command reconnects) and keeps the reply to hand out.
 */
static int
receive_reply(struct remctl *r)
{
    unsigned char *keep;
    size_t keep_length;
    int ok;

    ok = read_reply(r);
    keep = r->v1_data;
    keep_length = r->v1_length;
    r->v1_data = NULL;
    remctl_disconnect(r, false);
    if (!ok) {
        free(keep);
        return 0;
    }
    r->v1_data = keep;
    r->v1_length = keep_length;
    r->v1_offset = 0;
    r->state = STATE_V1_RESULT;
    return 1;
}

struct remctl_output *
remctl_v1_output(struct remctl *r)
{
    struct remctl_output *out = &r->output;

    if (r->state == STATE_WAITING && !receive_reply(r))
        return NULL;
    if (r->v1_offset == 0 && r->v1_length > 0) {
        out->type = REMCTL_OUT_OUTPUT;
        out->stream = 1;
        out->data = (char *) r->v1_data;
        out->length = r->v1_length;
        r->v1_offset = 1;
        return out;
    }
    out->type = REMCTL_OUT_STATUS;
    out->status = r->v1_status;
    r->state = STATE_IDLE;
    free(r->v1_data);
    r->v1_data = NULL;
    r->v1_length = 0;
    return out;
}
