/*
 * The answer handed to the caller by remctl_output: r->output, whose data
 * always points into one buffer of the handle, r->answer. The buffer is
 * kept from call to call (so a stream does not allocate per message) and
 * freed with the handle; what the caller got stays valid until its next
 * call on the handle, as remctl.h promises.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Smallest allocation, so that small messages do not regrow it each time. */
#define ANSWER_MIN_SIZE 4096u

/* Forgets the last answer handed out (its bytes stay until overwritten). */
void
rc_output_reset(struct remctl *r)
{
    memset(&r->output, 0, sizeof(r->output));
}

/* Makes room for size bytes, keeping the first keep bytes. */
static bool
answer_reserve(struct remctl *r, size_t size, size_t keep)
{
    struct answer_buffer *answer = &r->answer;
    unsigned char *grown;

    if (size <= answer->size)
        return true;
    if (size < ANSWER_MIN_SIZE)
        size = ANSWER_MIN_SIZE;
    if (keep > 0) {
        grown = realloc(answer->data, size);
    } else {
        grown = malloc(size);
        if (grown != NULL)
            free(answer->data);
    }
    if (grown == NULL)
        return false;
    answer->data = grown;
    answer->size = size;
    return true;
}

/* Copies data into the buffer as output.data. */
bool
rc_output_set_data(struct remctl *r, const void *data, size_t length)
{
    if (!answer_reserve(r, length, 0)) {
        rc_set_error(r, "cannot allocate memory");
        return false;
    }
    if (length > 0)
        memcpy(r->answer.data, data, length);
    r->output.data = (char *) r->answer.data;
    r->output.length = length;
    return true;
}

/*
 * Appends data to output.data, which rc_output_set_data has set. Sets no
 * error when memory runs out: the caller then hands out what it has.
 */
bool
rc_output_append_data(struct remctl *r, const void *data, size_t length)
{
    struct remctl_output *out = &r->output;
    size_t need = out->length + length;
    size_t size = r->answer.size;

    if (need > size) {
        /* Grow geometrically: a merge appends many small messages. */
        size = size * 2 > need ? size * 2 : need;
        if (!answer_reserve(r, size, out->length))
            return false;
    }
    memcpy(r->answer.data + out->length, data, length);
    out->data = (char *) r->answer.data;
    out->length = need;
    return true;
}

void
rc_output_free(struct remctl *r)
{
    free(r->answer.data);
    r->answer.data = NULL;
    r->answer.size = 0;
    rc_output_reset(r);
}
