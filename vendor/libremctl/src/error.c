/*
 * The error string kept on each handle: set on failure, read with
 * remctl_error, never printed.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kept when even the error message cannot be allocated. */
static const char no_memory[] = "cannot allocate memory";

static void
replace_error(struct remctl *r, char *message)
{
    free(r->error);
    r->error = message;
    r->error_no_memory = (message == NULL);
}

void
rc_set_error(struct remctl *r, const char *format, ...)
{
    va_list args;
    int length;
    char *message;

    va_start(args, format);
    length = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (length < 0) {
        replace_error(r, NULL);
        return;
    }
    message = malloc((size_t) length + 1);
    if (message != NULL) {
        va_start(args, format);
        vsnprintf(message, (size_t) length + 1, format, args);
        va_end(args);
    }
    replace_error(r, message);
}

void
rc_set_errno_error(struct remctl *r, const char *prefix, int err)
{
    rc_set_error(r, "%s: %s", prefix, strerror(err));
}

/* Appends every message gss_display_status has for one status code. */
static void
append_status(const struct gss_functions *gss, char *out, size_t size,
              OM_uint32 code, int type)
{
    OM_uint32 context = 0, major, minor;
    gss_buffer_desc text;
    size_t used;

    do {
        major = gss->display_status(&minor, code, type,
                                    gss->krb5_mech, &context,
                                    &text);
        if (GSS_ERROR(major))
            return;
        used = strlen(out);
        if (used + 3 < size)
            snprintf(out + used, size - used, "%s%.*s", used > 0 ? " " : "",
                     (int) text.length, (const char *) text.value);
        gss->release_buffer(&minor, &text);
    } while (context != 0);
}

void
rc_set_gss_error(struct remctl *r, const char *action, OM_uint32 major,
                 OM_uint32 minor)
{
    char major_text[1024] = "", minor_text[1024] = "";

    if (r->gss != NULL) {
        append_status(r->gss, major_text, sizeof(major_text), major,
                      GSS_C_GSS_CODE);
        append_status(r->gss, minor_text, sizeof(minor_text), minor,
                      GSS_C_MECH_CODE);
    }
    rc_set_error(r, "GSS-API error %s: %s, %s", action, major_text,
                 minor_text);
}

/* Back to "no error". */
void
rc_clear_error(struct remctl *r)
{
    free(r->error);
    r->error = NULL;
    r->error_no_memory = false;
}

/* Moves the error out of the handle, leaving "no error". */
struct rc_saved_error
rc_take_error(struct remctl *r)
{
    struct rc_saved_error saved = {r->error, r->error_no_memory};

    r->error = NULL;
    r->error_no_memory = false;
    return saved;
}

/* Puts a taken error back, replacing the handle's current one. */
void
rc_restore_error(struct remctl *r, struct rc_saved_error *saved)
{
    free(r->error);
    r->error = saved->message;
    r->error_no_memory = saved->no_memory;
    saved->message = NULL;
    saved->no_memory = false;
}

void
rc_discard_error(struct rc_saved_error *saved)
{
    free(saved->message);
    saved->message = NULL;
    saved->no_memory = false;
}

const char *
remctl_error(struct remctl *r)
{
    if (r == NULL)
        return no_memory;
    if (r->error == NULL)
        return r->error_no_memory ? no_memory : "no error";
    return r->error;
}
