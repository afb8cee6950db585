/*
 * The HTTP/1.1 message engine shared by the response parser (client-parse.c) and the
 * request parser (server-parse.c): line assembly, header fields, framing fields
 * (Content-Length, Transfer-Encoding, Connection), and the body states — length,
 * chunked with extensions and trailers, and read-until-close.
 *
 * Data layout. Everything lives in the caller's wisp__h1_msg_t; nothing is allocated.
 * Every line — start line, field, chunk size, trailer field — is assembled in the
 * fixed buffer m->line and looked at only once its LF has arrived. Body bytes never
 * enter that buffer: on_body gets them straight from the caller's input.
 *
 * Invariants.
 *  - m->line_len <= WISP_H1_LINE_MAX and m->head_len <= m->head_max; both caps are
 *    checked as bytes arrive, before the line is interpreted.
 *  - Callbacks run only on a complete line or on body bytes. Together with the
 *    point above this is what makes the result independent of how the input was
 *    split: the same bytes reach the same checks in the same order.
 *  - The state is updated before a callback runs, so accessors called from a
 *    callback see the message as the callback describes it.
 *  - Once an error is returned, m->state is H1_S_FAILED and m->err keeps the code.
 */
#include <stdint.h>
#include <string.h>

#include "http1/engine.h"

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int wisp__h1_name_eq(const char *name, size_t len, const char *lo)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (lo[i] == '\0' || lower((unsigned char)name[i]) != lo[i])
            return 0;
    return lo[len] == '\0';
}

static int is_ows(int c)
{
    return c == ' ' || c == '\t';
}

/*
 * Next element of a comma-separated list, trimmed of whitespace; *pos is NULL once
 * the list is exhausted. Empty elements are returned as such: RFC 9110 5.6.1 lets a
 * recipient ignore them, and each caller decides what an empty one means.
 */
static int list_next(const char **pos, const char *end, const char **el, size_t *el_len)
{
    const char *p = *pos, *e, *comma;

    if (p == NULL)
        return 0;
    comma = memchr(p, ',', (size_t)(end - p));
    e = comma != NULL ? comma : end;
    *pos = comma != NULL ? comma + 1 : NULL;
    while (p < e && is_ows((unsigned char)*p))
        p++;
    while (e > p && is_ows((unsigned char)e[-1]))
        e--;
    *el = p;
    *el_len = (size_t)(e - p);
    return 1;
}

int wisp__h1_list_has(const char *value, size_t len, const char *lo)
{
    const char *pos = value, *el;
    size_t n;

    while (list_next(&pos, value + len, &el, &n))
        if (wisp__h1_name_eq(el, n, lo))
            return 1;
    return 0;
}

int wisp__h1_cb_ret(int r)
{
    return r > 0 ? WISP_ECANCELED : r;
}

/* ---- Framing fields ------------------------------------------------------------- */

/*
 * Content-Length: 1*DIGIT. RFC 9112 6.3 lets a recipient accept a list of identical
 * values ("42, 42") or repeated identical fields, which some servers send; anything
 * that disagrees is the classic smuggling shape and is refused.
 */
static int content_length(wisp__h1_msg_t *m, const char *v, size_t n)
{
    const char *pos = v, *el;
    size_t el_len, i;

    while (list_next(&pos, v + n, &el, &el_len)) {
        uint64_t x = 0;

        if (el_len == 0)
            return WISP_EPROTO;
        for (i = 0; i < el_len; i++) {
            unsigned d = (unsigned)(unsigned char)el[i] - '0';

            /* Constant bounds: no 64-bit division (a libgcc call on Cortex-M). */
            if (d > 9 || x > UINT64_MAX / 10 || (x == UINT64_MAX / 10 && d > UINT64_MAX % 10))
                return WISP_EPROTO;
            x = x * 10 + d;
        }
        if ((m->flags & H1_F_HAVE_CL) && x != m->remaining)
            return WISP_EPROTO;
        m->remaining = x;
        m->flags |= H1_F_HAVE_CL;
    }
    return 0;
}

/*
 * Transfer-Encoding: only noted here; wisp__h1_msg_framing_check() judges the whole
 * list once the head is complete, because several fields form one list.
 */
static void transfer_encoding(wisp__h1_msg_t *m, const char *v, size_t n)
{
    const char *pos = v, *el;
    size_t el_len;

    m->flags |= H1_F_TE;
    while (list_next(&pos, v + n, &el, &el_len)) {
        if (el_len == 0)
            continue;
        /* Anything after chunked means chunked is not final, or applied twice. */
        if (m->flags & H1_F_TE_CHUNKED)
            m->flags |= H1_F_TE_BAD;
        m->flags |= wisp__h1_name_eq(el, el_len, "chunked") ? H1_F_TE_CHUNKED : H1_F_TE_OTHER;
    }
}

/*
 * Fast paths for 64-bit hosts (HOST_FAST): the framing names told apart by length
 * before any compare, and control characters checked a word at a time (below).
 * 32-bit builds (firmware) go without both: together they cost 120 bytes of
 * Cortex-M4 flash that the client-only budget does not have (firmware_text_budget),
 * and with a 4-byte word the word check's gain halves.
 */
#if SIZE_MAX > 0xffffffffu
#define HOST_FAST 1
#else
#define HOST_FAST 0
#endif
#define LEN_MAY_BE(nl, n) (!HOST_FAST || (nl) == (n))

/* The three names that frame a message (most fields of a head are none of them). */
static int framing_field(wisp__h1_msg_t *m, const char *name, size_t nl, const char *v, size_t vl)
{
    if (LEN_MAY_BE(nl, 14) && wisp__h1_name_eq(name, nl, "content-length"))
        return content_length(m, v, vl);
    if (LEN_MAY_BE(nl, 17) && wisp__h1_name_eq(name, nl, "transfer-encoding")) {
        transfer_encoding(m, v, vl);
    } else if (LEN_MAY_BE(nl, 10) && wisp__h1_name_eq(name, nl, "connection")) {
        if (wisp__h1_list_has(v, vl, "close"))
            m->flags |= H1_F_CLOSE;
        if (wisp__h1_list_has(v, vl, "keep-alive"))
            m->flags |= H1_F_KEEPALIVE;
    }
    return 0;
}

int wisp__h1_msg_framing_check(const wisp__h1_msg_t *m)
{
    if (!(m->flags & H1_F_TE))
        return 0;
    /* RFC 9112 6.1: TE in HTTP/1.0 means faulty framing; 6.3: TE with CL "ought to be
     * handled as an error" — it is how requests get smuggled past a proxy. */
    if (!(m->flags & H1_F_V11) || (m->flags & H1_F_HAVE_CL))
        return WISP_EPROTO;
    /* Without chunked as the final coding the length is unknowable for a request, and
     * for a response we could not decode the other coding anyway. */
    if (!(m->flags & H1_F_TE_CHUNKED) || (m->flags & H1_F_TE_BAD))
        return WISP_EPROTO;
    return (m->flags & H1_F_TE_OTHER) ? WISP_EUNSUPPORTED : 0;
}

/* ---- Lines ----------------------------------------------------------------------- */

/*
 * A field line: name ":" OWS value OWS. A line starting with whitespace is obsolete
 * line folding (or, right after the start line, a field hidden from some parsers);
 * whitespace between name and colon is another smuggling trick. RFC 9112 5.1/5.2 let
 * us reject both, and we do: the name must be a token immediately followed by ':'.
 */
static int field(wisp__h1_msg_t *m, char *s, size_t n, int trailer)
{
    char *v, *end = s + n;
    size_t nl = 0;
    int ret;

    while (nl < n && wisp__is_tchar((unsigned char)s[nl]))
        nl++;
    if (nl == 0 || nl == n || s[nl] != ':')
        return WISP_EPROTO;
    s[nl] = '\0';
    v = s + nl + 1;
    while (v < end && is_ows((unsigned char)*v))
        v++;
    while (end > v && is_ows((unsigned char)end[-1]))
        end--;
    *end = '\0';
    /* Trailer fields cannot change framing and wisp has no use for them. */
    if (trailer)
        return 0;
    ret = framing_field(m, s, nl, v, (size_t)(end - v));
    if (ret == 0 && m->ops->field != NULL)
        ret = m->ops->field(m, s, nl, v, (size_t)(end - v));
    if (ret != 0 || (m->flags & H1_F_QUIET) || m->cb->on_header == NULL)
        return ret;
    return wisp__h1_cb_ret(m->cb->on_header(m->user, s, nl, v, (size_t)(end - v)));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* folds 'A'..'F' onto 'a'..'f' and nothing else onto them */
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static int complete(wisp__h1_msg_t *m)
{
    m->state = H1_S_DONE;
    return m->cb->on_complete != NULL ? wisp__h1_cb_ret(m->cb->on_complete(m->user)) : 0;
}

/*
 * chunk-size [ BWS ";" chunk-ext ] — the extensions carry nothing wisp uses; they are
 * bounded by the line buffer and skipped. A size that would not fit 64 bits is
 * refused rather than wrapped, since a wrapped size would desynchronise the framing.
 */
static int chunk_size(wisp__h1_msg_t *m, const char *s, size_t n)
{
    uint64_t size = 0;
    size_t i;
    int d;

    for (i = 0; i < n && (d = hexval((unsigned char)s[i])) >= 0; i++) {
        if (size > (UINT64_MAX >> 4))
            return WISP_EPROTO;
        size = size << 4 | (uint64_t)d;
    }
    if (i == 0)
        return WISP_EPROTO;
    while (i < n && is_ows((unsigned char)s[i]))
        i++;
    if (i < n && s[i] != ';')
        return WISP_EPROTO;
    if (size == 0) {
        m->state = H1_S_TRAILER;
        m->head_len = 0; /* the trailer section has a cap of its own */
        return 0;
    }
    if (m->max_body != 0) {
        if (size > m->max_body - m->body_total)
            return WISP_ETOOBIG;
        m->body_total += size;
    }
    m->remaining = size;
    m->state = H1_S_CHUNK_DATA;
    return 0;
}

/* Control characters (but TAB) are never valid in a line: a bare CR included. */
static int char_ok(unsigned char c)
{
    return (c >= 0x20 || c == '\t') && c != 0x7f;
}

/*
 * With HOST_FAST a word (8 bytes) at a time: a word with no byte below 0x20 and none
 * equal to 0x7f is all valid (bytes from 0x80 up are obs-text, fine), and most words
 * of a head are. The two tests are the classic exact ones: (w - 0x20..) & ~w &
 * 0x80.. is nonzero iff some byte is below 0x20; the same of w ^ 0x7f.. with 0x01..
 * iff some byte equals 0x7f. A word that fails either is looked at byte by byte,
 * which is where a TAB passes.
 */
#define WORD_ONES ((size_t)-1 / 0xff)

static int line_chars_ok(const char *s, size_t n)
{
    size_t i = 0;
#if HOST_FAST
    size_t j, w, del;

    for (; n - i >= sizeof(w); i += sizeof(w)) {
        memcpy(&w, s + i, sizeof(w));
        del = w ^ (WORD_ONES * 0x7f);
        if (!((((w - WORD_ONES * 0x20) & ~w) | ((del - WORD_ONES) & ~del)) & (WORD_ONES * 0x80)))
            continue;
        for (j = i; j < i + sizeof(w); j++)
            if (!char_ok((unsigned char)s[j]))
                return 0;
    }
#endif
    for (; i < n; i++)
        if (!char_ok((unsigned char)s[i]))
            return 0;
    return 1;
}

static int line(wisp__h1_msg_t *m, char *s, size_t n)
{
    if (!line_chars_ok(s, n))
        return WISP_EPROTO;
    switch (m->state) {
    case H1_S_START:
        /* RFC 9112 2.2: empty lines before the start line are to be ignored. */
        if (n == 0)
            return 0;
        m->state = H1_S_HEADER;
        return m->ops->start_line(m, s, n);
    case H1_S_HEADER:
        return n == 0 ? m->ops->head_done(m) : field(m, s, n, 0);
    case H1_S_CHUNK_SIZE:
        return chunk_size(m, s, n);
    default: /* H1_S_TRAILER */
        return n == 0 ? complete(m) : field(m, s, n, 1);
    }
}

/*
 * Take bytes up to and including the next LF into the line buffer; interpret the
 * line when the LF is there. The caps are checked before anything else so that an
 * over-long head fails at the same byte however the input is split.
 */
static int feed_line(wisp__h1_msg_t *m, const uint8_t *in, size_t n, size_t *used)
{
    const uint8_t *lf = memchr(in, '\n', n);
    size_t take = lf != NULL ? (size_t)(lf - in) : n;
    size_t step = lf != NULL ? take + 1 : take;
    size_t len;

    /* Chunk-size lines are body framing; only the line buffer bounds them. */
    if (m->state != H1_S_CHUNK_SIZE) {
        if (step > m->head_max - m->head_len)
            return WISP_ETOOBIG;
        m->head_len += (uint32_t)step;
    }
    if (take > (size_t)WISP_H1_LINE_MAX - m->line_len)
        return WISP_ETOOBIG;
    memcpy(m->line + m->line_len, in, take);
    *used = step;
    if (lf == NULL) {
        m->line_len = (uint16_t)(m->line_len + take);
        return 0;
    }
    len = m->line_len + take;
    m->line_len = 0;
    /* RFC 9112 2.2: a bare LF may end a line; a CR before it is dropped. */
    if (len > 0 && m->line[len - 1] == '\r')
        len--;
    m->line[len] = '\0';
    return line(m, m->line, len);
}

/* ---- Body ------------------------------------------------------------------------ */

static int deliver(wisp__h1_msg_t *m, const uint8_t *in, size_t n)
{
    return m->cb->on_body != NULL ? wisp__h1_cb_ret(m->cb->on_body(m->user, in, n)) : 0;
}

static int feed_body(wisp__h1_msg_t *m, const uint8_t *in, size_t n, size_t *used)
{
    size_t take;
    int ret;

    switch (m->state) {
    case H1_S_CHUNK_CR:
        /* The CRLF after chunk data; a bare LF is accepted as it is for lines. */
        *used = 1;
        if (in[0] == '\n')
            m->state = H1_S_CHUNK_SIZE;
        else if (in[0] == '\r')
            m->state = H1_S_CHUNK_LF;
        else
            return WISP_EPROTO;
        return 0;
    case H1_S_CHUNK_LF:
        *used = 1;
        if (in[0] != '\n')
            return WISP_EPROTO;
        m->state = H1_S_CHUNK_SIZE;
        return 0;
    case H1_S_UNTIL_CLOSE:
        *used = n;
        return deliver(m, in, n);
    default: /* H1_S_LENGTH, H1_S_CHUNK_DATA: remaining > 0 */
        take = (uint64_t)n < m->remaining ? n : (size_t)m->remaining;
        m->remaining -= take;
        *used = take;
        ret = deliver(m, in, take);
        if (ret != 0 || m->remaining != 0)
            return ret;
        if (m->state == H1_S_CHUNK_DATA) {
            m->state = H1_S_CHUNK_CR;
            return 0;
        }
        return complete(m);
    }
}

int wisp__h1_msg_body(wisp__h1_msg_t *m, int mode)
{
    int ret;

    m->flags |= H1_F_IN_BODY;
    if (mode != H1_BODY_UNTIL_CLOSE)
        m->flags |= H1_F_FRAMED;
    if (mode == H1_BODY_LENGTH && m->max_body != 0 && m->remaining > m->max_body)
        return WISP_ETOOBIG;
    if (mode == H1_BODY_LENGTH && m->remaining == 0)
        mode = H1_BODY_NONE;
    /* Without a body the state stays put until complete() makes it H1_S_DONE, so
     * nothing reads as complete before on_complete. */
    if (mode == H1_BODY_LENGTH)
        m->state = H1_S_LENGTH;
    else if (mode == H1_BODY_CHUNKED)
        m->state = H1_S_CHUNK_SIZE;
    else if (mode == H1_BODY_UNTIL_CLOSE)
        m->state = H1_S_UNTIL_CLOSE;
    if (m->cb->on_headers_done != NULL) {
        ret = wisp__h1_cb_ret(m->cb->on_headers_done(m->user));
        if (ret != 0)
            return ret;
    }
    return mode == H1_BODY_NONE ? complete(m) : 0;
}

/* ---- Lifecycle ------------------------------------------------------------------- */

/* Stands in for a NULL callback table, so the engine never tests the table itself. */
static const wisp__h1_cbs_t no_cbs;

void wisp__h1_msg_init(wisp__h1_msg_t *m, const struct wisp__h1_ops *ops, const wisp__h1_cbs_t *cb,
                       void *user, uint32_t head_max, uint64_t max_body)
{
    /* The line buffer is last and needs no clearing: line_len says what is valid. */
    memset(m, 0, offsetof(wisp__h1_msg_t, line));
    m->ops = ops;
    m->cb = cb != NULL ? cb : &no_cbs;
    m->user = user;
    m->head_max = head_max != 0 ? head_max : WISP_H1_HEAD_MAX;
    m->max_body = max_body;
    m->state = H1_S_START;
}

void wisp__h1_msg_restart(wisp__h1_msg_t *m)
{
    m->flags &= H1_F_STARTED;
    m->remaining = 0;
    m->head_len = 0;
    m->state = H1_S_START;
}

static int fail(wisp__h1_msg_t *m, int err)
{
    m->state = H1_S_FAILED;
    m->err = err;
    return err;
}

int wisp__h1_msg_feed(wisp__h1_msg_t *m, const uint8_t *buf, size_t len, size_t *consumed)
{
    size_t i = 0;
    int ret = 0;

    if (consumed != NULL)
        *consumed = 0;
    if (m->state == H1_S_FAILED)
        return m->err;
    if (m->state == H1_S_DONE)
        return WISP_ESTATE;
    if (len > 0)
        m->flags |= H1_F_STARTED;
    while (i < len && ret == 0 && m->state != H1_S_DONE) {
        size_t used = 0;

        if (m->state <= H1_S_TRAILER)
            ret = feed_line(m, buf + i, len - i, &used);
        else
            ret = feed_body(m, buf + i, len - i, &used);
        i += used;
    }
    if (consumed != NULL)
        *consumed = i;
    return ret != 0 ? fail(m, ret) : 0;
}

int wisp__h1_msg_eof(wisp__h1_msg_t *m)
{
    int ret;

    switch (m->state) {
    case H1_S_DONE:
        return 0;
    case H1_S_FAILED:
        return m->err;
    case H1_S_UNTIL_CLOSE:
        ret = complete(m);
        return ret != 0 ? fail(m, ret) : 0;
    default:
        return fail(m, (m->flags & H1_F_STARTED) ? WISP_EPROTO : WISP_ECLOSED);
    }
}

int wisp__h1_msg_keepalive(const wisp__h1_msg_t *m)
{
    uint16_t f = m->flags;

    if (m->state != H1_S_DONE || !(f & H1_F_FRAMED) || (f & H1_F_CLOSE))
        return 0;
    return (f & (H1_F_V11 | H1_F_KEEPALIVE)) != 0;
}
