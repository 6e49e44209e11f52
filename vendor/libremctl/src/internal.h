/*
 * Internal structures and functions of libremctl, shared between its files.
 * Nothing here is exported (see libremctl.map).
 */
#ifndef REMCTL_INTERNAL_H
#define REMCTL_INTERNAL_H 1

#include "gss.h"
#include "remctl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Token flags (PROTOCOL.md §1). */
enum {
    TOKEN_NOOP = 0x01,
    TOKEN_CONTEXT = 0x02,
    TOKEN_DATA = 0x04,
    TOKEN_MIC = 0x08,
    TOKEN_CONTEXT_NEXT = 0x10,
    TOKEN_SEND_MIC = 0x20,
    TOKEN_PROTOCOL = 0x40
};

/* Message types of protocol 2 and 3 (PROTOCOL.md §3). */
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
    STATE_V1_RESULT  /* protocol 1: the one DATA reply is being handed out */
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
    int force_protocol; /* test hook: REMCTL_TEST_PROTOCOL, read at open */

    /* The connection. */
    int fd;
    int protocol;
    gss_ctx_id_t context;
    const struct gss_functions *gss;
    struct token_reader reader;

    /* The command in progress and the answer handed to the caller. */
    enum command_state state;
    struct remctl_output output;
    gss_buffer_desc unwrapped; /* backs output.data; freed on the next call */
    gss_buffer_desc lookahead; /* a message read while merging, not yet given */
    unsigned char *merged;     /* consecutive OUTPUT data handed out at once */
    size_t merged_size;
    bool deferred_failure;     /* reading ahead failed: fail the next call */
    unsigned char *v1_data;    /* protocol 1 reply backing output.data */
    size_t v1_length;
    size_t v1_offset;
    int v1_status;

    char *error;
    bool error_no_memory; /* the last error could not be allocated */
};

/* error.c: the handle's error string. */
void remctl_set_error(struct remctl *, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void remctl_set_gss_error(struct remctl *, const char *action,
                          OM_uint32 major, OM_uint32 minor);
void remctl_set_errno_error(struct remctl *, const char *prefix, int err);

/* connect.c: TCP connection with timeout and source address. */
int remctl_connect_host(struct remctl *, const char *host,
                        unsigned short port);
int remctl_connect_addrinfo(struct remctl *, const char *host,
                            const struct addrinfo *);
int remctl_connect_sockaddr(struct remctl *, const char *host,
                            const struct sockaddr *, int addrlen);
int remctl_socket_ready(struct remctl *, int fd);
int remctl_wait_fd(struct remctl *, int fd, short events);

/* token.c: framing and socket I/O. */
int remctl_token_send(struct remctl *, unsigned char flags, const void *data,
                      size_t length, const char *prefix);
int remctl_token_recv(struct remctl *, unsigned char *flags,
                      gss_buffer_desc *payload);
int remctl_token_send_wrapped(struct remctl *, unsigned char flags,
                              const void *data, size_t length);
int remctl_token_recv_unwrapped(struct remctl *, unsigned char *flags,
                                gss_buffer_desc *message);
void remctl_reader_free(struct token_reader *);
int remctl_connection_state(struct remctl *);
bool remctl_token_buffered(const struct remctl *);

/* context.c: the opening exchange and connection teardown. */
int remctl_establish(struct remctl *, const char *host, const char *principal);
void remctl_disconnect(struct remctl *, bool send_quit);
void remctl_release_output(struct remctl *);
int remctl_ensure_open(struct remctl *);

/* protocol_v2.c and protocol_v1.c: commands and their answers. */
int remctl_v2_command(struct remctl *, const struct iovec *, size_t count);
struct remctl_output *remctl_v2_output(struct remctl *);
int remctl_v2_noop(struct remctl *);
int remctl_v1_command(struct remctl *, const struct iovec *, size_t count);
struct remctl_output *remctl_v1_output(struct remctl *);

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
