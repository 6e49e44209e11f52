/*
 * Protocol 1 (docs/protocol.md, section 6), for legacy servers: one
 * command per connection, answered by a MIC over the command and one DATA
 * token.
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
            rc_set_error(r, "command too long for protocol 1 "
                            "(at most %u octets)", TOKEN_MAX_DATA);
            return NULL;
        }
    }
    buffer = malloc(total);
    if (buffer == NULL) {
        rc_set_error(r, "cannot allocate memory");
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
static bool
verify_mic(struct remctl *r, unsigned char *command, size_t length)
{
    gss_buffer_desc message, mic;
    OM_uint32 major, minor;
    unsigned char flags;

    if (!rc_token_recv(r, &flags, &mic))
        return false;
    if (flags != TOKEN_MIC) {
        rc_set_error(r, "unexpected token flags 0x%02x from server", flags);
        return false;
    }
    message.value = command;
    message.length = length;
    major = r->gss->verify_mic(&minor, r->context, &message, &mic, NULL);
    if (major != GSS_S_COMPLETE) {
        rc_set_gss_error(r, "verifying signature", major, minor);
        return false;
    }
    return true;
}

/*
 * Reads the DATA reply (exit status, length, output, all of it stdout) and
 * puts it in r->output: the output if there is any, else the status.
 */
static bool
read_reply(struct remctl *r)
{
    gss_buffer_desc payload, reply = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor;
    unsigned char flags;
    const unsigned char *p;
    bool ok = false;

    if (!rc_token_recv(r, &flags, &payload))
        return false;
    if (flags != TOKEN_DATA) {
        rc_set_error(r, "unexpected token flags 0x%02x from server", flags);
        return false;
    }
    major = r->gss->unwrap(&minor, r->context, &payload, &reply, NULL, NULL);
    if (major != GSS_S_COMPLETE) {
        rc_set_gss_error(r, "unwrapping token", major, minor);
        return false;
    }
    p = reply.value;
    if (reply.length < 8 || get_u32(p + 4) != reply.length - 8) {
        rc_set_error(r, "malformed result token from server");
    } else if (reply.length == 8) {
        r->output.type = REMCTL_OUT_STATUS;
        r->output.status = (int) get_u32(p);
        ok = true;
    } else if (rc_output_set_data(r, p + 8, reply.length - 8)) {
        r->output.type = REMCTL_OUT_OUTPUT;
        r->output.stream = 1;
        r->v1_status = (int) get_u32(p);
        ok = true;
    }
    r->gss->release_buffer(&minor, &reply);
    return ok;
}

/*
 * Sends the command and checks the MIC, which the server sends as soon as it
 * has the command; the reply comes when the command has run, and is read by
 * rc_v1_output, so that, as on protocol 2, command returns at once and
 * output waits (and times out).
 */
bool
rc_v1_command(struct remctl *r, const struct iovec *command, size_t count)
{
    unsigned char *data;
    size_t length;
    bool ok;

    data = build_command(r, command, count, &length);
    if (data == NULL)
        return false;
    ok = rc_token_send_wrapped(r, TOKEN_DATA | TOKEN_SEND_MIC, data, length)
         && verify_mic(r, data, length);
    free(data);
    if (!ok) {
        rc_disconnect(r, false);
        return false;
    }
    r->state = STATE_WAITING;
    return true;
}

/*
 * The first call after the command reads the reply, then drops the
 * connection (the server closes it after one command; the next command
 * reconnects) and hands out the output, if any; the exit status comes next.
 */
struct remctl_output *
rc_v1_output(struct remctl *r)
{
    bool ok;

    if (r->state == STATE_V1_STATUS) {
        r->output.type = REMCTL_OUT_STATUS;
        r->output.status = r->v1_status;
        r->state = STATE_IDLE;
        return &r->output;
    }
    ok = read_reply(r);
    rc_disconnect(r, false);
    if (!ok)
        return NULL;
    if (r->output.type == REMCTL_OUT_OUTPUT)
        r->state = STATE_V1_STATUS;
    return &r->output;
}
