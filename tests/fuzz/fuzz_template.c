/*
 * Fuzz target: ${slot} templates (wisp_policy_template_expand, lib/policy/policy.c)
 * and the numeric-host test behind WISP_TEMPLATE_HOST (wisp__host_form).
 *
 * Input: byte 0 picks the mode (% 3) and the output cap (bits 2-7: 1..64, or 1024
 * when 0); then the template up to the first NUL; then slot values, each a length
 * byte (0xff: unset) and that many bytes. Slot "name" takes value number
 * (sum of its bytes) % count; with no values every slot is unset.
 *
 * A reference expander written here from the header's contract (literal text as is;
 * URL mode percent-encodes all but A-Z a-z 0-9 - . _ ~ with upper-case hex; header
 * and host modes refuse a value holding CR, LF or NUL; ETOOBIG past the cap, NUL
 * included) must agree with wisp on the result code and the bytes. Then:
 *   - out is NUL-terminated, out_len is its length, and a failure leaves it empty;
 *   - in URL mode the bytes that came from slot values hold no CR, LF, NUL or space
 *     and are only unreserved characters or %XX; percent-decoding the output gives
 *     back the literal text and the raw values (when the literals hold no '%');
 *   - in header and host modes the output holds no CR, LF or NUL unless a literal did;
 *   - WISP_TEMPLATE_HOST refuses exactly the results wisp__host_form() puts above
 *     WISP_HOST_IPV4, and wisp__host_form() agrees with glibc's inet_aton(3): a host
 *     inet_aton reads as an address is IPV4 (canonical dotted quad) or IPV4_ODD with
 *     the same address, and one it refuses is neither.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy-internal.h"
#include "wisp/error.h"
#include "wisp/policy.h"

#define VALUES_MAX 16
#define OUT_MAX 1024

typedef struct vals {
    const char *v[VALUES_MAX];
    size_t len[VALUES_MAX];
    unsigned n;
} vals_t;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_template: %s\n", what);
        abort();
    }
}

static int lookup(const vals_t *vs, const char *name, size_t name_len, const char **v, size_t *len)
{
    unsigned sum = 0;
    size_t i;

    if (!vs->n)
        return WISP_ENOTFOUND;
    for (i = 0; i < name_len; i++)
        sum += (unsigned char)name[i];
    *v = vs->v[sum % vs->n];
    *len = vs->len[sum % vs->n];
    return 0;
}

static int get(void *user, const char *name, size_t name_len, const char **value, size_t *len)
{
    return lookup(user, name, name_len, value, len);
}

static int unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* The reference expander. mark[i] is 1 where out[i] came from a slot value. */
static int ref_expand(const char *t, int mode, const vals_t *vs, char *out, uint8_t *mark,
                      size_t cap, size_t *out_len)
{
    size_t o = 0, i;

#define PUT(c, m)                                                                                  \
    do {                                                                                           \
        if (o + 1 >= cap)                                                                          \
            return WISP_ETOOBIG;                                                                   \
        mark[o] = (m);                                                                             \
        out[o++] = (char)(c);                                                                      \
    } while (0)
    while (*t) {
        const char *open = strstr(t, "${"), *close, *v = NULL;
        size_t vlen = 0;

        /* A "${" with no '}' after it is refused before the literal before it is
         * copied (so EINVAL wins over an ETOOBIG that literal would cause). */
        if (open && !strchr(open + 2, '}'))
            return WISP_EINVAL;
        if (t != open) {
            PUT(*t, 0);
            t++;
            continue;
        }
        close = strchr(t + 2, '}');
        if (lookup(vs, t + 2, (size_t)(close - t - 2), &v, &vlen) || !v)
            vlen = 0;
        t = close + 1;
        if (mode != WISP_TEMPLATE_URL) {
            for (i = 0; i < vlen; i++)
                if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
                    return WISP_EHEADER;
        }
        for (i = 0; i < vlen; i++) {
            unsigned char c = (unsigned char)v[i];

            if (mode != WISP_TEMPLATE_URL || unreserved(c)) {
                PUT(c, 1);
            } else {
                PUT('%', 1);
                PUT("0123456789ABCDEF"[c >> 4], 1);
                PUT("0123456789ABCDEF"[c & 15], 1);
            }
        }
    }
#undef PUT
    out[o] = '\0';
    *out_len = o;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode out and compare it with the literals and raw values, in order. */
static void check_decodes(const char *t, const vals_t *vs, const char *out, size_t len)
{
    static char want[OUT_MAX * 4], got[OUT_MAX];
    size_t w = 0, g = 0, i;

    if (strchr(t, '%'))
        return;
    while (*t) {
        const char *close, *v = NULL;
        size_t vlen = 0;

        if (!(t[0] == '$' && t[1] == '{')) {
            want[w++] = *t++;
            continue;
        }
        close = strchr(t + 2, '}');
        if (lookup(vs, t + 2, (size_t)(close - t - 2), &v, &vlen) || !v)
            vlen = 0;
        if (vlen)
            memcpy(want + w, v, vlen);
        w += vlen;
        t = close + 1;
    }
    for (i = 0; i < len; i++) {
        if (out[i] == '%') {
            check(i + 2 < len + 1 && hexval(out[i + 1]) >= 0 && hexval(out[i + 2]) >= 0,
                  "a '%' not followed by two upper-case hex digits");
            got[g++] = (char)(hexval(out[i + 1]) * 16 + hexval(out[i + 2]));
            i += 2;
        } else {
            got[g++] = out[i];
        }
    }
    check(g == w && !memcmp(got, want, g), "percent-decoding does not give the values back");
}

/* wisp__host_form against inet_aton on one host string. */
static void check_host_form(const char *h, size_t len)
{
    struct in_addr in;
    uint32_t addr = 0;
    int form = wisp__host_form(h, len, &addr), aton;
    size_t i;

    for (i = 0; i < len; i++)
        if (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r' || h[i] == '\v' ||
            h[i] == '\f' || h[i] == '\0')
            return; /* inet_aton stops at white space; getaddrinfo does not */
    aton = inet_aton(h, &in);
    if (aton) {
        check(form == WISP_HOST_IPV4 || form == WISP_HOST_IPV4_ODD,
              "inet_aton reads it as an address, wisp__host_form does not");
        check(addr == ntohl(in.s_addr), "wisp__host_form and inet_aton read different addresses");
        if (form == WISP_HOST_IPV4) {
            char canon[INET_ADDRSTRLEN];

            check(inet_ntop(AF_INET, &in, canon, sizeof(canon)) && strlen(canon) == len &&
                      !memcmp(canon, h, len),
                  "WISP_HOST_IPV4 for a spelling that is not the dotted quad");
        }
    } else {
        check(form != WISP_HOST_IPV4 && form != WISP_HOST_IPV4_ODD,
              "wisp__host_form reads an address inet_aton refuses");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char tmpl[OUT_MAX * 2], out[OUT_MAX + 1], ref[OUT_MAX + 1];
    static uint8_t mark[OUT_MAX + 1];
    const uint8_t *nul, *p, *end = data + size;
    size_t tlen, cap, out_len = 7, ref_len = 0, i;
    int mode, ret, want;
    vals_t vs;

    if (size < 1)
        return 0;
    mode = WISP_TEMPLATE_URL + data[0] % 3;
    cap = (data[0] >> 2) ? (size_t)(data[0] >> 2) : OUT_MAX;
    nul = memchr(data + 1, 0, size - 1);
    tlen = (size_t)((nul ? nul : end) - (data + 1));
    if (tlen >= sizeof(tmpl))
        return 0;
    memcpy(tmpl, data + 1, tlen);
    tmpl[tlen] = '\0';
    memset(&vs, 0, sizeof(vs));
    for (p = nul ? nul + 1 : end; p < end && vs.n < VALUES_MAX;) {
        size_t n = *p++;

        if (n == 0xff) {
            vs.v[vs.n] = NULL;
            vs.len[vs.n++] = 0;
            continue;
        }
        n = n < (size_t)(end - p) ? n : (size_t)(end - p);
        vs.v[vs.n] = (const char *)p;
        vs.len[vs.n++] = n;
        p += n;
    }

    memset(out, 'X', sizeof(out));
    ret =
        wisp_policy_template_expand(tmpl, (wisp_template_mode_t)mode, get, &vs, out, cap, &out_len);
    want = ref_expand(tmpl, mode, &vs, ref, mark, cap, &ref_len);
    if (!want && mode == WISP_TEMPLATE_HOST && wisp__host_form(ref, ref_len, NULL) > WISP_HOST_IPV4)
        want = WISP_EINVAL;
    if (ret != want) {
        fprintf(stderr, "fuzz_template: mode %d cap %zu: wisp %s, reference %s\n", mode, cap,
                wisp_errname(ret), wisp_errname(want));
        abort();
    }
    check(memchr(out, '\0', cap) != NULL, "output not NUL-terminated within the cap");
    if (ret) {
        check(out[0] == '\0' && out_len == 0, "a failed expansion left output behind");
        return 0;
    }
    check(out_len == strlen(out) && out_len < cap, "out_len is not the output's length");
    check(out_len == ref_len && !memcmp(out, ref, out_len), "output differs from the reference");
    for (i = 0; i < out_len; i++) {
        unsigned char c = (unsigned char)out[i];

        if (!mark[i])
            continue;
        if (mode == WISP_TEMPLATE_URL)
            check(unreserved(c) || c == '%' || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9'),
                  "a slot value in a URL left a reserved character unencoded");
        else
            check(c != '\r' && c != '\n', "a slot value put CR or LF into a header or host");
    }
    if (mode == WISP_TEMPLATE_URL)
        check_decodes(tmpl, &vs, out, out_len);
    check_host_form(tmpl, tlen);
    if (mode == WISP_TEMPLATE_HOST)
        check_host_form(out, out_len);
    return 0;
}
