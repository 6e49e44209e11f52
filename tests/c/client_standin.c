/*
 * C-level test of libremctl against scripted servers, with the GSS-API
 * stand-in of fuzz/ (REMCTL_GSSAPI_LIBRARY must name libgss_standin.so).
 * Covers what a real Kerberos server cannot be made to do, such as granting
 * too few GSS-API flags, and checks the exact messages. Meant for valgrind.
 *
 * Each scenario: a socketpair, a server thread that reads the client's
 * tokens and answers with fixed bytes, remctl_open_fd on the other end.
 */
#include <remctl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(condition, what)                                                \
    do {                                                                      \
        if (!(condition)) {                                                   \
            fprintf(stderr, "FAIL %s (line %d)\n", what, __LINE__);           \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static void (*configure)(int rounds, uint32_t flags);

/* The server thread: after `after` client tokens, send reply, shut down. */
struct script {
    int fd;
    int after;
    const unsigned char *reply;
    size_t length;
};

static int
read_exact(int fd, unsigned char *buffer, size_t length)
{
    ssize_t got;

    while (length > 0) {
        got = read(fd, buffer, length);
        if (got <= 0)
            return 0;
        buffer += got;
        length -= (size_t) got;
    }
    return 1;
}

static void *
serve(void *argument)
{
    struct script *s = argument;
    unsigned char header[5], sink[4096];
    uint32_t length, n;
    int i;

    for (i = 0; i < s->after; i++) {
        if (!read_exact(s->fd, header, 5))
            return NULL;
        length = ((uint32_t) header[1] << 24) | ((uint32_t) header[2] << 16)
                 | ((uint32_t) header[3] << 8) | header[4];
        while (length > 0) {
            n = length < sizeof(sink) ? length : sizeof(sink);
            if (!read_exact(s->fd, sink, n))
                return NULL;
            length -= n;
        }
    }
    if (s->length > 0 && write(s->fd, s->reply, s->length) != (ssize_t) s->length)
        return NULL;
    shutdown(s->fd, SHUT_WR); /* the client sees end of file after reply */
    while (read(s->fd, sink, sizeof(sink)) > 0)
        ;
    return NULL;
}

/* Runs one scenario; returns the handle after open and, if open worked,
 * one command (with its first output read into *first). */
static void
scenario(const char *name, int rounds, uint32_t flags, int after,
         const unsigned char *reply, size_t length, const char *expected)
{
    const char *command[] = {"test", "echo", "x", NULL};
    struct script s;
    struct remctl *r;
    struct remctl_output *out;
    pthread_t thread;
    int pair[2];
    const char *message = NULL;

    configure(rounds, flags);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
    s.fd = pair[1];
    s.after = after;
    s.reply = reply;
    s.length = length;
    CHECK(pthread_create(&thread, NULL, serve, &s) == 0, "thread");
    r = remctl_new();
    remctl_set_timeout(r, 5);
    if (!remctl_open_fd(r, "standin.example", pair[0], NULL))
        message = remctl_error(r);
    else if (!remctl_command(r, command))
        message = remctl_error(r);
    else {
        do
            out = remctl_output(r);
        while (out != NULL && out->type == REMCTL_OUT_OUTPUT);
        message = out == NULL ? remctl_error(r)
                  : out->type == REMCTL_OUT_STATUS ? "status"
                  : out->type == REMCTL_OUT_ERROR ? "error" : "done";
    }
    if (strcmp(message, expected) != 0) {
        fprintf(stderr, "FAIL %s: got \"%s\", expected \"%s\"\n", name, message,
                expected);
        exit(1);
    }
    remctl_close(r); /* closes pair[0]; the thread sees end of file */
    pthread_join(thread, NULL);
    close(pair[1]);
    printf("ok %s\n", name);
}

#define ALL_FLAGS (2u | 4u | 8u | 16u | 32u)
#define S(literal) (const unsigned char *) (literal), sizeof(literal) - 1

int
main(void)
{
    const char *path = getenv("REMCTL_GSSAPI_LIBRARY");
    void *handle;
    int round;

    CHECK(path != NULL, "REMCTL_GSSAPI_LIBRARY must name libgss_standin.so");
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(handle != NULL, "dlopen stand-in");
    *(void **) &configure = dlsym(handle, "gss_standin_configure");
    CHECK(configure != NULL, "not the stand-in");

    for (round = 0; round < 3; round++) {
        /* Tokens seen by the server: opening, context, command (3). */
        scenario("output and status", 0, ALL_FLAGS, 3,
                 S("\x44\0\0\0\x0b\x02\x03\x01\0\0\0\x04out\n"
                   "\x44\0\0\0\x03\x02\x04\x00"),
                 "status");
        scenario("error token", 0, ALL_FLAGS, 3,
                 S("\x44\0\0\0\x0b\x02\x05\0\0\0\x05\0\0\0\x01x"), "error");
        scenario("no CONF granted", 0, 2u | 32u, 0, NULL, 0,
                 "server did not negotiate acceptable GSS-API flags");
        scenario("no MUTUAL granted", 0, 16u | 32u, 0, NULL, 0,
                 "server did not negotiate acceptable GSS-API flags");
        scenario("token too large", 0, ALL_FLAGS, 3,
                 S("\x44\xff\xff\xff\xff"), "error receiving token: token too large");
        scenario("end of file", 0, ALL_FLAGS, 3, S("\x44\0\0"),
                 "error receiving token: unexpected end of file");
        scenario("protocol byte 1", 0, ALL_FLAGS, 3, S("\x44\0\0\0\x03\x01\x04\x00"),
                 "unknown protocol version 1 from server");
        scenario("unknown type", 0, ALL_FLAGS, 3, S("\x44\0\0\0\x02\x02\x63"),
                 "unknown message type 99 from server");
        scenario("output stream 3", 0, ALL_FLAGS, 3,
                 S("\x44\0\0\0\x08\x02\x03\x03\0\0\0\x01x"),
                 "malformed result token from server");
        scenario("downgrade after opening", 0, ALL_FLAGS, 3,
                 S("\x04\0\0\0\x03\x02\x04\x00"),
                 "unexpected token flags 0x04 from server");
        /* One context round trip: opening and context tokens, then reply. */
        scenario("context reply without CONTEXT", 1, ALL_FLAGS, 2,
                 S("\x44\0\0\0\x01R"),
                 "unexpected token flags 0x44 from server during authentication");
    }
    printf("client_standin: all checks passed\n");
    return 0;
}
