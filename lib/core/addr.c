/*
 * Numeric address parsing and formatting, written here rather than taken from the
 * OS so the core stays portable (lwIP builds may lack inet_pton).
 * IPv4: dotted quad, each part 0..255 in decimal. IPv6: RFC 4291 text form with
 * "::" compression and an optional trailing dotted quad; brackets are accepted.
 */
#include <stdio.h>
#include <string.h>

#include "wisp/plat.h"
#include "wisp/error.h"

static int parse_v4(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;
    int part;

    for (part = 0; part < 4; part++) {
        unsigned v = 0, digits = 0;

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (unsigned)(s[i++] - '0');
            if (++digits > 3 || v > 255)
                return WISP_EINVAL;
        }
        if (!digits)
            return WISP_EINVAL;
        out[part] = (uint8_t)v;
        if (part < 3 && (i >= len || s[i++] != '.'))
            return WISP_EINVAL;
    }
    return i == len ? 0 : WISP_EINVAL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_v6(const char *s, size_t len, uint8_t out[16])
{
    uint8_t buf[16];
    size_t i = 0, n = 0;
    int gap = -1;

    memset(buf, 0, sizeof(buf));
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    } else if (len && s[0] == ':') {
        return WISP_EINVAL;
    }
    while (i < len) {
        size_t start = i;
        unsigned v = 0;
        int d;

        while (i < len && i - start < 5 && (d = hexval(s[i])) >= 0) {
            v = (v << 4) | (unsigned)d;
            i++;
        }
        if (i < len && s[i] == '.') {
            /* Embedded IPv4 in the last 32 bits. */
            if (n > 12 || parse_v4(s + start, len - start, buf + n))
                return WISP_EINVAL;
            n += 4;
            i = len;
            break;
        }
        if (i == start || i - start > 4 || n > 14) /* n is even: room for 2 more */
            return WISP_EINVAL;
        buf[n++] = (uint8_t)(v >> 8);
        buf[n++] = (uint8_t)v;
        if (i == len)
            break;
        if (s[i++] != ':')
            return WISP_EINVAL;
        if (i < len && s[i] == ':') {
            if (gap >= 0)
                return WISP_EINVAL;
            gap = (int)n;
            i++;
        } else if (i == len) {
            return WISP_EINVAL; /* trailing single ':' */
        }
    }
    if (gap >= 0) {
        size_t tail = n - (size_t)gap;

        if (n >= 16)
            return WISP_EINVAL;
        memmove(buf + 16 - tail, buf + gap, tail);
        memset(buf + gap, 0, 16 - tail - (size_t)gap);
    } else if (n != 16) {
        return WISP_EINVAL;
    }
    memcpy(out, buf, 16);
    return 0;
}

int wisp_addr_parse(const char *host, uint16_t port, wisp_addr_t *out)
{
    size_t len;

    if (!host || !out)
        return WISP_EINVAL;
    len = strlen(host);
    memset(out, 0, sizeof(*out));
    out->port = port;
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
        out->family = 6;
        return parse_v6(host, len, out->ip);
    }
    if (memchr(host, ':', len)) {
        out->family = 6;
        return parse_v6(host, len, out->ip);
    }
    out->family = 4;
    return parse_v4(host, len, out->ip);
}

const char *wisp_addr_str(const wisp_addr_t *a, char *buf, size_t len)
{
    size_t off = 0;
    int i, best = -1, bestlen = 0, run = 0;

    if (!buf || !len)
        return buf;
    buf[0] = '\0';
    if (!a)
        return buf;
    if (a->family == 4) {
        snprintf(buf, len, "%u.%u.%u.%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3]);
        return buf;
    }
    /* Longest run of zero groups (of two or more) becomes "::". */
    for (i = 0; i < 8; i++) {
        if (!a->ip[2 * i] && !a->ip[2 * i + 1]) {
            if (++run > bestlen && run > 1) {
                bestlen = run;
                best = i - run + 1;
            }
        } else {
            run = 0;
        }
    }
    for (i = 0; i < 8 && off < len; i++) {
        int w;

        if (i == best) {
            w = snprintf(buf + off, len - off, "::");
            i += bestlen - 1;
        } else {
            w = snprintf(buf + off, len - off, "%s%x", (i && i != best + bestlen) ? ":" : "",
                         (unsigned)(a->ip[2 * i] << 8 | a->ip[2 * i + 1]));
        }
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}
