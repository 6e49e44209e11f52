/*
 * The public handle API of remctl.h: creating, opening, settings,
 * commands, answers, closing. Each function checks its arguments and hands
 * on to the layers below (see internal.h); protocol details live in the
 * protocol files, the connection's lifecycle in connection.c.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * Lets a test suite tell this library from another libremctl.so.1, and a
 * test build from a release build, by its bytes (tests/conftest.py). Kept
 * although nothing refers to it: "used" for the compiler, "retain" for a
 * linker that drops unreferenced sections (zig cc, the wheel's compiler).
 */
#if defined(__has_attribute)
#if __has_attribute(retain)
#define KEEP_UNREFERENCED __attribute__((used, retain))
#endif
#endif
#ifndef KEEP_UNREFERENCED
#define KEEP_UNREFERENCED __attribute__((used))
#endif
KEEP_UNREFERENCED static const char library_identity[] =
    "libremctl of the remctl Python package"
#ifdef REMCTL_TEST_HOOKS
    ", test build with test hooks"
#endif
    ;

struct remctl *
remctl_new(void)
{
    struct remctl *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->fd = -1;
    r->state = STATE_IDLE;
    return r;
}

/* Replaces *slot with a copy of value (NULL allowed). */
static bool
replace_string(struct remctl *r, char **slot, const char *value)
{
    char *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL) {
        rc_set_error(r, "cannot allocate memory");
        return false;
    }
    free(*slot);
    *slot = copy;
    return true;
}

/*
 * Each call that talks to the server starts afresh, as in the standard
 * library: no error (so a failure's message lasts until the next such
 * call, and remctl_error says "no error" after one that succeeds) and no
 * answer handed out. The remctl_set_* functions keep the error.
 */
static void
begin_call(struct remctl *r)
{
    rc_clear_error(r);
    rc_output_reset(r);
}

/* Closes any open connection and records where the new one goes. */
static bool
prepare_open(struct remctl *r, const char *host, unsigned short port,
             const char *principal, bool reopenable)
{
    rc_disconnect(r, true);
    if (host == NULL) {
        rc_set_error(r, "no host given");
        return false;
    }
    if (!replace_string(r, &r->host, host)
        || !replace_string(r, &r->principal, principal))
        return false;
    r->port = port;
    r->reopenable = reopenable;
#ifdef REMCTL_TEST_HOOKS
    /* Test hook of test builds only: REMCTL_TEST_PROTOCOL=1 speaks
       protocol 1 (see CMakeLists.txt). */
    {
        const char *forced = getenv("REMCTL_TEST_PROTOCOL");

        r->force_protocol = forced != NULL ? atoi(forced) : 0;
    }
#endif
    return true;
}

/*
 * The forms that take an address or a descriptor may be given no host when
 * the principal is given (the host only names the default principal). The
 * peer's numeric address then stands for it in messages, else fallback.
 */
static const char *
peer_name(const char *host, const char *principal,
          const struct sockaddr *addr, socklen_t length, char *buffer,
          size_t size, const char *fallback)
{
    if (host != NULL || principal == NULL)
        return host;
    if (addr != NULL && length > 0
        && getnameinfo(addr, length, buffer, size, NULL, 0, NI_NUMERICHOST)
               == 0)
        return buffer;
    return fallback;
}

int
remctl_open(struct remctl *r, const char *host, unsigned short port,
            const char *principal)
{
    begin_call(r);
    if (!prepare_open(r, host, port, principal, true)
        || !rc_connect_host(r, host, port))
        return rc_open_failed(r);
    return rc_open_finish(r);
}

int
remctl_open_addrinfo(struct remctl *r, const char *host,
                     const struct addrinfo *ai, const char *principal)
{
    char name[NI_MAXHOST];

    begin_call(r);
    host = peer_name(host, principal, ai != NULL ? ai->ai_addr : NULL,
                     ai != NULL ? ai->ai_addrlen : 0, name, sizeof(name),
                     "address");
    if (!prepare_open(r, host, 0, principal, false)
        || !rc_connect_addrinfo(r, host, ai))
        return rc_open_failed(r);
    return rc_open_finish(r);
}

int
remctl_open_sockaddr(struct remctl *r, const char *host,
                     const struct sockaddr *addr, int addrlen,
                     const char *principal)
{
    char name[NI_MAXHOST];

    begin_call(r);
    host = peer_name(host, principal, addr, addrlen > 0 ? addrlen : 0, name,
                     sizeof(name), "address");
    if (!prepare_open(r, host, 0, principal, false)
        || !rc_connect_sockaddr(r, host, addr, addrlen))
        return rc_open_failed(r);
    return rc_open_finish(r);
}

int
remctl_open_fd(struct remctl *r, const char *host, int fd,
               const char *principal)
{
    struct sockaddr_storage peer = {0};
    socklen_t length = 0;
    char name[NI_MAXHOST];

    begin_call(r);
    memset(&peer, 0, sizeof(peer));
    if (host == NULL && fd >= 0) {
        length = sizeof(peer);
        if (getpeername(fd, (struct sockaddr *) &peer, &length) != 0)
            length = 0;
    }
    host = peer_name(host, principal, (struct sockaddr *) &peer, length, name,
                     sizeof(name), "file descriptor");
    /* The handle owns fd from the call on: any failure closes it. */
    if (!prepare_open(r, host, 0, principal, false)) {
        if (fd >= 0)
            close(fd);
        return rc_open_failed(r);
    }
    if (fd < 0) {
        rc_set_error(r, "invalid file descriptor %d", fd);
        return rc_open_failed(r);
    }
    if (!rc_adopt_fd(r, fd))
        return rc_open_failed(r);
    return rc_open_finish(r);
}

int
remctl_set_ccache(struct remctl *r, const char *ccache)
{
    const char *load_error;
    const struct gss_functions *gss = rc_gss_load(&load_error);

    /* Without any GSS-API library, open reports that; keep the setting. */
    if (gss != NULL && gss->acquire_cred_from == NULL
        && gss->krb5_ccache_name == NULL) {
        rc_set_error(r, "setting credential cache not supported");
        return 0;
    }
    return replace_string(r, &r->ccache, ccache);
}

int
remctl_set_source_ip(struct remctl *r, const char *source)
{
    unsigned char address[sizeof(struct in6_addr)];

    if (source != NULL && inet_pton(AF_INET, source, address) != 1
        && inet_pton(AF_INET6, source, address) != 1) {
        rc_set_error(r, "invalid source IP address %s", source);
        return 0;
    }
    return replace_string(r, &r->source, source);
}

int
remctl_set_timeout(struct remctl *r, time_t seconds)
{
    if (seconds < 0) {
        rc_set_error(r, "invalid timeout %ld", (long) seconds);
        return 0;
    }
    r->timeout = seconds;
    return 1;
}

int
remctl_commandv(struct remctl *r, const struct iovec *command, size_t count)
{
    size_t i;

    begin_call(r);
    if (count == 0) {
        rc_set_error(r, "cannot send empty command");
        return 0;
    }
    if (count > UINT32_MAX) {
        rc_set_error(r, "too many arguments");
        return 0;
    }
    for (i = 0; i < count; i++)
        if (command[i].iov_len > UINT32_MAX) {
            rc_set_error(r, "argument %zu too long", i);
            return 0;
        }
    /* A new command before the last answer was read: start afresh. */
    if (r->state != STATE_IDLE)
        rc_disconnect(r, false);
    if (!rc_ensure_open(r))
        return 0;
    if (r->protocol == 1)
        return rc_v1_command(r, command, count);
    return rc_v2_command(r, command, count);
}

int
remctl_command(struct remctl *r, const char **argv)
{
    struct iovec *vector;
    size_t count = 0, i;
    int ok;

    begin_call(r);
    while (argv != NULL && argv[count] != NULL)
        count++;
    if (count == 0) {
        rc_set_error(r, "cannot send empty command");
        return 0;
    }
    vector = calloc(count, sizeof(*vector));
    if (vector == NULL) {
        rc_set_error(r, "cannot allocate memory");
        return 0;
    }
    for (i = 0; i < count; i++) {
        vector[i].iov_base = (void *) argv[i];
        vector[i].iov_len = strlen(argv[i]);
    }
    ok = remctl_commandv(r, vector, count);
    free(vector);
    return ok;
}

struct remctl_output *
remctl_output(struct remctl *r)
{
    begin_call(r);
    if (r->state == STATE_IDLE) {
        if (r->host == NULL) {
            rc_set_error(r, "no connection open");
            return NULL;
        }
        r->output.type = REMCTL_OUT_DONE;
        return &r->output;
    }
    if (r->protocol == 1)
        return rc_v1_output(r);
    return rc_v2_output(r);
}

int
remctl_noop(struct remctl *r)
{
    begin_call(r);
    if (r->state != STATE_IDLE)
        rc_disconnect(r, false);
    if (!rc_ensure_open(r))
        return 0;
    if (r->protocol == 1) {
        rc_set_error(r, "NOOP message not supported");
        return 0;
    }
    return rc_v2_noop(r);
}

void
remctl_close(struct remctl *r)
{
    if (r == NULL)
        return;
    rc_disconnect(r, true);
    rc_output_free(r);
    free(r->host);
    free(r->principal);
    free(r->ccache);
    free(r->source);
    free(r->error);
    free(r);
}
