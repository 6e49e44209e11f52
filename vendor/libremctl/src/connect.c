/*
 * Opening the TCP connection: name resolution over IPv4 and IPv6, every
 * address tried in turn, an optional source address, and a timeout that
 * bounds the connect. Sockets are non-blocking from here on; every wait goes
 * through remctl_wait_fd, which applies the handle's timeout.
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

static long long
monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * A signal caught while waiting (EINTR) is not a network error: wait again
 * for what is left of the timeout, as the timeout bounds the whole wait.
 */
int
remctl_wait_fd(struct remctl *r, int fd, short events)
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
    return status > 0 ? 1 : status;
}

/* Low latency for the small tokens of remctl: see DESIGN.md decision 4. */
int
remctl_socket_ready(struct remctl *r, int fd)
{
    int on = 1, flags;

    (void) r;
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return 0;
    /* Fails harmlessly on sockets that are not TCP (tests use socketpairs). */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return 1;
}

/* Binds fd to the handle's source address, which must match the family. */
static int
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
    return 0;
}

/* Connects to one address; returns the socket or -1 with errno set. */
static int
connect_one(struct remctl *r, const struct sockaddr *addr, socklen_t length)
{
    int fd, err = 0;
    socklen_t err_length = sizeof(err);

    fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -1;
    if (r->source != NULL && !bind_source(r, fd, addr->sa_family))
        goto fail;
    if (!remctl_socket_ready(r, fd))
        goto fail;
    if (connect(fd, addr, length) == 0)
        return fd;
    if (errno != EINPROGRESS)
        goto fail;
    if (remctl_wait_fd(r, fd, POLLOUT) <= 0)
        goto fail;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_length) < 0)
        goto fail;
    if (err != 0) {
        errno = err;
        goto fail;
    }
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
    remctl_set_error(r, "cannot connect to %s (port %hu): %s", host, port,
                     strerror(err));
}

int
remctl_connect_addrinfo(struct remctl *r, const char *host,
                        const struct addrinfo *list)
{
    const struct addrinfo *ai;
    int fd, err = EHOSTUNREACH;

    for (ai = list; ai != NULL; ai = ai->ai_next) {
        fd = connect_one(r, ai->ai_addr, ai->ai_addrlen);
        if (fd >= 0) {
            r->fd = fd;
            return 1;
        }
        err = errno;
    }
    set_connect_error(r, host, list != NULL ? sockaddr_port(list->ai_addr) : 0,
                      err);
    return 0;
}

int
remctl_connect_sockaddr(struct remctl *r, const char *host,
                        const struct sockaddr *addr, int addrlen)
{
    int fd;

    if (addr == NULL || addrlen <= 0) {
        remctl_set_error(r, "cannot connect to %s: invalid address", host);
        return 0;
    }
    fd = connect_one(r, addr, (socklen_t) addrlen);
    if (fd < 0) {
        set_connect_error(r, host, sockaddr_port(addr), errno);
        return 0;
    }
    r->fd = fd;
    return 1;
}

/* Resolves and connects to one port; returns 1, or 0 with the error set. */
static int
connect_port(struct remctl *r, const char *host, unsigned short port)
{
    struct addrinfo hints, *list;
    char service[16];
    int status, ok;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(service, sizeof(service), "%hu", port);
    status = getaddrinfo(host, service, &hints, &list);
    if (status != 0) {
        remctl_set_error(r, "unknown host %s: %s", host,
                         status == EAI_SYSTEM ? strerror(errno)
                                              : gai_strerror(status));
        return 0;
    }
    ok = remctl_connect_addrinfo(r, host, list);
    freeaddrinfo(list);
    return ok;
}

int
remctl_connect_host(struct remctl *r, const char *host, unsigned short port)
{
    char *first_error;

    if (port != 0)
        return connect_port(r, host, port);

    /* Port 0: the IANA port, then the legacy one. Report the first error. */
    if (connect_port(r, host, REMCTL_DEFAULT_PORT))
        return 1;
    first_error = r->error;
    r->error = NULL;
    if (connect_port(r, host, REMCTL_LEGACY_PORT)) {
        free(first_error);
        return 1;
    }
    if (first_error != NULL) {
        free(r->error);
        r->error = first_error;
    }
    return 0;
}
