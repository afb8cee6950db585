/*
 * The HTTP/1.1 head builder shared by the request writer (client-write.c) and the
 * response writer (server-write.c): bounded appends with a sticky error, header
 * fields, body framing fields, and chunk framing.
 *
 * Invariants: w->len <= w->cap always; once w->err is set nothing more is written and
 * every call returns it. A header is never written unless all of it was checked
 * first, so a refused value cannot leave half a field behind for a caller that
 * ignores the error and sends the buffer anyway (it would still lack the final
 * empty line, which only a healthy wisp__h1_out_end() writes).
 *
 * Numbers are formatted here rather than with snprintf: "%llu" is missing from some
 * embedded C libraries (newlib-nano), and the two loops are smaller than the call.
 */
#include <string.h>

#include "http1/engine.h"

void wisp__h1_out_init(wisp__h1_out_t *w, void *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf != NULL ? cap : 0;
    w->len = 0;
    w->err = 0;
    w->framed = 0;
}

int wisp__h1_out_fail(wisp__h1_out_t *w, int err)
{
    if (w->err == 0)
        w->err = err;
    return w->err;
}

int wisp__h1_out_put(wisp__h1_out_t *w, const void *data, size_t len)
{
    if (w->err != 0)
        return w->err;
    if (len > w->cap - w->len)
        return wisp__h1_out_fail(w, WISP_ETOOBIG);
    if (len > 0)
        memcpy(w->buf + w->len, data, len);
    w->len += len;
    return 0;
}

int wisp__h1_out_u64(wisp__h1_out_t *w, uint64_t v)
{
    char tmp[20]; /* UINT64_MAX has 20 digits */
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return wisp__h1_out_put(w, tmp + i, sizeof(tmp) - i);
}

int wisp__h1_value_check(const char *v, size_t n)
{
    size_t i;

    /* RFC 9110 5.5: field values hold no control characters but TAB. CR and LF would
     * end the field early and let the value write fields (or a body) of its own. */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return WISP_EHEADER;
    }
    return 0;
}

static int put_field(wisp__h1_out_t *w, const char *name, size_t name_len, const char *v,
                     size_t v_len)
{
    wisp__h1_out_put(w, name, name_len);
    wisp__h1_out_put(w, ": ", 2);
    wisp__h1_out_put(w, v, v_len);
    return wisp__h1_out_put(w, "\r\n", 2);
}

int wisp__h1_out_header(wisp__h1_out_t *w, const char *name, size_t name_len, const char *value,
                        size_t value_len)
{
    size_t i;
    int ret;

    if (w->err != 0)
        return w->err;
    if (name == NULL || name_len == 0 || (value == NULL && value_len > 0))
        return wisp__h1_out_fail(w, WISP_EINVAL);
    for (i = 0; i < name_len; i++)
        if (!wisp__is_tchar((unsigned char)name[i]))
            return wisp__h1_out_fail(w, WISP_EINVAL);
    /* The framing fields come only from the functions that own them: a second copy
     * from a policy or an application would decide where the message ends. */
    if (wisp__h1_name_eq(name, name_len, "content-length") ||
        wisp__h1_name_eq(name, name_len, "transfer-encoding") ||
        wisp__h1_name_eq(name, name_len, "host"))
        return wisp__h1_out_fail(w, WISP_EINVAL);
    ret = wisp__h1_value_check(value, value_len);
    if (ret != 0)
        return wisp__h1_out_fail(w, ret);
    return put_field(w, name, name_len, value != NULL ? value : "", value_len);
}

static int framing(wisp__h1_out_t *w)
{
    if (w->err == 0 && w->framed)
        return wisp__h1_out_fail(w, WISP_EINVAL);
    w->framed = 1;
    return w->err;
}

int wisp__h1_out_content_length(wisp__h1_out_t *w, uint64_t n)
{
    if (framing(w) != 0)
        return w->err;
    wisp__h1_out_put(w, "Content-Length: ", 16);
    wisp__h1_out_u64(w, n);
    return wisp__h1_out_put(w, "\r\n", 2);
}

int wisp__h1_out_chunked(wisp__h1_out_t *w)
{
    if (framing(w) != 0)
        return w->err;
    return wisp__h1_out_put(w, "Transfer-Encoding: chunked\r\n", 28);
}

int wisp__h1_out_close(wisp__h1_out_t *w)
{
    return wisp__h1_out_put(w, "Connection: close\r\n", 19);
}

int wisp__h1_out_end(wisp__h1_out_t *w, size_t *len)
{
    int ret = wisp__h1_out_put(w, "\r\n", 2);

    if (ret == 0 && len != NULL)
        *len = w->len;
    return ret;
}

/* ---- Chunk framing ---------------------------------------------------------------- */

int wisp__h1_chunk_header(uint8_t *buf, size_t cap, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[WISP_H1_CHUNK_HEADER_MAX];
    size_t i = sizeof(tmp) - 2;

    if (buf == NULL || len == 0)
        return WISP_EINVAL;
    tmp[sizeof(tmp) - 2] = '\r';
    tmp[sizeof(tmp) - 1] = '\n';
    do {
        tmp[--i] = hex[len & 0xf];
        len >>= 4;
    } while (len != 0);
    if (sizeof(tmp) - i > cap)
        return WISP_ETOOBIG;
    memcpy(buf, tmp + i, sizeof(tmp) - i);
    return (int)(sizeof(tmp) - i);
}

int wisp__h1_chunk_last(uint8_t *buf, size_t cap)
{
    if (buf == NULL)
        return WISP_EINVAL;
    if (cap < WISP_H1_CHUNK_LAST_LEN)
        return WISP_ETOOBIG;
    memcpy(buf, "0\r\n\r\n", WISP_H1_CHUNK_LAST_LEN);
    return WISP_H1_CHUNK_LAST_LEN;
}

int wisp__h1_piece_frame(uint8_t *buf, size_t cap, size_t len, int eom, int chunked, uint64_t *left,
                         size_t *off, size_t *end)
{
    size_t pre = wisp__h1_piece_pre(chunked);
    int n;

    if (len > wisp__h1_piece_room(cap, chunked))
        return WISP_EINVAL;
    if (!len && !eom)
        return WISP_EAGAIN;
    if (left) {
        /* The source must produce exactly the length it announced. */
        if (len > *left || (eom && len != *left))
            return WISP_EPROTO;
        *left -= len;
    }
    *off = pre;
    *end = pre + len;
    if (!chunked)
        return 0;
    if (len) {
        uint8_t hdr[WISP_H1_CHUNK_HEADER_MAX];

        n = wisp__h1_chunk_header(hdr, sizeof(hdr), len);
        if (n < 0)
            return n;
        *off = pre - (size_t)n;
        memcpy(buf + *off, hdr, (size_t)n);
        memcpy(buf + *end, WISP_H1_CRLF, 2);
        *end += 2;
    }
    if (eom) {
        n = wisp__h1_chunk_last(buf + *end, cap - *end);
        if (n < 0)
            return n;
        *end += (size_t)n;
    }
    return 0;
}
