/*
 * The policy model: lookups, freeing a loaded policy, and ${slot} templates.
 *
 * This file is linked in every build, static-policy firmware included, so it holds
 * nothing that only the JSON loader needs. A static policy is const data in flash;
 * a loaded one is the same tree on the context heap, marked by p->allocated, and
 * every pointer in it is owned by it (strings, arrays, DER), so freeing is one walk.
 * Entries are few (WISP_POLICY_MAP_MAX), so lookups are linear scans: no index to
 * build, no RAM spent.
 */
#include <stdint.h>
#include <string.h>

#include "policy/policy-internal.h"

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

int wisp__policy_name_ok(const char *s, size_t len)
{
    size_t i;

    if (!s || len == 0 || len > WISP_POLICY_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!name_char(s[i]))
            return 0;
    return 1;
}

int wisp__template_step(const char **s, const char **lit, size_t *lit_len, const char **slot,
                        size_t *slot_len)
{
    const char *p = *s, *open = NULL, *close;

    if (!*p)
        return 0;
    for (; *p; p++) {
        if (p[0] == '$' && p[1] == '{') {
            open = p;
            break;
        }
    }
    *lit = *s;
    *lit_len = (size_t)(p - *s);
    *slot = NULL;
    *slot_len = 0;
    if (!open) {
        *s = p;
        return 1;
    }
    close = strchr(open + 2, '}');
    if (!close) {
        *s = open;
        return WISP_ESYNTAX;
    }
    *slot = open + 2;
    *slot_len = (size_t)(close - (open + 2));
    *s = close + 1;
    return 1;
}

/* ---- Numeric hosts ----
 *
 * getaddrinfo(3) on glibc reads a host as IPv4 whenever inet_aton(3) accepts it, and
 * inet_aton accepts far more than the dotted quad: 1 to 4 parts, each decimal, octal
 * (leading 0) or hex (0x), the last part filling the remaining bytes ("127.1",
 * "2130706433", "0x7f.1", "0177.0.0.1"). Such a host is connected to as an address
 * but would be verified as a DNS name, so wisp refuses every spelling but the
 * canonical one. A host all of whose labels are numbers in that sense is "numeric";
 * one glibc still refuses (an octal 8, a part out of range, five parts) is refused
 * as well, since it could only reach DNS as a name no certificate holds.
 */

static unsigned digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (unsigned)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (unsigned)(c - 'A' + 10);
    return 99;
}

static int hex_prefix(const char *s, size_t n)
{
    return n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

/* A label that looks like a number to inet_aton: digits, or 0x and hex digits. */
static int numeric_label(const char *s, size_t n)
{
    size_t i = hex_prefix(s, n) ? 2 : 0;
    unsigned base = i ? 16 : 10;

    if (!n)
        return 0;
    for (; i < n; i++)
        if (digit_value(s[i]) >= base)
            return 0;
    return 1;
}

/* The label's value as inet_aton reads it; -1 where it refuses (8 or 9 in an octal
 * part, "0x" with no digit, a value past 32 bits). */
static int label_value(const char *s, size_t n, uint32_t *out)
{
    unsigned base = 10, d;
    uint64_t v = 0;
    size_t i = 0;

    if (hex_prefix(s, n)) {
        if (n == 2)
            return -1;
        base = 16;
        i = 2;
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        i = 1;
    }
    for (; i < n; i++) {
        d = digit_value(s[i]);
        if (d >= base)
            return -1;
        v = v * base + d;
        if (v > 0xffffffffu)
            return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int wisp__host_form(const char *s, size_t len, uint32_t *addr)
{
    const char *label[4];
    size_t llen[4], n = 0, i, start = 0;
    uint32_t v[4], a = 0;
    int canonical = 1, dot = 0;

    if (!s)
        return WISP_HOST_NAME;
    if (len && s[len - 1] == '.') { /* "127.0.0.1.": numeric, though no address */
        dot = 1;
        len--;
    }
    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (!numeric_label(s + start, i - start))
            return WISP_HOST_NAME;
        if (n < 4) {
            label[n] = s + start;
            llen[n] = i - start;
        }
        n++;
        start = i + 1;
    }
    if (n > 4 || dot)
        return WISP_HOST_NUMERIC;
    for (i = 0; i < n; i++) {
        if (label_value(label[i], llen[i], &v[i]))
            return WISP_HOST_NUMERIC;
        if (i + 1 < n && v[i] > 255)
            return WISP_HOST_NUMERIC;
        if (llen[i] > 1 && label[i][0] == '0') /* octal, hex or a leading zero */
            canonical = 0;
        if (i + 1 < n)
            a |= v[i] << (24 - 8 * i);
    }
    /* The last part fills the bytes the others left: 32, 24, 16 or 8 bits. */
    if (v[n - 1] > (0xffffffffu >> (8 * (n - 1))))
        return WISP_HOST_NUMERIC;
    a |= v[n - 1];
    if (addr)
        *addr = a;
    return canonical && n == 4 ? WISP_HOST_IPV4 : WISP_HOST_IPV4_ODD;
}

/* ---- Layout stamp ---- */

int wisp__policy_layout_check(wisp_context_t *cx, const wisp_policy_t *p)
{
    if (!p || p->layout == WISP_POLICY_LAYOUT)
        return 0;
    WISP_LOGE(cx,
              "policy: layout %lu, but this library reads layout %lu: regenerate it with this "
              "wisp-policy",
              (unsigned long)p->layout, (unsigned long)WISP_POLICY_LAYOUT);
    return WISP_EPOLICY;
}

/* ---- Lookups ---- */

const void *wisp__policy_find(const void *base, size_t count, size_t stride, const char *name,
                              size_t len)
{
    size_t i;

    if (!base || !name)
        return NULL;
    for (i = 0; i < count; i++) {
        const void *e = (const char *)base + i * stride;
        const char *n = *(const char *const *)e;

        if (n && strlen(n) == len && !memcmp(n, name, len))
            return e;
    }
    return NULL;
}

/* The model's arrays, each of entries that start with their name. */
#define FIND(p, arr, count, name)                                                                  \
    ((p) && (name)                                                                                 \
         ? wisp__policy_find((p)->arr, (p)->count, sizeof(*(p)->arr), name, strlen(name))          \
         : NULL)

const wisp_policy_stream_t *wisp_policy_stream_find(const wisp_policy_t *p, const char *name)
{
    return FIND(p, streams, stream_count, name);
}

const wisp_policy_trust_store_t *wisp_policy_trust_store_find(const wisp_policy_t *p,
                                                              const char *name)
{
    return FIND(p, trust_stores, trust_store_count, name);
}

const wisp_policy_retry_t *wisp_policy_retry_find(const wisp_policy_t *p, const char *name)
{
    return FIND(p, retries, retry_count, name);
}

const wisp_policy_cert_t *wisp_policy_cert_find(const wisp_policy_t *p, const char *name)
{
    return FIND(p, certs, cert_count, name);
}

const wisp_policy_meta_t *wisp_policy_meta_find(const wisp_policy_stream_t *s, const char *name,
                                                size_t len)
{
    return s ? wisp__policy_find(s->metadata, s->metadata_count, sizeof(*s->metadata), name, len)
             : NULL;
}

#define METHOD_NAME(m) #m,
const char *const wisp__policy_method_names[WISP_POLICY_METHOD_COUNT] = {
    WISP_POLICY_METHODS(METHOD_NAME)};

const char *wisp_policy_method_name(wisp_method_t m)
{
    if (m < WISP_METHOD_GET || m >= WISP_METHOD_END_)
        return NULL;
    return wisp__policy_method_names[m - WISP_METHOD_GET];
}

/* ---- Freeing ---- */

/* A static policy lives in flash and is never freed; only the JSON loader makes an
 * allocated one (json-free.c), so a build without it has nothing to free. */
void wisp_policy_free(wisp_context_t *cx, wisp_policy_t **pp)
{
    wisp_policy_t *p;

    if (!pp || !*pp)
        return;
    p = *pp;
    *pp = NULL;
#if WISP_WITH_JSON_POLICY
    if (p->allocated)
        wisp__policy_free_loaded(cx, p);
#else
    (void)cx;
    (void)p;
#endif
}

/* ---- Templates ---- */

typedef struct out_buf {
    char *p;
    size_t size, len;
} out_buf_t;

static int put(out_buf_t *o, const char *s, size_t n)
{
    /* Keep one byte for the terminating NUL. */
    if (n >= o->size - o->len)
        return WISP_ETOOBIG;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return 0;
}

static int unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int put_value(out_buf_t *o, wisp_template_mode_t mode, const char *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char pct[3];
    size_t i;
    int ret;

    if (mode == WISP_TEMPLATE_HEADER || mode == WISP_TEMPLATE_HOST) {
        /* No header injection: a value that could end the header line is refused. */
        for (i = 0; i < n; i++)
            if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
                return WISP_EHEADER;
        return put(o, v, n);
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];

        if (unreserved(c)) {
            ret = put(o, v + i, 1);
        } else {
            pct[0] = '%';
            pct[1] = hex[c >> 4];
            pct[2] = hex[c & 15];
            ret = put(o, pct, 3);
        }
        if (ret)
            return ret;
    }
    return 0;
}

int wisp_policy_template_expand(const char *tmpl, wisp_template_mode_t mode,
                                wisp_policy_slot_cb get, void *user, char *out, size_t out_size,
                                size_t *out_len)
{
    out_buf_t o = {out, out_size, 0};
    const char *lit, *slot, *v;
    size_t lit_len, slot_len, vlen;
    int ret;

    if (out_len)
        *out_len = 0;
    if (!out || !out_size)
        return WISP_EINVAL;
    out[0] = '\0';
    if (!tmpl || !get ||
        (mode != WISP_TEMPLATE_URL && mode != WISP_TEMPLATE_HEADER && mode != WISP_TEMPLATE_HOST))
        return WISP_EINVAL;
    while ((ret = wisp__template_step(&tmpl, &lit, &lit_len, &slot, &slot_len)) == 1) {
        ret = put(&o, lit, lit_len);
        if (ret)
            goto out;
        if (!slot)
            continue;
        v = NULL;
        vlen = 0;
        ret = get(user, slot, slot_len, &v, &vlen);
        if (ret == WISP_ENOTFOUND || (!ret && !v))
            continue; /* an unset slot expands to nothing */
        if (ret)
            goto out;
        ret = put_value(&o, mode, v, vlen);
        if (ret)
            goto out;
    }
    if (ret == WISP_ESYNTAX)
        ret = WISP_EINVAL;
    /* The whole result, literal text included: "127.${x}" with x = "1" is "127.1". */
    if (!ret && mode == WISP_TEMPLATE_HOST && wisp__host_form(o.p, o.len, NULL) > WISP_HOST_IPV4)
        ret = WISP_EINVAL;
out:
    o.p[o.len] = '\0';
    if (ret) {
        out[0] = '\0';
        return ret;
    }
    if (out_len)
        *out_len = o.len;
    return 0;
}
