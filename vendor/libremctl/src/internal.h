/*
 * Internal structures and functions of libremctl, shared between its files.
 * Nothing here is exported (see libremctl.map): every function shared
 * between files is named rc_..., so a name that starts with remctl_ is one
 * of the 16 public functions of remctl.h.
 *
 * Conventions: a function that can fail returns bool (true on success) and
 * leaves the handle's error set on failure; one with three outcomes returns
 * a named enum.
 *
 * The files, by layer (a public call runs down through them):
 *   api.c          the public handle functions: arguments, then the layers
 *   simple.c       the one-call interface remctl()
 *   protocol_v2.c  commands and answers of protocols 2 and 3
 *   protocol_v1.c  commands and answers of protocol 1
 *   output.c       the answer handed to the caller and the buffer it uses
 *   connection.c   connection lifecycle: connect, wait, liveness, reopen,
 *                  disconnect
 *   context.c      the GSS-API exchange that authenticates a connection
 *   token.c        token framing and socket I/O
 *   error.c        the handle's error message
 *   gss_loader.c   the host's GSS-API library, loaded at run time
 */
#ifndef REMCTL_INTERNAL_H
#define REMCTL_INTERNAL_H 1

#include "gss.h"
#include "remctl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Token flags (docs/protocol.md, section 2). */
enum {
    TOKEN_NOOP = 0x01,
    TOKEN_CONTEXT = 0x02,
    TOKEN_DATA = 0x04,
    TOKEN_MIC = 0x08,
    TOKEN_CONTEXT_NEXT = 0x10,
    TOKEN_SEND_MIC = 0x20,
    TOKEN_PROTOCOL = 0x40
};

/* Message types of protocol 2 and 3 (docs/protocol.md, section 4). */
enum {
    MSG_COMMAND = 1,
    MSG_QUIT = 2,
    MSG_OUTPUT = 3,
    MSG_STATUS = 4,
    MSG_ERROR = 5,
    MSG_VERSION = 6,
    MSG_NOOP = 7
};

/* Protocol limits. */
#define TOKEN_MAX_LENGTH (1024u * 1024u)      /* whole token, prefix included */
#define TOKEN_HEADER_LENGTH 5u
#define TOKEN_MAX_DATA (64u * 1024u)          /* data handed to gss_wrap */
#define REMCTL_DEFAULT_PORT 4373
#define REMCTL_LEGACY_PORT 4444

/* Where a handle is in the exchange of one command. */
enum command_state {
    STATE_IDLE,      /* no command sent, or its answer fully read */
    STATE_WAITING,   /* command sent; reading its answer */
    STATE_V1_STATUS  /* protocol 1: output handed out, exit status next */
};

/* Buffered reader: many tokens per recv, no copy until gss_unwrap. */
struct token_reader {
    unsigned char *buffer;
    size_t size;  /* allocated */
    size_t start; /* first unread byte */
    size_t end;   /* one past the last received byte */
    bool awaiting; /* a token was just sent: poll before the first recv */
    size_t answer_bytes; /* received since the last send, up to bulk size */
};

/* The one buffer that output.data points into, reused from call to call. */
struct answer_buffer {
    unsigned char *data;
    size_t size; /* allocated */
};

/* An error message moved out of a handle, to be put back later. */
struct rc_saved_error {
    char *message;
    bool no_memory;
};

struct remctl {
    /* Where the connection goes, kept for transparent reopening. */
    char *host;
    unsigned short port;
    char *principal;
    bool reopenable; /* false for the addrinfo, sockaddr and fd forms */

    /* Settings for later opens. */
    char *ccache;
    char *source;
    time_t timeout;
    int force_protocol; /* 1: protocol 1 (set by a test build's test hook) */

    /* The connection. */
    int fd;
    int protocol;
    gss_ctx_id_t context;
    const struct gss_functions *gss;
    struct token_reader reader;

    /* The command in progress and the answer handed to the caller. */
    enum command_state state;
    struct remctl_output output;
    struct answer_buffer answer; /* owns what output.data points into */
    gss_buffer_desc lookahead;   /* a message read while merging, not yet given */
    bool deferred_failure;       /* reading ahead failed: fail the next call */
    struct rc_saved_error deferred_error; /* with this message */
    int v1_status;               /* protocol 1: the status still to hand out */

    char *error;
    bool error_no_memory; /* the last error could not be allocated */
};

/* error.c: the handle's error message. */
void rc_set_error(struct remctl *, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void rc_set_gss_error(struct remctl *, const char *action, OM_uint32 major,
                      OM_uint32 minor);
void rc_set_errno_error(struct remctl *, const char *prefix, int err);
void rc_clear_error(struct remctl *);
struct rc_saved_error rc_take_error(struct remctl *);
void rc_restore_error(struct remctl *, struct rc_saved_error *);
void rc_discard_error(struct rc_saved_error *);

/* connection.c: the connection's lifecycle. */
bool rc_open_failed(struct remctl *);
bool rc_open_finish(struct remctl *);
bool rc_connect_host(struct remctl *, const char *host, unsigned short port);
bool rc_connect_addrinfo(struct remctl *, const char *host,
                         const struct addrinfo *);
bool rc_connect_sockaddr(struct remctl *, const char *host,
                         const struct sockaddr *, int addrlen);
bool rc_adopt_fd(struct remctl *, int fd);
bool rc_wait_fd(struct remctl *, int fd, short events);
bool rc_ensure_open(struct remctl *);
void rc_disconnect(struct remctl *, bool send_quit);

/* context.c: the GSS-API exchange over a connected socket. */
bool rc_establish(struct remctl *, const char *host, const char *principal);

/* token.c: framing and socket I/O. */
bool rc_token_send(struct remctl *, unsigned char flags, const void *data,
                   size_t length, const char *prefix);
bool rc_token_recv(struct remctl *, unsigned char *flags,
                   gss_buffer_desc *payload);
bool rc_token_send_wrapped(struct remctl *, unsigned char flags,
                           const void *data, size_t length);
bool rc_token_recv_unwrapped(struct remctl *, unsigned char *flags,
                             gss_buffer_desc *message);
bool rc_token_buffered(const struct remctl *);
void rc_reader_free(struct token_reader *);

/* output.c: r->output and the buffer behind output.data. */
void rc_output_reset(struct remctl *);
bool rc_output_set_data(struct remctl *, const void *data, size_t length);
bool rc_output_append_data(struct remctl *, const void *data, size_t length);
void rc_output_free(struct remctl *);

/* protocol_v2.c and protocol_v1.c: commands and their answers. */
bool rc_v2_command(struct remctl *, const struct iovec *, size_t count);
struct remctl_output *rc_v2_output(struct remctl *);
bool rc_v2_noop(struct remctl *);
bool rc_v1_command(struct remctl *, const struct iovec *, size_t count);
struct remctl_output *rc_v1_output(struct remctl *);

/* Big-endian integers. */
static inline void
put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

static inline uint32_t
get_u32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

#endif /* REMCTL_INTERNAL_H */
