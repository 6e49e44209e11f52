/*
 * Public API of libremctl, the remctl client library.
 *
 * ABI-compatible with the standard libremctl.so.1 (symbol version node
 * REMCTL_1.0): the same 16 functions and the same structures, so programs
 * built against either library can run on the other.
 */
#ifndef REMCTL_H
#define REMCTL_H 1

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct addrinfo;
struct iovec;
struct sockaddr;

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque connection handle. */
struct remctl;

/* Result of the simple interface. Empty output is NULL with length 0. */
struct remctl_result {
    char *error;
    char *stdout_buf;
    size_t stdout_len;
    char *stderr_buf;
    size_t stderr_len;
    int status;
};

enum remctl_output_type {
    REMCTL_OUT_OUTPUT,
    REMCTL_OUT_STATUS,
    REMCTL_OUT_ERROR,
    REMCTL_OUT_DONE
};

/* One piece of a command's answer; valid until the next call on the handle. */
struct remctl_output {
    enum remctl_output_type type;
    char *data;
    size_t length;
    int stream;
    int status;
    int error;
};

struct remctl_result *remctl(const char *host, unsigned short port,
                             const char *principal, const char **command);
void remctl_result_free(struct remctl_result *);

struct remctl *remctl_new(void);
int remctl_open(struct remctl *, const char *host, unsigned short port,
                const char *principal);
int remctl_open_addrinfo(struct remctl *, const char *host,
                         const struct addrinfo *, const char *principal);
int remctl_open_sockaddr(struct remctl *, const char *host,
                         const struct sockaddr *, int addrlen,
                         const char *principal);
/* The handle owns fd from the call on, also when the call fails; the
   descriptor's file status flags (O_NONBLOCK) are left as given. */
int remctl_open_fd(struct remctl *, const char *host, int fd,
                   const char *principal);
int remctl_set_ccache(struct remctl *, const char *ccache);
int remctl_set_source_ip(struct remctl *, const char *source);
int remctl_set_timeout(struct remctl *, time_t seconds);
int remctl_command(struct remctl *, const char **argv);
int remctl_commandv(struct remctl *, const struct iovec *, size_t count);
/* Before a command's answer was read to its end, as a new command: the
   rest of the answer is dropped with its connection, and a new one opened. */
int remctl_noop(struct remctl *);
struct remctl_output *remctl_output(struct remctl *);
const char *remctl_error(struct remctl *);
void remctl_close(struct remctl *);

#ifdef __cplusplus
}
#endif

#endif /* REMCTL_H */
