/*
 * Deep comparison of two policy models, field by field, for the policy tests.
 *
 * Strings compare by content, certificates by their DER bytes, and references
 * between objects by the index they point at in their own policy (a stream's
 * trust_store must be the same entry in both, and must point inside the policy's
 * own array). Header-only so each test executable includes it once.
 */
#ifndef WISP_TEST_POLICY_COMPARE_H
#define WISP_TEST_POLICY_COMPARE_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <wisp/policy.h>

typedef struct pc_ctx {
    const wisp_policy_t *a, *b;
    char *why;
    size_t why_len;
    char where[96];
} pc_ctx_t;

static int pc_fail(pc_ctx_t *c, const char *fmt, ...) WISP_PRINTF(2, 3);
static int pc_fail(pc_ctx_t *c, const char *fmt, ...)
{
    size_t n;
    va_list ap;

    n = (size_t)snprintf(c->why, c->why_len, "%s: ", c->where);
    if (n < c->why_len) {
        va_start(ap, fmt);
        vsnprintf(c->why + n, c->why_len - n, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int pc_str(const char *x, const char *y)
{
    return (!x && !y) || (x && y && !strcmp(x, y));
}

/* Index of ptr in base[0..count), -1 for NULL, -2 when it points elsewhere. */
static long pc_index(const void *ptr, const void *base, size_t count, size_t size)
{
    const char *p = ptr, *b = base;

    if (!ptr)
        return -1;
    if (!b || p < b || p >= b + count * size || (size_t)(p - b) % size)
        return -2;
    return (long)((size_t)(p - b) / size);
}

#define PC_UINT(x, y, f)                                                                           \
    do {                                                                                           \
        if ((x)->f != (y)->f)                                                                      \
            return pc_fail(c, "%s: %lu != %lu", #f, (unsigned long)(x)->f, (unsigned long)(y)->f); \
    } while (0)
#define PC_STR(x, y, f)                                                                            \
    do {                                                                                           \
        if (!pc_str((x)->f, (y)->f))                                                               \
            return pc_fail(c, "%s: \"%s\" != \"%s\"", #f, (x)->f ? (x)->f : "(null)",              \
                           (y)->f ? (y)->f : "(null)");                                            \
    } while (0)
#define PC_REF(x, y, f, arr, cnt)                                                                  \
    do {                                                                                           \
        long ia_ = pc_index((x)->f, c->a->arr, c->a->cnt, sizeof(*c->a->arr));                     \
        long ib_ = pc_index((y)->f, c->b->arr, c->b->cnt, sizeof(*c->b->arr));                     \
        if (ia_ == -2 || ib_ == -2 || ia_ != ib_)                                                  \
            return pc_fail(c, "%s: index %ld != %ld", #f, ia_, ib_);                               \
    } while (0)

static int pc_certs(pc_ctx_t *c)
{
    size_t i;

    for (i = 0; i < c->a->cert_count; i++) {
        const wisp_policy_cert_t *x = &c->a->certs[i], *y = &c->b->certs[i];

        snprintf(c->where, sizeof(c->where), "certs[%zu]", i);
        PC_STR(x, y, name);
        PC_UINT(x, y, kind);
        PC_UINT(x, y, len);
        if (!x->der || !y->der || memcmp(x->der, y->der, x->len))
            return pc_fail(c, "der differs");
    }
    return 1;
}

/* Retry and trust store keys, by kind (WISP_POLICY_RETRY_KEYS and _TRUST_STORE_KEYS). */
#define PC_R_DELAYS(x, y, f)                                                                       \
    PC_UINT(x, y, backoff_count);                                                                  \
    for (k = 0; k < x->backoff_count; k++)                                                         \
        if (x->f[k] != y->f[k])                                                                    \
            return pc_fail(c, #f "[%zu]", k);
#define PC_R_UINT(x, y, f) PC_UINT(x, y, f);
#define PC_R_CONCEAL(x, y, f) PC_UINT(x, y, f);
#define PC_RETRY_ROW(key, kind, min, max, dflt) PC_R_##kind(x, y, key)
#define PC_T_CERTS(x, y, f)                                                                        \
    PC_UINT(x, y, cert_count);                                                                     \
    if (!x->cert_count && (x->f || y->f))                                                          \
        return pc_fail(c, #f " set without cert_count");                                           \
    for (k = 0; k < x->cert_count; k++) {                                                          \
        long ia = pc_index(x->f[k], c->a->certs, c->a->cert_count, sizeof(*c->a->certs));          \
        long ib = pc_index(y->f[k], c->b->certs, c->b->cert_count, sizeof(*c->b->certs));          \
        if (ia < 0 || ia != ib)                                                                    \
            return pc_fail(c, #f "[%zu]: index %ld != %ld", k, ia, ib);                            \
    }
#define PC_T_UINT(x, y, f) PC_UINT(x, y, f);
#define PC_TRUST_ROW(key, kind, min, max, dflt) PC_T_##kind(x, y, key)

static int pc_retries(pc_ctx_t *c)
{
    size_t i, k;

    for (i = 0; i < c->a->retry_count; i++) {
        const wisp_policy_retry_t *x = &c->a->retries[i], *y = &c->b->retries[i];

        snprintf(c->where, sizeof(c->where), "retries[%zu]", i);
        PC_STR(x, y, name);
        WISP_POLICY_RETRY_KEYS(PC_RETRY_ROW)
    }
    return 1;
}

static int pc_trust_stores(pc_ctx_t *c)
{
    size_t i, k;

    for (i = 0; i < c->a->trust_store_count; i++) {
        const wisp_policy_trust_store_t *x = &c->a->trust_stores[i], *y = &c->b->trust_stores[i];

        snprintf(c->where, sizeof(c->where), "trust_stores[%zu]", i);
        PC_STR(x, y, name);
        PC_UINT(x, y, system);
        WISP_POLICY_TRUST_STORE_KEYS(PC_TRUST_ROW)
    }
    return 1;
}

static int pc_stream_lists(pc_ctx_t *c, const wisp_policy_stream_t *x,
                           const wisp_policy_stream_t *y)
{
    size_t k;

    PC_UINT(x, y, header_count);
    PC_UINT(x, y, metadata_count);
    for (k = 0; k < x->header_count; k++) {
        PC_STR(&x->headers[k], &y->headers[k], name);
        PC_STR(&x->headers[k], &y->headers[k], value);
    }
    for (k = 0; k < x->metadata_count; k++) {
        PC_STR(&x->metadata[k], &y->metadata[k], name);
        PC_STR(&x->metadata[k], &y->metadata[k], header);
    }
    if ((!x->header_count && (x->headers || y->headers)) ||
        (!x->metadata_count && (x->metadata || y->metadata)))
        return pc_fail(c, "array set without a count");
    return 1;
}

/* One comparison per stream key, by its kind in WISP_POLICY_STREAM_KEYS (the maps
 * are compared by pc_stream_lists). */
#define PC_BOOL(x, y, f) PC_UINT(x, y, f)
#define PC_ENUM(x, y, f) PC_UINT(x, y, f)
#define PC_HOST(x, y, f) PC_STR(x, y, f)
#define PC_URL(x, y, f) PC_STR(x, y, f)
#define PC_TRUST(x, y, f) PC_REF(x, y, f, trust_stores, trust_store_count)
#define PC_CERT(x, y, f) PC_REF(x, y, f, certs, cert_count)
#define PC_KEY(x, y, f) PC_REF(x, y, f, certs, cert_count)
#define PC_RETRY(x, y, f) PC_REF(x, y, f, retries, retry_count)
#define PC_HEADERS(x, y, f) ((void)0)
#define PC_METADATA(x, y, f) ((void)0)
#define PC_STATUS(x, y, f)                                                                         \
    PC_UINT(x, y, f##_min);                                                                        \
    PC_UINT(x, y, f##_max)
#define PC_KEY_ROW(key, kind, roles, min, max, dflt) PC_##kind(x, y, key);

static int pc_streams(pc_ctx_t *c)
{
    size_t i;

    for (i = 0; i < c->a->stream_count; i++) {
        const wisp_policy_stream_t *x = &c->a->streams[i], *y = &c->b->streams[i];

        snprintf(c->where, sizeof(c->where), "streams[%zu]", i);
        PC_STR(x, y, name);
        WISP_POLICY_STREAM_KEYS(PC_KEY_ROW)
        if (!pc_stream_lists(c, x, y))
            return 0;
    }
    return 1;
}

/**
 * 1 if a and b hold the same policy (the allocated flag aside), else 0 with a
 * description of the first difference in why.
 */
static int policy_equal(const wisp_policy_t *a, const wisp_policy_t *b, char *why, size_t why_len)
{
    pc_ctx_t ctx = {a, b, why, why_len, "policy"}, *c = &ctx;

    why[0] = '\0';
    PC_UINT(a, b, layout);
    PC_UINT(a, b, schema);
    PC_STR(a, b, release);
    PC_UINT(a, b, retry_count);
    PC_UINT(a, b, cert_count);
    PC_UINT(a, b, trust_store_count);
    PC_UINT(a, b, stream_count);
    return pc_certs(c) && pc_retries(c) && pc_trust_stores(c) && pc_streams(c);
}

#endif /* WISP_TEST_POLICY_COMPARE_H */
