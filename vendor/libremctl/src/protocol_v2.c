/*
 * Commands and answers of protocols 2 and 3 (docs/protocol.md, section 4).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* Prefix of every COMMAND token: version, type, keep-alive, continue. */
#define COMMAND_PREFIX 4u

/* Splits a command across tokens of at most TOKEN_MAX_DATA octets. */
struct command_writer {
    struct remctl *r;
    unsigned char *buffer;
    size_t used;
    bool first;
};

/* Sends the buffered part; more tells whether further parts follow. */
static bool
writer_flush(struct command_writer *w, bool more)
{
    unsigned char status;

    if (w->first)
        status = more ? 1 : 0;
    else
        status = more ? 2 : 3;
    w->buffer[3] = status;
    w->first = false;
    if (!rc_token_send_wrapped(w->r, TOKEN_DATA | TOKEN_PROTOCOL,
                               w->buffer, w->used))
        return false;
    w->used = COMMAND_PREFIX;
    return true;
}

/* Appends a count or length, never split across tokens. */
static bool
writer_u32(struct command_writer *w, uint32_t value)
{
    if (TOKEN_MAX_DATA - w->used < 4 && !writer_flush(w, true))
        return false;
    put_u32(w->buffer + w->used, value);
    w->used += 4;
    return true;
}

static bool
writer_bytes(struct command_writer *w, const unsigned char *data,
             size_t length)
{
    size_t room, n;

    while (length > 0) {
        if (w->used == TOKEN_MAX_DATA && !writer_flush(w, true))
            return false;
        room = TOKEN_MAX_DATA - w->used;
        n = length < room ? length : room;
        memcpy(w->buffer + w->used, data, n);
        w->used += n;
        data += n;
        length -= n;
    }
    return true;
}

bool
rc_v2_command(struct remctl *r, const struct iovec *command, size_t count)
{
    struct command_writer w;
    size_t i;
    bool ok;

    w.buffer = malloc(TOKEN_MAX_DATA);
    if (w.buffer == NULL) {
        rc_set_error(r, "cannot allocate memory");
        return false;
    }
    w.r = r;
    w.first = true;
    w.buffer[0] = 2;
    w.buffer[1] = MSG_COMMAND;
    w.buffer[2] = 1; /* keep-alive: always */
    w.used = COMMAND_PREFIX;
    ok = writer_u32(&w, (uint32_t) count);
    for (i = 0; ok && i < count; i++)
        ok = writer_u32(&w, (uint32_t) command[i].iov_len)
             && writer_bytes(&w, command[i].iov_base, command[i].iov_len);
    ok = ok && writer_flush(&w, false);
    free(w.buffer);
    if (!ok) {
        rc_disconnect(r, false);
        return false;
    }
    r->state = STATE_WAITING;
    return true;
}

/* Fails the command: the connection is in an unknown state, so drop it. */
static struct remctl_output *
fail_output(struct remctl *r)
{
    rc_disconnect(r, false);
    return NULL;
}

/*
 * Reads one message into *message (or takes the one read ahead while
 * merging), checks its version, and gives its type and body. The caller
 * releases *message, also on failure.
 */
static bool
read_message(struct remctl *r, gss_buffer_desc *message, int *type,
             const unsigned char **body, size_t *length)
{
    unsigned char flags;
    const unsigned char *bytes;

    if (r->lookahead.value != NULL) {
        *message = r->lookahead;
        r->lookahead.value = NULL;
        r->lookahead.length = 0;
    } else if (!rc_token_recv_unwrapped(r, &flags, message)) {
        message->value = NULL;
        message->length = 0;
        return false;
    }
    bytes = message->value;
    if (message->length < 2) {
        rc_set_error(r, "malformed result token from server");
        return false;
    }
    if (bytes[0] < 2 || bytes[0] > 3) {
        rc_set_error(r, "unknown protocol version %d from server", bytes[0]);
        return false;
    }
    *type = bytes[1];
    *body = bytes + 2;
    *length = message->length - 2;
    return true;
}

static bool
unexpected_type(struct remctl *r, int type)
{
    if (type >= MSG_COMMAND && type <= MSG_NOOP)
        rc_set_error(r, "unexpected message type %d from server", type);
    else
        rc_set_error(r, "unknown message type %d from server", type);
    return false;
}

/* Parses one answer message into r->output, copying its data there. */
static bool
parse_answer(struct remctl *r, int type, const unsigned char *body,
             size_t length)
{
    struct remctl_output *out = &r->output;

    switch (type) {
    case MSG_OUTPUT:
        if (length < 5 || (body[0] != 1 && body[0] != 2)
            || get_u32(body + 1) != length - 5)
            break;
        if (!rc_output_set_data(r, body + 5, length - 5))
            return false;
        out->type = REMCTL_OUT_OUTPUT;
        out->stream = body[0];
        return true;
    case MSG_STATUS:
        if (length != 1)
            break;
        out->type = REMCTL_OUT_STATUS;
        out->status = body[0];
        r->state = STATE_IDLE;
        return true;
    case MSG_ERROR:
        if (length < 8 || get_u32(body + 4) != length - 8)
            break;
        if (!rc_output_set_data(r, body + 8, length - 8))
            return false;
        out->type = REMCTL_OUT_ERROR;
        out->error = (int) get_u32(body);
        r->state = STATE_IDLE;
        return true;
    default:
        return unexpected_type(r, type);
    }
    rc_set_error(r, "malformed result token from server");
    return false;
}

/* How much consecutive OUTPUT data one call hands out at most. */
#define MERGE_LIMIT (256u * 1024u)

/*
 * Streaming makes one call per OUTPUT message (remctld sends 4 KiB each), so
 * consecutive OUTPUT messages of the same stream that are already received
 * are handed out as one: fewer calls, and never a wait for more data. The
 * first other message is kept for the next call; a failure while reading
 * ahead is reported by the next call, after the output already read (this
 * call succeeds, and its error stays "no error").
 */
static void
merge_output(struct remctl *r)
{
    const struct remctl_output *out = &r->output;
    gss_buffer_desc next = GSS_C_EMPTY_BUFFER;
    const unsigned char *body;
    size_t length;
    OM_uint32 minor;
    int type;

    while (out->length < MERGE_LIMIT && rc_token_buffered(r)) {
        if (!read_message(r, &next, &type, &body, &length)) {
            if (next.value != NULL)
                r->gss->release_buffer(&minor, &next);
            /* This call succeeds: keep the message for the next one. */
            r->deferred_failure = true;
            r->deferred_error = rc_take_error(r);
            return;
        }
        if (type != MSG_OUTPUT || length < 5 || body[0] != out->stream
            || get_u32(body + 1) != length - 5
            || !rc_output_append_data(r, body + 5, length - 5)) {
            r->lookahead = next;
            return;
        }
        r->gss->release_buffer(&minor, &next);
    }
}

struct remctl_output *
rc_v2_output(struct remctl *r)
{
    gss_buffer_desc message = GSS_C_EMPTY_BUFFER;
    const unsigned char *body;
    size_t length;
    OM_uint32 minor;
    int type;
    bool ok;

    if (r->deferred_failure) {
        rc_restore_error(r, &r->deferred_error);
        r->deferred_failure = false;
        return fail_output(r);
    }
    ok = read_message(r, &message, &type, &body, &length)
         && parse_answer(r, type, body, length);
    if (message.value != NULL)
        r->gss->release_buffer(&minor, &message);
    if (!ok)
        return fail_output(r);
    if (r->output.type == REMCTL_OUT_OUTPUT)
        merge_output(r);
    return &r->output;
}

bool
rc_v2_noop(struct remctl *r)
{
    static const unsigned char noop[2] = {3, MSG_NOOP};
    gss_buffer_desc message = GSS_C_EMPTY_BUFFER;
    const unsigned char *body;
    size_t length;
    OM_uint32 minor;
    int type;
    bool ok = false;

    if (!rc_token_send_wrapped(r, TOKEN_DATA | TOKEN_PROTOCOL, noop,
                               sizeof(noop))
        || !read_message(r, &message, &type, &body, &length)) {
        if (message.value != NULL)
            r->gss->release_buffer(&minor, &message);
        fail_output(r);
        return false;
    }
    r->gss->release_buffer(&minor, &message);
    if (type == MSG_NOOP && length == 0)
        ok = true;
    else if (type == MSG_VERSION && length == 1)
        /* A protocol 2 server; the connection stays usable. */
        rc_set_error(r, "NOOP message not supported");
    else if (type == MSG_NOOP || type == MSG_VERSION)
        rc_set_error(r, "malformed result token from server");
    else
        unexpected_type(r, type);
    if (!ok && type != MSG_VERSION)
        fail_output(r);
    return ok;
}
