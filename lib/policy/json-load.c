/*
 * The JSON policy loader (with json-errors.c, json-close.c, json-refs.c and the
 * private header json-load.h): tokens from the streaming tokenizer (json.c) in, the
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

#include "policy/json-load.h"

/* ---- Key tables ---- */

const char *const wisp__loader_root_keys[RK_COUNT] = {"schema", "release",      "retry",
                                                      "certs",  "trust_stores", "streams"};

#define KEY_NAME(key, kind, min, max, dflt) #key,
#define KEY_RANGE(key, kind, min, max, dflt) {min, max},
const char *const wisp__loader_retry_keys[YK_COUNT] = {WISP_POLICY_RETRY_KEYS(KEY_NAME)};
const struct key_range wisp__loader_retry_ranges[YK_COUNT] = {WISP_POLICY_RETRY_KEYS(KEY_RANGE)};

const char *const wisp__loader_trust_keys[TK_COUNT] = {WISP_POLICY_TRUST_STORE_KEYS(KEY_NAME)};
const struct key_range wisp__loader_trust_ranges[TK_COUNT] = {
    WISP_POLICY_TRUST_STORE_KEYS(KEY_RANGE)};

const struct skey wisp__loader_stream_keys[SK_COUNT] = {WISP_POLICY_STREAM_KEYS(SK_ROW)};

static const char *const protocols[] = {"h1"}; /* index + WISP_PROTO_H1 */

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
    wisp__loader_report(l, tok_pos(t), "expected %s, got %s", want, type_name(t));
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
        wisp__loader_report(l, tok_pos(t), "expected an integer, got %s", t->text);
        return 0;
    }
    for (i = t->text[0] == '-'; i < t->len && v <= max; i++)
        v = v * 10 + (uint64_t)(t->text[i] - '0');
    if (t->text[0] == '-' || v < min || v > max) {
        wisp__loader_report(l, tok_pos(t), "must be %lu..%lu, got %s", (unsigned long)min,
                            (unsigned long)max, t->text);
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
        wisp__loader_report(l, tok_pos(t), "string longer than %d bytes", WISP_JSON_TOKEN_MAX);
        return 0;
    }
    if (memchr(t->text, '\0', t->len)) {
        wisp__loader_report(l, tok_pos(t), "string holds a NUL character (\\u0000)");
        return 0;
    }
    return 1;
}

static int dup_str(loader_t *l, tok_t *t, const char **out)
{
    char *s = wisp__strndup(l->cx, t->text, t->len);

    if (!s)
        return wisp__loader_nomem(l);
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
        return wisp__loader_nomem(l);
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
    wisp__loader_suggest(hint, sizeof(hint), t->text, t->len, names, count, sizeof(*names));
    if (!hint[0]) {
        for (i = 0; i < count; i++)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : " (one of ",
                                  names[i]);
        snprintf(list + o, sizeof(list) - o, ")");
    }
    wisp__loader_report(l, tok_pos(t), "unknown %s \"%s\"%s", what,
                        wisp__loader_show(buf, sizeof(buf), t->text, t->len),
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
                    wisp__loader_report(l, tok_pos(t), "character '%c' is not allowed here", c);
                else
                    wisp__loader_report(l, tok_pos(t), "byte 0x%02X is not allowed here%s", c,
                                        ok == url_char ? " (percent-encode it)" : "");
                return 0;
            }
        }
        if (slot && !wisp__policy_name_ok(slot, slot_len)) {
            wisp__loader_report(l, tok_pos(t), "invalid slot name \"%s\" in \"${...}\"",
                                wisp__loader_show(buf, sizeof(buf), slot, slot_len));
            return 0;
        }
    }
    if (ret) {
        wisp__loader_report(l, tok_pos(t), "\"${\" without a closing '}'");
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
void *wisp__loader_next_entry(loader_t *l, int kind)
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
        return wisp__loader_nomem(l);
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
        wisp__loader_report(l, l->text_at, "certificate larger than %d bytes (DER)",
                            WISP_POLICY_DER_MAX);
        return 0;
    }
    if (ret) {
        wisp__loader_report(l, l->text_at, "not a valid certificate or key: %s", why);
        return 0;
    }
    der = wisp__alloc(l->cx, len);
    if (!der)
        return wisp__loader_nomem(l);
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
        wisp__loader_report(l, l->text_at, "certificate text longer than %d bytes",
                            WISP_POLICY_CERT_TEXT_MAX);
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
            return wisp__loader_nomem(l);
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
        wisp__loader_report(
            l, tok_pos(t), "unknown key%s",
            wisp__loader_suggest(hint, sizeof(hint), t->text, t->len, names, count, stride));
        return NO_KEY;
    }
    if (seen[i].line) {
        wisp__loader_report(l, tok_pos(t), "duplicate key");
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
            wisp__loader_report(l, tok_pos(t), "name longer than %d characters",
                                WISP_POLICY_NAME_MAX);
        else
            wisp__loader_report(l, tok_pos(t), "invalid name (use A-Z a-z 0-9 _ -)");
        return 0;
    }
    if (name_taken(base, *count, stride, t->text, t->len)) {
        wisp__loader_report(l, tok_pos(t), "duplicate key");
        return 0;
    }
    if (*count == WISP_POLICY_MAP_MAX) {
        wisp__loader_report(l, tok_pos(t), "more than %d entries", WISP_POLICY_MAP_MAX);
        return 0;
    }
    if (f->kind == K_TRUSTS && !strcmp(t->text, "system")) {
        wisp__loader_report(l, tok_pos(t), "the name \"system\" is reserved for the OS CA bundle");
        return 0;
    }
    /* Every model entry starts with its name. */
    name = wisp__loader_next_entry(l, f->kind);
    if (!name || dup_str(l, t, name))
        return wisp__loader_nomem(l);
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
        wisp__loader_report(l, tok_pos(t), "invalid header name");
        return 0;
    }
    for (i = 0; i < s->header_count; i++) {
        if (same_header(s->headers[i].name, t->text, t->len)) {
            wisp__loader_report(l, tok_pos(t), "duplicate header");
            return 0;
        }
    }
    if (s->header_count == WISP_POLICY_HEADERS_MAX) {
        wisp__loader_report(l, tok_pos(t), "more than %d headers", WISP_POLICY_HEADERS_MAX);
        return 0;
    }
    h = grow(l, l->headers, &l->header_cap, s->header_count, sizeof(*h));
    if (!h)
        return wisp__loader_nomem(l);
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
        wisp__loader_report(l, tok_pos(t), "invalid slot name (use 1..%d of A-Z a-z 0-9 _ -)",
                            WISP_POLICY_NAME_MAX);
        return 0;
    }
    if (name_taken(s->metadata, s->metadata_count, sizeof(*m), t->text, t->len)) {
        wisp__loader_report(l, tok_pos(t), "duplicate key");
        return 0;
    }
    if (s->metadata_count == WISP_POLICY_METADATA_MAX) {
        wisp__loader_report(l, tok_pos(t), "more than %d slots", WISP_POLICY_METADATA_MAX);
        return 0;
    }
    m = grow(l, l->meta, &l->meta_cap, s->metadata_count, sizeof(*m));
    if (!m)
        return wisp__loader_nomem(l);
    s->metadata = l->meta = m;
    if (dup_str(l, t, &m[s->metadata_count].name))
        return WISP_ENOMEM;
    s->metadata_count++;
    f->key = 0;
    return 0;
}

static int on_key(loader_t *l, struct frame *f, tok_t *t)
{
    wisp__loader_path_set(l, f->path_len);
    wisp__loader_path_key(l, t->text, t->len);
    f->key = NO_KEY;
    switch (f->kind) {
    case K_ROOT:
        f->key = (int8_t)known_key(l, t, wisp__loader_root_keys, RK_COUNT,
                                   sizeof(*wisp__loader_root_keys), l->root_seen);
        return 0;
    case K_RETRY:
        f->key = (int8_t)known_key(l, t, wisp__loader_retry_keys, YK_COUNT,
                                   sizeof(*wisp__loader_retry_keys), l->kseen);
        return 0;
    case K_TRUST:
        f->key = (int8_t)known_key(l, t, wisp__loader_trust_keys, TK_COUNT,
                                   sizeof(*wisp__loader_trust_keys), l->kseen);
        return 0;
    case K_STREAM:
        f->key = (int8_t)known_key(l, t, wisp__loader_stream_keys, SK_COUNT,
                                   sizeof(*wisp__loader_stream_keys), l->kseen);
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
                wisp__loader_report(l, tok_pos(t),
                                    "unsupported schema version %lu (this loader reads 1)",
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
    case YK_backoff_ms:
        if (t->type != WISP_JSON_ARRAY_BEGIN)
            return wrong_type(l, t, "an array");
        push(l, K_BACKOFF, f->index, t);
        return 0;
    case YK_jitter_pct:
        if (get_uint(l, t, wisp__loader_retry_ranges[YK_jitter_pct].min,
                     wisp__loader_retry_ranges[YK_jitter_pct].max, &v))
            r->jitter_pct = (uint8_t)v;
        return 0;
    default: /* YK_conceal */
        if (t->type == WISP_JSON_STRING) {
            if (!get_str(l, t))
                return 0;
            if (!strcmp(t->text, "forever"))
                r->conceal = WISP_POLICY_FOREVER;
            else
                wisp__loader_report(l, tok_pos(t), "expected an integer or \"forever\"%s",
                                    wisp__loader_suggest(hint, sizeof(hint), t->text, t->len,
                                                         forever, 1, sizeof(*forever)));
            return 0;
        }
        if (t->type != WISP_JSON_NUMBER)
            return wrong_type(l, t, "an integer or \"forever\"");
        if (get_uint(l, t, wisp__loader_retry_ranges[YK_conceal].min,
                     wisp__loader_retry_ranges[YK_conceal].max, &v))
            r->conceal = (uint16_t)v;
        return 0;
    }
}

static int trust_value(loader_t *l, struct frame *f, tok_t *t)
{
    uint32_t v = 0;

    if (f->key == TK_certs) {
        if (t->type != WISP_JSON_ARRAY_BEGIN)
            return wrong_type(l, t, "an array");
        push(l, K_TRUST_CERTS, f->index, t);
        return 0;
    }
    if (get_uint(l, t, wisp__loader_trust_ranges[TK_linger_ms].min,
                 wisp__loader_trust_ranges[TK_linger_ms].max, &v))
        l->trusts[f->index].linger_ms = v;
    return 0;
}

void wisp__loader_store(wisp_policy_stream_t *s, const struct skey *k, uint32_t v)
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
        wisp__loader_report(
            l, tok_pos(t), "\"%s\" is a short or odd IPv4 spelling: write %u.%u.%u.%u",
            wisp__loader_show(buf, sizeof(buf), t->text, t->len), (unsigned)(a >> 24),
            (unsigned)(a >> 16 & 255), (unsigned)(a >> 8 & 255), (unsigned)(a & 255));
    else if (form == WISP_HOST_NUMERIC)
        wisp__loader_report(l, tok_pos(t),
                            "\"%s\" is numeric but not an IPv4 address (write a dotted quad)",
                            wisp__loader_show(buf, sizeof(buf), t->text, t->len));
    return form <= WISP_HOST_IPV4;
}

static int host_value(loader_t *l, tok_t *t, int templated, const char **out)
{
    size_t i;

    if (!get_str(l, t))
        return 0;
    if (!t->len) {
        wisp__loader_report(l, tok_pos(t), "must not be empty");
        return 0;
    }
    if (t->len > WISP_POLICY_HOST_MAX) {
        wisp__loader_report(l, tok_pos(t), "longer than %d characters", WISP_POLICY_HOST_MAX);
        return 0;
    }
    if (templated) {
        if (!template_ok(l, t, host_char))
            return 0;
    } else {
        for (i = 0; i < t->len; i++) {
            if (!host_char((unsigned char)t->text[i])) {
                wisp__loader_report(l, tok_pos(t), "not a host name or address");
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
            wisp__loader_report(l, tok_pos(t), "must start with '/'");
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
    const struct skey *k = &wisp__loader_stream_keys[f->key];
    wisp_policy_stream_t *s = &l->streams[f->index];
    uint32_t v = 0;
    int i;

    l->vseen[f->key] = tok_pos(t);
    switch (k->type) {
    case V_BOOL:
        if (get_bool(l, t, &v))
            wisp__loader_store(s, k, v);
        return 0;
    case V_UINT:
        if (!get_uint(l, t, k->min, k->max, &v)) {
            /* Reported: later checks of this value must not report it again. */
            l->vseen[f->key].line = 0;
            return 0;
        }
        if (f->key == SK_max_fragment_len && v != 0 && v != 512 && v != 1024 && v != 2048 &&
            v != 4096) {
            wisp__loader_report(l, tok_pos(t), "must be 0, 512, 1024, 2048 or 4096, got %s",
                                t->text);
            return 0;
        }
        wisp__loader_store(s, k, v);
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
            wisp__loader_report(l, tok_pos(t), "header value holds control character 0x%02X", c);
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
        wisp__loader_report(l, tok_pos(t), "invalid header name");
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
            wisp__loader_report(l, tok_pos(t), "more than %d delays", WISP_POLICY_BACKOFF_MAX);
        if (get_uint(l, t, wisp__loader_retry_ranges[YK_backoff_ms].min,
                     wisp__loader_retry_ranges[YK_backoff_ms].max, &v) &&
            i < WISP_POLICY_BACKOFF_MAX)
            l->backoff[i] = v;
        return 0;
    case K_STATUS:
        if (i == 2)
            wisp__loader_report(l, tok_pos(t), "more than two status codes (expected [min, max])");
        if (get_uint(l, t, 100, 599, &v) && i < 2)
            l->status_codes[i] = (uint16_t)v;
        return 0;
    default: /* K_TRUST_CERTS */
        if (i == WISP_POLICY_TRUST_CERTS_MAX)
            wisp__loader_report(l, tok_pos(t), "more than %d certificates",
                                WISP_POLICY_TRUST_CERTS_MAX);
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
        wisp__loader_path_set(l, f->path_len);
        wisp__loader_path_index(l, f->count++);
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
        ret = wisp__loader_close(l);
    else
        ret = on_value(l, f, t);
    /* A nonzero status stops the tokenizer: out of memory, or too many errors. */
    return ret ? ret : l->status;
}

/* ---- Public entry points ---- */

static void json_error(loader_t *l, int ret)
{
    pos_t at = {l->json.err_line, l->json.err_col};

    if (ret == WISP_ESYNTAX) {
        wisp__loader_path_set(l, l->fr[l->depth].path_len);
        wisp__loader_report(l, at, "%s", l->json.err_msg);
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
        (void)wisp__loader_resolve(l);
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
