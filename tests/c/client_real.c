/*
 * C-level test of the public API against a real remctld (the test realm of
 * remctl.testing), for valgrind: every call path a C program uses, normal and
 * failing, each repeated a few times so a leak shows as a multiple.
 *
 * Usage: client_real HOST PORT PRINCIPAL
 * Prints one line per check; exits 1 on the first wrong result.
 */
#include <remctl.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *host, *principal;
static unsigned short port;

#define CHECK(condition, what)                                                \
    do {                                                                      \
        if (!(condition)) {                                                   \
            fprintf(stderr, "FAIL %s (line %d)\n", what, __LINE__);           \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

/* Reads one answer: the stdout bytes into out (NUL-terminated), the status. */
static int
answer(struct remctl *r, char *out, size_t size, int *status)
{
    struct remctl_output *o;
    size_t used = 0;

    out[0] = '\0';
    for (;;) {
        o = remctl_output(r);
        if (o == NULL)
            return 0;
        if (o->type == REMCTL_OUT_OUTPUT) {
            if (o->stream == 1 && used + o->length < size) {
                memcpy(out + used, o->data, o->length);
                used += o->length;
                out[used] = '\0';
            }
        } else if (o->type == REMCTL_OUT_STATUS) {
            *status = o->status;
            return 1;
        } else if (o->type == REMCTL_OUT_ERROR) {
            *status = -1000 - o->error;
            return 1;
        } else {
            return 0;
        }
    }
}

static void
check_simple(void)
{
    const char *echo[] = {"test", "echo", "simple", NULL};
    const char *unknown[] = {"test", "nonexistent", NULL};
    struct remctl_result *result;

    result = remctl(host, port, principal, echo);
    CHECK(result != NULL && result->error == NULL, "remctl() echo");
    CHECK(result->stdout_len == 7 && memcmp(result->stdout_buf, "simple\n", 7) == 0,
          "remctl() stdout");
    CHECK(result->stderr_buf == NULL && result->status == 0, "remctl() status");
    remctl_result_free(result);

    result = remctl(host, port, principal, unknown);
    CHECK(result != NULL && result->error != NULL, "remctl() unknown command");
    remctl_result_free(result);

    result = remctl(host, 1, principal, echo);
    CHECK(result != NULL && result->error != NULL
              && strncmp(result->error, "cannot connect to", 17) == 0,
          "remctl() refused");
    remctl_result_free(result);
    remctl_result_free(NULL);
}

static void
check_connection(void)
{
    const char *echo[] = {"test", "echo", "one", NULL};
    const char *mixed[] = {"test", "mixed", NULL};
    const char *denied[] = {"test", "denied", NULL};
    const char *empty[] = {NULL};
    char out[256], *big;
    struct iovec vector[3];
    struct remctl *r;
    int status, i;

    r = remctl_new();
    CHECK(r != NULL, "remctl_new");
    CHECK(strcmp(remctl_error(r), "no error") == 0, "no error yet");
    CHECK(!remctl_command(r, echo), "command before open");
    CHECK(strcmp(remctl_error(r), "no connection open") == 0, "not open message");
    CHECK(remctl_output(r) == NULL, "output before open");
    CHECK(!remctl_set_timeout(r, -1), "negative timeout");
    CHECK(strcmp(remctl_error(r), "invalid timeout -1") == 0, "timeout message");
    CHECK(!remctl_set_source_ip(r, "not an address"), "bad source");
    CHECK(remctl_set_timeout(r, 10), "timeout");
    CHECK(remctl_open(r, host, port, principal), remctl_error(r));
    for (i = 0; i < 5; i++) {
        CHECK(remctl_command(r, echo), remctl_error(r));
        CHECK(answer(r, out, sizeof(out), &status), remctl_error(r));
        CHECK(strcmp(out, "one\n") == 0 && status == 0, "echo answer");
        CHECK(remctl_output(r)->type == REMCTL_OUT_DONE, "done after status");
    }
    CHECK(remctl_command(r, mixed) && answer(r, out, sizeof(out), &status)
              && status == 3, "mixed");
    CHECK(remctl_command(r, denied) && answer(r, out, sizeof(out), &status)
              && status == -1006, "denied: ERROR 6");
    CHECK(!remctl_command(r, empty), "empty command");
    CHECK(strcmp(remctl_error(r), "cannot send empty command") == 0, "empty message");
    CHECK(remctl_noop(r), remctl_error(r));

    /* A command split across tokens: 100,000 octets of argument (under the
     * kernel's 128 KiB limit for one exec argument). */
    big = malloc(100000);
    CHECK(big != NULL, "malloc");
    memset(big, 'x', 100000);
    vector[0].iov_base = (void *) "test";
    vector[0].iov_len = 4;
    vector[1].iov_base = (void *) "hashargs";
    vector[1].iov_len = 8;
    vector[2].iov_base = big;
    vector[2].iov_len = 100000;
    CHECK(remctl_commandv(r, vector, 3) && answer(r, out, sizeof(out), &status)
              && status == 0 && strncmp(out, "1 ", 2) == 0, "long command");
    free(big);

    /* A command whose answer is abandoned, then another one. */
    CHECK(remctl_command(r, mixed), remctl_error(r));
    CHECK(remctl_command(r, echo) && answer(r, out, sizeof(out), &status)
              && strcmp(out, "one\n") == 0, "command after abandoned answer");

    /* Open again on the same object, then a failing open, then a good one. */
    CHECK(remctl_open(r, host, port, principal), remctl_error(r));
    CHECK(!remctl_open(r, host, 1, principal), "open refused");
    CHECK(!remctl_command(r, echo), "command after failed open");
    CHECK(remctl_open(r, host, port, principal), remctl_error(r));
    CHECK(remctl_command(r, echo) && answer(r, out, sizeof(out), &status),
          "command after reopen");
    remctl_close(r);
    remctl_close(NULL);

    /* Dropped while waiting for an answer. */
    r = remctl_new();
    CHECK(remctl_open(r, host, port, principal) && remctl_command(r, mixed),
          "open and command");
    remctl_close(r);

    /* A timeout. */
    {
        const char *sleeping[] = {"test", "sleep", "3", NULL};

        r = remctl_new();
        remctl_set_timeout(r, 1);
        CHECK(remctl_open(r, host, port, principal) && remctl_command(r, sleeping),
              "open and sleep");
        CHECK(remctl_output(r) == NULL
                  && strcmp(remctl_error(r), "error receiving token: timed out") == 0,
              "timeout fires");
        remctl_close(r);
    }
}

static void
check_other_opens(void)
{
    const char *echo[] = {"test", "echo", "two", NULL};
    struct addrinfo hints, *list;
    char service[16], out[64];
    struct remctl *r;
    int status, fd;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%hu", port);
    CHECK(getaddrinfo(host, service, &hints, &list) == 0, "getaddrinfo");

    r = remctl_new();
    CHECK(remctl_open_addrinfo(r, host, list, principal), remctl_error(r));
    CHECK(remctl_command(r, echo) && answer(r, out, sizeof(out), &status)
              && strcmp(out, "two\n") == 0, "addrinfo command");
    CHECK(remctl_open_sockaddr(r, host, list->ai_addr, (int) list->ai_addrlen,
                               principal), remctl_error(r));
    CHECK(remctl_command(r, echo) && answer(r, out, sizeof(out), &status),
          "sockaddr command");
    fd = socket(list->ai_family, SOCK_STREAM, 0);
    CHECK(fd >= 0 && connect(fd, list->ai_addr, list->ai_addrlen) == 0, "connect");
    CHECK(remctl_open_fd(r, host, fd, principal), remctl_error(r));
    CHECK(remctl_command(r, echo) && answer(r, out, sizeof(out), &status),
          "fd command");
    CHECK(!remctl_open_fd(r, host, -1, principal), "bad fd");
    remctl_close(r);
    freeaddrinfo(list);
}

int
main(int argc, char **argv)
{
    int round;

    if (argc != 4) {
        fprintf(stderr, "usage: client_real HOST PORT PRINCIPAL\n");
        return 2;
    }
    host = argv[1];
    port = (unsigned short) atoi(argv[2]);
    principal = argv[3];
    for (round = 0; round < 3; round++) {
        check_simple();
        check_connection();
        check_other_opens();
    }
    printf("client_real: all checks passed\n");
    return 0;
}
