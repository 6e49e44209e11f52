/*
 * The small part of GSS-API (RFC 2744) this library uses, declared here so
 * the build needs no Kerberos headers, and a table of the functions, loaded
 * from the host's GSS-API library at run time.
 */
#ifndef REMCTL_GSS_H
#define REMCTL_GSS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t OM_uint32;

typedef struct gss_OID_desc_struct {
    OM_uint32 length;
    void *elements;
} gss_OID_desc, *gss_OID;

/*
 * Apple's packing. On macOS, MIT Kerberos's gssapi.h declares the GSS-API
 * structures under #pragma pack(push,2) on every architecture; Apple's
 * GSS.framework (Heimdal) does so on x86_64 only, not on arm64. Of the
 * structures this library passes, only gss_OID_desc changes: its pointer
 * sits at offset 4 instead of 8. gss_buffer_desc, gss_OID_set_desc and the
 * key/value set keep their layout (8-byte members at 8-byte offsets, or a
 * header the library does not pack). The loader hands out the OIDs in the
 * layout of the library it loaded (struct gss_functions, below).
 */
#pragma pack(push, 2)
typedef struct {
    OM_uint32 length;
    void *elements;
} gss_OID_desc_apple;
#pragma pack(pop)
_Static_assert(offsetof(gss_OID_desc_apple, elements) == 4,
               "#pragma pack(push,2) must place the OID's pointer at offset 4");

typedef struct gss_OID_set_desc_struct {
    size_t count;
    gss_OID elements;
} gss_OID_set_desc, *gss_OID_set;

typedef struct gss_buffer_desc_struct {
    size_t length;
    void *value;
} gss_buffer_desc, *gss_buffer_t;

typedef struct gss_name_struct *gss_name_t;
typedef struct gss_ctx_id_struct *gss_ctx_id_t;
typedef struct gss_cred_id_struct *gss_cred_id_t;
typedef int gss_cred_usage_t;
typedef OM_uint32 gss_qop_t;

/* The key/value credential store of gss_acquire_cred_from (MIT 1.11+). */
typedef struct gss_key_value_element_struct {
    const char *key;
    const char *value;
} gss_key_value_element_desc;

typedef struct gss_key_value_set_struct {
    OM_uint32 count;
    gss_key_value_element_desc *elements;
} gss_key_value_set_desc;

#define GSS_C_NO_NAME ((gss_name_t) 0)
#define GSS_C_NO_CONTEXT ((gss_ctx_id_t) 0)
#define GSS_C_NO_CREDENTIAL ((gss_cred_id_t) 0)
#define GSS_C_NO_OID ((gss_OID) 0)
#define GSS_C_NO_BUFFER ((gss_buffer_t) 0)
#define GSS_C_NO_CHANNEL_BINDINGS ((void *) 0)
#define GSS_C_EMPTY_BUFFER {0, NULL}

#define GSS_C_DELEG_FLAG 1u
#define GSS_C_MUTUAL_FLAG 2u
#define GSS_C_REPLAY_FLAG 4u
#define GSS_C_SEQUENCE_FLAG 8u
#define GSS_C_CONF_FLAG 16u
#define GSS_C_INTEG_FLAG 32u

#define GSS_C_BOTH 0
#define GSS_C_INITIATE 1

#define GSS_C_GSS_CODE 1
#define GSS_C_MECH_CODE 2
#define GSS_C_QOP_DEFAULT 0u
#define GSS_C_INDEFINITE 0xffffffffu

#define GSS_S_COMPLETE 0u
#define GSS_S_CONTINUE_NEEDED 1u
#define GSS_C_CALLING_ERROR_MASK 0377u
#define GSS_C_ROUTINE_ERROR_MASK 0377u
#define GSS_C_CALLING_ERROR_OFFSET 24
#define GSS_C_ROUTINE_ERROR_OFFSET 16
#define GSS_ERROR(x)                                                          \
    ((x) & ((GSS_C_CALLING_ERROR_MASK << GSS_C_CALLING_ERROR_OFFSET)          \
            | (GSS_C_ROUTINE_ERROR_MASK << GSS_C_ROUTINE_ERROR_OFFSET)))

/* The functions we call, in the host library; optional ones may be NULL. */
struct gss_functions {
    OM_uint32 (*import_name)(OM_uint32 *, gss_buffer_t, gss_OID,
                             gss_name_t *);
    OM_uint32 (*release_name)(OM_uint32 *, gss_name_t *);
    OM_uint32 (*init_sec_context)(OM_uint32 *, gss_cred_id_t, gss_ctx_id_t *,
                                  gss_name_t, gss_OID, OM_uint32, OM_uint32,
                                  void *, gss_buffer_t, gss_OID *,
                                  gss_buffer_t, OM_uint32 *, OM_uint32 *);
    OM_uint32 (*delete_sec_context)(OM_uint32 *, gss_ctx_id_t *,
                                    gss_buffer_t);
    OM_uint32 (*wrap)(OM_uint32 *, gss_ctx_id_t, int, gss_qop_t,
                      gss_buffer_t, int *, gss_buffer_t);
    OM_uint32 (*unwrap)(OM_uint32 *, gss_ctx_id_t, gss_buffer_t, gss_buffer_t,
                        int *, gss_qop_t *);
    OM_uint32 (*verify_mic)(OM_uint32 *, gss_ctx_id_t, gss_buffer_t,
                            gss_buffer_t, gss_qop_t *);
    OM_uint32 (*release_buffer)(OM_uint32 *, gss_buffer_t);
    OM_uint32 (*display_status)(OM_uint32 *, OM_uint32, int, gss_OID,
                                OM_uint32 *, gss_buffer_t);
    OM_uint32 (*acquire_cred)(OM_uint32 *, gss_name_t, OM_uint32, gss_OID_set,
                              gss_cred_usage_t, gss_cred_id_t *,
                              gss_OID_set *, OM_uint32 *);
    OM_uint32 (*release_cred)(OM_uint32 *, gss_cred_id_t *);
    /* Optional: MIT 1.11+. */
    OM_uint32 (*acquire_cred_from)(OM_uint32 *, gss_name_t, OM_uint32,
                                   gss_OID_set, gss_cred_usage_t,
                                   const gss_key_value_set_desc *,
                                   gss_cred_id_t *, gss_OID_set *,
                                   OM_uint32 *);
    /* Optional: per-thread ticket cache name (MIT and Heimdal). */
    OM_uint32 (*krb5_ccache_name)(OM_uint32 *, const char *, const char **);
    /* The OIDs we pass, in the loaded library's layout (see above). */
    gss_OID krb5_mech;
    gss_OID nt_hostbased_service;
    gss_OID nt_user_name;
};

/*
 * Returns the loaded function table, loading the library on first use (once
 * per process, thread-safely), or NULL with *error set to a message that says
 * what was tried and what to install.
 */
const struct gss_functions *rc_gss_load(const char **error);

/*
 * Whether a GSS-API library of this name, on this platform, lays out its
 * structures with Apple's packing (see gss_OID_desc_apple above).
 */
bool rc_gss_apple_packing(const char *library);

#endif /* REMCTL_GSS_H */
