/*
 * Token framing (docs/protocol.md, section 2) and socket I/O.
 *
 * Every send and recv is non-blocking by its MSG_DONTWAIT flag, whatever the
 * socket's own mode, and waits for the socket with rc_wait_fd when it would
 * block (see connection.c).
 *
 * Each token goes out with one sendmsg. Incoming bytes are read into a
 * buffer as many at a time as the socket has, so one recv usually yields
 * several tokens; a token is handed on as a pointer into that buffer.
 *
 * ACKs. Stock remctld sends OUTPUT and STATUS as two small segments, and its
 * Nagle algorithm holds the second until the first is acknowledged: left to
 * the kernel's delayed ACK, every command that prints anything would wait
 * about 40 ms. So before waiting for more data we ask for an immediate ACK
 * (TCP_QUICKACK). Asking only then, not after every read, spares the ACK
 * packet when the data read was the whole answer (the next command carries
 * the ACK).
 *
 * Once an answer passes BULK_ANSWER_BYTES it is a stream, and prompt ACKs
 * would make Nagle release each 4 KiB message alone: one wake-up, one recv
 * and one ACK packet per message. There we first wait BULK_ACK_GRACE_MS
 * without an ACK, so remctld fills whole segments meanwhile, and ask for one
 * only if nothing came: the most a stream's last message can wait. We also
 * put the socket back in delayed-ACK mode (TCP_QUICKACK off) on entering
 * the stream and after each such ACK, because out of that mode Linux ACKs
 * by itself whenever a read empties the socket of a small segment, which
 * brings the message-by-message pace back (measured: 2-4 times the tokens
 * and about 20% more CPU per MiB on 4 to 32 MiB streams).
 */
#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Where send() has no MSG_NOSIGNAL, SO_NOSIGPIPE on the socket does its job
   (connection.c). */
#ifndef MSG_NOSIGNAL
#    define MSG_NOSIGNAL 0
#endif

#define READER_INITIAL_SIZE (256u * 1024u)
#define BULK_ANSWER_BYTES (256u * 1024u)
#define BULK_ACK_GRACE_MS 1

void
rc_reader_free(struct token_reader *reader)
{
    free(reader->buffer);
    memset(reader, 0, sizeof(*reader));
}

static void
set_io_error(struct remctl *r, const char *prefix, int err)
{
    if (err == ETIMEDOUT)
        rc_set_error(r, "%s: timed out", prefix);
    else
        rc_set_errno_error(r, prefix, err);
}

bool
rc_token_send(struct remctl *r, unsigned char flags, const void *data,
                  size_t length, const char *prefix)
{
    unsigned char header[TOKEN_HEADER_LENGTH];
    struct iovec iov[2];
    struct msghdr msg;
    ssize_t sent;
    size_t first = 0;

    header[0] = flags;
    put_u32(header + 1, (uint32_t) length);
    iov[0].iov_base = header;
    iov[0].iov_len = sizeof(header);
    iov[1].iov_base = (void *) data;
    iov[1].iov_len = length;
    while (first < 2) {
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = iov + first;
        msg.msg_iovlen = 2 - first;
        sent = sendmsg(r->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (rc_wait_fd(r, r->fd, POLLOUT))
                    continue;
            }
            set_io_error(r, prefix, errno);
            return false;
        }
        /* Step past what went out; a partial write continues mid-iovec. */
        while (first < 2 && (size_t) sent >= iov[first].iov_len) {
            sent -= (ssize_t) iov[first].iov_len;
            first++;
        }
        if (first < 2) {
            iov[first].iov_base = (char *) iov[first].iov_base + sent;
            iov[first].iov_len -= (size_t) sent;
        }
    }
    r->reader.awaiting = (r->reader.end == r->reader.start);
    r->reader.answer_bytes = 0;
    return true;
}

/* Makes room for need bytes of one token at the reader's start. */
static bool
reader_reserve(struct remctl *r, size_t need)
{
    struct token_reader *reader = &r->reader;
    size_t have = reader->end - reader->start;

    if (reader->start + need <= reader->size)
        return true;
    if (need > reader->size) {
        size_t size = need * 4 < TOKEN_MAX_LENGTH ? need * 4 : need;
        unsigned char *buffer;

        if (size < READER_INITIAL_SIZE)
            size = READER_INITIAL_SIZE;
        if (reader->start > 0 && have > 0)
            memmove(reader->buffer, reader->buffer + reader->start, have);
        buffer = realloc(reader->buffer, size);
        if (buffer == NULL) {
            rc_set_error(r, "error receiving token: cannot allocate memory");
            return false;
        }
        reader->buffer = buffer;
        reader->size = size;
    } else if (have > 0) {
        memmove(reader->buffer, reader->buffer + reader->start, have);
    }
    reader->start = 0;
    reader->end = have;
    return true;
}

/* Fails harmlessly on sockets that are not TCP (tests use socketpairs). */
static void
set_quick_ack(struct remctl *r, int on)
{
#ifdef TCP_QUICKACK
    setsockopt(r->fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
#else
    /* Linux only: elsewhere the receiver's delayed ACKs stay as they are. */
    (void) r;
    (void) on;
#endif
}

/*
 * Before a wait for more data: true if data came within the grace period of
 * a stream, otherwise asks for an ACK of what came so far (see the top of
 * this file) and returns false.
 */
static bool
data_came_before_ack(struct remctl *r)
{
    struct pollfd pfd;

    if (r->reader.answer_bytes >= BULK_ANSWER_BYTES) {
        pfd.fd = r->fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, BULK_ACK_GRACE_MS) > 0)
            return true;
        set_quick_ack(r, 1);
        set_quick_ack(r, 0);
        return false;
    }
    set_quick_ack(r, 1);
    return false;
}

/* Reads until the reader holds at least need bytes. */
static bool
reader_fill(struct remctl *r, size_t need)
{
    struct token_reader *reader = &r->reader;
    ssize_t got;

    if (!reader_reserve(r, need))
        return false;
    while (reader->end - reader->start < need) {
        /* Right after a send the answer cannot be there yet: skip the recv
           that would fail with EAGAIN and wait first. */
        if (reader->awaiting) {
            reader->awaiting = false;
            if (!rc_wait_fd(r, r->fd, POLLIN)) {
                set_io_error(r, "error receiving token", errno);
                return false;
            }
        }
        got = recv(r->fd, reader->buffer + reader->end,
                   reader->size - reader->end, MSG_DONTWAIT);
        if (got > 0) {
            reader->end += (size_t) got;
            if (reader->answer_bytes < BULK_ANSWER_BYTES) {
                reader->answer_bytes += (size_t) got;
                if (reader->answer_bytes >= BULK_ANSWER_BYTES)
                    set_quick_ack(r, 0); /* a stream from here on */
            }
            continue;
        }
        if (got == 0) {
            rc_set_error(r, "error receiving token: unexpected end of file");
            return false;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            set_io_error(r, "error receiving token", errno);
            return false;
        }
        if (data_came_before_ack(r))
            continue;
        if (!rc_wait_fd(r, r->fd, POLLIN)) {
            set_io_error(r, "error receiving token", errno);
            return false;
        }
    }
    return true;
}

bool
rc_token_recv(struct remctl *r, unsigned char *flags,
                  gss_buffer_desc *payload)
{
    struct token_reader *reader = &r->reader;
    uint32_t length;

    if (!reader_fill(r, TOKEN_HEADER_LENGTH))
        return false;
    *flags = reader->buffer[reader->start];
    length = get_u32(reader->buffer + reader->start + 1);
    if (length > TOKEN_MAX_LENGTH - TOKEN_HEADER_LENGTH) {
        rc_set_error(r, "error receiving token: token too large");
        return false;
    }
    if (!reader_fill(r, TOKEN_HEADER_LENGTH + length))
        return false;
    payload->value = reader->buffer + reader->start + TOKEN_HEADER_LENGTH;
    payload->length = length;
    /* The payload stays in place until the next read. */
    reader->start += TOKEN_HEADER_LENGTH + length;
    if (reader->start == reader->end)
        reader->start = reader->end = 0;
    return true;
}

bool
rc_token_send_wrapped(struct remctl *r, unsigned char flags,
                          const void *data, size_t length)
{
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor;
    int conf = 0;
    bool ok;

    in.value = (void *) data;
    in.length = length;
    major = r->gss->wrap(&minor, r->context, 1, GSS_C_QOP_DEFAULT, &in, &conf,
                         &out);
    if (major != GSS_S_COMPLETE) {
        rc_set_gss_error(r, "wrapping token", major, minor);
        return false;
    }
    ok = conf && rc_token_send(r, flags, out.value, out.length,
                               "error sending token");
    if (!conf)
        rc_set_error(r, "GSS-API error wrapping token: "
                        "confidentiality not available");
    r->gss->release_buffer(&minor, &out);
    return ok;
}

bool
rc_token_recv_unwrapped(struct remctl *r, unsigned char *flags,
                            gss_buffer_desc *message)
{
    gss_buffer_desc payload;
    OM_uint32 major, minor;
    int conf = 0;

    if (!rc_token_recv(r, flags, &payload))
        return false;
    if (*flags != (TOKEN_DATA | TOKEN_PROTOCOL)) {
        rc_set_error(r, "unexpected token flags 0x%02x from server", *flags);
        return false;
    }
    major = r->gss->unwrap(&minor, r->context, &payload, message, &conf, NULL);
    if (major != GSS_S_COMPLETE) {
        rc_set_gss_error(r, "unwrapping token", major, minor);
        return false;
    }
    if (!conf) {
        r->gss->release_buffer(&minor, message);
        rc_set_error(r, "unencrypted token from server");
        return false;
    }
    return true;
}

/* Whether a whole token is already buffered, so reading it cannot block. */
bool
rc_token_buffered(const struct remctl *r)
{
    const struct token_reader *reader = &r->reader;
    size_t have = reader->end - reader->start;
    uint32_t length;

    if (have < TOKEN_HEADER_LENGTH)
        return false;
    length = get_u32(reader->buffer + reader->start + 1);
    return length <= TOKEN_MAX_LENGTH - TOKEN_HEADER_LENGTH
           && have >= TOKEN_HEADER_LENGTH + length;
}
