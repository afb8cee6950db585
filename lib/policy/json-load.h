/*
 * The JSON policy loader's private interface, shared by its four files:
 *
 *   json-load.c    frames and values: tokens in, model entries out; entry points
 *   json-errors.c  error lines, paths and did-you-mean
 *   json-close.c   closing checks: required keys, defaults, cross-checks
 *   json-refs.c    name references, resolved at the end
 *
 * The design (frames, the model as it grows, ownership) is described at the top of
 * json-load.c. Nothing outside these files includes this header.
 */
#ifndef WISP_POLICY_JSON_LOAD_H
#define WISP_POLICY_JSON_LOAD_H

#include "policy/policy-internal.h"

#define PATH_LEN 192

typedef struct pos {
    uint32_t line, col;
} pos_t;

/* Frame kinds: what the open container is. */
enum {
    K_DOC,         /* before the top-level value */
    K_SKIP,        /* inside a value already reported */
    K_ROOT,        /* the policy object */
    K_RETRIES,     /* "retry": name -> retry */
    K_RETRY,       /* one retry object */
    K_BACKOFF,     /* its "backoff_ms" array */
    K_CERTS,       /* "certs": name -> PEM/base64 */
    K_TRUSTS,      /* "trust_stores": name -> trust store */
    K_TRUST,       /* one trust store object */
    K_TRUST_CERTS, /* its "certs" array of names */
    K_STREAMS,     /* "streams": name -> stream */
    K_STREAM,      /* one stream object */
    K_HEADERS,     /* its "headers" map */
    K_METADATA,    /* its "metadata" map */
    K_STATUS       /* its "expect_status" array */
};

#define NO_KEY (-1)

struct frame {
    uint8_t kind;
    int8_t key;        /* object frames: the key of the next value, NO_KEY skips it */
    uint16_t count;    /* entries or elements seen */
    uint16_t index;    /* the model entry this frame fills */
    uint16_t path_len; /* length of this container's path */
    pos_t at;          /* its opening bracket */
};

/* ---- Keys (the tables are in json-load.c) ---- */

enum { RK_SCHEMA, RK_RELEASE, RK_RETRY, RK_CERTS, RK_TRUST_STORES, RK_STREAMS, RK_COUNT };

/* Retry and trust store keys come from their tables in policy.h too. */
#define YK_ENUM(key, kind, min, max, dflt) YK_##key,
enum { WISP_POLICY_RETRY_KEYS(YK_ENUM) YK_COUNT };

#define TK_ENUM(key, kind, min, max, dflt) TK_##key,
enum { WISP_POLICY_TRUST_STORE_KEYS(TK_ENUM) TK_COUNT };

/* The range of each retry and trust store key, by YK_* / TK_*. */
struct key_range {
    uint32_t min, max;
};

/* Stream keys come from the one table in policy.h: SK_<key> indexes stream_keys[],
 * whose rows say the key's kind (K_* below), roles, range, default and field. */
#define SK_ENUM(key, kind, roles, min, max, dflt) SK_##key,
enum { WISP_POLICY_STREAM_KEYS(SK_ENUM) SK_COUNT };

/* How the loader reads each kind: BOOL and UINT by the table (stored at the field
 * and defaulted when absent and valid for the role), the rest by code. Enums are
 * read by code since an enum's size is the compiler's choice. */
enum {
    V_BOOL,
    V_UINT,
    V_ENUM,
    V_HOST,
    V_URL,
    V_TRUST,
    V_CERT,
    V_KEY,
    V_RETRY,
    V_HEADERS,
    V_METADATA,
    V_STATUS
};
enum { R_CLIENT = 1, R_SERVER = 2, R_BOTH = 3 };

struct skey {
    const char *name; /* first member: suggest() reads tables of named things */
    uint8_t roles, type;
    uint32_t min, max, dflt;
    uint16_t off, size; /* the field; for references, the pointer to fill */
};

/* Every kind but STATUS (two fields) and the maps (arrays) has its field. */
#define FIELD(f)                                                                                   \
    (uint16_t) offsetof(wisp_policy_stream_t, f), sizeof(((wisp_policy_stream_t *)0)->f)
#define OFF_BOOL(f) FIELD(f)
#define OFF_UINT(f) FIELD(f)
#define OFF_ENUM(f) FIELD(f)
#define OFF_HOST(f) FIELD(f)
#define OFF_URL(f) FIELD(f)
#define OFF_TRUST(f) FIELD(f)
#define OFF_CERT(f) FIELD(f)
#define OFF_KEY(f) FIELD(f)
#define OFF_RETRY(f) FIELD(f)
#define OFF_HEADERS(f) 0, 0
#define OFF_METADATA(f) 0, 0
#define OFF_STATUS(f) 0, 0
#define SK_ROW(key, kind, roles, min, max, dflt)                                                   \
    {#key, R_##roles, V_##kind, min, max, dflt, OFF_##kind(key)},

/* References need "tls": true; a retry does not. */
static inline int tls_only(const struct skey *k)
{
    return k->type == V_TRUST || k->type == V_CERT || k->type == V_KEY;
}

/* ---- References, resolved at the end ---- */

enum { REF_X509 = WISP_CERT_X509, REF_KEY = WISP_CERT_KEY, REF_TRUST, REF_RETRY };
#define FIELD_TRUST_CERT SK_COUNT /* ref field of a trust store's "certs" element */

struct ref {
    struct ref *next;
    uint8_t what;   /* REF_* */
    uint8_t field;  /* SK_* of a stream, or FIELD_TRUST_CERT */
    uint16_t owner; /* index of the stream or trust store */
    uint16_t elem;  /* FIELD_TRUST_CERT: index in the store's certs */
    pos_t at;
    const char *path; /* points into text, after the name */
    char text[];      /* name NUL path NUL */
};

/* ---- The loader ---- */

struct wisp_policy_loader {
    wisp_context_t *cx;
    wisp_policy_errors_t *errs;
    char *filename;
    wisp_policy_t *p; /* the model being built; NULL once handed over */

    /* Writable views of the model's arrays, and their capacities. */
    wisp_policy_retry_t *retries;
    wisp_policy_cert_t *certs;
    wisp_policy_trust_store_t *trusts;
    wisp_policy_stream_t *streams;
    wisp_policy_header_t *headers; /* of the open stream */
    wisp_policy_meta_t *meta;      /* of the open stream */
    size_t retry_cap, cert_cap, trust_cap, stream_cap, header_cap, meta_cap;

    struct ref *refs, **refs_tail;
    unsigned nerr;
    int status; /* sticky: 0, WISP_EPOLICY (reading stopped) or WISP_ENOMEM */
    uint8_t syntax, finished;

    int depth;
    struct frame fr[WISP_JSON_DEPTH_MAX + 1];
    pos_t root_seen[RK_COUNT];
    pos_t kseen[SK_COUNT]; /* keys of the open retry, trust store or stream object */
    pos_t vseen[SK_COUNT]; /* ... and where their values start */
    uint32_t backoff[WISP_POLICY_BACKOFF_MAX];
    uint16_t status_codes[2];

    /* A certificate's text, collected over string pieces. */
    char *text;
    size_t text_len, text_cap;
    uint8_t collecting;
    uint16_t text_owner;
    pos_t text_at;

    size_t path_len;
    char path[PATH_LEN];
    /* An error's message and its whole line, here rather than on the stack of the
     * reporting call (two of these would be a 768-byte frame on an MCU). */
    char msg[WISP_POLICY_ERROR_LEN], line[WISP_POLICY_ERROR_LEN];
    wisp__json_t json;
};

typedef struct wisp_policy_loader loader_t;
typedef const wisp__json_token_t tok_t;

extern const char *const wisp__loader_root_keys[RK_COUNT];
extern const char *const wisp__loader_retry_keys[YK_COUNT];
extern const char *const wisp__loader_trust_keys[TK_COUNT];
extern const struct key_range wisp__loader_retry_ranges[YK_COUNT];
extern const struct key_range wisp__loader_trust_ranges[TK_COUNT];
extern const struct skey wisp__loader_stream_keys[SK_COUNT];

static inline pos_t tok_pos(tok_t *t)
{
    pos_t at = {t->line, t->col};

    return at;
}

/* ---- Between the loader's files ---- */

/* json-errors.c: error lines, paths, did-you-mean. */
int wisp__loader_nomem(loader_t *l);
void wisp__loader_report(loader_t *l, pos_t at, const char *fmt, ...) WISP_PRINTF(3, 4);
const char *wisp__loader_show(char *out, size_t size, const char *s, size_t len);
const char *wisp__loader_suggest(char *out, size_t size, const char *word, size_t len,
                                 const void *base, size_t count, size_t stride);
void wisp__loader_path_set(loader_t *l, size_t len);
void wisp__loader_path_append(loader_t *l, const char *s);
void wisp__loader_path_key(loader_t *l, const char *key, size_t len);
void wisp__loader_path_index(loader_t *l, unsigned i);
void wisp__loader_key_report(loader_t *l, struct frame *f, const char *key, pos_t at,
                             const char *fmt, ...) WISP_PRINTF(5, 6);
void wisp__loader_missing(loader_t *l, struct frame *f, const char *key);

/* json-load.c: the model's arrays and fields. */
void *wisp__loader_next_entry(loader_t *l, int kind);
void wisp__loader_store(wisp_policy_stream_t *s, const struct skey *k, uint32_t v);

/* json-close.c: an object or array closes: required keys, defaults, cross-checks. */
int wisp__loader_close(loader_t *l);

/* json-refs.c: name references, resolved when the whole document is read. */
int wisp__loader_resolve(loader_t *l);

#endif /* WISP_POLICY_JSON_LOAD_H */
