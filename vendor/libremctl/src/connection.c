/*
 * The connection's lifecycle: opening (name resolution over IPv4 and IPv6,
 * every address tried in turn, an optional source address, a timeout that
 * bounds the connect), waiting on the socket, checking that a kept-alive
 * connection still lives, reopening it, and tearing it down.
 *
 * No socket is left in non-blocking mode (O_NONBLOCK), so a descriptor
 * given to remctl_open_fd keeps the file status flags its caller gave it:
 * every read and write is non-blocking by itself (MSG_DONTWAIT, token.c),
 * and every wait goes through rc_wait_fd, which applies the handle's
 * timeout. Only our own sockets are non-blocking, and only during connect.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Whether a kept-alive connection can take a command. */
enum liveness {
    LIVE_OPEN,           /* usable */
    LIVE_CLOSED,         /* the server closed it: reopen */
    LIVE_UNEXPECTED_DATA /* the server sent something nobody asked for */
};

/*
 * A failed open leaves no connection and nothing to reopen: later calls
 * report "no connection open", as after remctl_new. Returns false.
 */
bool
rc_open_failed(struct remctl *r)
{
    rc_disconnect(r, false);
    free(r->host);
    free(r->principal);
    r->host = NULL;
    r->principal = NULL;
    return false;
}

/* Authenticates over the connected socket; tears it down on failure. */
bool
rc_open_finish(struct remctl *r)
{
    if (rc_establish(r, r->host, r->principal))
        return true;
    return rc_open_failed(r);
}

static long long
monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * Waits until fd is ready for events; false with errno set on failure
 * (ETIMEDOUT when the handle's timeout passed). A signal caught while
 * waiting (EINTR) is not a network error: wait again for what is left of
 * the timeout, as the timeout bounds the whole wait.
 */
bool
rc_wait_fd(struct remctl *r, int fd, short events)
{
    struct pollfd pfd;
    int timeout = -1, status;
    long long deadline = 0, left;

    if (r->timeout > 0) {
        timeout = r->timeout > INT_MAX / 1000 ? INT_MAX
                                               : (int) r->timeout * 1000;
        deadline = monotonic_ms() + timeout;
    }
    pfd.fd = fd;
    pfd.events = events;
    do {
        pfd.revents = 0;
        if (r->timeout > 0) {
            left = deadline - monotonic_ms();
            timeout = left > 0 ? (int) left : 0;
        }
        status = poll(&pfd, 1, timeout);
    } while (status < 0 && errno == EINTR);
    if (status == 0)
        errno = ETIMEDOUT;
    return status > 0;
}

/* Low latency for the small tokens of remctl: docs/design.md, ACK pacing.
   Fails harmlessly on sockets that are not TCP (tests use socketpairs). */
static void
set_no_delay(int fd)
{
    int on = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
#ifdef SO_NOSIGPIPE
    /* macOS and the BSDs: a write to a closed connection returns EPIPE
       instead of raising SIGPIPE, also where send() lacks MSG_NOSIGNAL. */
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
#endif
}

/*
 * Takes a connected socket from the caller (remctl_open_fd). The handle owns
 * it from now on: whatever fails later, tearing the connection down closes
 * it.
 */
bool
rc_adopt_fd(struct remctl *r, int fd)
{
    r->fd = fd;
    if (fcntl(fd, F_GETFL) < 0) {
        rc_set_errno_error(r, "cannot use file descriptor", errno);
        return false;
    }
    set_no_delay(fd);
    return true;
}

/* Binds fd to the handle's source address, which must match the family. */
static bool
bind_source(const struct remctl *r, int fd, int family)
{
    struct sockaddr_storage ss;
    socklen_t length;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

        sin->sin_family = AF_INET;
        if (inet_pton(AF_INET, r->source, &sin->sin_addr) != 1)
            goto mismatch;
        length = sizeof(*sin);
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

        sin6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, r->source, &sin6->sin6_addr) != 1)
            goto mismatch;
        length = sizeof(*sin6);
    } else {
        goto mismatch;
    }
    return bind(fd, (struct sockaddr *) &ss, length) == 0;

mismatch:
    errno = EAFNOSUPPORT;
    return false;
}

/* Connects to one address; returns the socket or -1 with errno set. */
static int
connect_one(struct remctl *r, const struct sockaddr *addr, socklen_t length)
{
    int fd, flags, err = 0;
    socklen_t err_length = sizeof(err);

#ifdef SOCK_CLOEXEC
    fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -1;
#else
    /* macOS: no SOCK_CLOEXEC; other threads' fork+exec may leak the socket
       between these two calls, which nothing portable can prevent. */
    fd = socket(addr->sa_family, SOCK_STREAM, IPPROTO_TCP);
    if (fd < 0)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        goto fail;
#endif
    if (r->source != NULL && !bind_source(r, fd, addr->sa_family))
        goto fail;
    /* Non-blocking for the connect alone, which the timeout must bound. */
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        goto fail;
    if (connect(fd, addr, length) < 0) {
        if (errno != EINPROGRESS)
            goto fail;
        if (!rc_wait_fd(r, fd, POLLOUT))
            goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_length) < 0)
            goto fail;
        if (err != 0) {
            errno = err;
            goto fail;
        }
    }
    if (fcntl(fd, F_SETFL, flags) < 0)
        goto fail;
    set_no_delay(fd);
    return fd;

fail:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

static unsigned short
sockaddr_port(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *) addr)->sin_port);
    if (addr->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *) addr)->sin6_port);
    return 0;
}

static void
set_connect_error(struct remctl *r, const char *host, unsigned short port,
                  int err)
{
    rc_set_error(r, "cannot connect to %s (port %hu): %s", host, port,
                 strerror(err));
}

bool
rc_connect_addrinfo(struct remctl *r, const char *host,
                    const struct addrinfo *list)
{
    const struct addrinfo *ai;
    int fd, err = EHOSTUNREACH;

    for (ai = list; ai != NULL; ai = ai->ai_next) {
        fd = connect_one(r, ai->ai_addr, ai->ai_addrlen);
        if (fd >= 0) {
            r->fd = fd;
            return true;
        }
        err = errno;
    }
    set_connect_error(r, host, list != NULL ? sockaddr_port(list->ai_addr) : 0,
                      err);
    return false;
}

bool
rc_connect_sockaddr(struct remctl *r, const char *host,
                    const struct sockaddr *addr, int addrlen)
{
    int fd;

    if (addr == NULL || addrlen <= 0) {
        rc_set_error(r, "cannot connect to %s: invalid address", host);
        return false;
    }
    fd = connect_one(r, addr, (socklen_t) addrlen);
    if (fd < 0) {
        set_connect_error(r, host, sockaddr_port(addr), errno);
        return false;
    }
    r->fd = fd;
    return true;
}

/* Resolves and connects to one port. */
static bool
connect_port(struct remctl *r, const char *host, unsigned short port)
{
    struct addrinfo hints, *list;
    char service[16];
    int status;
    bool ok;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(service, sizeof(service), "%hu", port);
    status = getaddrinfo(host, service, &hints, &list);
    if (status != 0) {
        rc_set_error(r, "unknown host %s: %s", host,
                     status == EAI_SYSTEM ? strerror(errno)
                                          : gai_strerror(status));
        return false;
    }
    ok = rc_connect_addrinfo(r, host, list);
    freeaddrinfo(list);
    return ok;
}

bool
rc_connect_host(struct remctl *r, const char *host, unsigned short port)
{
    struct rc_saved_error first;

    if (port != 0)
        return connect_port(r, host, port);

    /* Port 0: the IANA port, then the legacy one. Report the first error. */
    if (connect_port(r, host, REMCTL_DEFAULT_PORT))
        return true;
    first = rc_take_error(r);
    if (connect_port(r, host, REMCTL_LEGACY_PORT)) {
        rc_discard_error(&first);
        return true;
    }
    rc_restore_error(r, &first);
    return false;
}

/* Whether the kept-alive connection is still usable before a command. */
static enum liveness
connection_liveness(struct remctl *r)
{
    struct pollfd pfd;
    unsigned char byte;
    ssize_t got;

    if (r->reader.end > r->reader.start)
        return LIVE_UNEXPECTED_DATA;
    pfd.fd = r->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) <= 0)
        return LIVE_OPEN;
    got = recv(r->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (got > 0)
        return LIVE_UNEXPECTED_DATA;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return LIVE_OPEN;
    return LIVE_CLOSED;
}

void
rc_disconnect(struct remctl *r, bool send_quit)
{
    static const unsigned char quit[2] = {2, MSG_QUIT};
    OM_uint32 minor;

    if (r->fd >= 0 && send_quit && r->protocol > 1
        && r->context != GSS_C_NO_CONTEXT) {
        time_t timeout = r->timeout;
        struct rc_saved_error error = rc_take_error(r);

        /* Best effort, and never a long wait: the caller is closing. */
        if (r->timeout == 0 || r->timeout > 1)
            r->timeout = 1;
        rc_token_send_wrapped(r, TOKEN_DATA | TOKEN_PROTOCOL, quit,
                              sizeof(quit));
        r->timeout = timeout;
        rc_restore_error(r, &error);
    }
    if (r->lookahead.value != NULL)
        r->gss->release_buffer(&minor, &r->lookahead);
    r->lookahead.value = NULL;
    r->lookahead.length = 0;
    r->deferred_failure = false;
    rc_discard_error(&r->deferred_error);
    if (r->context != GSS_C_NO_CONTEXT)
        r->gss->delete_sec_context(&minor, &r->context, GSS_C_NO_BUFFER);
    r->context = GSS_C_NO_CONTEXT;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    rc_reader_free(&r->reader);
    r->state = STATE_IDLE;
}

/* Opens the connection again to the same host, port and principal. */
static bool
reopen(struct remctl *r)
{
    if (!rc_connect_host(r, r->host, r->port))
        return false;
    if (!rc_establish(r, r->host, r->principal)) {
        rc_disconnect(r, false);
        return false;
    }
    return true;
}

/* Makes sure a connection is open for a new command, reopening it if the
   server closed it and the handle knows where it goes. */
bool
rc_ensure_open(struct remctl *r)
{
    enum liveness state;

    if (r->host == NULL) {
        rc_set_error(r, "no connection open");
        return false;
    }
    if (r->fd >= 0) {
        state = connection_liveness(r);
        if (state == LIVE_OPEN)
            return true;
        rc_disconnect(r, false);
        if (state == LIVE_UNEXPECTED_DATA) {
            rc_set_error(r, "unexpected data from server before command");
            return false;
        }
    }
    if (!r->reopenable) {
        rc_set_error(r, "connection to %s closed and cannot be reopened "
                        "(it was opened from an address or a file "
                        "descriptor)",
                     r->host);
        return false;
    }
    return reopen(r);
}
