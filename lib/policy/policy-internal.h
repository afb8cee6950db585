/*
 * lib/policy private interface: the streaming JSON tokenizer, the certificate
 * decoder and the helpers shared between the model (policy.c) and the loader
 * (json*.c). Tests may include it; nothing outside lib/policy does.
 */
#ifndef WISP_POLICY_INTERNAL_H
#define WISP_POLICY_INTERNAL_H

#include "wisp/policy.h"
#include "core/core-internal.h"

/* ---- Shared by the model and the loader (policy.c) ------------------------------ */

/** Nonzero if s[0..len) is a valid name: 1..WISP_POLICY_NAME_MAX of [A-Za-z0-9_-]. */
int wisp__policy_name_ok(const char *s, size_t len);

/** What a host string is to getaddrinfo(3) (see wisp__host_form()). */
enum wisp__host_form {
    WISP_HOST_NAME,     /**< a DNS name or an IPv6 literal: not all labels numeric */
    WISP_HOST_IPV4,     /**< the canonical dotted quad, 0..255 each, no leading zero */
    WISP_HOST_IPV4_ODD, /**< another spelling glibc reads as IPv4 ("127.1", "0x7f.1") */
    WISP_HOST_NUMERIC   /**< numeric labels glibc still refuses ("1.2.3.256", "08") */
};

/**
 * Classify s[0..len) as inet_aton(3) would read it. Every numeric label (decimal,
 * octal with a leading 0, hex with 0x) makes a number; 1 to 4 of them make an IPv4
 * address, the last filling the remaining bytes. This is the one test behind the
 * loader's endpoint check and WISP_TEMPLATE_HOST: both refuse anything above
 * WISP_HOST_IPV4.
 * \param  addr  receives the address (host order) for WISP_HOST_IPV4 and
 *               WISP_HOST_IPV4_ODD; may be NULL
 * \return one of enum wisp__host_form
 */
int wisp__host_form(const char *s, size_t len, uint32_t *addr);

/**
 * One step through a template. On entry *s points at the rest of the template.
 * Sets *lit / *lit_len to the literal text before the next "${" (or to the end),
 * and *slot / *slot_len to the slot name inside that "${...}" (NULL, 0 when the
 * literal runs to the end). Advances *s past both.
 * \return 1 with a step, 0 at the end of the template (nothing set), WISP_ESYNTAX
 *         when a "${" has no '}' (then *s points at the "${").
 */
int wisp__template_step(const char **s, const char **lit, size_t *lit_len, const char **slot,
                        size_t *slot_len);

#if WISP_WITH_JSON_POLICY

/* ---- Streaming JSON tokenizer (json.c) -------------------------------------------
 *
 * A push tokenizer: feed bytes in fragments of any size; it calls back once per
 * token. It checks RFC 8259 exactly, tracks line and column, and allocates nothing:
 * its whole state is struct wisp__json. Duplicate object keys are the consumer's to
 * detect (it knows which objects it keeps; the tokenizer has no memory for keys).
 */

/** Deepest nesting of objects and arrays accepted. */
#define WISP_JSON_DEPTH_MAX 16
/** Longest key or string piece, in bytes after unescaping. Longer string values are
 *  delivered in pieces of at most this size; longer keys are a syntax error. */
#define WISP_JSON_TOKEN_MAX 1024
/** Longest number, in characters. */
#define WISP_JSON_NUMBER_MAX 40

enum wisp__json_type {
    WISP_JSON_OBJECT_BEGIN,
    WISP_JSON_OBJECT_END,
    WISP_JSON_ARRAY_BEGIN,
    WISP_JSON_ARRAY_END,
    WISP_JSON_KEY,
    WISP_JSON_STRING,
    WISP_JSON_NUMBER,
    WISP_JSON_TRUE,
    WISP_JSON_FALSE,
    WISP_JSON_NULL
};

typedef struct wisp__json_token {
    enum wisp__json_type type;
    /** KEY, STRING, NUMBER: the text (unescaped UTF-8, NUL-terminated; it may also
     *  hold a NUL from \u0000, so use len). Valid only during the callback. */
    const char *text;
    size_t len;
    /** STRING only: first = this is the first piece of the string, more = further
     *  pieces follow. A string that fits arrives as one piece (first 1, more 0). */
    uint8_t first, more;
    uint32_t line, col; /**< where the token starts (the quote of a string) */
} wisp__json_token_t;

/** Token callback: return 0 to go on, or a negative code to stop the tokenizer
 *  (feed/finish then return that code, now and on every later call). */
typedef int (*wisp__json_cb)(void *user, const wisp__json_token_t *t);

typedef struct wisp__json {
    wisp__json_cb cb;
    void *user;
    uint32_t line, col;         /* position of the byte being read */
    uint32_t tok_line, tok_col; /* start of the token being read */
    uint32_t stack;             /* bit d set: the container at depth d+1 is an array */
    uint8_t depth;
    uint8_t expect;     /* grammar state: what may come next */
    uint8_t lex;        /* lexical state: inside a string, number, literal... */
    uint8_t in_key;     /* the string being read is an object key */
    uint8_t first;      /* no piece of the current string was delivered yet */
    uint8_t lit_pos;    /* literals: bytes of "true"/"false"/"null" matched */
    uint8_t u_left;     /* UTF-8: continuation bytes still due */
    uint8_t u_lo, u_hi; /* UTF-8: allowed range of the next continuation byte */
    uint8_t hex_left;   /* \uXXXX: hex digits still due */
    uint32_t hex;       /* \uXXXX: value so far */
    uint32_t high;      /* a high surrogate waiting for its low half, or 0 */
    const char *lit;
    int err; /* sticky: 0 or the code that stopped the tokenizer */
    uint32_t err_line, err_col;
    char err_msg[96];
    size_t len;
    char buf[WISP_JSON_TOKEN_MAX + 1];
} wisp__json_t;

/** Reset the tokenizer to expect one JSON value. Cannot fail. */
void wisp__json_init(wisp__json_t *j, wisp__json_cb cb, void *user);
/** Tokenize len bytes. 0, WISP_ESYNTAX (err_line/err_col/err_msg say what and where),
 *  or the callback's code. */
int wisp__json_feed(wisp__json_t *j, const char *buf, size_t len);
/** End of input: 0 if exactly one complete value was read, else as wisp__json_feed. */
int wisp__json_finish(wisp__json_t *j);

/* ---- Certificates (json-cert.c) --------------------------------------------------- */

/**
 * Decode a "certs" entry in place: PEM (one block: CERTIFICATE, PRIVATE KEY, EC
 * PRIVATE KEY or RSA PRIVATE KEY) or bare base64 DER, then check that the DER is a
 * well-formed SEQUENCE and tell a certificate from a key. On success buf[0..*len)
 * holds the DER (decoding only ever shrinks the text).
 * \return 0, or WISP_ECERTPARSE with *why set to a static explanation,
 *         or WISP_ETOOBIG (DER over WISP_POLICY_DER_MAX).
 */
int wisp__cert_decode(char *buf, size_t *len, wisp_cert_kind_t *kind, const char **why);

#endif /* WISP_WITH_JSON_POLICY */

#endif /* WISP_POLICY_INTERNAL_H */
