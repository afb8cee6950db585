/*
 * The streaming JSON tokenizer (lib/policy/json.c): RFC 8259 exactly, in any split.
 *
 * Valid documents are tokenized into a compact text form and compared with the
 * expected one, fed whole, byte by byte and split at every offset. Invalid documents
 * must fail with the exact message, line and column, again in every split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy-internal.h"

/* Tokens as text: { } [ ] K:key S:string N:number T F 0, space separated; bytes
 * outside printable ASCII as \xNN. Pieces of one string are joined. */
typedef struct sink {
    char out[8192];
    size_t len;
    int in_string;   /* a string is arriving in pieces */
    unsigned pieces; /* pieces of the last string */
    int fail_at;     /* return WISP_ENOMEM at this token (1-based), 0 never */
    int tokens;
} sink_t;

static void put(sink_t *s, const char *fmt, ...) WISP_PRINTF(2, 3);
static void put(sink_t *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    s->len += (size_t)vsnprintf(s->out + s->len, sizeof(s->out) - s->len, fmt, ap);
    va_end(ap);
    assert_true(s->len < sizeof(s->out));
}

static void put_text(sink_t *s, const char *t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];

        if (c >= 0x20 && c < 0x7f && c != '\\')
            put(s, "%c", c);
        else
            put(s, "\\x%02X", c);
    }
}

static int on_token(void *user, const wisp__json_token_t *t)
{
    static const char *const simple[] = {"{", "}", "[", "]"};
    sink_t *s = user;

    if (s->fail_at && ++s->tokens == s->fail_at)
        return WISP_ENOMEM;
    if (t->type == WISP_JSON_STRING) {
        /* Pieces: the first says first, all but the last say more. */
        assert_int_equal(t->first, !s->in_string);
        if (t->first) {
            put(s, "%sS:", s->len ? " " : "");
            s->pieces = 0;
        }
        s->pieces++;
        put_text(s, t->text, t->len);
        s->in_string = t->more;
        return 0;
    }
    assert_false(s->in_string);
    if (s->len)
        put(s, " ");
    switch (t->type) {
    case WISP_JSON_KEY:
        put(s, "K:");
        put_text(s, t->text, t->len);
        break;
    case WISP_JSON_NUMBER:
        put(s, "N:%s", t->text);
        break;
    case WISP_JSON_TRUE:
        put(s, "T");
        break;
    case WISP_JSON_FALSE:
        put(s, "F");
        break;
    case WISP_JSON_NULL:
        put(s, "0");
        break;
    default:
        put(s, "%s", simple[t->type]);
        break;
    }
    return 0;
}

/* Tokenize text fed in pieces of `step` bytes (0: whole), or split once at `at`. */
static int run(const char *text, size_t len, size_t step, size_t at, sink_t *s, wisp__json_t *j)
{
    size_t off = 0, n;
    int ret = 0;

    memset(s, 0, sizeof(*s));
    wisp__json_init(j, on_token, s);
    if (at) {
        ret = wisp__json_feed(j, text, at);
        off = at;
    }
    while (!ret && off < len) {
        n = step && step < len - off ? step : len - off;
        ret = wisp__json_feed(j, text + off, n);
        off += n;
    }
    if (!ret)
        ret = wisp__json_finish(j);
    return ret;
}

typedef struct valid_case {
    const char *json;
    const char *tokens;
} valid_case_t;

static const valid_case_t valid[] = {
    {"{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
     "{ K:a N:1 K:b [ T F 0 ] K:c { K:d S:e } }"},
    {" \t\r\n{ \"k\" : [ ] , \"l\":{ } }\r\n ", "{ K:k [ ] K:l { } }"},
    {"[0,-0,1.5,-1.5e10,2E+3,3e-2,123456789,0.0e0]",
     "[ N:0 N:-0 N:1.5 N:-1.5e10 N:2E+3 N:3e-2 N:123456789 N:0.0e0 ]"},
    {"42", "N:42"},
    {"-7 ", "N:-7"},
    {"\"x\"", "S:x"},
    {"true", "T"},
    {"null", "0"},
    {"[[],{},[{}],\"\"]", "[ [ ] { } [ { } ] S: ]"},
    {"\"q\\\"b\\\\s\\/n\\b\\f\\n\\r\\t\"", "S:q\"b\\x5Cs/n\\x08\\x0C\\x0A\\x0D\\x09"},
    {"\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"", "S:A\\xC3\\xA9\\xE2\\x82\\xAC\\xF0\\x9F\\x98\\x80"},
    {"\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xed\x9f\xbf\"",
     "S:h\\xC3\\xA9llo \\xE2\\x82\\xAC \\xF0\\x9F\\x98\\x80 \\xF4\\x8F\\xBF\\xBF \\xED\\x9F\\xBF"},
    {"[\"\\u0000\"]", "[ S:\\x00 ]"},
    {"{\"\\u00e9\":\"k\"}", "{ K:\\xC3\\xA9 S:k }"},
    {"[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]",
     "[ [ [ [ [ [ [ [ [ [ [ [ [ [ [ [ N:1 ] ] ] ] ] ] ] ] ] ] ] ] ] ] ] ]"},
};

static void test_valid_every_split(void **state)
{
    wisp__json_t *j = malloc(sizeof(*j));
    sink_t *s = malloc(sizeof(*s));
    size_t i, k, len;

    (void)state;
    assert_non_null(j);
    assert_non_null(s);
    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        len = strlen(valid[i].json);
        assert_int_equal(run(valid[i].json, len, 0, 0, s, j), 0);
        assert_string_equal(s->out, valid[i].tokens);
        assert_int_equal(run(valid[i].json, len, 1, 0, s, j), 0);
        assert_string_equal(s->out, valid[i].tokens);
        for (k = 1; k < len; k++) {
            assert_int_equal(run(valid[i].json, len, 0, k, s, j), 0);
            assert_string_equal(s->out, valid[i].tokens);
        }
    }
    free(j);
    free(s);
}

typedef struct bad_case {
    const char *json;
    unsigned line, col;
    const char *msg;
} bad_case_t;

static const bad_case_t bad[] = {
    {"{\"a\":1,}", 1, 8, "trailing comma before '}'"},
    {"[1,2,]", 1, 6, "trailing comma before ']'"},
    {"{\n  \"a\": 1,\n}", 3, 1, "trailing comma before '}'"},
    {"{\"a\":1 // c\n}", 1, 8, "comments are not allowed in JSON"},
    {"/* x */ {}", 1, 1, "comments are not allowed in JSON"},
    {"[01]", 1, 3, "leading zeros are not allowed"},
    {"[-01]", 1, 4, "leading zeros are not allowed"},
    {"[-]", 1, 3, "expected a digit after '-'"},
    {"[1.]", 1, 4, "expected a digit after '.'"},
    {"[1.e5]", 1, 4, "expected a digit after '.'"},
    {"[1e]", 1, 4, "expected a digit in the exponent"},
    {"[1e+]", 1, 5, "expected a digit in the exponent"},
    {"[+1]", 1, 2, "expected a value or ']', got '+'"},
    {"[.5]", 1, 2, "expected a value or ']', got '.'"},
    {"0x10", 1, 2, "expected end of input, got 'x'"},
    {"[NaN]", 1, 2, "expected a value or ']', got 'N'"},
    {"[Infinity]", 1, 2, "expected a value or ']', got 'I'"},
    {"[\"\\x\"]", 1, 4, "invalid escape '\\x'"},
    {"[\"\\'\"]", 1, 4, "invalid escape '\\''"},
    {"[\"a\\u12G4\"]", 1, 8, "invalid \\u escape: four hex digits expected"},
    {"[\"\\ud800\"]", 1, 9, "lone surrogate \\uD800"},
    {"[\"\\udc00\"]", 1, 8, "lone surrogate \\uDC00"},
    {"[\"\\ud800\\u0041\"]", 1, 14, "lone surrogate \\uD800"},
    {"[\"\\uD800x\"]", 1, 9, "lone surrogate \\uD800"},
    {"[\"a\tb\"]", 1, 4, "control character 0x09 in a string must be escaped"},
    {"[\"a\nb\"]", 1, 4, "control character 0x0A in a string must be escaped"},
    {"[\"\xc3\x28\"]", 1, 4, "invalid UTF-8 byte 0x28"},
    {"[\"\xc0\x80\"]", 1, 3, "invalid UTF-8 byte 0xC0"},
    {"[\"\xed\xa0\x80\"]", 1, 3, "invalid UTF-8 byte 0xA0"},
    {"[\"\xe0\x9f\xbf\"]", 1, 3, "invalid UTF-8 byte 0x9F"},
    {"[\"\xf0\x8f\xbf\xbf\"]", 1, 3, "invalid UTF-8 byte 0x8F"},
    {"[\"\xf4\x90\x80\x80\"]", 1, 3, "invalid UTF-8 byte 0x90"},
    {"[\"\xf5\x80\x80\x80\"]", 1, 3, "invalid UTF-8 byte 0xF5"},
    {"[\"\x80\"]", 1, 3, "invalid UTF-8 byte 0x80"},
    {"[\"\xe2\x82\"]", 1, 4, "invalid UTF-8 byte 0x22"},
    {"[\xc3\xa9]", 1, 2, "expected a value or ']', got byte 0xC3"},
    {"\xef\xbb\xbf{}", 1, 1, "expected a value, got byte 0xEF"},
    {"{\"a\" 1}", 1, 6, "expected ':', got '1'"},
    {"{\"a\":1 \"b\":2}", 1, 8, "expected ',' or '}', got '\"'"},
    {"{a:1}", 1, 2, "expected a key in double quotes or '}', got 'a'"},
    {"{'a':1}", 1, 2, "strings must be in double quotes"},
    {"{\"a\":1,b:2}", 1, 8, "expected a key in double quotes, got 'b'"},
    {"[1 2]", 1, 4, "expected ',' or ']', got '2'"},
    {"{\"a\":1]", 1, 7, "expected ',' or '}', got ']'"},
    {"[}", 1, 2, "expected a value or ']', got '}'"},
    {"{,}", 1, 2, "expected a key in double quotes or '}', got ','"},
    {"{\"a\":}", 1, 6, "expected a value, got '}'"},
    {"[1,,2]", 1, 4, "expected a value, got ','"},
    {"{\"a\"::1}", 1, 6, "expected a value, got ':'"},
    {"trux", 1, 4, "invalid literal (expected \"true\")"},
    {"True", 1, 1, "expected a value, got 'T'"},
    {"{} {}", 1, 4, "expected end of input, got '{'"},
    {"[\"\xc3\xa9\", x]", 1, 7, "expected a value, got 'x'"},
    {"\"a\" \x01", 1, 5, "expected end of input, got byte 0x01"},
    /* End of input: one past the last character, or the string's opening quote. */
    {"", 1, 1, "empty input: expected a JSON value"},
    {"   ", 1, 4, "empty input: expected a JSON value"},
    {"tru", 1, 4, "unexpected end of input (expected \"true\")"},
    {"{\"a\":1", 1, 7, "unexpected end of input: expected ',' or '}'"},
    {"[1,2", 1, 5, "unexpected end of input: expected ',' or ']'"},
    {"[", 1, 2, "unexpected end of input: expected a value or ']'"},
    {"{\"a\"", 1, 5, "unexpected end of input: expected ':'"},
    {"[\n  \"abc", 2, 3, "unterminated string"},
    {"[\"\\u12", 1, 2, "unterminated string"},
    {"[-", 1, 3, "unexpected end of input in a number"},
    {"[[[[[[[[[[[[[[[[[", 1, 17, "nesting deeper than 16 levels"},
};

static void check_bad(const bad_case_t *c, size_t step, size_t at, sink_t *s, wisp__json_t *j)
{
    int ret = run(c->json, strlen(c->json), step, at, s, j);

    if (ret != WISP_ESYNTAX || strcmp(j->err_msg, c->msg) || j->err_line != c->line ||
        j->err_col != c->col)
        fail_msg("input \"%s\" (step %zu, split %zu): got %d %u:%u \"%s\", want %u:%u \"%s\"",
                 c->json, step, at, ret, (unsigned)j->err_line, (unsigned)j->err_col, j->err_msg,
                 c->line, c->col, c->msg);
    /* The error sticks. */
    assert_int_equal(wisp__json_feed(j, "1", 1), WISP_ESYNTAX);
    assert_int_equal(wisp__json_finish(j), WISP_ESYNTAX);
}

static void test_invalid_every_split(void **state)
{
    wisp__json_t *j = malloc(sizeof(*j));
    sink_t *s = malloc(sizeof(*s));
    size_t i, k, len;

    (void)state;
    assert_non_null(j);
    assert_non_null(s);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = strlen(bad[i].json);
        check_bad(&bad[i], 0, 0, s, j);
        check_bad(&bad[i], 1, 0, s, j);
        for (k = 1; k < len; k++)
            check_bad(&bad[i], 0, k, s, j);
    }
    free(j);
    free(s);
}

/* A string longer than the token buffer arrives in pieces; a key must fit. */
static void test_long_strings(void **state)
{
    size_t n = 3 * WISP_JSON_TOKEN_MAX + 100, i;
    char *doc = malloc(n + 16), *want = malloc(n + 16);
    wisp__json_t *j = malloc(sizeof(*j));
    sink_t *s = malloc(sizeof(*s));

    (void)state;
    assert_non_null(doc);
    assert_non_null(want);
    assert_non_null(j);
    assert_non_null(s);
    doc[0] = '"';
    for (i = 0; i < n; i++)
        doc[1 + i] = (char)('a' + i % 26);
    doc[1 + n] = '"';
    doc[2 + n] = '\0';
    memcpy(want, "S:", 2);
    memcpy(want + 2, doc + 1, n);
    want[2 + n] = '\0';
    assert_true(n + 4 < sizeof(s->out));
    assert_int_equal(run(doc, n + 2, 0, 0, s, j), 0);
    assert_string_equal(s->out, want);
    assert_int_equal(s->pieces, 4);
    assert_int_equal(run(doc, n + 2, 7, 0, s, j), 0);
    assert_string_equal(s->out, want);

    /* Exactly WISP_JSON_TOKEN_MAX bytes is one piece; one more is two. */
    doc[1 + WISP_JSON_TOKEN_MAX] = '"';
    assert_int_equal(run(doc, WISP_JSON_TOKEN_MAX + 2, 0, 0, s, j), 0);
    assert_int_equal(s->pieces, 1);
    doc[1 + WISP_JSON_TOKEN_MAX] = 'x';
    doc[2 + WISP_JSON_TOKEN_MAX] = '"';
    assert_int_equal(run(doc, WISP_JSON_TOKEN_MAX + 3, 0, 0, s, j), 0);
    assert_int_equal(s->pieces, 2);

    /* Keys: the same length as an object key is a syntax error. */
    doc[0] = '{';
    doc[1] = '"';
    for (i = 0; i <= WISP_JSON_TOKEN_MAX; i++)
        doc[2 + i] = 'k';
    memcpy(doc + 3 + WISP_JSON_TOKEN_MAX, "\":1}", 5);
    assert_int_equal(run(doc, strlen(doc), 0, 0, s, j), WISP_ESYNTAX);
    assert_string_equal(j->err_msg, "key longer than 1024 bytes");
    assert_int_equal(j->err_col, 3 + WISP_JSON_TOKEN_MAX);
    free(doc);
    free(want);
    free(j);
    free(s);
}

static void test_number_limit(void **state)
{
    char doc[64];
    wisp__json_t j;
    sink_t s;

    (void)state;
    memset(doc, '7', sizeof(doc));
    doc[WISP_JSON_NUMBER_MAX] = '\0';
    assert_int_equal(run(doc, WISP_JSON_NUMBER_MAX, 0, 0, &s, &j), 0);
    doc[WISP_JSON_NUMBER_MAX] = '7';
    doc[WISP_JSON_NUMBER_MAX + 1] = '\0';
    assert_int_equal(run(doc, WISP_JSON_NUMBER_MAX + 1, 0, 0, &s, &j), WISP_ESYNTAX);
    assert_string_equal(j.err_msg, "number longer than 40 characters");
    assert_int_equal(j.err_col, WISP_JSON_NUMBER_MAX + 1);
}

/* Token positions: line and column of the first character, UTF-8 counted once. */
static int positions(void *user, const wisp__json_token_t *t)
{
    char *out = user;
    size_t n = strlen(out);

    snprintf(out + n, 256 - n, "%s%u:%u", n ? " " : "", (unsigned)t->line, (unsigned)t->col);
    return 0;
}

static void test_positions(void **state)
{
    static const char doc[] = "{\n  \"\xc3\xa9\": [1, \"x\"],\r\n\t\"b\": true\n}";
    char out[256] = "";
    wisp__json_t j;

    (void)state;
    wisp__json_init(&j, positions, out);
    assert_int_equal(wisp__json_feed(&j, doc, sizeof(doc) - 1), 0);
    assert_int_equal(wisp__json_finish(&j), 0);
    assert_string_equal(out, "1:1 2:3 2:8 2:9 2:12 2:15 3:2 3:7 4:1");
}

/* A callback's error stops the tokenizer and sticks. */
static void test_callback_error(void **state)
{
    wisp__json_t j;
    sink_t s;

    (void)state;
    memset(&s, 0, sizeof(s));
    s.fail_at = 3;
    wisp__json_init(&j, on_token, &s);
    assert_int_equal(wisp__json_feed(&j, "[1,2,3]", 7), WISP_ENOMEM);
    assert_int_equal(wisp__json_feed(&j, "", 0), WISP_ENOMEM);
    assert_int_equal(wisp__json_finish(&j), WISP_ENOMEM);
    assert_int_equal(s.tokens, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_every_split), cmocka_unit_test(test_invalid_every_split),
        cmocka_unit_test(test_long_strings),      cmocka_unit_test(test_number_limit),
        cmocka_unit_test(test_positions),         cmocka_unit_test(test_callback_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
