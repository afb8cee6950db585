/*
 * A streaming JSON tokenizer (RFC 8259), fed bytes in fragments of any size.
 *
 * It is two small state machines over one byte at a time. The *lexical* state
 * (j->lex) says whether we are between tokens, inside a string (and where in an
 * escape or a UTF-8 sequence), a number or a literal. The *grammar* state
 * (j->expect) says what may come next between tokens; together with a bit stack
 * of open containers (j->stack, one bit per level, WISP_JSON_DEPTH_MAX deep) it is
 * the whole parser: no recursion, no allocation, sizeof(wisp__json_t) of memory.
 *
 * Strings are unescaped into j->buf as they are read. A string value longer than
 * the buffer goes out in pieces (first/more flags), so a long PEM certificate costs
 * no more memory here than a short name; a key must fit in one piece.
 *
 * Position: j->line/j->col is the byte being read. Columns count characters: the
 * continuation bytes of a UTF-8 sequence in a string do not advance them. Tokens carry the position
 * of their first byte; errors carry the position of the offending byte (end of input: one past the
 * last character).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy-internal.h"

/* Grammar states: what the next significant byte may be. */
enum {
    X_ROOT,      /* the top-level value */
    X_OBJ_FIRST, /* after '{': a key or '}' */
    X_OBJ_KEY,   /* after ',' in an object: a key */
    X_COLON,     /* after a key */
    X_OBJ_VALUE, /* after ':' */
    X_ARR_FIRST, /* after '[': a value or ']' */
    X_ARR_VALUE, /* after ',' in an array */
    X_AFTER,     /* after a value inside a container: ',' or the closing bracket */
    X_DONE       /* the top-level value is complete: only whitespace */
};

/* Lexical states. */
enum {
    L_NONE,
    L_STR,    /* inside a string */
    L_ESC,    /* after a backslash */
    L_HEX,    /* inside the four digits of \uXXXX */
    L_LOW_BS, /* after a high surrogate: its low half's backslash must follow */
    L_LOW_U,  /* ... then its 'u' */
    L_UTF8,   /* inside a multi-byte UTF-8 sequence */
    L_LIT,    /* inside true, false or null */
    N_MINUS,  /* numbers: after '-' */
    N_ZERO,   /* after a leading 0 */
    N_INT,    /* in the integer digits */
    N_DOT,    /* after '.' */
    N_FRAC,   /* in the fraction digits */
    N_E,      /* after 'e' or 'E' */
    N_ESIGN,  /* after the exponent sign */
    N_EXP     /* in the exponent digits */
};

static int fail(wisp__json_t *j, const char *fmt, ...) WISP_PRINTF(2, 3);
static int fail(wisp__json_t *j, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(j->err_msg, sizeof(j->err_msg), fmt, ap);
    va_end(ap);
    j->err_line = j->line;
    j->err_col = j->col;
    j->err = WISP_ESYNTAX;
    return WISP_ESYNTAX;
}

static int top_is_array(const wisp__json_t *j)
{
    return j->depth && (j->stack >> (j->depth - 1)) & 1u;
}

static int value_ok(const wisp__json_t *j)
{
    return j->expect == X_ROOT || j->expect == X_OBJ_VALUE || j->expect == X_ARR_FIRST ||
           j->expect == X_ARR_VALUE;
}

static const char *what(const wisp__json_t *j)
{
    switch (j->expect) {
    case X_OBJ_FIRST:
        return "a key in double quotes or '}'";
    case X_OBJ_KEY:
        return "a key in double quotes";
    case X_COLON:
        return "':'";
    case X_ARR_FIRST:
        return "a value or ']'";
    case X_AFTER:
        return top_is_array(j) ? "',' or ']'" : "',' or '}'";
    case X_DONE:
        return "end of input";
    default:
        return "a value";
    }
}

static int unexpected(wisp__json_t *j, unsigned char c)
{
    if (c == '/')
        return fail(j, "comments are not allowed in JSON");
    if (c == '\'')
        return fail(j, "strings must be in double quotes");
    if (c > 0x20 && c < 0x7f)
        return fail(j, "expected %s, got '%c'", what(j), c);
    return fail(j, "expected %s, got byte 0x%02X", what(j), c);
}

static void start_token(wisp__json_t *j)
{
    j->tok_line = j->line;
    j->tok_col = j->col;
    j->len = 0;
}

static int emit(wisp__json_t *j, enum wisp__json_type type, uint8_t first, uint8_t more)
{
    wisp__json_token_t t;
    int ret;

    j->buf[j->len] = '\0';
    t.type = type;
    t.text = j->buf;
    t.len = j->len;
    t.first = first;
    t.more = more;
    t.line = j->tok_line;
    t.col = j->tok_col;
    ret = j->cb(j->user, &t);
    if (ret)
        j->err = ret;
    return ret;
}

static void value_done(wisp__json_t *j)
{
    j->expect = j->depth ? X_AFTER : X_DONE;
}

/* ---- Containers ---- */

static int open_container(wisp__json_t *j, unsigned char c)
{
    int array = c == '[';

    if (!value_ok(j))
        return unexpected(j, c);
    if (j->depth >= WISP_JSON_DEPTH_MAX)
        return fail(j, "nesting deeper than %d levels", WISP_JSON_DEPTH_MAX);
    if (array)
        j->stack |= 1u << j->depth;
    else
        j->stack &= ~(1u << j->depth);
    j->depth++;
    j->expect = array ? X_ARR_FIRST : X_OBJ_FIRST;
    start_token(j);
    return emit(j, array ? WISP_JSON_ARRAY_BEGIN : WISP_JSON_OBJECT_BEGIN, 0, 0);
}

static int close_container(wisp__json_t *j, unsigned char c)
{
    int array = c == ']';

    if ((j->expect == X_OBJ_KEY && !array) || (j->expect == X_ARR_VALUE && array))
        return fail(j, "trailing comma before '%c'", c);
    if (!j->depth || top_is_array(j) != array ||
        (j->expect != X_AFTER && j->expect != (array ? X_ARR_FIRST : X_OBJ_FIRST)))
        return unexpected(j, c);
    j->depth--;
    value_done(j);
    start_token(j);
    return emit(j, array ? WISP_JSON_ARRAY_END : WISP_JSON_OBJECT_END, 0, 0);
}

/* ---- Strings ---- */

static int put(wisp__json_t *j, const char *b, size_t n)
{
    int ret;

    if (j->len + n > WISP_JSON_TOKEN_MAX) {
        if (j->in_key)
            return fail(j, "key longer than %d bytes", WISP_JSON_TOKEN_MAX);
        ret = emit(j, WISP_JSON_STRING, j->first, 1);
        if (ret)
            return ret;
        j->first = 0;
        j->len = 0;
    }
    memcpy(j->buf + j->len, b, n);
    j->len += n;
    return 0;
}

static int put_utf8(wisp__json_t *j, uint32_t cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return put(j, b, n);
}

static int start_string(wisp__json_t *j, int key)
{
    start_token(j);
    j->in_key = (uint8_t)key;
    j->first = 1;
    j->lex = L_STR;
    return 0;
}

static int end_string(wisp__json_t *j)
{
    j->lex = L_NONE;
    if (j->in_key) {
        j->expect = X_COLON;
        return emit(j, WISP_JSON_KEY, 1, 0);
    }
    value_done(j);
    return emit(j, WISP_JSON_STRING, j->first, 0);
}

/* The first byte of a UTF-8 sequence sets how many continuation bytes follow and
 * the range the first of them must fall in, which is what excludes overlong forms,
 * UTF-16 surrogates (ED A0..BF) and code points past U+10FFFF (RFC 3629 §4). */
static int utf8_lead(wisp__json_t *j, unsigned char c)
{
    j->u_lo = 0x80;
    j->u_hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        j->u_left = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        j->u_left = 2;
        if (c == 0xE0)
            j->u_lo = 0xA0;
        else if (c == 0xED)
            j->u_hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        j->u_left = 3;
        if (c == 0xF0)
            j->u_lo = 0x90;
        else if (c == 0xF4)
            j->u_hi = 0x8F;
    } else {
        return fail(j, "invalid UTF-8 byte 0x%02X", c);
    }
    j->lex = L_UTF8;
    return put(j, (const char *)&c, 1);
}

static int str_char(wisp__json_t *j, unsigned char c)
{
    if (c == '"')
        return end_string(j);
    if (c == '\\') {
        j->lex = L_ESC;
        return 0;
    }
    if (c < 0x20)
        return fail(j, "control character 0x%02X in a string must be escaped", c);
    if (c >= 0x80)
        return utf8_lead(j, c);
    return put(j, (const char *)&c, 1);
}

static int str_utf8(wisp__json_t *j, unsigned char c)
{
    if (c < j->u_lo || c > j->u_hi)
        return fail(j, "invalid UTF-8 byte 0x%02X", c);
    j->u_lo = 0x80;
    j->u_hi = 0xBF;
    if (--j->u_left == 0)
        j->lex = L_STR;
    return put(j, (const char *)&c, 1);
}

static int str_escape(wisp__json_t *j, unsigned char c)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *p;

    if (c == 'u') {
        j->lex = L_HEX;
        j->hex_left = 4;
        j->hex = 0;
        return 0;
    }
    p = c ? strchr(from, c) : NULL;
    if (!p) {
        if (c > 0x20 && c < 0x7f)
            return fail(j, "invalid escape '\\%c'", c);
        return fail(j, "invalid escape: byte 0x%02X after '\\'", c);
    }
    j->lex = L_STR;
    return put(j, &to[p - from], 1);
}

static int str_hex(wisp__json_t *j, unsigned char c)
{
    uint32_t v, cp;

    if (c >= '0' && c <= '9')
        v = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        v = (uint32_t)((c | 0x20) - 'a' + 10);
    else
        return fail(j, "invalid \\u escape: four hex digits expected");
    j->hex = j->hex << 4 | v;
    if (--j->hex_left)
        return 0;
    if (j->high) {
        if (j->hex < 0xDC00 || j->hex > 0xDFFF)
            return fail(j, "lone surrogate \\u%04X", (unsigned)j->high);
        cp = 0x10000 + ((j->high - 0xD800) << 10) + (j->hex - 0xDC00);
        j->high = 0;
    } else if (j->hex >= 0xD800 && j->hex <= 0xDBFF) {
        j->high = j->hex;
        j->lex = L_LOW_BS;
        return 0;
    } else if (j->hex >= 0xDC00 && j->hex <= 0xDFFF) {
        return fail(j, "lone surrogate \\u%04X", (unsigned)j->hex);
    } else {
        cp = j->hex;
    }
    j->lex = L_STR;
    return put_utf8(j, cp);
}

static int str_low_half(wisp__json_t *j, unsigned char c)
{
    if (c != (j->lex == L_LOW_BS ? '\\' : 'u'))
        return fail(j, "lone surrogate \\u%04X", (unsigned)j->high);
    if (j->lex == L_LOW_BS) {
        j->lex = L_LOW_U;
        return 0;
    }
    j->lex = L_HEX;
    j->hex_left = 4;
    j->hex = 0;
    return 0;
}

/* ---- Literals and numbers ---- */

static int start_literal(wisp__json_t *j, unsigned char c)
{
    start_token(j);
    j->lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
    j->lit_pos = 1;
    j->lex = L_LIT;
    return 0;
}

static int literal(wisp__json_t *j, unsigned char c)
{
    if (c != (unsigned char)j->lit[j->lit_pos])
        return fail(j, "invalid literal (expected \"%s\")", j->lit);
    if (j->lit[++j->lit_pos])
        return 0;
    j->lex = L_NONE;
    value_done(j);
    return emit(j,
                j->lit[0] == 't'   ? WISP_JSON_TRUE
                : j->lit[0] == 'f' ? WISP_JSON_FALSE
                                   : WISP_JSON_NULL,
                0, 0);
}

static int number_complete(const wisp__json_t *j)
{
    return j->lex == N_ZERO || j->lex == N_INT || j->lex == N_FRAC || j->lex == N_EXP;
}

static int end_number(wisp__json_t *j)
{
    j->lex = L_NONE;
    value_done(j);
    return emit(j, WISP_JSON_NUMBER, 0, 0);
}

static int structural(wisp__json_t *j, unsigned char c);

static int number(wisp__json_t *j, unsigned char c)
{
    int digit = c >= '0' && c <= '9', e = c == 'e' || c == 'E', ret;

    switch (j->lex) {
    case N_MINUS:
        if (!digit)
            return fail(j, "expected a digit after '-'");
        j->lex = c == '0' ? N_ZERO : N_INT;
        break;
    case N_ZERO:
        if (digit)
            return fail(j, "leading zeros are not allowed");
        /* fall through */
    case N_INT:
    case N_FRAC:
    case N_EXP:
        if (digit)
            break;
        if (c == '.' && j->lex != N_FRAC && j->lex != N_EXP)
            j->lex = N_DOT;
        else if (e && j->lex != N_EXP)
            j->lex = N_E;
        else {
            /* The byte after a number belongs to the grammar. */
            ret = end_number(j);
            return ret ? ret : structural(j, c);
        }
        break;
    case N_DOT:
        if (!digit)
            return fail(j, "expected a digit after '.'");
        j->lex = N_FRAC;
        break;
    case N_E:
        if (c == '+' || c == '-') {
            j->lex = N_ESIGN;
            break;
        }
        /* fall through */
    default: /* N_ESIGN */
        if (!digit)
            return fail(j, "expected a digit in the exponent");
        j->lex = N_EXP;
        break;
    }
    if (j->len >= WISP_JSON_NUMBER_MAX)
        return fail(j, "number longer than %d characters", WISP_JSON_NUMBER_MAX);
    j->buf[j->len++] = (char)c;
    return 0;
}

static int start_number(wisp__json_t *j, unsigned char c)
{
    start_token(j);
    j->buf[j->len++] = (char)c;
    j->lex = c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
    return 0;
}

/* ---- Between tokens ---- */

static int structural(wisp__json_t *j, unsigned char c)
{
    switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
        return 0;
    case '{':
    case '[':
        return open_container(j, c);
    case '}':
    case ']':
        return close_container(j, c);
    case ',':
        if (j->expect != X_AFTER)
            return unexpected(j, c);
        j->expect = top_is_array(j) ? X_ARR_VALUE : X_OBJ_KEY;
        return 0;
    case ':':
        if (j->expect != X_COLON)
            return unexpected(j, c);
        j->expect = X_OBJ_VALUE;
        return 0;
    case '"':
        if (j->expect == X_OBJ_FIRST || j->expect == X_OBJ_KEY)
            return start_string(j, 1);
        return value_ok(j) ? start_string(j, 0) : unexpected(j, c);
    case 't':
    case 'f':
    case 'n':
        return value_ok(j) ? start_literal(j, c) : unexpected(j, c);
    default:
        if ((c == '-' || (c >= '0' && c <= '9')) && value_ok(j))
            return start_number(j, c);
        return unexpected(j, c);
    }
}

static int step(wisp__json_t *j, unsigned char c)
{
    switch (j->lex) {
    case L_NONE:
        return structural(j, c);
    case L_STR:
        return str_char(j, c);
    case L_ESC:
        return str_escape(j, c);
    case L_HEX:
        return str_hex(j, c);
    case L_LOW_BS:
    case L_LOW_U:
        return str_low_half(j, c);
    case L_UTF8:
        return str_utf8(j, c);
    case L_LIT:
        return literal(j, c);
    default:
        return number(j, c);
    }
}

/* ---- Public (library-internal) entry points ---- */

void wisp__json_init(wisp__json_t *j, wisp__json_cb cb, void *user)
{
    memset(j, 0, offsetof(wisp__json_t, buf));
    j->buf[0] = '\0';
    j->cb = cb;
    j->user = user;
    j->line = 1;
    j->expect = X_ROOT;
    j->lex = L_NONE;
}

int wisp__json_feed(wisp__json_t *j, const char *buf, size_t len)
{
    size_t i;
    int ret;

    if (j->err)
        return j->err;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        /* A continuation byte of a UTF-8 sequence is part of the same character. */
        if (j->lex != L_UTF8 || (c & 0xC0) != 0x80)
            j->col++;
        ret = step(j, c);
        if (ret)
            return ret;
        if (c == '\n') {
            j->line++;
            j->col = 0;
        }
    }
    return 0;
}

int wisp__json_finish(wisp__json_t *j)
{
    int ret;

    if (j->err)
        return j->err;
    j->col++; /* errors here point just past the last character */
    if (number_complete(j)) {
        ret = end_number(j);
        if (ret)
            return ret;
    }
    switch (j->lex) {
    case L_NONE:
        break;
    case L_STR:
    case L_ESC:
    case L_HEX:
    case L_LOW_BS:
    case L_LOW_U:
    case L_UTF8:
        fail(j, "unterminated string");
        j->err_line = j->tok_line;
        j->err_col = j->tok_col;
        return j->err;
    case L_LIT:
        return fail(j, "unexpected end of input (expected \"%s\")", j->lit);
    default:
        return fail(j, "unexpected end of input in a number");
    }
    if (j->expect == X_ROOT)
        return fail(j, "empty input: expected a JSON value");
    if (j->expect != X_DONE)
        return fail(j, "unexpected end of input: expected %s", what(j));
    return 0;
}
