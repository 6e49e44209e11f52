/*
 * The simple interface: connect, run one command, collect its whole answer,
 * close.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Appends to a growing output buffer; false when memory runs out. */
static bool
append(char **buffer, size_t *length, size_t *size, const char *data,
       size_t n)
{
    if (n == 0)
        return true;
    if (*length + n > *size) {
        size_t wanted = *size > 0 ? *size : 4096;
        char *grown;

        while (wanted < *length + n)
            wanted *= 2;
        grown = realloc(*buffer, wanted);
        if (grown == NULL)
            return false;
        *buffer = grown;
        *size = wanted;
    }
    memcpy(*buffer + *length, data, n);
    *length += n;
    return true;
}

static char *
copy_message(const char *data, size_t length)
{
    char *copy = malloc(length + 1);

    if (copy != NULL) {
        memcpy(copy, data, length);
        copy[length] = '\0';
    }
    return copy;
}

/* Reads the answer of the command just sent into result. */
static void
collect(struct remctl *r, struct remctl_result *result)
{
    size_t stdout_size = 0, stderr_size = 0;
    struct remctl_output *out;
    bool ok = true;

    for (;;) {
        out = remctl_output(r);
        if (out == NULL) {
            result->error = strdup(remctl_error(r));
            return;
        }
        switch (out->type) {
        case REMCTL_OUT_OUTPUT:
            if (out->stream == 2)
                ok = append(&result->stderr_buf, &result->stderr_len,
                            &stderr_size, out->data, out->length);
            else
                ok = append(&result->stdout_buf, &result->stdout_len,
                            &stdout_size, out->data, out->length);
            if (!ok) {
                result->error = strdup("cannot allocate memory");
                return;
            }
            break;
        case REMCTL_OUT_STATUS:
            result->status = out->status;
            return;
        case REMCTL_OUT_ERROR:
            result->error = copy_message(out->data, out->length);
            return;
        case REMCTL_OUT_DONE:
        default:
            return;
        }
    }
}

struct remctl_result *
remctl(const char *host, unsigned short port, const char *principal,
       const char **command)
{
    struct remctl_result *result = calloc(1, sizeof(*result));
    struct remctl *r;

    if (result == NULL)
        return NULL;
    r = remctl_new();
    if (r == NULL) {
        free(result);
        return NULL;
    }
    if (!remctl_open(r, host, port, principal)
        || !remctl_command(r, command))
        result->error = strdup(remctl_error(r));
    else
        collect(r, result);
    remctl_close(r);
    return result;
}

void
remctl_result_free(struct remctl_result *result)
{
    if (result == NULL)
        return;
    free(result->error);
    free(result->stdout_buf);
    free(result->stderr_buf);
    free(result);
}
