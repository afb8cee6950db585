/*
 * wisp HTTP/1.1 protocol engines.
 *
 * Four engines, none of which touches a socket, a clock or the heap: bytes in, bytes
 * out, callbacks in between.
 *
 *   response parser  (client)  wisp__h1_resp_*   lib/http1/client-parse.c
 *   request writer   (client)  wisp__h1_out_request_line, _host + the common writer
 *   request parser   (server)  wisp__h1_req_*    lib/http1/server-parse.c
 *   response writer  (server)  wisp__h1_out_status_line + the common writer
 *
 * Both parsers share one incremental engine (lib/http1/parse.c): any split of the
 * input gives the same callbacks in the same order (body bytes may arrive in
 * different pieces, never different bytes). Both writers share one bounded head
 * builder and the chunk framing helpers (lib/http1/write.c).
 *
 * Nothing here is part of the application API: everything below is visible only with
 * WISP_LIBRARY defined (the library and its tests). The stream and server code in
 * lib/http1 and lib/stream drive these engines from the connection's I/O.
 *
 * Thread-safety: a parser or writer belongs to whoever owns it; there is no shared
 * state, so distinct objects may be used from distinct threads.
 */
#ifndef WISP_HTTP1_INTERNAL_H
#define WISP_HTTP1_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wisp/config.h"
#include "wisp/error.h"
#include "core/core-internal.h"
#include "tls/tls-internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Build-time limits WISP_H1_LINE_MAX and WISP_H1_HEAD_MAX live in wisp/config.h. */

/* ==== Parsers ================================================================== */

/**
 * Parser callbacks, shared by the response and the request parser; a NULL member
 * means "not interested". Each returns 0 to go on, or a negative WISP_E* code that
 * stops the parser: feed (or eof) then returns that code and the parser stays failed.
 * A positive return is treated as WISP_ECANCELED.
 *
 * Strings passed to callbacks point into the parser's line buffer: they are
 * NUL-terminated for convenience (the length is still authoritative) and valid only
 * until the callback returns. Callbacks MUST NOT feed, init or eof the parser that
 * called them.
 */
typedef struct wisp__h1_cbs {
    /** Response parser: the final status line. Interim 1xx responses are skipped and
     *  reported to no callback. reason may be empty. */
    int (*on_status)(void *user, int status, const char *reason, size_t reason_len);
    /** Request parser: the request line. target is the request-target as sent. */
    int (*on_request)(void *user, const char *method, size_t method_len, const char *target,
                      size_t target_len);
    /** One header field, in arrival order, value trimmed of surrounding whitespace.
     *  Names are as sent: compare them case-insensitively (wisp__h1_name_eq).
     *  Repeated fields are reported once each, never merged. Trailer fields are
     *  checked for syntax and not reported. */
    int (*on_header)(void *user, const char *name, size_t name_len, const char *value,
                     size_t value_len);
    /** The head is complete and the framing is decided: the status, HTTP/1.1 and
     *  expect-continue accessors are valid from here on (keep-alive from completion). */
    int (*on_headers_done)(void *user);
    /** Body bytes (chunk framing removed), straight from the caller's input buffer.
     *  Never called with len 0. */
    int (*on_body)(void *user, const uint8_t *data, size_t len);
    /** The message is complete. The parser consumes nothing further (pipelined bytes
     *  after the message are left for the next init). */
    int (*on_complete)(void *user);
} wisp__h1_cbs_t;

struct wisp__h1_ops; /* private to lib/http1: start line and head-end handlers */

/** The engine state both parsers embed. Treat as opaque. */
typedef struct wisp__h1_msg {
    const struct wisp__h1_ops *ops;
    const wisp__h1_cbs_t *cb;
    void *user;
    uint64_t remaining;  /* Content-Length while in the head; then bytes left */
    uint64_t max_body;   /* 0: no limit */
    uint64_t body_total; /* chunked bytes announced so far (against max_body) */
    int err;             /* sticky: the first error, 0 while healthy */
    uint32_t head_max;
    uint32_t head_len;
    uint16_t line_len;
    uint16_t flags;
    uint8_t state;
    char line[WISP_H1_LINE_MAX + 1]; /* last member: init does not clear it */
} wisp__h1_msg_t;

/* ---- Response parser (client) -------------------------------------------------- */

typedef struct wisp__h1_resp_cfg {
    /** Callbacks. The table MUST outlive the parser (make it static const). */
    const wisp__h1_cbs_t *cb;
    /** Passed to every callback. */
    void *user;
    /** Cap on the bytes of the response head (status line + fields + empty line),
     *  applied to each interim and final head and to the trailer section on its own;
     *  0 means WISP_H1_HEAD_MAX. */
    uint32_t max_head;
    /** Nonzero when the request was HEAD: the response has no body whatever its
     *  Content-Length or Transfer-Encoding say. */
    uint8_t head_request;
} wisp__h1_resp_cfg_t;

typedef struct wisp__h1_resp {
    wisp__h1_msg_t m;
    uint16_t status;
    uint8_t head_request;
    uint8_t doubtful; /* framing that forbids reuse (a 204/304 announcing a body) */
} wisp__h1_resp_t;

/**
 * \brief  Prepare a response parser for one response. Cannot fail. Call again to
 *         parse the next response on the same connection (this is the reset).
 * \param  r    the parser (caller-owned, about WISP_H1_LINE_MAX + 80 bytes)
 * \param  cfg  settings, copied: only cfg->cb must outlive the parser. MUST NOT be
 *              NULL.
 */
void wisp__h1_resp_init(wisp__h1_resp_t *r, const wisp__h1_resp_cfg_t *cfg);

/**
 * \brief  Feed response bytes, in any split, calling the callbacks as the response
 *         unfolds. Stops after on_complete: *consumed then tells where the response
 *         ended, and later bytes belong to the next response.
 *
 * What the parser accepts (RFC 9112, strictly where framing is concerned):
 *  - status line "HTTP/1.x SP 3DIGIT [SP reason]"; HTTP/1.0 and 1.1; status 100-599.
 *  - lines end in CRLF or a bare LF; empty lines before the status line are skipped.
 *  - interim 1xx responses are skipped whole. 101 Switching Protocols is an error
 *    (wisp never asks for an upgrade).
 *  - no body for a HEAD request (cfg), 204 and 304; otherwise chunked, then
 *    Content-Length, then read until the caller signals EOF (wisp__h1_resp_eof).
 *  - chunk extensions are skipped; trailer fields are checked and dropped.
 *
 * \param  r         an initialised parser
 * \param  buf       input bytes (may be NULL when len is 0)
 * \param  len       number of bytes
 * \param  consumed  receives the bytes used, <= len (may be NULL): len unless the
 *                   response completed inside buf, or on error.
 * \return 0 (more input wanted, or complete: see wisp__h1_resp_is_done);
 *         WISP_EPROTO   malformed status line or field, obsolete line folding,
 *                       whitespace before a colon, a control character, an invalid
 *                       or conflicting Content-Length, Content-Length together with
 *                       Transfer-Encoding, Transfer-Encoding in HTTP/1.0 or not
 *                       ending in (exactly one) chunked, a bad chunk size (not hex,
 *                       overflowing 64 bits) or chunk terminator, a 101 response;
 *         WISP_EUNSUPPORTED  a transfer coding other than chunked was applied;
 *         WISP_ETOOBIG  the head or trailer section over its cap, or a line longer
 *                       than WISP_H1_LINE_MAX;
 *         WISP_ESTATE   the response was already complete (init again first);
 *         WISP_EINVAL   r NULL, or buf NULL with len > 0;
 *         or the negative code a callback returned.
 *         After an error every later feed returns the same code.
 */
WISP_NODISCARD int wisp__h1_resp_feed(wisp__h1_resp_t *r, const uint8_t *buf, size_t len,
                                      size_t *consumed);

/**
 * \brief  Tell the parser that the peer closed the connection (TLS close_notify or
 *         TCP EOF). Completes a body read until close (calling on_complete).
 * \return 0 when the response is now (or already was) complete;
 *         WISP_ECLOSED  no byte of this response had arrived (e.g. the server closed a
 *                       kept-alive connection: safe to retry on a new one);
 *         WISP_EPROTO   the response was cut short (head, Content-Length or chunk
 *                       incomplete);
 *         a callback's code from on_complete, or the error the parser had already.
 */
WISP_NODISCARD int wisp__h1_resp_eof(wisp__h1_resp_t *r);

/** \brief Nonzero once the response is complete (on_complete has been called). */
int wisp__h1_resp_is_done(const wisp__h1_resp_t *r);

/** \brief The final status code, or 0 before the final status line. */
int wisp__h1_resp_status(const wisp__h1_resp_t *r);

/**
 * \brief  May the connection carry another request after this response?
 * \return nonzero only when the response is complete, its body was framed (by
 *         Content-Length, chunking, or having no body at all) and it is HTTP/1.1
 *         without "Connection: close", or HTTP/1.0 with "Connection: keep-alive"
 *         (and without close). A body read until close never allows it, nor a
 *         204/304 that announces a body (Content-Length > 0 or Transfer-Encoding).
 */
int wisp__h1_resp_keepalive(const wisp__h1_resp_t *r);
/** Nonzero once any byte of this response arrived (an interim 1xx counts). */
int wisp__h1_resp_started(const wisp__h1_resp_t *r);

/* ---- Request parser (server) --------------------------------------------------- */

typedef struct wisp__h1_req_cfg {
    /** Callbacks. The table MUST outlive the parser (make it static const). */
    const wisp__h1_cbs_t *cb;
    void *user;
    /** Cap on request line + fields + empty line (and, separately, on the trailer
     *  section); 0 means WISP_H1_HEAD_MAX. The policy's header_limit. */
    uint32_t max_head;
    /** Cap on body bytes (Content-Length or the sum of chunk sizes); 0: no limit.
     *  The policy's body_limit. */
    uint64_t max_body;
} wisp__h1_req_cfg_t;

typedef struct wisp__h1_req {
    wisp__h1_msg_t m;
    uint8_t hosts; /* Host fields seen, saturating at 2 */
    uint8_t expect_continue;
} wisp__h1_req_t;

/**
 * \brief  Prepare a request parser for one request. Cannot fail. Call again for the
 *         next request on a kept-alive connection.
 * \param  q    the parser
 * \param  cfg  settings, copied: only cfg->cb must outlive the parser. MUST NOT be
 *              NULL.
 */
void wisp__h1_req_init(wisp__h1_req_t *q, const wisp__h1_req_cfg_t *cfg);

/**
 * \brief  Feed request bytes in any split. Same contract as wisp__h1_resp_feed; stops
 *         after on_complete so pipelined requests stay in the caller's buffer.
 *
 * The request line is "method SP request-target SP HTTP/1.x" with a token method
 * and a target of visible ASCII. A request without Content-Length or
 * Transfer-Encoding has no body. Request smuggling shapes are refused.
 *
 * \return 0, or
 *         WISP_EPROTO   (answer 400) malformed request line or field, folding,
 *                       whitespace before a colon, control characters, invalid or
 *                       differing Content-Length, both Content-Length and
 *                       Transfer-Encoding, Transfer-Encoding in HTTP/1.0 or not
 *                       ending in exactly one chunked, a bad chunk, HTTP/1.1 without
 *                       Host, more than one Host;
 *         WISP_EUNSUPPORTED (answer 501) a transfer coding besides chunked;
 *         WISP_ETOOBIG  in the head (answer 431): the head over max_head or a line
 *                       over WISP_H1_LINE_MAX; in the body (answer 413): the body
 *                       over max_body, or the trailers over their cap — tell the
 *                       two apart with wisp__h1_req_in_body();
 *         WISP_ESTATE, WISP_EINVAL, or a callback's code, as for responses.
 */
WISP_NODISCARD int wisp__h1_req_feed(wisp__h1_req_t *q, const uint8_t *buf, size_t len,
                                     size_t *consumed);

/**
 * \brief  The client closed its side.
 * \return 0 if the request was complete; WISP_ECLOSED if no byte of a request had
 *         arrived (the normal end of a kept-alive connection); WISP_EPROTO if a
 *         request was cut short; or the parser's earlier error.
 */
WISP_NODISCARD int wisp__h1_req_eof(wisp__h1_req_t *q);

/** \brief Nonzero once the request is complete. */
int wisp__h1_req_is_done(const wisp__h1_req_t *q);

/** \brief Nonzero once the head was complete (on_headers_done was reached), so an
 *         error is about the body: WISP_ETOOBIG then means 413, not 431. */
int wisp__h1_req_in_body(const wisp__h1_req_t *q);

/** \brief Nonzero when the request line said HTTP/1.1 (or a later 1.x); 0 for 1.0.
 *         A 1.0 client cannot take a chunked response. */
int wisp__h1_req_http11(const wisp__h1_req_t *q);

/** \brief Nonzero when an HTTP/1.1 request carried "Expect: 100-continue": the server
 *         should send "100 Continue" before reading the body. Valid from
 *         on_headers_done. */
int wisp__h1_req_expect_continue(const wisp__h1_req_t *q);

/** \brief As wisp__h1_resp_keepalive, for a complete request: may the connection
 *         carry another request after the response to this one? */
int wisp__h1_req_keepalive(const wisp__h1_req_t *q);

/* ---- Field helpers ------------------------------------------------------------- */

/** \brief Case-insensitive compare of a field name (name, len) with a lower-case
 *         NUL-terminated literal. \return nonzero when equal. */
int wisp__h1_name_eq(const char *name, size_t len, const char *lower);

/** \brief Does a comma-separated field value (e.g. Connection) hold the token
 *         `lower` (lower-case literal), compared case-insensitively?
 *         \return nonzero when it does. */
int wisp__h1_list_has(const char *value, size_t len, const char *lower);

/* Token characters (field names, methods): wisp__is_tchar() in lib/core, shared
 * with the policy loader. */

/* ==== Writers ================================================================== */

/**
 * A message head built into a caller's buffer with a hard cap. Errors are sticky:
 * after the first failure every call does nothing and returns that error, so a
 * caller may issue all its calls and check once, at wisp__h1_out_end(). Nothing is
 * ever written past cap, and the buffer is not NUL-terminated.
 *
 * Request (client):  init, request_line, host, header..., then content_length (known
 *   body length), or chunked (unknown length), or neither (no body), close (only
 *   when asked), end.
 * Response (server): init, status_line, header..., content_length / chunked /
 *   neither (close-delimited: then also close), close, end.
 */
typedef struct wisp__h1_out {
    char *buf;
    size_t cap;
    size_t len;
    int err;
    uint8_t framed; /* content_length or chunked already written */
} wisp__h1_out_t;

/** \brief Start a head in buf[0..cap). Cannot fail (a NULL buf gives cap 0, so the
 *         first write fails with WISP_ETOOBIG). */
void wisp__h1_out_init(wisp__h1_out_t *w, void *buf, size_t cap);

/**
 * \brief  Write "METHOD SP", the start of a request line whose target the caller
 *         then writes in place at w->buf + w->len (e.g. a template expanded straight
 *         into the head, no copy on the stack), ending it with
 *         wisp__h1_out_target_end().
 * \return 0; WISP_EINVAL (method empty or not a token); WISP_ETOOBIG; the sticky error.
 */
int wisp__h1_out_method(wisp__h1_out_t *w, const char *method);

/**
 * \brief  End a request line: check buf[at..len) as its target (the rules of
 *         wisp__h1_out_request_line's path) and write " HTTP/1.1 CRLF".
 * \param  at  w->len when the target began
 * \return as wisp__h1_out_request_line.
 */
int wisp__h1_out_target_end(wisp__h1_out_t *w, size_t at);

/**
 * \brief  Write "METHOD SP path SP HTTP/1.1 CRLF".
 * \param  method  NUL-terminated token ("GET")
 * \param  path    the already expanded and percent-encoded target: starts with '/'
 *                 (or is "*"), visible ASCII only
 * \return 0; WISP_EINVAL (method not a token, path empty, not starting with '/',
 *         holding a space, other control or non-ASCII byte); WISP_EHEADER (CR, LF or
 *         NUL in path); WISP_ETOOBIG (no room); or the sticky error.
 */
static inline int wisp__h1_out_request_line(wisp__h1_out_t *w, const char *method, const char *path,
                                            size_t path_len)
{
    size_t at;

    /* Inline, built from the two calls the client uses on its own (it expands the
     * target in place): no copy of it in a firmware image that never calls it. */
    if (wisp__h1_out_method(w, method))
        return w->err;
    if (path == NULL || path_len == 0)
        return w->err = WISP_EINVAL;
    if (path_len > w->cap - w->len)
        return w->err = WISP_ETOOBIG;
    at = w->len;
    memcpy(w->buf + at, path, path_len);
    w->len += path_len;
    return wisp__h1_out_target_end(w, at);
}

/**
 * \brief  Write "Host: host[:port]". An IPv6 literal (a ':' in host) is bracketed;
 *         the port is left out when it is the scheme default (443 with tls, else 80).
 * \return 0; WISP_EHEADER (CR, LF or NUL in host); WISP_EINVAL (empty host, or a
 *         space, control, non-ASCII, '/', '\\', '?', '#' or '@' in it);
 *         WISP_ETOOBIG; or the sticky error.
 */
int wisp__h1_out_host(wisp__h1_out_t *w, const char *host, size_t host_len, uint16_t port, int tls);

/**
 * \brief  Write "HTTP/1.1 SP status SP reason CRLF".
 * \param  reason  NUL-terminated, or NULL for the standard phrase of common codes
 *                 (empty for the others, which HTTP allows)
 * \return 0; WISP_EINVAL (status outside 100..599); WISP_EHEADER (a control
 *         character in reason); WISP_ETOOBIG; or the sticky error.
 */
int wisp__h1_out_status_line(wisp__h1_out_t *w, int status, const char *reason);

/**
 * \brief  Write one "name: value" field.
 * \return 0; WISP_EINVAL (name empty or not a token, value NULL with a length, or a
 *         framing field — Content-Length, Transfer-Encoding, Host — which only the
 *         functions below may write); WISP_EHEADER (CR, LF, NUL or another control
 *         character but TAB in value); WISP_ETOOBIG; or the sticky error.
 */
int wisp__h1_out_header(wisp__h1_out_t *w, const char *name, size_t name_len, const char *value,
                        size_t value_len);

/** \brief Write "Content-Length: n". \return 0; WISP_EINVAL when the body was already
 *         framed (content_length or chunked called before); WISP_ETOOBIG; sticky. */
int wisp__h1_out_content_length(wisp__h1_out_t *w, uint64_t n);

/** \brief Write "Transfer-Encoding: chunked". \return as content_length. */
int wisp__h1_out_chunked(wisp__h1_out_t *w);

/** \brief Write "Connection: close". \return 0, WISP_ETOOBIG or the sticky error. */
int wisp__h1_out_close(wisp__h1_out_t *w);

/**
 * \brief  Finish the head with the empty line.
 * \param  len  receives the head's length in bytes on success (may be NULL)
 * \return 0, or the first error of any call on w (WISP_ETOOBIG when cap was short).
 */
WISP_NODISCARD int wisp__h1_out_end(wisp__h1_out_t *w, size_t *len);

/* ---- Chunk framing --------------------------------------------------------------
 * A chunked body is: for each chunk, wisp__h1_chunk_header(len), the len bytes, then
 * WISP_H1_CRLF; at the end, wisp__h1_chunk_last() (no trailers are ever sent).
 */

/** Room a chunk header can need: hex digits of a size_t + CRLF. */
#define WISP_H1_CHUNK_HEADER_MAX (sizeof(size_t) * 2 + 2)
/** What follows every chunk's data. */
#define WISP_H1_CRLF "\r\n"
/** Length of wisp__h1_chunk_last()'s output. */
#define WISP_H1_CHUNK_LAST_LEN 5

/**
 * \brief  Write a chunk header "<hex len> CRLF" to buf.
 * \return bytes written (> 0); WISP_EINVAL (buf NULL, or len 0: a zero chunk ends the
 *         body, use wisp__h1_chunk_last); WISP_ETOOBIG (cap too small).
 */
WISP_NODISCARD int wisp__h1_chunk_header(uint8_t *buf, size_t cap, size_t len);

/**
 * \brief  Write the last chunk and the end of the (empty) trailer section: "0\r\n\r\n".
 * \return WISP_H1_CHUNK_LAST_LEN; WISP_EINVAL (buf NULL); WISP_ETOOBIG (cap < 5).
 */
WISP_NODISCARD int wisp__h1_chunk_last(uint8_t *buf, size_t cap);

/* ---- Body pieces in a fixed buffer (both connection kinds) ----------------------
 * A body source writes a piece at buf + wisp__h1_piece_pre(chunked), at most
 * wisp__h1_piece_room(cap, chunked) bytes; wisp__h1_piece_frame() then adds the
 * chunk framing around it in place (and the last chunk with eom), and says which
 * bytes [*off, *end) go out.
 */
static inline size_t wisp__h1_piece_pre(int chunked)
{
    return chunked ? WISP_H1_CHUNK_HEADER_MAX : 0;
}
static inline size_t wisp__h1_piece_room(size_t cap, int chunked)
{
    size_t over = chunked ? WISP_H1_CHUNK_HEADER_MAX + 2 + WISP_H1_CHUNK_LAST_LEN : 0;

    return cap > over ? cap - over : 0;
}
/** Checks the piece as well: left (NULL: no Content-Length) is what the source
 *  still owes and must reach 0 exactly at eom.
 *  \return 0; WISP_EAGAIN (no bytes and no eom: nothing yet); WISP_EINVAL (len
 *  over the room); WISP_EPROTO (more or fewer bytes than announced); WISP_ETOOBIG. */
WISP_NODISCARD int wisp__h1_piece_frame(uint8_t *buf, size_t cap, size_t len, int eom, int chunked,
                                        uint64_t *left, size_t *off, size_t *end);

/* ==== The link: a socket and its TLS session (lib/http1/link.c) ================
 *
 * The one transport both connection kinds own: client connections and the server's
 * accepted connections open, read, write and close through it, so the close order
 * of SPEC §2 (unregister from the poller, free the TLS session, close the fd) lives
 * in one function, wisp__h1_link_close().
 */
typedef struct wisp__h1_link {
    wisp__sock_t sock; /* sock.fd < 0: closed */
    wisp__tls_t *tls;  /* NULL: plaintext (or not set up yet) */
} wisp__h1_link_t;

/** Prepare a closed link whose socket events go to cb(sock, ...) with sock->user. */
void wisp__h1_link_init(wisp_context_t *cx, wisp__h1_link_t *l, wisp__sock_cb cb, void *user);
/** Start an async connect (counted in conns_opened and conns_live). */
WISP_NODISCARD int wisp__h1_link_connect(wisp__h1_link_t *l, const wisp_addr_t *to);
/** Take over an accepted fd (counted as for connect). On error the fd is closed. */
WISP_NODISCARD int wisp__h1_link_adopt(wisp__h1_link_t *l, int fd);
/** A TLS session over the link's socket (see wisp__tls_create; peer NULL on a server). */
WISP_NODISCARD int wisp__h1_link_tls(wisp__h1_link_t *l, wisp__tls_conf_t *conf, const char *peer,
                                     wisp__tls_session_cb sink, void *sink_user);
/** Advance the handshake: 0 when complete (counted as full or resumed), WISP_EAGAIN,
 *  or the failure wisp__tls_handshake() gives. */
WISP_NODISCARD int wisp__h1_link_handshake(wisp__h1_link_t *l);
/** Bytes read (> 0), 0 at an orderly end, WISP_EAGAIN, or an error (TLS: see
 *  wisp__tls_read, including WISP_ETRUNCATED). */
int wisp__h1_link_read(wisp__h1_link_t *l, uint8_t *buf, size_t len);
/** Bytes taken (> 0), WISP_EAGAIN (repeat with the same bytes), or an error. */
int wisp__h1_link_write(wisp__h1_link_t *l, const uint8_t *buf, size_t len);
/** Bytes buffered inside TLS (decrypted) or in the socket's read-ahead, which
 *  poll() cannot see. */
size_t wisp__h1_link_pending(const wisp__h1_link_t *l);
/** Orderly end: close_notify (TLS) and one last flush. The link stays open. */
void wisp__h1_link_goodbye(wisp__h1_link_t *l);
/** The one close: unregister, free the TLS session, close the fd. Idempotent. */
void wisp__h1_link_close(wisp__h1_link_t *l);

/* ==== Client connections and queueing (lib/http1/client-conn.c) ===============
 *
 * A connection object stands for one endpoint key (vhost, host, port, TLS) and
 * survives reconnects: it owns the socket and TLS session while one is open, the
 * transaction using it (the *leader*), the transactions whose requests were written
 * ahead of the leader's answer (the *pipe*, pipeline_depth > 1), and the FIFO of
 * transactions queued behind them. Transactions are embedded in their owners
 * (streams) and driven through ops.
 *
 * Every op is a call out that may do anything to any transaction (cancel it,
 * submit it again, destroy its owner) and to the context: the connection code
 * re-reads its own state after each one. The ops are called only from the loop
 * (socket events, timers, deferred work), never from inside submit, cancel,
 * resume, nail or unnail.
 */

struct wisp__vhost;
typedef struct wisp__h1_conn wisp__h1_conn_t;
typedef struct wisp__h1_txn wisp__h1_txn_t;

typedef struct wisp__h1_txn_ops {
    /** The txn leads a connection that is being set up. */
    void (*on_connecting)(wisp__h1_txn_t *t);
    /** The connection is ready for this txn (fresh, handed over, or kept alive). */
    void (*on_connected)(wisp__h1_txn_t *t);
    /** Write the request line, Host and headers into w (no framing, no end). host
     *  is the one the connection was opened for: the Host header's value. */
    int (*on_head)(wisp__h1_txn_t *t, wisp__h1_out_t *w, const char *host);
    /** Pull up to *len body bytes into buf; set *len and *eom. WISP_EAGAIN: nothing
     *  yet (wisp__h1_resume() later). Another negative code aborts. */
    int (*on_body)(wisp__h1_txn_t *t, uint8_t *buf, size_t *len, int *eom);
    /** Response callbacks: nonzero from any of them ends the txn with that code. */
    int (*on_status)(wisp__h1_txn_t *t, int status);
    int (*on_header)(wisp__h1_txn_t *t, const char *name, size_t name_len, const char *value,
                     size_t value_len);
    int (*on_headers_done)(wisp__h1_txn_t *t);
    int (*on_data)(wisp__h1_txn_t *t, const uint8_t *data, size_t len);
    /** The response is complete; the txn has left the connection. */
    void (*on_done)(wisp__h1_txn_t *t);
    /** The txn failed and left the connection. sent: part of the request had gone
     *  out (DISCONNECTED) or not (CONNECTION_FAILED). err is WISP_ESTALE for a
     *  request that may not be resent (not idempotent) lost to a reused connection
     *  closing before any byte of its answer (SPEC §7, the keep-alive race). */
    void (*on_failed)(wisp__h1_txn_t *t, int err, int sent);
} wisp__h1_txn_ops_t;

struct wisp__h1_txn {
    const wisp__h1_txn_ops_t *ops;
    wisp__h1_txn_t *next, *prev; /* queue links, owned by the connection */
    wisp__h1_conn_t *conn;       /* set while queued or leading */
    int64_t body_len;            /* -1: chunked; 0: no body; else Content-Length */
    uint32_t keepalive_ms;
    uint32_t connect_timeout_ms;
    uint8_t head_request;    /* HEAD: the response has no body */
    uint8_t reuse;           /* may share a connection */
    uint8_t idempotent;      /* may be sent again after the keep-alive race */
    uint8_t resent;          /* was sent again once already (the keep-alive race) */
    uint8_t told_connecting; /* submit said CONNECTING: the owner reported it */
    /** Requests that may be in flight on the connection when this one is written:
     *  2..16 lets a GET or HEAD without a body be pipelined; 0 or 1 never. */
    uint8_t pipeline_depth;
};

typedef struct wisp__h1_key {
    struct wisp__vhost *vhost; /* NULL for plaintext */
    const char *host;
    uint16_t port;
    uint8_t tls;
} wisp__h1_key_t;

/** What wisp__h1_submit() did with a txn. */
enum wisp__h1_submitted {
    /** It will run on a connection that is up or already being set up:
     *  on_connecting or on_connected follows. */
    WISP__H1_SUBMIT_READY = 0,
    /** It leads a connection that must be set up: the owner reports CONNECTING
     *  now (on_connecting is not called for this setup). */
    WISP__H1_SUBMIT_CONNECTING = 1,
    /** It queued behind a leader: the owner reports QUEUED. */
    WISP__H1_SUBMIT_QUEUED = 2
};

/**
 * \brief  Submit a txn for key. It joins the queue of a live connection with the same
 *         key (when both allow reuse) or gets a connection of its own. Nothing is
 *         called back from inside this function.
 * \return a wisp__h1_submitted value, or WISP_ENOMEM / WISP_EINVAL.
 */
WISP_NODISCARD int wisp__h1_submit(wisp_context_t *cx, wisp__h1_txn_t *t,
                                   const wisp__h1_key_t *key);
/** Take the txn off its connection: dequeue it (O(1)); if its request was written
 *  ahead of another's answer (pipelined), leave its answer to be read and dropped
 *  (O(pipeline_depth)); or, if it leads mid-exchange, close the socket (it cannot
 *  carry another request; requests written ahead go back to the queue) and promote
 *  the next txn. No callback of t runs. Safe from inside any call out. */
void wisp__h1_cancel(wisp__h1_txn_t *t);
/** A body source that returned WISP_EAGAIN has data now. */
void wisp__h1_resume(wisp__h1_txn_t *t);

/**
 * \brief  Hold a connection for key up (nailed_up): connect now, reconnect when lost
 *         (after retry_ms when a connect fails and nobody is queued), never close it
 *         for idleness. Transactions submitted for the same key use it.
 * \return 0 with *out set, WISP_EINVAL, WISP_ENOMEM.
 */
WISP_NODISCARD int wisp__h1_nail(wisp_context_t *cx, const wisp__h1_key_t *key, uint8_t reuse,
                                 uint32_t connect_timeout_ms, uint32_t retry_ms,
                                 wisp__h1_conn_t **out);
/** Let go of a nailed connection (the last one lets it idle out); *c = NULL. */
void wisp__h1_unnail(wisp__h1_conn_t **c);

/** Close (close_notify) and free every idle kept-alive connection that no nailed
 *  stream holds. Returns how many. Safe from inside a call out. */
int wisp__h1_close_idle(wisp_context_t *cx);

/* ==== Server connections (lib/http1/server-conn.c) ===========================
 *
 * A listener accepts connections for one server stream type; each accepted
 * connection runs its TLS handshake in the loop, then reads requests one at a time
 * and hands each to its owner (a request stream) through ops. Requests on one
 * connection are answered in the order they arrived: the next request is parsed
 * only when the answer to the previous one is complete (pipelined bytes wait in the
 * connection's buffer), so a pipelining client is served correctly and a slow one
 * costs no more than its buffer.
 *
 * Errors the connection answers itself, with no request object and "Connection:
 * close": 400 (malformed), 431 (head over header_limit), 413 (body over body_limit),
 * 501 (unknown method or transfer coding), 503 (no memory for the request).
 *
 * Every op is a call out that may do anything — cancel this or any request, close
 * the listener, destroy the context — and the connection re-reads its own state
 * after each one. Ops run only from the loop, never from inside the functions
 * below.
 */
typedef struct wisp__h1_srv wisp__h1_srv_t;
typedef struct wisp__h1_sconn wisp__h1_sconn_t;
typedef struct wisp__h1_sreq wisp__h1_sreq_t;

typedef struct wisp__h1_srv_ops {
    /** A request line arrived (method checked, target as sent): return the new
     *  request's object (embedded in its owner, zeroed but for what the owner sets),
     *  or NULL to refuse it (503, connection closed). Nothing of the request has
     *  been reported to the application yet. */
    wisp__h1_sreq_t *(*on_request)(void *user, const char *method, const char *target,
                                   size_t target_len);
    /** Request header fields, then the end of the head; nonzero ends the request. */
    int (*on_header)(wisp__h1_sreq_t *r, const char *name, size_t name_len, const char *value,
                     size_t value_len);
    int (*on_headers_done)(wisp__h1_sreq_t *r);
    /** Request body bytes, then its end (len 0, eom 1). */
    int (*on_data)(wisp__h1_sreq_t *r, const uint8_t *data, size_t len, int eom);
    /** Write the status line and response headers into w (no framing, no end). */
    int (*on_head)(wisp__h1_sreq_t *r, wisp__h1_out_t *w);
    /** Pull response body bytes, as wisp__h1_txn_ops_t.on_body. */
    int (*on_body)(wisp__h1_sreq_t *r, uint8_t *buf, size_t *len, int *eom);
    /** The response went out whole; r has left the connection. */
    void (*on_done)(wisp__h1_sreq_t *r);
    /** The exchange failed (peer reset or close, timeout, a request body over the
     *  limit, ...); r has left the connection. */
    void (*on_failed)(wisp__h1_sreq_t *r, int err);
} wisp__h1_srv_ops_t;

struct wisp__h1_sreq {
    wisp__h1_sconn_t *conn; /* set while the request is on its connection */
    uint8_t head_request;   /* HEAD: the answer has no body */
};

typedef struct wisp__h1_srv_cfg {
    const wisp__h1_srv_ops_t *ops;
    void *user;                /* passed to on_request */
    struct wisp__vhost *vhost; /* TLS: the listener takes its own reference; NULL plain */
    const char *name;          /* for logs: the stream type */
    const char *bind;
    uint16_t port; /* 0: any (see wisp__h1_srv_port) */
    uint32_t max_connections, header_limit, body_limit;
    uint32_t handshake_timeout_ms, idle_timeout_ms;
} wisp__h1_srv_cfg_t;

/**
 * \brief  Listen as cfg says. Accepting starts at once.
 * \return 0 with *out set; WISP_EINVAL (bad cfg, or a bind address that is not
 *         numeric), WISP_ENOMEM, or the platform's listen error (WISP_EADDRINUSE...).
 */
WISP_NODISCARD int wisp__h1_listen(wisp_context_t *cx, const wisp__h1_srv_cfg_t *cfg,
                                   wisp__h1_srv_t **out);
/** The port the listener is bound to. */
uint16_t wisp__h1_srv_port(const wisp__h1_srv_t *l);
/** Stop accepting now and let go; *l = NULL. Connections finish what they serve and
 *  close; the listener (and its vhost reference) goes with the last of them. */
void wisp__h1_srv_close(wisp__h1_srv_t **l);
/** Requests served on a kept-alive connection before r: > 0 is reuse. */
uint32_t wisp__h1_sreq_index(const wisp__h1_sreq_t *r);
/**
 * \brief  Answer r: body_len -1 is a body of unknown length (chunked for HTTP/1.1,
 *         close-delimited for 1.0), else Content-Length. The head is written from
 *         on_head on a later step, never from inside this call.
 * \return 0, WISP_EINVAL (r not on a connection), WISP_EBUSY (answered already).
 */
WISP_NODISCARD int wisp__h1_respond(wisp__h1_sreq_t *r, int64_t body_len);
/** A response body source that returned WISP_EAGAIN has data now. */
void wisp__h1_sreq_resume(wisp__h1_sreq_t *r);
/** The owner is going away: take r off its connection, which closes unless r's
 *  exchange was complete. No op of r runs. Safe from inside any call out. */
void wisp__h1_sreq_cancel(wisp__h1_sreq_t *r);

#ifdef __cplusplus
}
#endif

#endif /* WISP_HTTP1_INTERNAL_H */
