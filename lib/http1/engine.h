/*
 * Private to lib/http1: the seam between the shared message engine (parse.c, write.c)
 * and the parts that differ between responses and requests (client-*.c, server-*.c).
 *
 * The engine calls a per-kind ops table for the start line, for each header field
 * (after the framing fields have been noted) and at the end of the head. A table
 * rather than a "kind" flag keeps client-only and server-only builds from linking
 * the other side's code.
 */
#ifndef WISP_HTTP1_ENGINE_H
#define WISP_HTTP1_ENGINE_H

#include "http1/http1-internal.h"

/* Engine states. Values up to H1_S_TRAILER assemble lines; the rest move body bytes. */
enum {
    H1_S_START,      /* start line (empty lines before it skipped) */
    H1_S_HEADER,     /* header fields until the empty line */
    H1_S_CHUNK_SIZE, /* chunk-size [ext] line */
    H1_S_TRAILER,    /* trailer fields until the empty line */
    H1_S_LENGTH,     /* Content-Length body */
    H1_S_CHUNK_DATA, /* inside a chunk */
    H1_S_CHUNK_CR,   /* the CRLF after chunk data */
    H1_S_CHUNK_LF,
    H1_S_UNTIL_CLOSE, /* response body delimited by the connection's end */
    H1_S_DONE,
    H1_S_FAILED
};

/* wisp__h1_msg_t.flags */
enum {
    H1_F_STARTED = 1u << 0,    /* a byte of this message arrived (EOF: EPROTO not ECLOSED) */
    H1_F_V11 = 1u << 1,        /* HTTP/1.1 or a later 1.x */
    H1_F_QUIET = 1u << 2,      /* interim 1xx head: report nothing */
    H1_F_HAVE_CL = 1u << 3,    /* Content-Length seen; its value is in remaining */
    H1_F_TE = 1u << 4,         /* Transfer-Encoding seen */
    H1_F_TE_CHUNKED = 1u << 5, /* ... naming chunked */
    H1_F_TE_BAD = 1u << 6,     /* ... with something after chunked */
    H1_F_TE_OTHER = 1u << 7,   /* ... naming another coding */
    H1_F_CLOSE = 1u << 8,      /* Connection: close */
    H1_F_KEEPALIVE = 1u << 9,  /* Connection: keep-alive */
    H1_F_FRAMED = 1u << 10,    /* body framed by length, chunking or absence */
    H1_F_IN_BODY = 1u << 11    /* head complete */
};

/* How a message's body is delimited, decided at the end of its head. */
enum { H1_BODY_NONE, H1_BODY_LENGTH, H1_BODY_CHUNKED, H1_BODY_UNTIL_CLOSE };

struct wisp__h1_ops {
    /* The start line, CR/LF stripped, NUL-terminated in the line buffer (writable). */
    int (*start_line)(wisp__h1_msg_t *m, char *line, size_t len);
    /* Optional: a header field, before the user's on_header sees it. */
    int (*field)(wisp__h1_msg_t *m, const char *name, size_t name_len, const char *value,
                 size_t value_len);
    /* The empty line ending the head: decide the body, then wisp__h1_msg_body(). */
    int (*head_done)(wisp__h1_msg_t *m);
};

void wisp__h1_msg_init(wisp__h1_msg_t *m, const struct wisp__h1_ops *ops, const wisp__h1_cbs_t *cb,
                       void *user, uint32_t head_max, uint64_t max_body);
int wisp__h1_msg_feed(wisp__h1_msg_t *m, const uint8_t *buf, size_t len, size_t *consumed);
int wisp__h1_msg_eof(wisp__h1_msg_t *m);
int wisp__h1_msg_keepalive(const wisp__h1_msg_t *m);
/* Map a callback's return: 0 stays 0, negatives pass, positives become ECANCELED. */
int wisp__h1_cb_ret(int r);
/* After the head: reject the framing combinations RFC 9112 6.1/6.3 call faulty. */
int wisp__h1_msg_framing_check(const wisp__h1_msg_t *m);
/* Enter the body in the given H1_BODY_* mode: calls on_headers_done, and on_complete
 * at once when there is no body. */
int wisp__h1_msg_body(wisp__h1_msg_t *m, int mode);
/* Forget an interim head and wait for the next start line. */
void wisp__h1_msg_restart(wisp__h1_msg_t *m);

/* Writers: append bytes (sticky error, hard cap), and check a header value. */
int wisp__h1_out_put(wisp__h1_out_t *w, const void *data, size_t len);
int wisp__h1_out_fail(wisp__h1_out_t *w, int err);
int wisp__h1_out_u64(wisp__h1_out_t *w, uint64_t v);
/* 0, or WISP_EHEADER when value holds a control character other than TAB. */
int wisp__h1_value_check(const char *value, size_t len);

#endif /* WISP_HTTP1_ENGINE_H */
