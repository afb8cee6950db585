/*
 * Fuzz target: the static-policy emitter (tools/wisp-policy/emit.c), in process.
 *
 * An input that the JSON loader accepts is written as C by emit_policy(), twice, and
 * the two outputs must be byte for byte the same. The C must then lex as the emitter
 * promises, for any string the policy holds: only printable ASCII and newlines; every
 * comment closed where it should be, no comment start inside one; every string
 * literal closed on its line, escapes only \\, \" and three-digit octal, no "??"
 * that a trigraph-enabled compiler (-std=c99) would rewrite; braces, brackets and
 * parentheses balanced outside literals and comments. Decoding the literals must
 * give back, in order, exactly the strings of the model that the emitter writes
 * (after the header's name in the #include).
 *
 * Whether that C also compiles, and whether the compiled policy equals the loaded
 * one, is checked outside the fuzzer: emit_roundtrip.c compiles every corpus entry
 * with the real compiler (tests/fuzz/README.md).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wisp/core.h>
#include <wisp/policy.h>

#include "emit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

static void fail(const char *what, const char *c)
{
    fprintf(stderr, "fuzz_policy_emit: %s\n--- emitted C ---\n%s\n", what, c ? c : "");
    abort();
}

/* The strings of p in the order emit_policy() writes them as literals. */
typedef struct want {
    const char *s[4096];
    size_t n;
} want_t;

static void want_add(want_t *w, const char *s)
{
    if (s && w->n < sizeof(w->s) / sizeof(w->s[0]))
        w->s[w->n++] = s;
}

static void want_model(want_t *w, const wisp_policy_t *p)
{
    size_t i, k;

    w->n = 0;
    want_add(w, "fuzz_policy.h"); /* #include "NAME.h" comes first */
    for (i = 0; i < p->cert_count; i++)
        want_add(w, p->certs[i].name);
    for (i = 0; i < p->retry_count; i++)
        want_add(w, p->retries[i].name);
    for (i = 0; i < p->trust_store_count; i++)
        want_add(w, p->trust_stores[i].name);
    for (i = 0; i < p->stream_count; i++) {
        const wisp_policy_stream_t *s = &p->streams[i];

        for (k = 0; k < s->header_count; k++) {
            want_add(w, s->headers[k].name);
            want_add(w, s->headers[k].value);
        }
        for (k = 0; k < s->metadata_count; k++) {
            want_add(w, s->metadata[k].name);
            want_add(w, s->metadata[k].header);
        }
    }
    for (i = 0; i < p->stream_count; i++) {
        const wisp_policy_stream_t *s = &p->streams[i];

        want_add(w, s->name);
        if (s->server) {
            want_add(w, s->bind);
        } else {
            want_add(w, s->endpoint);
            want_add(w, s->url);
        }
    }
    want_add(w, p->release);
}

static int octal(char ch)
{
    return ch >= '0' && ch <= '7';
}

/* Lex c (NUL-terminated) as described at the top; every decoded literal is matched
 * against the next wanted string. Returns NULL or what went wrong. */
static const char *lex(const char *c, const want_t *w)
{
    static char lit[65536];
    size_t next = 0, n;
    long depth = 0;
    const char *q;

    for (q = c; *q; q++) {
        unsigned char ch = (unsigned char)*q;

        if ((ch < 0x20 && ch != '\n') || ch >= 0x7f)
            return "a byte outside printable ASCII and newline";
        if (q[0] == '/' && q[1] == '*') {
            const char *end = strstr(q + 2, "*/"), *open = strstr(q + 2, "/*");

            if (!end)
                return "an unterminated comment";
            if (open && open < end)
                return "a comment start inside a comment";
            q = end + 1;
            continue;
        }
        if (q[0] == '/' && q[1] == '/')
            return "a // comment (not C90-safe in every consumer)";
        if (ch == '{' || ch == '[' || ch == '(')
            depth++;
        if (ch == '}' || ch == ']' || ch == ')') {
            if (--depth < 0)
                return "a closing bracket without an opening one";
        }
        if (ch == '\'')
            return "a character literal (the emitter writes none)";
        if (ch != '"')
            continue;
        n = 0;
        for (q++; *q != '"'; q++) {
            if (*q == '\n' || !*q)
                return "a string literal not closed on its line";
            if (q[0] == '?' && q[1] == '?')
                return "\"??\" inside a literal (a trigraph in C99)";
            if (*q == '\\') {
                if (q[1] == '\\' || q[1] == '"') {
                    lit[n++] = q[1];
                    q++;
                } else if (octal(q[1]) && octal(q[2]) && octal(q[3])) {
                    lit[n++] = (char)((q[1] - '0') * 64 + (q[2] - '0') * 8 + (q[3] - '0'));
                    q += 3;
                } else {
                    return "an escape other than \\\\, \\\" and \\ooo";
                }
            } else {
                lit[n++] = *q;
            }
            if (n >= sizeof(lit) - 1)
                return "a literal longer than the test's buffer";
        }
        lit[n] = '\0';
        if (memchr(lit, '\0', n))
            return "a NUL inside a literal";
        if (next >= w->n)
            return "more string literals than the model holds";
        if (strcmp(lit, w->s[next]))
            return "a literal that decodes to another string than the model's";
        next++;
    }
    if (depth)
        return "unbalanced brackets";
    if (next != w->n)
        return "fewer string literals than the model holds";
    return NULL;
}

static char *emit(const wisp_policy_t *p, char **h, size_t *clen)
{
    char *cbuf = NULL;
    size_t hlen = 0;
    FILE *cf = open_memstream(&cbuf, clen), *hf = open_memstream(h, &hlen);

    if (!cf || !hf)
        abort();
    if (emit_policy(cf, hf, p, "fuzz_policy", "fuzz*/input.json", "fuzz_policy.h"))
        abort();
    if (fclose(cf) || fclose(hf))
        abort();
    return cbuf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wisp_policy_errors_t errs;
    static want_t want;
    wisp_context_info_t info;
    wisp_policy_t *p = NULL;
    wisp_context_t *cx;
    char *c1, *c2, *h1, *h2;
    size_t n1, n2;
    const char *why;
    wisp_stats_t st;

    memset(&info, 0, sizeof(info));
    info.log = quiet;
    if (wisp_context_create(&info, &cx))
        abort();
    if (!wisp_policy_load_json(cx, "fuzz.json", (const char *)data, size, &p, &errs)) {
        c1 = emit(p, &h1, &n1);
        c2 = emit(p, &h2, &n2);
        if (n1 != n2 || memcmp(c1, c2, n1) || strcmp(h1, h2))
            fail("two runs wrote different C", c1);
        if (strlen(c1) != n1)
            fail("a NUL byte in the C", c1);
        want_model(&want, p);
        if ((why = lex(c1, &want)) != NULL)
            fail(why, c1);
        want.n = 0;
        want_add(&want, "C"); /* extern "C" for C++ consumers */
        if ((why = lex(h1, &want)) != NULL)
            fail(why, h1);
        free(c1);
        free(c2);
        free(h1);
        free(h2);
        wisp_policy_free(cx, &p);
    }
    wisp_get_stats(cx, &st);
    if (st.heap_in_use)
        abort();
    wisp_context_destroy(cx);
    return 0;
}
