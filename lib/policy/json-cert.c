/*
 * Certificates of a JSON policy: PEM or bare base64 in, DER out.
 *
 * A policy stores certificates and keys as DER only, so a static policy (DER arrays
 * in flash) and a loaded one are the same model. The conversion happens here, once,
 * at load time, and in place: base64 never grows, so the DER overwrites the text it
 * came from. This file is JSON-only (static policies are DER already) and is dropped
 * with WISP_WITH_JSON_POLICY=OFF.
 *
 * wisp/policy depends on nothing but core, so it does not call Mbed TLS to parse the
 * result. Instead it checks the DER structure: a definite-length SEQUENCE spanning
 * the whole input, every constructed element inside well formed (a bounded walk,
 * WISP_DER_DEPTH_MAX deep). That catches truncated, padded and corrupted input with
 * a message pointing at the policy; the TLS glue still parses the DER for real when
 * a vhost is created. The first element inside the SEQUENCE tells a certificate
 * (tbsCertificate, a SEQUENCE) from a private key (a version INTEGER: PKCS#8, SEC1
 * or PKCS#1).
 */
#include <string.h>

#include "policy/policy-internal.h"

/* X.509 certificates nest about 7 levels (Certificate, tbs, extensions, ...). */
#define WISP_DER_DEPTH_MAX 12

static const char pem_begin[] = "-----BEGIN ";
static const char pem_end[] = "-----END ";
static const char pem_dashes[] = "-----";

static int space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode base64 text to out, skipping whitespace. out may alias in at the same or a
 * lower address: each quad is read before its (shorter) output is written. */
static int b64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len,
                      const char **why)
{
    uint32_t acc = 0;
    size_t i, o = 0, k = 0, pad = 0;
    int v;

    for (i = 0; i < n; i++) {
        if (space(in[i]))
            continue;
        if (in[i] == '=') {
            v = 0;
            pad++;
        } else {
            v = b64_value(in[i]);
            if (v < 0 || pad) {
                *why = v < 0 ? "invalid base64 character" : "base64 data after '=' padding";
                return WISP_ECERTPARSE;
            }
        }
        acc = acc << 6 | (uint32_t)v;
        if (++k < 4)
            continue;
        if (pad > 2) {
            *why = "invalid base64 padding";
            return WISP_ECERTPARSE;
        }
        out[o++] = (unsigned char)(acc >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(acc >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)acc;
        acc = 0;
        k = 0;
    }
    if (k) {
        *why = "base64 length is not a multiple of 4";
        return WISP_ECERTPARSE;
    }
    *out_len = o;
    return 0;
}

/* One DER tag and length at p: *hdr bytes of header, *len bytes of contents. */
static int der_header(const unsigned char *p, size_t n, size_t *hdr, size_t *len)
{
    size_t i = 1, l, nb;

    if (n < 2)
        return -1;
    if ((p[0] & 0x1F) == 0x1F) { /* high tag number: base-128 bytes follow */
        do {
            if (i >= n)
                return -1;
        } while (p[i++] & 0x80);
    }
    if (i >= n)
        return -1;
    l = p[i++];
    if (l == 0x80) /* indefinite length: BER, never DER */
        return -1;
    if (l & 0x80) {
        nb = l & 0x7F;
        if (nb > 3 || nb > n - i)
            return -1;
        for (l = 0; nb; nb--)
            l = l << 8 | p[i++];
    }
    if (l > n - i)
        return -1;
    *hdr = i;
    *len = l;
    return 0;
}

/* Every element of p[0..n) well formed, constructed ones recursively (bounded). */
static int der_walk(const unsigned char *p, size_t n, int depth)
{
    size_t hdr, len;

    while (n) {
        if (der_header(p, n, &hdr, &len))
            return -1;
        if (p[0] & 0x20) {
            if (depth >= WISP_DER_DEPTH_MAX || der_walk(p + hdr, len, depth + 1))
                return -1;
        }
        p += hdr + len;
        n -= hdr + len;
    }
    return 0;
}

static int der_check(const unsigned char *der, size_t n, wisp_cert_kind_t *kind, const char **why)
{
    size_t hdr, len;

    if (der_header(der, n, &hdr, &len) || der[0] != 0x30 || hdr + len != n ||
        der_walk(der + hdr, len, 1)) {
        *why = "malformed DER (truncated, corrupted or not a DER SEQUENCE)";
        return WISP_ECERTPARSE;
    }
    if (len && der[hdr] == 0x30) {
        *kind = WISP_CERT_X509;
    } else if (len && der[hdr] == 0x02) {
        *kind = WISP_CERT_KEY;
    } else {
        *why = "DER holds neither a certificate nor a private key";
        return WISP_ECERTPARSE;
    }
    return 0;
}

static const char *find(const char *s, size_t n, const char *what)
{
    size_t w = strlen(what), i;

    for (i = 0; i + w <= n; i++)
        if (!memcmp(s + i, what, w))
            return s + i;
    return NULL;
}

/* Locate the base64 body of the single PEM block in s[0..n), which starts with
 * "-----BEGIN ", and the kind its label announces. */
static int pem_body(const char *s, size_t n, const char **body, size_t *body_len,
                    wisp_cert_kind_t *kind, const char **why)
{
    const char *label = s + sizeof(pem_begin) - 1, *end = s + n, *p, *e;
    size_t label_len;

    p = find(label, (size_t)(end - label), pem_dashes);
    if (!p) {
        *why = "PEM header line is not closed by \"-----\"";
        return WISP_ECERTPARSE;
    }
    label_len = (size_t)(p - label);
    if (label_len == 11 && !memcmp(label, "CERTIFICATE", 11)) {
        *kind = WISP_CERT_X509;
    } else if ((label_len == 11 && !memcmp(label, "PRIVATE KEY", 11)) ||
               (label_len == 14 && !memcmp(label, "EC PRIVATE KEY", 14)) ||
               (label_len == 15 && !memcmp(label, "RSA PRIVATE KEY", 15))) {
        *kind = WISP_CERT_KEY;
    } else if (label_len == 21 && !memcmp(label, "ENCRYPTED PRIVATE KEY", 21)) {
        *why = "encrypted private keys are not supported";
        return WISP_ECERTPARSE;
    } else {
        *why = "unsupported PEM type (expected CERTIFICATE or a PRIVATE KEY)";
        return WISP_ECERTPARSE;
    }
    *body = p + sizeof(pem_dashes) - 1;
    e = find(*body, (size_t)(end - *body), pem_end);
    if (!e) {
        *why = "PEM block has no \"-----END\" line";
        return WISP_ECERTPARSE;
    }
    *body_len = (size_t)(e - *body);
    if (memchr(*body, ':', *body_len)) {
        *why = "PEM headers (encrypted PEM) are not supported";
        return WISP_ECERTPARSE;
    }
    /* The END line must repeat the label, and nothing may follow it. */
    e += sizeof(pem_end) - 1;
    if ((size_t)(end - e) != label_len + sizeof(pem_dashes) - 1 || memcmp(e, label, label_len) ||
        memcmp(e + label_len, pem_dashes, 5)) {
        if (find(e, (size_t)(end - e), pem_begin))
            *why = "more than one PEM block (one certificate or key per entry)";
        else
            *why = "PEM END line does not match its BEGIN line";
        return WISP_ECERTPARSE;
    }
    return 0;
}

int wisp__cert_decode(char *buf, size_t *len, wisp_cert_kind_t *kind, const char **why)
{
    const char *s = buf, *body;
    size_t n = *len, body_len, der_len;
    wisp_cert_kind_t pem_kind = (wisp_cert_kind_t)0;
    int ret;

    if (!buf || !n) {
        *why = "empty certificate";
        return WISP_ECERTPARSE;
    }
    while (n && space(*s)) {
        s++;
        n--;
    }
    while (n && space(s[n - 1]))
        n--;
    if (n >= sizeof(pem_begin) - 1 && !memcmp(s, pem_begin, sizeof(pem_begin) - 1)) {
        ret = pem_body(s, n, &body, &body_len, &pem_kind, why);
        if (ret)
            return ret;
    } else {
        body = s;
        body_len = n;
    }
    ret = b64_decode(body, body_len, (unsigned char *)buf, &der_len, why);
    if (ret)
        return ret;
    if (der_len == 0) {
        *why = "empty certificate";
        return WISP_ECERTPARSE;
    }
    if (der_len > WISP_POLICY_DER_MAX)
        return WISP_ETOOBIG;
    ret = der_check((const unsigned char *)buf, der_len, kind, why);
    if (ret)
        return ret;
    if (pem_kind && pem_kind != *kind) {
        *why = "PEM type does not match its contents";
        return WISP_ECERTPARSE;
    }
    *len = der_len;
    return 0;
}
