/*
 * libFuzzer harness for libremctl: the fuzzer's input plays the server.
 *
 * The library is driven through remctl_open_fd over a socketpair, with the
 * GSS-API stand-in (gss_standin.c) loaded through REMCTL_GSSAPI_LIBRARY, so
 * the bytes reach the token reader and the message parser unchanged.
 *
 * Input layout:
 *   byte 0   settings: bit 0 one context round trip (the server must answer
 *            the context token), bit 1 the stand-in withholds CONF, bit 2
 *            ask for the next command on a failed handle as well
 *   byte 1   four operations, two bits each, low bits first:
 *            0 short command, 1 NOOP, 2 command of 70,000 octets (split
 *            across two tokens), 3 command of five arguments incl. empty ones
 *   rest     the server's bytes, as chunks: 2-octet big-endian length, then
 *            that many bytes (the last chunk is cut to what is left)
 *
 * Everything runs in one thread and deterministically. The library's poll()
 * is wrapped (-Wl,--wrap=poll): when the client waits to read and nothing is
 * readable, the next chunk is written to the socket, or, once they are all
 * out, the server side is shut down so the client sees end of file. What the
 * client writes is read and thrown away. So the server's bytes arrive
 * exactly when the client waits for them, never before a command (the
 * library checks a kept-alive connection for unsolicited data), and no input
 * can make the client wait for its timeout.
 */
#include <remctl.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int __real_poll(struct pollfd *, nfds_t, int);
int __wrap_poll(struct pollfd *, nfds_t, int);

#define LONG_ARGUMENT 70000
#define MAX_OUTPUTS 256

/* The server side of the socketpair and what is left to send on it. */
static struct {
    int client;           /* the library's end, -1 when none */
    int server;           /* our end */
    const uint8_t *next;  /* remaining input: chunks */
    size_t left;
    const uint8_t *chunk; /* rest of the chunk being written */
    size_t chunk_left;
    int shut;             /* server side shut down for writing */
} feed = {-1, -1, NULL, 0, NULL, 0, 0};

static void (*configure_standin)(int, uint32_t);
static char long_argument[LONG_ARGUMENT];
static volatile size_t checksum; /* keeps the reads of output data alive */
static int verbose;               /* FUZZ_CLIENT_VERBOSE: say how each ended */

/* Reads and discards what the client sent. */
static void
drain(void)
{
    char sink[65536];

    while (recv(feed.server, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
}

/* Takes the next chunk from the input; 0 when there is none left. */
static int
next_chunk(void)
{
    size_t length;

    while (feed.left > 0) {
        if (feed.left < 2) {
            feed.left = 0;
            return 0;
        }
        length = ((size_t) feed.next[0] << 8) | feed.next[1];
        feed.next += 2;
        feed.left -= 2;
        if (length > feed.left)
            length = feed.left;
        feed.chunk = feed.next;
        feed.chunk_left = length;
        feed.next += length;
        feed.left -= length;
        if (length > 0)
            return 1;
    }
    return 0;
}

/* The client waits to read and nothing is there: the next bytes, or EOF. */
static void
deliver(void)
{
    ssize_t sent;

    if (feed.shut)
        return;
    if (feed.chunk_left == 0 && !next_chunk()) {
        shutdown(feed.server, SHUT_WR);
        feed.shut = 1;
        return;
    }
    sent = send(feed.server, feed.chunk, feed.chunk_left,
                MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) {
        feed.chunk += sent;
        feed.chunk_left -= (size_t) sent;
    } else {
        /* Cannot happen with the buffer drained; never leave it waiting. */
        shutdown(feed.server, SHUT_WR);
        feed.shut = 1;
    }
}

int
__wrap_poll(struct pollfd *fds, nfds_t count, int timeout)
{
    struct pollfd probe;

    if (count == 1 && feed.client >= 0 && fds[0].fd == feed.client
        && timeout != 0) {
        drain();
        if (fds[0].events & POLLIN) {
            probe.fd = feed.client;
            probe.events = POLLIN;
            probe.revents = 0;
            if (__real_poll(&probe, 1, 0) == 0)
                deliver();
        }
    }
    return __real_poll(fds, count, timeout);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[4096];
    const char *slash;
    void *handle;

    /* The stand-in sits next to the fuzzer binary unless told otherwise. */
    if (getenv("REMCTL_GSSAPI_LIBRARY") == NULL) {
        slash = strrchr((*argv)[0], '/');
        if (slash == NULL)
            snprintf(path, sizeof(path), "./libgss_standin.so");
        else
            snprintf(path, sizeof(path), "%.*s/libgss_standin.so",
                     (int) (slash - (*argv)[0]), (*argv)[0]);
        setenv("REMCTL_GSSAPI_LIBRARY", path, 1);
    }
    (void) argc;
    handle = dlopen(getenv("REMCTL_GSSAPI_LIBRARY"), RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        fprintf(stderr, "fuzz_client: %s\n", dlerror());
        exit(2);
    }
    *(void **) &configure_standin = dlsym(handle, "gss_standin_configure");
    if (configure_standin == NULL) {
        fprintf(stderr, "fuzz_client: not the stand-in: %s\n",
                getenv("REMCTL_GSSAPI_LIBRARY"));
        exit(2);
    }
    memset(long_argument, 'a', sizeof(long_argument));
    verbose = getenv("FUZZ_CLIENT_VERBOSE") != NULL;
    return 0;
}

/* Reads every byte the library hands out, so ASan checks the bounds. */
static void
touch(const struct remctl_output *out)
{
    size_t i, sum = 0;

    if (out->length > 0 && out->data == NULL)
        abort();
    for (i = 0; i < out->length; i++)
        sum += (unsigned char) out->data[i];
    checksum += sum + (size_t) out->stream + (size_t) out->status
                + (size_t) out->error;
}

/* Reads a command's answer; 0 once the handle failed. */
static int
read_answer(struct remctl *r)
{
    struct remctl_output *out;
    int i;

    for (i = 0; i < MAX_OUTPUTS; i++) {
        out = remctl_output(r);
        if (out == NULL)
            return 0;
        touch(out);
        if (verbose)
            fprintf(stderr, "  output type %d length %zu stream %d status %d"
                            " error %d\n", (int) out->type, out->length,
                    out->stream, out->status, out->error);
        if (out->type != REMCTL_OUT_OUTPUT)
            return 1;
    }
    return 1;
}

static int
run_operation(struct remctl *r, int operation)
{
    static const char *short_command[] = {"test", "echo", "hello", NULL};
    struct iovec vector[5];

    switch (operation) {
    case 0:
        return remctl_command(r, short_command) && read_answer(r);
    case 1:
        return remctl_noop(r);
    case 2:
        vector[0].iov_base = (void *) "test";
        vector[0].iov_len = 4;
        vector[1].iov_base = long_argument;
        vector[1].iov_len = sizeof(long_argument);
        return remctl_commandv(r, vector, 2) && read_answer(r);
    default:
        vector[0].iov_base = (void *) "test";
        vector[0].iov_len = 4;
        vector[1].iov_base = (void *) "";
        vector[1].iov_len = 0;
        vector[2].iov_base = (void *) "a\0b";
        vector[2].iov_len = 3;
        vector[3].iov_base = (void *) "";
        vector[3].iov_len = 0;
        vector[4].iov_base = (void *) "end";
        vector[4].iov_len = 3;
        return remctl_commandv(r, vector, 5) && read_answer(r);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int pair[2], i, ok;
    uint8_t settings, operations;
    struct remctl *r;

    if (size < 2)
        return 0;
    settings = data[0];
    operations = data[1];
    configure_standin(settings & 1,
                      (settings & 2) ? (2u | 32u) : (2u | 4u | 8u | 16u | 32u));
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        abort();
    feed.client = pair[0];
    feed.server = pair[1];
    feed.next = data + 2;
    feed.left = size - 2;
    feed.chunk = NULL;
    feed.chunk_left = 0;
    feed.shut = 0;

    r = remctl_new();
    if (r == NULL)
        abort();
    remctl_set_timeout(r, 5); /* a safety net: the feed never lets it wait */
    ok = remctl_open_fd(r, "fuzz.example", pair[0], NULL);
    if (verbose)
        fprintf(stderr, "open: %s\n", ok ? "ok" : remctl_error(r));
    for (i = 0; i < 4 && (ok || (settings & 4)); i++) {
        ok = run_operation(r, (operations >> (2 * i)) & 3);
        if (verbose)
            fprintf(stderr, "operation %d: %s\n", (operations >> (2 * i)) & 3,
                    ok ? "ok" : remctl_error(r));
    }
    if (strlen(remctl_error(r)) == 0)
        abort();
    remctl_close(r); /* closes pair[0] */
    feed.client = -1;
    close(feed.server);
    feed.server = -1;
    return 0;
}
