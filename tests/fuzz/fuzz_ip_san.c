/*
 * Fuzz target: the iPAddress subjectAltName matcher of lib/tls/tls.c
 * (wisp__tls_ext_has_ip: mbedTLS 2.28 cannot match IP SANs, so wisp walks the DER).
 *
 * Input: byte 0 bit 0 picks the peer's family (0: IPv4, 1: IPv6); bytes 1..16 are
 * the peer address (IPv4 uses the first 4); the rest is a certificate's extensions
 * as mbedTLS keeps them (crt->v3_ext: the Extensions SEQUENCE).
 *
 * Three checks on every input:
 *   1. the matcher runs on exactly the input bytes (an exact-size copy: ASan sees
 *      any read past them) and answers 0 or 1;
 *   2. a strict reference written here — full DER, every length checked against its
 *      parent, critical flag only as a one-byte BOOLEAN, the SAN's OCTET STRING and
 *      GeneralNames filling their parents exactly — agrees with wisp whenever the
 *      reference finds the extensions well formed;
 *   3. differentially, the extensions are put into a real certificate (the TBS of
 *      tests/certs/server.pem with its extensions replaced; the signature is not
 *      checked by parsing) and parsed by mbedTLS; when mbedTLS accepts it, wisp's
 *      answer on the parsed crt->v3_ext must equal "an iPAddress entry of
 *      crt->subject_alt_names equals the peer".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/x509_crt.h>

#include "tls/tls-internal.h"

#ifndef WISP_TEST_CERTS
#error "WISP_TEST_CERTS must name tests/certs"
#endif

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_ip_san: %s\n", what);
        abort();
    }
}

/* ---- The strict reference ---- */

typedef struct der {
    const uint8_t *p, *end;
} der_t;

/* One TLV: its tag, and its contents in *in. -1 if malformed. */
static int tlv(der_t *d, uint8_t *tag, der_t *in)
{
    size_t len = 0, n, i;

    if (d->end - d->p < 2)
        return -1;
    *tag = *d->p++;
    if ((*tag & 0x1f) == 0x1f)
        return -1; /* high tag numbers: nothing in a SAN uses them */
    if (*d->p < 0x80) {
        len = *d->p++;
    } else {
        n = *d->p++ & 0x7f;
        if (n == 0 || n > sizeof(size_t) || (size_t)(d->end - d->p) < n)
            return -1;
        for (i = 0; i < n; i++)
            len = (len << 8) | *d->p++;
    }
    if ((size_t)(d->end - d->p) < len)
        return -1;
    in->p = d->p;
    in->end = d->p + len;
    d->p += len;
    return 0;
}

/* 1: match, 0: no match, -1: not well formed. */
static int ref_has_ip(const uint8_t *ext, size_t len, const uint8_t *ip, size_t iplen)
{
    static const uint8_t san_oid[] = {0x55, 0x1d, 0x11};
    der_t all = {ext, ext + len}, seq, e, f;
    uint8_t tag;
    int seen = 0, found = 0;

    if (len && ext[0] == 0xa3) {
        if (tlv(&all, &tag, &seq) || all.p != all.end)
            return -1;
        all = seq;
    }
    if (tlv(&all, &tag, &seq) || tag != 0x30 || all.p != all.end)
        return -1;
    while (seq.p < seq.end) {
        der_t oid, val, names, gn;

        if (tlv(&seq, &tag, &e) || tag != 0x30 || tlv(&e, &tag, &oid) || tag != 0x06)
            return -1;
        f = e;
        if (tlv(&f, &tag, &val))
            return -1;
        if (tag == 0x01) {
            if (val.end - val.p != 1)
                return -1;
            e = f;
        }
        if (tlv(&e, &tag, &val) || tag != 0x04 || e.p != e.end)
            return -1;
        if (oid.end - oid.p != 3 || memcmp(oid.p, san_oid, 3) || seen)
            continue;
        seen = 1; /* wisp reads the first subjectAltName only */
        if (tlv(&val, &tag, &names) || tag != 0x30 || val.p != val.end)
            return -1;
        while (names.p < names.end) {
            if (tlv(&names, &tag, &gn))
                return -1;
            if (tag == 0x87 && (size_t)(gn.end - gn.p) == iplen && !memcmp(gn.p, ip, iplen))
                found = 1;
        }
    }
    return found;
}

/* ---- A certificate around the extensions ---- */

static uint8_t tbs_head[2048], outer_tail[1024];
static size_t tbs_head_len, outer_tail_len;

static size_t put_len(uint8_t *o, size_t len)
{
    if (len < 0x80) {
        o[0] = (uint8_t)len;
        return 1;
    }
    if (len < 0x100) {
        o[0] = 0x81;
        o[1] = (uint8_t)len;
        return 2;
    }
    if (len < 0x10000) {
        o[0] = 0x82;
        o[1] = (uint8_t)(len >> 8);
        o[2] = (uint8_t)len;
        return 3;
    }
    o[0] = 0x83;
    o[1] = (uint8_t)(len >> 16);
    o[2] = (uint8_t)(len >> 8);
    o[3] = (uint8_t)len;
    return 4;
}

/* Split tests/certs/server.pem into the TBS fields before [3] and the outer
 * signature algorithm and value. */
static void load_template(void)
{
    mbedtls_x509_crt crt;
    der_t d, cert, tbs, field;
    uint8_t tag;
    const uint8_t *tbs_start;

    mbedtls_x509_crt_init(&crt);
    check(mbedtls_x509_crt_parse_file(&crt, WISP_TEST_CERTS "/server.pem") == 0,
          "cannot read tests/certs/server.pem");
    d.p = crt.raw.p;
    d.end = crt.raw.p + crt.raw.len;
    check(!tlv(&d, &tag, &cert) && !tlv(&cert, &tag, &tbs), "server.pem: bad DER");
    memcpy(outer_tail, cert.p, (size_t)(cert.end - cert.p));
    outer_tail_len = (size_t)(cert.end - cert.p);
    tbs_start = tbs.p;
    while (tbs.p < tbs.end) {
        const uint8_t *at = tbs.p;

        check(!tlv(&tbs, &tag, &field), "server.pem: bad TBS");
        if (tag == 0xa3) {
            tbs.p = at;
            break;
        }
    }
    tbs_head_len = (size_t)(tbs.p - tbs_start);
    check(tbs_head_len <= sizeof(tbs_head), "server.pem: TBS too big");
    memcpy(tbs_head, tbs_start, tbs_head_len);
    mbedtls_x509_crt_free(&crt);
}

static size_t build_cert(uint8_t *o, const uint8_t *ext, size_t ext_len)
{
    static uint8_t tbs[70000];
    size_t t = 0, n = 0;

    memcpy(tbs, tbs_head, tbs_head_len);
    t = tbs_head_len;
    tbs[t++] = 0xa3;
    t += put_len(tbs + t, ext_len);
    memcpy(tbs + t, ext, ext_len);
    t += ext_len;
    o[n++] = 0x30;
    n += put_len(o + n, 1 + 4 + t + outer_tail_len);
    o[n++] = 0x30;
    n += put_len(o + n, t);
    memcpy(o + n, tbs, t);
    n += t;
    memcpy(o + n, outer_tail, outer_tail_len);
    return n + outer_tail_len;
}

static int list_has_ip(const mbedtls_x509_crt *crt, const uint8_t *ip, size_t iplen)
{
    const mbedtls_x509_sequence *s;

    for (s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
        if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && s->buf.len == iplen &&
            !memcmp(s->buf.p, ip, iplen))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t cert[70000 + 4096];
    wisp_addr_t ip;
    mbedtls_x509_crt crt;
    const uint8_t *ext;
    uint8_t *copy;
    size_t ext_len, iplen, n;
    int got, ref;

    if (size < 17 || size - 17 > 60000)
        return 0;
    if (!tbs_head_len)
        load_template();
    memset(&ip, 0, sizeof(ip));
    ip.family = (data[0] & 1) ? 6 : 4;
    iplen = ip.family == 4 ? 4 : 16;
    memcpy(ip.ip, data + 1, 16);
    ext = data + 17;
    ext_len = size - 17;

    copy = malloc(ext_len ? ext_len : 1);
    check(copy != NULL, "out of memory");
    memcpy(copy, ext, ext_len);
    got = wisp__tls_ext_has_ip(copy, ext_len, &ip);
    free(copy);
    check(got == 0 || got == 1, "matcher answered neither 0 nor 1");
    ref = ref_has_ip(ext, ext_len, ip.ip, iplen);
    if (ref >= 0 && ref != got) {
        fprintf(stderr, "fuzz_ip_san: wisp %d, reference %d on well-formed extensions\n", got, ref);
        abort();
    }

    n = build_cert(cert, ext, ext_len);
    mbedtls_x509_crt_init(&crt);
    if (mbedtls_x509_crt_parse_der(&crt, cert, n) == 0) {
        int want = list_has_ip(&crt, ip.ip, iplen);

        got = wisp__tls_ext_has_ip(crt.v3_ext.p, crt.v3_ext.len, &ip);
        if (got != want) {
            fprintf(stderr, "fuzz_ip_san: wisp %d, mbedTLS's SAN list %d\n", got, want);
            abort();
        }
    }
    mbedtls_x509_crt_free(&crt);
    return 0;
}
