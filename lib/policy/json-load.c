/*
 * The JSON policy loader: tokens from the streaming tokenizer (json.c) in, the
 * policy model (wisp/policy.h) out, every error reported as
 * "FILE:LINE:COL: path.to.key: message".
 *
 * Shape. The loader is event driven, because input arrives in fragments and the
 * tokenizer pushes tokens: there is no call stack to remember where we are. A stack
 * of frames does that instead, one per open object or array, each with a kind
 * (the root object, the "streams" map, one stream object, its "headers" map...),
 * the key whose value comes next, and the model entry it fills. A value that is not
 * what its key wants is reported once and skipped whole (K_SKIP frames), so one
 * mistake gives one error and reading goes on to find the others.
 *
 * Model. Entries are written straight into the model's arrays as they are read,
 * with defaults applied when their object closes (when it is known whether a stream
 * is a client or a server). The arrays grow by doubling up to the fixed limits.
 * Names may be used before they are defined, so references (a stream's
 * "trust_store", a trust store's "certs") are queued with their position and
 * resolved into pointers at the end, when no array moves any more.
 *
 * Ownership. The policy being built is a complete, freeable model at every point:
 * counts only cover initialised entries and every pointer is owned or NULL. So any
 * failure, allocation failure included, ends in one wisp_policy_free() and nothing
 * leaks. Memory: the loader block (tokenizer included, about 2.5 KiB), the model,
 * the pending references and, while a certificate is read, its text (at most
 * WISP_POLICY_CERT_TEXT_MAX bytes); all but the model is freed when loading ends.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* ---- Keys ---- */

enum { RK_SCHEMA, RK_RELEASE, RK_RETRY, RK_CERTS, RK_TRUST_STORES, RK_STREAMS, RK_COUNT };
static const char *const root_keys[RK_COUNT] = {"schema", "release",      "retry",
                                                "certs",  "trust_stores", "streams"};

enum { YK_BACKOFF, YK_JITTER, YK_CONCEAL, YK_COUNT };
static const char *const retry_keys[YK_COUNT] = {"backoff_ms", "jitter_pct", "conceal"};

enum { TK_CERTS, TK_LINGER, TK_COUNT };
static const char *const trust_keys[TK_COUNT] = {"certs", "linger_ms"};

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

static const struct skey stream_keys[SK_COUNT] = {WISP_POLICY_STREAM_KEYS(SK_ROW)};

/* References need "tls": true; a retry does not. */
static int tls_only(const struct skey *k)
{
    return k->type == V_TRUST || k->type == V_CERT || k->type == V_KEY;
}

static const char *const protocols[] = {"h1"}; /* index + WISP_PROTO_H1 */

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
    wisp__json_t json;
};

typedef struct wisp_policy_loader loader_t;
typedef const wisp__json_token_t tok_t;

/* ---- Errors ---- */

static int nomem(loader_t *l)
{
    if (l->status != WISP_ENOMEM)
        WISP_LOGE(l->cx, "%s: out of memory loading the policy", l->filename);
    l->status = WISP_ENOMEM;
    return WISP_ENOMEM;
}

static void report(loader_t *l, pos_t at, const char *fmt, ...) WISP_PRINTF(3, 4);
static void report(loader_t *l, pos_t at, const char *fmt, ...)
{
    char msg[WISP_POLICY_ERROR_LEN], line[WISP_POLICY_ERROR_LEN];
    va_list ap;

    if (l->status)
        return;
    if (l->nerr == WISP_POLICY_ERRORS_MAX) {
        WISP_LOGE(l->cx, "%s: too many errors (limit %d), stopping", l->filename,
                  WISP_POLICY_ERRORS_MAX);
        if (l->errs)
            l->errs->truncated = 1;
        l->status = WISP_EPOLICY;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (snprintf(line, sizeof(line), "%s:%u:%u: %s: %s", l->filename, (unsigned)at.line,
                 (unsigned)at.col, l->path_len ? l->path : "(root)", msg) >= (int)sizeof(line))
        memcpy(line + sizeof(line) - 4, "...", 4); /* cut, and says so */
    WISP_LOGE(l->cx, "%s", line);
    if (l->errs) {
        wisp_policy_error_t *e = &l->errs->e[l->errs->count++];

        e->line = at.line;
        e->col = at.col;
        memcpy(e->text, line, sizeof(e->text));
    }
    l->nerr++;
}

static pos_t tok_pos(tok_t *t)
{
    pos_t at = {t->line, t->col};

    return at;
}

/* A user string made safe for an error line: printable ASCII kept, the rest as
 * \xNN, cut at 64 characters. */
static const char *show(char *out, size_t size, const char *s, size_t len)
{
    size_t i, o = 0;

    for (i = 0; i < len && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i == 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, size - o, "\\x%02X", c);
    }
    out[o] = '\0';
    return out;
}

/* Optimal string alignment distance (edits and adjacent swaps), or 3 when it is
 * more than 2 or either word is too long to be a name. */
static unsigned distance(const char *a, size_t an, const char *b, size_t bn)
{
    uint8_t row[3][WISP_POLICY_NAME_MAX + 2];
    uint8_t *pp = row[0], *prev = row[1], *cur = row[2], *tmp;
    size_t i, k;

    if (an > WISP_POLICY_NAME_MAX || bn > WISP_POLICY_NAME_MAX || an > bn + 2 || bn > an + 2)
        return 3;
    for (k = 0; k <= bn; k++)
        prev[k] = (uint8_t)k;
    for (i = 1; i <= an; i++) {
        cur[0] = (uint8_t)i;
        for (k = 1; k <= bn; k++) {
            unsigned d = prev[k - 1] + (a[i - 1] != b[k - 1]);

            if (prev[k] + 1u < d)
                d = prev[k] + 1u;
            if (cur[k - 1] + 1u < d)
                d = cur[k - 1] + 1u;
            if (i > 1 && k > 1 && a[i - 1] == b[k - 2] && a[i - 2] == b[k - 1] &&
                pp[k - 2] + 1u < d)
                d = pp[k - 2] + 1u;
            cur[k] = (uint8_t)(d > 200 ? 200 : d);
        }
        tmp = pp;
        pp = prev;
        prev = cur;
        cur = tmp;
    }
    return prev[bn] > 2 ? 3 : prev[bn];
}

/* " (did you mean "x"?)" for the closest of count named things (each starting with
 * its const char *name, stride bytes apart) within distance 2, or "". */
static const char *suggest(char *out, size_t size, const char *word, size_t len, const void *base,
                           size_t count, size_t stride)
{
    const char *best = NULL;
    unsigned best_d = 3, d;
    size_t i;

    for (i = 0; i < count; i++) {
        const char *name = *(const char *const *)(const void *)((const char *)base + i * stride);

        if (!name)
            continue;
        d = distance(word, len, name, strlen(name));
        if (d < best_d) {
            best = name;
            best_d = d;
        }
    }
    if (best)
        snprintf(out, size, " (did you mean \"%s\"?)", best);
    else
        out[0] = '\0';
    return out;
}

/* ---- Paths ---- */

static void path_set(loader_t *l, size_t len)
{
    l->path_len = len;
    l->path[len] = '\0';
}

/* Append to the path, cut (never overflowing) at PATH_LEN - 1 characters. */
static void path_append(loader_t *l, const char *s)
{
    size_t n = strlen(s), room = sizeof(l->path) - 1 - l->path_len;

    if (n > room)
        n = room;
    memcpy(l->path + l->path_len, s, n);
    path_set(l, l->path_len + n);
}

static void path_key(loader_t *l, const char *key, size_t len)
{
    char buf[WISP_POLICY_NAME_MAX * 4 + 8];

    if (l->path_len)
        path_append(l, ".");
    path_append(l, show(buf, sizeof(buf), key, len));
}

static void path_index(loader_t *l, unsigned i)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "[%u]", i);
    path_append(l, buf);
}

/* ---- Frames ---- */

static void push(loader_t *l, int kind, size_t index, tok_t *t)
{
    struct frame *f = &l->fr[++l->depth];

    f->kind = (uint8_t)kind;
    f->key = NO_KEY;
    f->count = 0;
    f->index = (uint16_t)index;
    f->path_len = (uint16_t)l->path_len;
    f->at = tok_pos(t);
}

static int begins(tok_t *t)
{
    return t->type == WISP_JSON_OBJECT_BEGIN || t->type == WISP_JSON_ARRAY_BEGIN;
}

static const char *type_name(tok_t *t)
{
    switch (t->type) {
    case WISP_JSON_OBJECT_BEGIN:
        return "an object";
    case WISP_JSON_ARRAY_BEGIN:
        return "an array";
    case WISP_JSON_STRING:
        return "a string";
    case WISP_JSON_NUMBER:
        return "a number";
    case WISP_JSON_TRUE:
    case WISP_JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Report a value of the wrong type and skip it. */
static int wrong_type(loader_t *l, tok_t *t, const char *want)
{
    report(l, tok_pos(t), "expected %s, got %s", want, type_name(t));
    if (begins(t))
        push(l, K_SKIP, 0, t);
    return 0;
}

static int open_as(loader_t *l, tok_t *t, int kind, size_t index)
{
    if (t->type != WISP_JSON_OBJECT_BEGIN)
        return wrong_type(l, t, "an object");
    push(l, kind, index, t);
    return 0;
}

/* ---- Scalars: each returns 1 with a valid value, else 0 (reported) ---- */

static int get_uint(loader_t *l, tok_t *t, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (t->type != WISP_JSON_NUMBER)
        return wrong_type(l, t, "an integer");
    if (strpbrk(t->text, ".eE")) {
        report(l, tok_pos(t), "expected an integer, got %s", t->text);
        return 0;
    }
    for (i = t->text[0] == '-'; i < t->len && v <= max; i++)
        v = v * 10 + (uint64_t)(t->text[i] - '0');
    if (t->text[0] == '-' || v < min || v > max) {
        report(l, tok_pos(t), "must be %lu..%lu, got %s", (unsigned long)min, (unsigned long)max,
               t->text);
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

static int get_bool(loader_t *l, tok_t *t, uint32_t *out)
{
    if (t->type != WISP_JSON_TRUE && t->type != WISP_JSON_FALSE)
        return wrong_type(l, t, "a boolean");
    *out = t->type == WISP_JSON_TRUE;
    return 1;
}

static int get_str(loader_t *l, tok_t *t)
{
    if (t->type != WISP_JSON_STRING)
        return wrong_type(l, t, "a string");
    if (t->more) {
        report(l, tok_pos(t), "string longer than %d bytes", WISP_JSON_TOKEN_MAX);
        return 0;
    }
    if (memchr(t->text, '\0', t->len)) {
        report(l, tok_pos(t), "string holds a NUL character (\\u0000)");
        return 0;
    }
    return 1;
}

static int dup_str(loader_t *l, tok_t *t, const char **out)
{
    char *s = wisp__strndup(l->cx, t->text, t->len);

    if (!s)
        return nomem(l);
    *out = s;
    return 0;
}

/* A metadata slot's header name, lower-cased: the stream matches response headers
 * against it with wisp__h1_name_eq(), which wants its second name in lower case
 * (header names compare without case, RFC 9110 §5.1). Doing it once here means a
 * static policy, emitted from this model, is lower case too. */
static int dup_lower(loader_t *l, tok_t *t, const char **out)
{
    char *s = wisp__strndup(l->cx, t->text, t->len);
    size_t i;

    if (!s)
        return nomem(l);
    for (i = 0; i < t->len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    *out = s;
    return 0;
}

/* An index in names[] for the string t, or -1 (reported). */
static int get_enum(loader_t *l, tok_t *t, const char *what, const char *const *names, size_t count)
{
    char buf[80], hint[WISP_POLICY_NAME_MAX + 32], list[80];
    size_t i, o = 0;

    if (!get_str(l, t))
        return -1;
    for (i = 0; i < count; i++)
        if (!strcmp(t->text, names[i]))
            return (int)i;
    suggest(hint, sizeof(hint), t->text, t->len, names, count, sizeof(*names));
    if (!hint[0]) {
        for (i = 0; i < count; i++)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : " (one of ",
                                  names[i]);
        snprintf(list + o, sizeof(list) - o, ")");
    }
    report(l, tok_pos(t), "unknown %s \"%s\"%s", what, show(buf, sizeof(buf), t->text, t->len),
           hint[0] ? hint : list);
    return -1;
}

/* An HTTP header name: a token (RFC 9110 §5.6.2). */
static int header_name_ok(const char *s, size_t len)
{
    size_t i;

    if (!len || len > WISP_POLICY_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!wisp__is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* ---- Templates ---- */

static int host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr(".-_:[]", c));
}

static int url_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* Check the syntax of a template value as it is read; the slot names are checked
 * against the stream's metadata when the stream closes. */
static int template_ok(loader_t *l, tok_t *t, int (*ok)(unsigned char))
{
    const char *s = t->text, *lit, *slot;
    size_t lit_len, slot_len, i;
    char buf[80];
    int ret;

    while ((ret = wisp__template_step(&s, &lit, &lit_len, &slot, &slot_len)) == 1) {
        for (i = 0; i < lit_len; i++) {
            unsigned char c = (unsigned char)lit[i];

            if (!ok(c)) {
                if (c > 0x20 && c < 0x7f)
                    report(l, tok_pos(t), "character '%c' is not allowed here", c);
                else
                    report(l, tok_pos(t), "byte 0x%02X is not allowed here%s", c,
                           ok == url_char ? " (percent-encode it)" : "");
                return 0;
            }
        }
        if (slot && !wisp__policy_name_ok(slot, slot_len)) {
            report(l, tok_pos(t), "invalid slot name \"%s\" in \"${...}\"",
                   show(buf, sizeof(buf), slot, slot_len));
            return 0;
        }
    }
    if (ret) {
        report(l, tok_pos(t), "\"${\" without a closing '}'");
        return 0;
    }
    return 1;
}

/* ---- Growing arrays ---- */

/* arr grown to hold at least count + 1 elements; NULL (nothing changed) on failure. */
static void *grow(loader_t *l, void *arr, size_t *cap, size_t count, size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 4;
    void *n;

    if (count < *cap)
        return arr;
    n = wisp__zalloc(l->cx, ncap * size);
    if (!n)
        return NULL;
    if (count)
        memcpy(n, arr, count * size);
    wisp__free(l->cx, arr);
    *cap = ncap;
    return n;
}

/* Reserve the next entry of one of the top-level maps; NULL on allocation failure. */
static void *next_entry(loader_t *l, int kind)
{
    wisp_policy_t *p = l->p;
    void *a;

    switch (kind) {
    case K_RETRIES:
        if (!(a = grow(l, l->retries, &l->retry_cap, p->retry_count, sizeof(*l->retries))))
            return NULL;
        p->retries = l->retries = a;
        return &l->retries[p->retry_count];
    case K_CERTS:
        if (!(a = grow(l, l->certs, &l->cert_cap, p->cert_count, sizeof(*l->certs))))
            return NULL;
        p->certs = l->certs = a;
        return &l->certs[p->cert_count];
    case K_TRUSTS:
        if (!(a = grow(l, l->trusts, &l->trust_cap, p->trust_store_count, sizeof(*l->trusts))))
            return NULL;
        p->trust_stores = l->trusts = a;
        return &l->trusts[p->trust_store_count];
    default:
        if (!(a = grow(l, l->streams, &l->stream_cap, p->stream_count, sizeof(*l->streams))))
            return NULL;
        p->streams = l->streams = a;
        return &l->streams[p->stream_count];
    }
}

static size_t *map_count(loader_t *l, int kind)
{
    switch (kind) {
    case K_RETRIES:
        return &l->p->retry_count;
    case K_CERTS:
        return &l->p->cert_count;
    case K_TRUSTS:
        return &l->p->trust_store_count;
    default:
        return &l->p->stream_count;
    }
}

static const void *map_base(loader_t *l, int kind, size_t *stride)
{
    switch (kind) {
    case K_RETRIES:
        *stride = sizeof(*l->retries);
        return l->retries;
    case K_CERTS:
        *stride = sizeof(*l->certs);
        return l->certs;
    case K_TRUSTS:
        *stride = sizeof(*l->trusts);
        return l->trusts;
    default:
        *stride = sizeof(*l->streams);
        return l->streams;
    }
}

static int name_taken(const void *base, size_t count, size_t stride, const char *s, size_t len)
{
    return wisp__policy_find(base, count, stride, s, len) != NULL;
}

/* ---- References ---- */

static int add_ref(loader_t *l, tok_t *t, int what, int field, size_t owner, size_t elem)
{
    size_t plen = l->path_len;
    struct ref *r;

    if (!get_str(l, t))
        return 0;
    r = wisp__zalloc(l->cx, sizeof(*r) + t->len + 1 + plen + 1);
    if (!r)
        return nomem(l);
    r->what = (uint8_t)what;
    r->field = (uint8_t)field;
    r->owner = (uint16_t)owner;
    r->elem = (uint16_t)elem;
    r->at = tok_pos(t);
    memcpy(r->text, t->text, t->len + 1);
    memcpy(r->text + t->len + 1, l->path, plen + 1);
    r->path = r->text + t->len + 1;
    *l->refs_tail = r;
    l->refs_tail = &r->next;
    return 0;
}

/* ---- Certificates ---- */

static int cert_done(loader_t *l)
{
    wisp_policy_cert_t *c = &l->certs[l->text_owner];
    wisp_cert_kind_t kind;
    const char *why = NULL;
    size_t len = l->text_len;
    uint8_t *der;
    int ret;

    l->collecting = 0;
    ret = wisp__cert_decode(l->text, &len, &kind, &why);
    if (ret)
        wisp__zeroize(l->text, l->text_len);
    if (ret == WISP_ETOOBIG) {
        report(l, l->text_at, "certificate larger than %d bytes (DER)", WISP_POLICY_DER_MAX);
        return 0;
    }
    if (ret) {
        report(l, l->text_at, "not a valid certificate or key: %s", why);
        return 0;
    }
    der = wisp__alloc(l->cx, len);
    if (!der)
        return nomem(l);
    memcpy(der, l->text, len);
    /* The buffer now holds the DER and what is left of the text: a key must not
     * outlive its entry in the loader's scratch (SPEC §8). */
    wisp__zeroize(l->text, l->text_len);
    c->der = der;
    c->len = len;
    c->kind = kind;
    return 0;
}

/* One piece of a "certs" value. The text buffer grows by doubling up to the cap. */
static int cert_text(loader_t *l, tok_t *t)
{
    size_t need = l->text_len + t->len, ncap;
    char *n;

    if (need > WISP_POLICY_CERT_TEXT_MAX) {
        report(l, l->text_at, "certificate text longer than %d bytes", WISP_POLICY_CERT_TEXT_MAX);
        wisp__zeroize(l->text, l->text_len);
        l->collecting = 0;
        return 0;
    }
    if (need > l->text_cap) {
        for (ncap = l->text_cap ? l->text_cap : 1024; ncap < need; ncap *= 2)
            ;
        if (ncap > WISP_POLICY_CERT_TEXT_MAX)
            ncap = WISP_POLICY_CERT_TEXT_MAX;
        n = wisp__alloc(l->cx, ncap);
        if (!n)
            return nomem(l);
        if (l->text_len)
            memcpy(n, l->text, l->text_len);
        wisp__zeroize(l->text, l->text_cap);
        wisp__free(l->cx, l->text);
        l->text = n;
        l->text_cap = ncap;
    }
    if (t->len)
        memcpy(l->text + l->text_len, t->text, t->len);
    l->text_len = need;
    return t->more ? 0 : cert_done(l);
}

static int cert_value(loader_t *l, tok_t *t, size_t index)
{
    if (t->type != WISP_JSON_STRING)
        return wrong_type(l, t, "a string (PEM or base64 DER)");
    l->collecting = 1;
    l->text_len = 0;
    l->text_owner = (uint16_t)index;
    l->text_at = tok_pos(t);
    return cert_text(l, t);
}

/* ---- Keys ---- */

/* A key of a fixed-key object: its index in names[], or NO_KEY (reported). */
static int known_key(loader_t *l, tok_t *t, const void *names, size_t count, size_t stride,
                     pos_t *seen)
{
    char hint[WISP_POLICY_NAME_MAX + 32];
    size_t i;

    for (i = 0; i < count; i++) {
        const char *name = *(const char *const *)(const void *)((const char *)names + i * stride);

        if (strlen(name) == t->len && !memcmp(name, t->text, t->len))
            break;
    }
    if (i == count) {
        report(l, tok_pos(t), "unknown key%s",
               suggest(hint, sizeof(hint), t->text, t->len, names, count, stride));
        return NO_KEY;
    }
    if (seen[i].line) {
        report(l, tok_pos(t), "duplicate key");
        return NO_KEY;
    }
    seen[i] = tok_pos(t);
    return (int)i;
}

static int entry_key(loader_t *l, struct frame *f, tok_t *t)
{
    size_t *count = map_count(l, f->kind), stride;
    const void *base = map_base(l, f->kind, &stride);
    const char **name;

    if (!wisp__policy_name_ok(t->text, t->len)) {
        if (t->len > WISP_POLICY_NAME_MAX)
            report(l, tok_pos(t), "name longer than %d characters", WISP_POLICY_NAME_MAX);
        else
            report(l, tok_pos(t), "invalid name (use A-Z a-z 0-9 _ -)");
        return 0;
    }
    if (name_taken(base, *count, stride, t->text, t->len)) {
        report(l, tok_pos(t), "duplicate key");
        return 0;
    }
    if (*count == WISP_POLICY_MAP_MAX) {
        report(l, tok_pos(t), "more than %d entries", WISP_POLICY_MAP_MAX);
        return 0;
    }
    if (f->kind == K_TRUSTS && !strcmp(t->text, "system")) {
        report(l, tok_pos(t), "the name \"system\" is reserved for the OS CA bundle");
        return 0;
    }
    /* Every model entry starts with its name. */
    name = next_entry(l, f->kind);
    if (!name || dup_str(l, t, name))
        return nomem(l);
    f->index = (uint16_t)(*count)++;
    f->key = 0;
    return 0;
}

/* Header names compare without case (RFC 9110 §5.1). */
static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int same_header(const char *a, const char *b, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!a[i] || lower(a[i]) != lower(b[i]))
            return 0;
    return a[len] == '\0';
}

static int header_key(loader_t *l, struct frame *f, tok_t *t)
{
    wisp_policy_stream_t *s = &l->streams[f->index];
    wisp_policy_header_t *h;
    size_t i;

    if (!header_name_ok(t->text, t->len)) {
        report(l, tok_pos(t), "invalid header name");
        return 0;
    }
    for (i = 0; i < s->header_count; i++) {
        if (same_header(s->headers[i].name, t->text, t->len)) {
            report(l, tok_pos(t), "duplicate header");
            return 0;
        }
    }
    if (s->header_count == WISP_POLICY_HEADERS_MAX) {
        report(l, tok_pos(t), "more than %d headers", WISP_POLICY_HEADERS_MAX);
        return 0;
    }
    h = grow(l, l->headers, &l->header_cap, s->header_count, sizeof(*h));
    if (!h)
        return nomem(l);
    s->headers = l->headers = h;
    if (dup_str(l, t, &h[s->header_count].name))
        return WISP_ENOMEM;
    s->header_count++;
    f->key = 0;
    return 0;
}

static int meta_key(loader_t *l, struct frame *f, tok_t *t)
{
    wisp_policy_stream_t *s = &l->streams[f->index];
    wisp_policy_meta_t *m;

    if (!wisp__policy_name_ok(t->text, t->len)) {
        report(l, tok_pos(t), "invalid slot name (use 1..%d of A-Z a-z 0-9 _ -)",
               WISP_POLICY_NAME_MAX);
        return 0;
    }
    if (name_taken(s->metadata, s->metadata_count, sizeof(*m), t->text, t->len)) {
        report(l, tok_pos(t), "duplicate key");
        return 0;
    }
    if (s->metadata_count == WISP_POLICY_METADATA_MAX) {
        report(l, tok_pos(t), "more than %d slots", WISP_POLICY_METADATA_MAX);
        return 0;
    }
    m = grow(l, l->meta, &l->meta_cap, s->metadata_count, sizeof(*m));
    if (!m)
        return nomem(l);
    s->metadata = l->meta = m;
    if (dup_str(l, t, &m[s->metadata_count].name))
        return WISP_ENOMEM;
    s->metadata_count++;
    f->key = 0;
    return 0;
}

static int on_key(loader_t *l, struct frame *f, tok_t *t)
{
    path_set(l, f->path_len);
    path_key(l, t->text, t->len);
    f->key = NO_KEY;
    switch (f->kind) {
    case K_ROOT:
        f->key = (int8_t)known_key(l, t, root_keys, RK_COUNT, sizeof(*root_keys), l->root_seen);
        return 0;
    case K_RETRY:
        f->key = (int8_t)known_key(l, t, retry_keys, YK_COUNT, sizeof(*retry_keys), l->kseen);
        return 0;
    case K_TRUST:
        f->key = (int8_t)known_key(l, t, trust_keys, TK_COUNT, sizeof(*trust_keys), l->kseen);
        return 0;
    case K_STREAM:
        f->key = (int8_t)known_key(l, t, stream_keys, SK_COUNT, sizeof(*stream_keys), l->kseen);
        return 0;
    case K_RETRIES:
    case K_CERTS:
    case K_TRUSTS:
    case K_STREAMS:
        return entry_key(l, f, t);
    case K_HEADERS:
        return header_key(l, f, t);
    case K_METADATA:
        return meta_key(l, f, t);
    default: /* K_SKIP */
        return 0;
    }
}

/* ---- Values ---- */

/* Open a retry, trust store or stream object: its key bookkeeping starts afresh. */
static int open_entry(loader_t *l, tok_t *t, int kind, size_t index)
{
    if (t->type != WISP_JSON_OBJECT_BEGIN)
        return wrong_type(l, t, "an object");
    memset(l->kseen, 0, sizeof(l->kseen));
    memset(l->vseen, 0, sizeof(l->vseen));
    l->headers = NULL;
    l->meta = NULL;
    l->header_cap = 0;
    l->meta_cap = 0;
    push(l, kind, index, t);
    return 0;
}

static int root_value(loader_t *l, struct frame *f, tok_t *t)
{
    uint32_t v = 0;

    switch (f->key) {
    case RK_SCHEMA:
        if (get_uint(l, t, 0, UINT32_MAX, &v)) {
            if (v != 1)
                report(l, tok_pos(t), "unsupported schema version %lu (this loader reads 1)",
                       (unsigned long)v);
            l->p->schema = v;
        }
        return 0;
    case RK_RELEASE:
        return get_str(l, t) ? dup_str(l, t, &l->p->release) : 0;
    case RK_RETRY:
        return open_as(l, t, K_RETRIES, 0);
    case RK_CERTS:
        return open_as(l, t, K_CERTS, 0);
    case RK_TRUST_STORES:
        return open_as(l, t, K_TRUSTS, 0);
    default:
        return open_as(l, t, K_STREAMS, 0);
    }
}

static int retry_value(loader_t *l, struct frame *f, tok_t *t)
{
    wisp_policy_retry_t *r = &l->retries[f->index];
    char hint[WISP_POLICY_NAME_MAX + 32];
    static const char *const forever[] = {"forever"};
    uint32_t v = 0;

    switch (f->key) {
    case YK_BACKOFF:
        if (t->type != WISP_JSON_ARRAY_BEGIN)
            return wrong_type(l, t, "an array");
        push(l, K_BACKOFF, f->index, t);
        return 0;
    case YK_JITTER:
        if (get_uint(l, t, 0, 100, &v))
            r->jitter_pct = (uint8_t)v;
        return 0;
    default: /* YK_CONCEAL */
        if (t->type == WISP_JSON_STRING) {
            if (!get_str(l, t))
                return 0;
            if (!strcmp(t->text, "forever"))
                r->conceal = WISP_POLICY_FOREVER;
            else
                report(l, tok_pos(t), "expected an integer or \"forever\"%s",
                       suggest(hint, sizeof(hint), t->text, t->len, forever, 1, sizeof(*forever)));
            return 0;
        }
        if (t->type != WISP_JSON_NUMBER)
            return wrong_type(l, t, "an integer or \"forever\"");
        if (get_uint(l, t, 0, WISP_POLICY_CONCEAL_MAX, &v))
            r->conceal = (uint16_t)v;
        return 0;
    }
}

static int trust_value(loader_t *l, struct frame *f, tok_t *t)
{
    uint32_t v = 0;

    if (f->key == TK_CERTS) {
        if (t->type != WISP_JSON_ARRAY_BEGIN)
            return wrong_type(l, t, "an array");
        push(l, K_TRUST_CERTS, f->index, t);
        return 0;
    }
    if (get_uint(l, t, 0, WISP_POLICY_MS_MAX, &v))
        l->trusts[f->index].linger_ms = v;
    return 0;
}

static void store(wisp_policy_stream_t *s, const struct skey *k, uint32_t v)
{
    unsigned char *p = (unsigned char *)s + k->off;
    uint16_t v16 = (uint16_t)v;
    uint8_t v8 = (uint8_t)v;

    if (k->size == 1)
        memcpy(p, &v8, 1);
    else if (k->size == 2)
        memcpy(p, &v16, 2);
    else
        memcpy(p, &v, 4);
}

/* A host that glibc would read as IPv4 must be the dotted quad (SPEC §8). One with
 * ${slot}s is checked again after expansion (WISP_TEMPLATE_HOST), so only the
 * template-free ones are judged here. */
static int numeric_host_ok(loader_t *l, tok_t *t)
{
    char buf[80];
    uint32_t a = 0;
    int form;

    if (strstr(t->text, "${"))
        return 1;
    form = wisp__host_form(t->text, t->len, &a);
    if (form == WISP_HOST_IPV4_ODD)
        report(l, tok_pos(t), "\"%s\" is a short or odd IPv4 spelling: write %u.%u.%u.%u",
               show(buf, sizeof(buf), t->text, t->len), (unsigned)(a >> 24),
               (unsigned)(a >> 16 & 255), (unsigned)(a >> 8 & 255), (unsigned)(a & 255));
    else if (form == WISP_HOST_NUMERIC)
        report(l, tok_pos(t), "\"%s\" is numeric but not an IPv4 address (write a dotted quad)",
               show(buf, sizeof(buf), t->text, t->len));
    return form <= WISP_HOST_IPV4;
}

static int host_value(loader_t *l, tok_t *t, int templated, const char **out)
{
    size_t i;

    if (!get_str(l, t))
        return 0;
    if (!t->len) {
        report(l, tok_pos(t), "must not be empty");
        return 0;
    }
    if (t->len > WISP_POLICY_HOST_MAX) {
        report(l, tok_pos(t), "longer than %d characters", WISP_POLICY_HOST_MAX);
        return 0;
    }
    if (templated) {
        if (!template_ok(l, t, host_char))
            return 0;
    } else {
        for (i = 0; i < t->len; i++) {
            if (!host_char((unsigned char)t->text[i])) {
                report(l, tok_pos(t), "not a host name or address");
                return 0;
            }
        }
    }
    return numeric_host_ok(l, t) ? dup_str(l, t, out) : 0;
}

/* A stream key read by code rather than by the table: by its kind. */
static int stream_other(loader_t *l, struct frame *f, tok_t *t, const struct skey *k)
{
    wisp_policy_stream_t *s = &l->streams[f->index];
    const char **str = (const char **)(void *)((unsigned char *)s + k->off);

    switch (k->type) {
    case V_METADATA:
        return open_as(l, t, K_METADATA, f->index);
    case V_HEADERS:
        return open_as(l, t, K_HEADERS, f->index);
    case V_STATUS:
        if (t->type != WISP_JSON_ARRAY_BEGIN)
            return wrong_type(l, t, "an array [min, max]");
        l->status_codes[0] = l->status_codes[1] = 0;
        push(l, K_STATUS, f->index, t);
        return 0;
    case V_HOST: /* a client's endpoint may hold ${slot}s; a server's bind may not */
        return host_value(l, t, (k->roles & R_CLIENT) != 0, str);
    case V_URL:
        if (!get_str(l, t))
            return 0;
        if (t->text[0] != '/') {
            report(l, tok_pos(t), "must start with '/'");
            return 0;
        }
        return template_ok(l, t, url_char) ? dup_str(l, t, str) : 0;
    case V_TRUST:
        return add_ref(l, t, REF_TRUST, f->key, f->index, 0);
    case V_CERT:
        return add_ref(l, t, REF_X509, f->key, f->index, 0);
    case V_KEY:
        return add_ref(l, t, REF_KEY, f->key, f->index, 0);
    default: /* V_RETRY */
        return add_ref(l, t, REF_RETRY, f->key, f->index, 0);
    }
}

static int stream_value(loader_t *l, struct frame *f, tok_t *t)
{
    const struct skey *k = &stream_keys[f->key];
    wisp_policy_stream_t *s = &l->streams[f->index];
    uint32_t v = 0;
    int i;

    l->vseen[f->key] = tok_pos(t);
    switch (k->type) {
    case V_BOOL:
        if (get_bool(l, t, &v))
            store(s, k, v);
        return 0;
    case V_UINT:
        if (!get_uint(l, t, k->min, k->max, &v)) {
            /* Reported: later checks of this value must not report it again. */
            l->vseen[f->key].line = 0;
            return 0;
        }
        if (f->key == SK_max_fragment_len && v != 0 && v != 512 && v != 1024 && v != 2048 &&
            v != 4096) {
            report(l, tok_pos(t), "must be 0, 512, 1024, 2048 or 4096, got %s", t->text);
            return 0;
        }
        store(s, k, v);
        return 0;
    case V_ENUM:
        if (f->key == SK_protocol) {
            i = get_enum(l, t, "protocol", protocols, sizeof(protocols) / sizeof(*protocols));
            if (i >= 0)
                s->protocol = (wisp_proto_t)(WISP_PROTO_H1 + i);
        } else {
            i = get_enum(l, t, "method", wisp__policy_method_names, WISP_POLICY_METHOD_COUNT);
            if (i >= 0)
                s->method = (wisp_method_t)(WISP_METHOD_GET + i);
        }
        return 0;
    default:
        return stream_other(l, f, t, k);
    }
}

static int header_value(loader_t *l, struct frame *f, tok_t *t)
{
    wisp_policy_stream_t *s = &l->streams[f->index];
    size_t i;

    if (!get_str(l, t))
        return 0;
    for (i = 0; i < t->len; i++) {
        unsigned char c = (unsigned char)t->text[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            report(l, tok_pos(t), "header value holds control character 0x%02X", c);
            return 0;
        }
    }
    return dup_str(l, t, &l->headers[s->header_count - 1].value);
}

static int meta_value(loader_t *l, struct frame *f, tok_t *t)
{
    wisp_policy_stream_t *s = &l->streams[f->index];

    if (t->type == WISP_JSON_NULL)
        return 0;
    if (t->type != WISP_JSON_STRING)
        return wrong_type(l, t, "a header name or null");
    if (!get_str(l, t))
        return 0;
    if (!header_name_ok(t->text, t->len)) {
        report(l, tok_pos(t), "invalid header name");
        return 0;
    }
    return dup_lower(l, t, &l->meta[s->metadata_count - 1].header);
}

/* One element of an array frame; f->count already counts it. */
static int element(loader_t *l, struct frame *f, tok_t *t)
{
    unsigned i = f->count - 1u;
    uint32_t v = 0;

    switch (f->kind) {
    case K_BACKOFF:
        if (i == WISP_POLICY_BACKOFF_MAX)
            report(l, tok_pos(t), "more than %d delays", WISP_POLICY_BACKOFF_MAX);
        if (get_uint(l, t, 0, WISP_POLICY_MS_MAX, &v) && i < WISP_POLICY_BACKOFF_MAX)
            l->backoff[i] = v;
        return 0;
    case K_STATUS:
        if (i == 2)
            report(l, tok_pos(t), "more than two status codes (expected [min, max])");
        if (get_uint(l, t, 100, 599, &v) && i < 2)
            l->status_codes[i] = (uint16_t)v;
        return 0;
    default: /* K_TRUST_CERTS */
        if (i == WISP_POLICY_TRUST_CERTS_MAX)
            report(l, tok_pos(t), "more than %d certificates", WISP_POLICY_TRUST_CERTS_MAX);
        if (i >= WISP_POLICY_TRUST_CERTS_MAX) {
            if (begins(t))
                push(l, K_SKIP, 0, t);
            return 0;
        }
        return add_ref(l, t, REF_X509, FIELD_TRUST_CERT, f->index, i);
    }
}

static int on_value(loader_t *l, struct frame *f, tok_t *t)
{
    if (f->kind == K_BACKOFF || f->kind == K_STATUS || f->kind == K_TRUST_CERTS) {
        path_set(l, f->path_len);
        path_index(l, f->count++);
        return element(l, f, t);
    }
    if (f->kind == K_DOC) {
        if (t->type != WISP_JSON_OBJECT_BEGIN)
            return wrong_type(l, t, "an object");
        push(l, K_ROOT, 0, t);
        return 0;
    }
    if (f->kind == K_SKIP || f->key == NO_KEY) {
        if (begins(t))
            push(l, K_SKIP, 0, t);
        return 0;
    }
    switch (f->kind) {
    case K_ROOT:
        return root_value(l, f, t);
    case K_RETRY:
        return retry_value(l, f, t);
    case K_TRUST:
        return trust_value(l, f, t);
    case K_STREAM:
        return stream_value(l, f, t);
    case K_RETRIES:
        return open_entry(l, t, K_RETRY, f->index);
    case K_TRUSTS:
        return open_entry(l, t, K_TRUST, f->index);
    case K_STREAMS:
        return open_entry(l, t, K_STREAM, f->index);
    case K_CERTS:
        return cert_value(l, t, f->index);
    case K_HEADERS:
        return header_value(l, f, t);
    default: /* K_METADATA */
        return meta_value(l, f, t);
    }
}

/* ---- Closing objects and arrays: required keys, defaults, cross-checks ---- */

/* Report at a key of the closing object f (path: f's path plus the key). */
static void key_report(loader_t *l, struct frame *f, const char *key, pos_t at, const char *fmt,
                       ...) WISP_PRINTF(5, 6);
static void key_report(loader_t *l, struct frame *f, const char *key, pos_t at, const char *fmt,
                       ...)
{
    char msg[WISP_POLICY_ERROR_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    path_set(l, f->path_len);
    path_key(l, key, strlen(key));
    report(l, at, "%s", msg);
    path_set(l, f->path_len);
}

static void missing(loader_t *l, struct frame *f, const char *key)
{
    key_report(l, f, key, f->at, "missing required key");
}

static int backoff_close(loader_t *l, struct frame *f)
{
    wisp_policy_retry_t *r = &l->retries[f->index];
    size_t n = f->count < WISP_POLICY_BACKOFF_MAX ? f->count : WISP_POLICY_BACKOFF_MAX;
    uint32_t *a;

    if (!n) {
        report(l, f->at, "must hold 1..%d delays", WISP_POLICY_BACKOFF_MAX);
        return 0;
    }
    a = wisp__alloc(l->cx, n * sizeof(*a));
    if (!a)
        return nomem(l);
    memcpy(a, l->backoff, n * sizeof(*a));
    r->backoff_ms = a;
    r->backoff_count = n;
    return 0;
}

static void retry_close(loader_t *l, struct frame *f)
{
    wisp_policy_retry_t *r = &l->retries[f->index];

    if (!l->kseen[YK_BACKOFF].line)
        missing(l, f, retry_keys[YK_BACKOFF]);
    if (!l->kseen[YK_CONCEAL].line)
        r->conceal = (uint16_t)r->backoff_count;
}

static void trust_certs_close(loader_t *l, struct frame *f)
{
    if (!f->count)
        report(l, f->at, "must hold 1..%d certificates", WISP_POLICY_TRUST_CERTS_MAX);
    l->trusts[f->index].cert_count =
        f->count < WISP_POLICY_TRUST_CERTS_MAX ? f->count : WISP_POLICY_TRUST_CERTS_MAX;
}

static void status_close(loader_t *l, struct frame *f)
{
    wisp_policy_stream_t *s = &l->streams[f->index];
    uint16_t lo = l->status_codes[0], hi = l->status_codes[1];

    if (f->count < 2) {
        report(l, f->at, "expected two status codes [min, max]");
    } else if (lo && hi && lo > hi) {
        report(l, f->at, "min %u is above max %u", lo, hi);
    } else if (lo && hi) {
        s->expect_status_min = lo;
        s->expect_status_max = hi;
    }
}

/* Every ${slot} of a template must be declared in the stream's metadata. */
static void check_slots(loader_t *l, struct frame *f, const wisp_policy_stream_t *s, int key,
                        const char *tmpl)
{
    char hint[WISP_POLICY_NAME_MAX + 32], buf[80];
    const char *lit, *slot;
    size_t lit_len, slot_len;

    while (tmpl && wisp__template_step(&tmpl, &lit, &lit_len, &slot, &slot_len) == 1) {
        if (!slot || wisp_policy_meta_find(s, slot, slot_len))
            continue;
        key_report(l, f, stream_keys[key].name, l->vseen[key], "undeclared metadata slot \"%s\"%s",
                   show(buf, sizeof(buf), slot, slot_len),
                   suggest(hint, sizeof(hint), slot, slot_len, s->metadata, s->metadata_count,
                           sizeof(*s->metadata)));
    }
}

static void client_close(loader_t *l, struct frame *f, wisp_policy_stream_t *s)
{
    pos_t *seen = l->kseen;

    if (!seen[SK_protocol].line)
        s->protocol = WISP_PROTO_H1;
    if (!seen[SK_method].line)
        s->method = WISP_METHOD_GET;
    if (!seen[SK_expect_status].line) {
        s->expect_status_min = 200;
        s->expect_status_max = 299;
    }
    if (seen[SK_port].line && l->vseen[SK_port].line && !s->port)
        key_report(l, f, "port", l->vseen[SK_port], "must be 1..65535 for a client stream");
    if (!seen[SK_endpoint].line)
        missing(l, f, "endpoint");
    if (s->tls && !seen[SK_trust_store].line)
        missing(l, f, "trust_store");
    if (seen[SK_client_cert].line && !seen[SK_client_key].line)
        key_report(l, f, "client_cert", seen[SK_client_cert], "needs \"%s\" too", "client_key");
    if (seen[SK_client_key].line && !seen[SK_client_cert].line)
        key_report(l, f, "client_key", seen[SK_client_key], "needs \"%s\" too", "client_cert");
    check_slots(l, f, s, SK_endpoint, s->endpoint);
    check_slots(l, f, s, SK_url, s->url);
}

static int stream_close(loader_t *l, struct frame *f)
{
    wisp_policy_stream_t *s = &l->streams[f->index];
    int role = s->server ? R_SERVER : R_CLIENT, k;

    for (k = 0; k < SK_COUNT; k++) {
        const struct skey *d = &stream_keys[k];

        if (l->kseen[k].line && !(d->roles & role))
            key_report(l, f, d->name, l->kseen[k], "not valid for a %s stream",
                       s->server ? "server" : "client");
        else if (!l->kseen[k].line && (d->roles & role) && (d->type == V_BOOL || d->type == V_UINT))
            store(s, d, d->dflt);
    }
    if (!l->kseen[SK_port].line)
        s->port = s->tls ? 443 : 80;
    if (!s->tls) {
        for (k = 0; k < SK_COUNT; k++)
            if (l->kseen[k].line && (stream_keys[k].roles & role) && tls_only(&stream_keys[k]))
                key_report(l, f, stream_keys[k].name, l->kseen[k], "needs \"tls\": true");
        if (s->max_fragment_len && !s->server)
            key_report(l, f, "max_fragment_len", l->kseen[SK_max_fragment_len],
                       "needs \"tls\": true");
    }
    if (s->server) {
        if (s->tls && !l->kseen[SK_cert].line)
            missing(l, f, "cert");
        if (s->tls && !l->kseen[SK_key].line)
            missing(l, f, "key");
        if (!s->bind && !(s->bind = wisp__strndup(l->cx, "0.0.0.0", 7)))
            return nomem(l);
        return 0;
    }
    client_close(l, f, s);
    if (!s->url && !(s->url = wisp__strndup(l->cx, "/", 1)))
        return nomem(l);
    return 0;
}

static int on_close(loader_t *l)
{
    struct frame *f = &l->fr[l->depth];
    int ret = 0;

    path_set(l, f->path_len);
    switch (f->kind) {
    case K_ROOT:
        if (!l->root_seen[RK_SCHEMA].line)
            missing(l, f, root_keys[RK_SCHEMA]);
        break;
    case K_RETRY:
        retry_close(l, f);
        break;
    case K_BACKOFF:
        ret = backoff_close(l, f);
        break;
    case K_TRUST:
        if (!l->kseen[TK_CERTS].line)
            missing(l, f, trust_keys[TK_CERTS]);
        break;
    case K_TRUST_CERTS:
        trust_certs_close(l, f);
        break;
    case K_STATUS:
        status_close(l, f);
        break;
    case K_STREAM:
        ret = stream_close(l, f);
        break;
    default:
        break;
    }
    l->depth--;
    return ret;
}

static int on_token(void *user, tok_t *t)
{
    loader_t *l = user;
    struct frame *f = &l->fr[l->depth];
    int ret;

    if (t->type == WISP_JSON_STRING && !t->first)
        ret = l->collecting ? cert_text(l, t) : 0; /* a later piece of a long string */
    else if (t->type == WISP_JSON_KEY)
        ret = on_key(l, f, t);
    else if (t->type == WISP_JSON_OBJECT_END || t->type == WISP_JSON_ARRAY_END)
        ret = on_close(l);
    else
        ret = on_value(l, f, t);
    /* A nonzero status stops the tokenizer: out of memory, or too many errors. */
    return ret ? ret : l->status;
}

/* ---- Resolving names ---- */

/* Report at a reference: what it names, then why, e.g. unknown trust store "x". */
static void ref_report(loader_t *l, const struct ref *r, const char *what, const char *why)
{
    char buf[80];

    path_set(l, 0);
    path_append(l, r->path);
    report(l, r->at, "%s\"%s\"%s", what, show(buf, sizeof(buf), r->text, strlen(r->text)), why);
}

/* A stream's reference field is a const pointer at the table's offset for it. */
static void ref_assign(loader_t *l, const struct ref *r, const void *target)
{
    unsigned char *s = (unsigned char *)&l->streams[r->owner];

    memcpy(s + stream_keys[r->field].off, &target, sizeof(target));
}

/* The reserved "system" store joins the model only if a client stream names it. It
 * is appended before any pointer into trust_stores is taken. */
static int add_system_store(loader_t *l)
{
    wisp_policy_trust_store_t *ts;
    struct ref *r;

    for (r = l->refs; r; r = r->next)
        if (r->what == REF_TRUST && r->field == SK_trust_store && !strcmp(r->text, "system"))
            break;
    if (!r)
        return 0;
    ts = next_entry(l, K_TRUSTS);
    if (!ts || !(ts->name = wisp__strndup(l->cx, "system", 6)))
        return nomem(l);
    ts->system = 1;
    l->p->trust_store_count++;
    return 0;
}

static int resolve_cert(loader_t *l, const struct ref *r, const wisp_policy_cert_t ***store,
                        size_t *store_owner)
{
    static const char *const kinds[] = {"", "certificate", "private key"};
    const wisp_policy_cert_t *c = wisp_policy_cert_find(l->p, r->text);
    wisp_policy_trust_store_t *ts;
    char hint[WISP_POLICY_NAME_MAX + 32];

    if (!c) {
        ref_report(l, r, "unknown certificate ",
                   suggest(hint, sizeof(hint), r->text, strlen(r->text), l->certs, l->p->cert_count,
                           sizeof(*l->certs)));
        return 0;
    }
    if (c->der && c->kind != (wisp_cert_kind_t)r->what) {
        snprintf(hint, sizeof(hint), " is a %s, not a %s", kinds[c->kind], kinds[r->what]);
        ref_report(l, r, "", hint);
        return 0;
    }
    if (r->field != FIELD_TRUST_CERT) {
        ref_assign(l, r, c);
        return 0;
    }
    /* A trust store's refs are consecutive: allocate its array at the first one. */
    ts = &l->trusts[r->owner];
    if (!ts->cert_count || r->elem >= ts->cert_count)
        return 0;
    if (!*store || *store_owner != r->owner) {
        *store = wisp__zalloc(l->cx, ts->cert_count * sizeof(**store));
        if (!*store)
            return nomem(l);
        ts->certs = *store;
        *store_owner = r->owner;
    }
    (*store)[r->elem] = c;
    return 0;
}

static int resolve(loader_t *l)
{
    const wisp_policy_cert_t **store = NULL;
    size_t store_owner = 0;
    const void *target;
    char hint[WISP_POLICY_NAME_MAX + 32];
    struct ref *r;
    int ret = add_system_store(l);

    for (r = l->refs; r && !ret && !l->status; r = r->next) {
        if (r->what == REF_X509 || r->what == REF_KEY) {
            ret = resolve_cert(l, r, &store, &store_owner);
            continue;
        }
        if (r->what == REF_RETRY) {
            target = wisp_policy_retry_find(l->p, r->text);
            suggest(hint, sizeof(hint), r->text, strlen(r->text), l->retries, l->p->retry_count,
                    sizeof(*l->retries));
        } else if (r->field == SK_client_ca && !strcmp(r->text, "system")) {
            ref_report(l, r, "the trust store ", " cannot check client certificates");
            continue;
        } else {
            target = wisp_policy_trust_store_find(l->p, r->text);
            suggest(hint, sizeof(hint), r->text, strlen(r->text), l->trusts,
                    l->p->trust_store_count, sizeof(*l->trusts));
        }
        if (target)
            ref_assign(l, r, target);
        else
            ref_report(l, r, r->what == REF_RETRY ? "unknown retry " : "unknown trust store ",
                       hint);
    }
    return ret;
}

/* ---- Public entry points ---- */

static void json_error(loader_t *l, int ret)
{
    pos_t at = {l->json.err_line, l->json.err_col};

    if (ret == WISP_ESYNTAX) {
        path_set(l, l->fr[l->depth].path_len);
        report(l, at, "%s", l->json.err_msg);
        l->syntax = 1;
        l->status = WISP_EPOLICY;
    } else if (!l->status) {
        l->status = ret;
    }
}

int wisp_policy_loader_create(wisp_context_t *cx, const char *filename, wisp_policy_errors_t *errs,
                              wisp_policy_loader_t **out)
{
    loader_t *l;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx)
        return WISP_EINVAL;
    if (!filename)
        filename = "policy";
    if (errs) {
        errs->count = 0;
        errs->truncated = 0;
    }
    l = wisp__zalloc(cx, sizeof(*l));
    if (!l)
        return WISP_ENOMEM;
    l->cx = cx;
    l->errs = errs;
    l->refs_tail = &l->refs;
    l->filename = wisp__strndup(cx, filename, strlen(filename));
    l->p = wisp__zalloc(cx, sizeof(*l->p));
    if (l->p) {
        l->p->allocated = 1; /* before anything can fail: free knows it is ours */
        l->p->layout = WISP_POLICY_LAYOUT;
    }
    if (!l->filename || !l->p) {
        wisp_policy_loader_destroy(&l);
        return WISP_ENOMEM;
    }
    l->fr[0].kind = K_DOC;
    wisp__json_init(&l->json, on_token, l);
    *out = l;
    return 0;
}

int wisp_policy_loader_feed(wisp_policy_loader_t *l, const void *buf, size_t len)
{
    int ret;

    if (!l || (!buf && len))
        return WISP_EINVAL;
    if (l->finished)
        return WISP_ESTATE;
    if (l->status || !len)
        return l->status;
    ret = wisp__json_feed(&l->json, buf, len);
    if (ret)
        json_error(l, ret);
    return l->status;
}

static void free_pending(loader_t *l)
{
    struct ref *r, *next;

    for (r = l->refs; r; r = next) {
        next = r->next;
        wisp__free(l->cx, r);
    }
    l->refs = NULL;
    l->refs_tail = &l->refs;
    wisp__zeroize(l->text, l->text_cap);
    wisp__free(l->cx, l->text);
    l->text = NULL;
    l->text_cap = 0;
}

int wisp_policy_loader_finish(wisp_policy_loader_t *l, wisp_policy_t **out)
{
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!l)
        return WISP_EINVAL;
    if (l->finished)
        return WISP_ESTATE;
    l->finished = 1;
    if (!l->status) {
        ret = wisp__json_finish(&l->json);
        if (ret)
            json_error(l, ret);
    }
    if (!l->status)
        (void)resolve(l);
    free_pending(l);
    if (l->status == WISP_ENOMEM)
        return WISP_ENOMEM;
    if (l->nerr || l->status)
        return WISP_EPOLICY;
    *out = l->p;
    l->p = NULL;
    return 0;
}

void wisp_policy_loader_destroy(wisp_policy_loader_t **pl)
{
    wisp_context_t *cx;
    loader_t *l;

    if (!pl || !*pl)
        return;
    l = *pl;
    *pl = NULL;
    cx = l->cx;
    free_pending(l);
    wisp_policy_free(l->cx, &l->p);
    wisp__free(l->cx, l->filename);
    /* The tokenizer's buffer (inside the loader) held the last piece of every
     * string, key text included. */
    wisp__zeroize(l, sizeof(*l));
    wisp__free(cx, l);
}

int wisp_policy_load_json(wisp_context_t *cx, const char *filename, const char *text, size_t len,
                          wisp_policy_t **out, wisp_policy_errors_t *errs)
{
    wisp_policy_loader_t *l;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || (!text && len))
        return WISP_EINVAL;
    ret = wisp_policy_loader_create(cx, filename, errs, &l);
    if (ret)
        return ret;
    ret = wisp_policy_loader_feed(l, text, len);
    if (ret != WISP_ENOMEM)
        ret = wisp_policy_loader_finish(l, out);
    wisp_policy_loader_destroy(&l);
    return ret;
}
