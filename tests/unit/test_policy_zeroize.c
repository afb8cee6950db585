/*
 * Private keys, and the policy text that held them, are zeroized before they are
 * freed (SPEC §8): the loader's certificate text buffer, the tokenizer's scratch
 * (inside the loader block) and the model's DER blobs.
 *
 * A recording test allocator looks at every block as it is freed. No freed block may
 * still hold a piece of the key, as DER or as its base64 text, and the model's own
 * DER block for the key must be all zero when it goes. Three ways through the
 * loader: a clean load owned by a context, a load that fails after the key was read
 * (fed byte by byte, so the tokenizer delivers the key in pieces), and a key whose
 * decoding fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testalloc.h"
#include "testfiles.h"
#include "policy/policy-internal.h"

#define NEEDLE_LEN 16
#define NEEDLES_MAX 16

typedef struct watch {
    const uint8_t *needle[NEEDLES_MAX]; /* pieces of the key, DER and text */
    size_t count;
    const void *model_der; /* the model's key DER block, once known */
    size_t model_der_len;
    unsigned model_der_seen, model_der_zero, leaks, frees;
    char where[160];
} watch_t;

static int holds(const uint8_t *p, size_t n, const uint8_t *needle)
{
    size_t i;

    for (i = 0; i + NEEDLE_LEN <= n; i++)
        if (!memcmp(p + i, needle, NEEDLE_LEN))
            return 1;
    return 0;
}

static void on_free(void *user, const void *ptr, size_t size)
{
    watch_t *w = user;
    size_t i;

    w->frees++;
    /* wisp__alloc() puts its size header first: the DER lies inside the block. */
    if (w->model_der && (const uint8_t *)w->model_der >= (const uint8_t *)ptr &&
        (const uint8_t *)w->model_der + w->model_der_len <= (const uint8_t *)ptr + size) {
        w->model_der_seen++;
        for (i = 0; i < w->model_der_len && !((const uint8_t *)w->model_der)[i]; i++)
            ;
        w->model_der_zero += i == w->model_der_len;
    }
    for (i = 0; i < w->count; i++) {
        if (holds(ptr, size, w->needle[i])) {
            if (!w->leaks)
                snprintf(w->where, sizeof(w->where),
                         "a freed block of %zu bytes holds key piece %zu", size, i);
            w->leaks++;
        }
    }
}

typedef struct test_key {
    uint8_t der[512];
    size_t der_len;
    char text[128]; /* the first base64 line of the key's PEM body */
} test_key_t;

static char *policy_text(size_t *len)
{
    char *text = test_read_file(WISP_SOURCE_DIR "/policies/client.json", len);

    assert_non_null(text);
    return text;
}

/* The key of policies/client.json, decoded the way the loader does it. */
static void find_key(test_key_t *k)
{
    static const char begin[] = "-----BEGIN EC PRIVATE KEY-----\\n";
    size_t len, n;
    char *text = policy_text(&len), *s, *e, *pem;
    wisp_cert_kind_t kind;
    const char *why = NULL;

    s = strstr(text, begin);
    assert_non_null(s);
    e = strstr(s, "-----END EC PRIVATE KEY-----");
    assert_non_null(e);
    /* The base64 lines, with the JSON "\n" escapes turned back into newlines. */
    pem = calloc(1, (size_t)(e - s) + 64);
    assert_non_null(pem);
    for (n = 0; s < e; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            pem[n++] = '\n';
            s++;
        } else {
            pem[n++] = *s;
        }
    }
    memcpy(pem + n, "-----END EC PRIVATE KEY-----", 28);
    n += 28;
    s = pem + sizeof(begin) - 2; /* past the header line and its newline */
    e = strchr(s, '\n');
    assert_non_null(e);
    assert_true((size_t)(e - s) < sizeof(k->text) && e - s >= 2 * NEEDLE_LEN);
    memcpy(k->text, s, (size_t)(e - s));
    k->text[e - s] = '\0';
    assert_int_equal(wisp__cert_decode(pem, &n, &kind, &why), 0);
    assert_int_equal(kind, WISP_CERT_KEY);
    assert_true(n <= sizeof(k->der) && n >= 4 * NEEDLE_LEN);
    memcpy(k->der, pem, n);
    k->der_len = n;
    free(pem);
    free(text);
}

static void watch_init(watch_t *w, const test_key_t *k)
{
    size_t i;

    memset(w, 0, sizeof(*w));
    /* Every whole 16-byte piece of the DER, and two of the text. */
    for (i = 0; i + NEEDLE_LEN <= k->der_len && w->count < NEEDLES_MAX - 2; i += NEEDLE_LEN)
        w->needle[w->count++] = k->der + i;
    w->needle[w->count++] = (const uint8_t *)k->text;
    w->needle[w->count++] = (const uint8_t *)k->text + NEEDLE_LEN;
}

static void test_scanner_sees_keys(void **state)
{
    test_key_t k;
    watch_t w;
    uint8_t block[600];

    (void)state;
    find_key(&k);
    watch_init(&w, &k);
    /* The check itself works: a block still holding the key is caught. */
    memset(block, 0, sizeof(block));
    memcpy(block + 7, k.der, k.der_len);
    on_free(&w, block, sizeof(block));
    assert_true(w.leaks > 0);
    w.leaks = 0;
    memcpy(block + 100, k.text, strlen(k.text));
    memset(block, 0, 100);
    memset(block + 100 + strlen(k.text), 0, sizeof(block) - 100 - strlen(k.text));
    on_free(&w, block, sizeof(block));
    assert_int_equal(w.leaks, 2);
}

/* A context loads the policy and later frees it. */
static void test_context_policy(void **state)
{
    const wisp_policy_cert_t *c;
    wisp_context_t *cx;
    testalloc_t ta;
    size_t len;
    char *text = policy_text(&len);
    test_key_t k;
    watch_t w;

    (void)state;
    find_key(&k);
    watch_init(&w, &k);
    testalloc_init(&ta, 0);
    testalloc_watch_frees(&ta, on_free, &w);
    assert_int_equal(testalloc_context(&ta, text, &cx), 0);
    c = wisp_policy_cert_find(wisp_context_policy(cx), "device_key");
    assert_non_null(c);
    assert_int_equal(c->len, k.der_len);
    assert_memory_equal(c->der, k.der, k.der_len);
    w.model_der = c->der;
    w.model_der_len = c->len;
    if (w.leaks)
        fail_msg("while loading: %s", w.where);
    wisp_context_destroy(cx);
    if (w.leaks)
        fail_msg("%s", w.where);
    assert_int_equal(w.model_der_seen, 1);
    assert_int_equal(w.model_der_zero, 1);
    assert_int_equal(ta.live_blocks, 0);
    testalloc_done(&ta);
    free(text);
}

/* Load text byte by byte through the fragment API; the result code. */
static int load_bytes(wisp_context_t *cx, const char *text, size_t len)
{
    wisp_policy_loader_t *l;
    wisp_policy_t *p = NULL;
    size_t i;
    int ret;

    assert_int_equal(wisp_policy_loader_create(cx, "policy.json", NULL, &l), 0);
    for (i = 0, ret = 0; !ret && i < len; i++)
        ret = wisp_policy_loader_feed(l, text + i, 1);
    if (ret != WISP_ENOMEM)
        ret = wisp_policy_loader_finish(l, &p);
    wisp_policy_loader_destroy(&l);
    wisp_policy_free(cx, &p);
    return ret;
}

static void run_failing(const char *what, char *text, size_t len)
{
    wisp_context_t *cx;
    testalloc_t ta;
    test_key_t k;
    watch_t w;

    find_key(&k);
    watch_init(&w, &k);
    testalloc_init(&ta, 0);
    testalloc_watch_frees(&ta, on_free, &w);
    assert_int_equal(testalloc_context(&ta, NULL, &cx), 0);
    assert_int_equal(load_bytes(cx, text, len), WISP_EPOLICY);
    wisp_context_destroy(cx);
    if (w.leaks)
        fail_msg("%s: %s", what, w.where);
    assert_true(w.frees > 0);
    assert_int_equal(ta.live_blocks, 0);
    testalloc_done(&ta);
}

/* The key is read, then the document breaks: the half-built model and the loader go. */
static void test_failed_load(void **state)
{
    size_t len;
    char *text = policy_text(&len), *cut = strstr(text, "\"trust_stores\"");

    (void)state;
    assert_non_null(cut);
    memcpy(cut, "}}}", 3);
    run_failing("syntax error after the key", text, (size_t)(cut - text) + 3);
    free(text);
}

/* A key whose text decodes but does not check out: the text buffer goes too. */
static void test_bad_key(void **state)
{
    size_t len;
    char *text = policy_text(&len), *end = strstr(text, "-----END EC PRIVATE KEY-----");

    (void)state;
    assert_non_null(end);
    memcpy(end, "-----END XX", 11); /* END line no longer matches its BEGIN line */
    run_failing("undecodable key", text, len);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_sees_keys),
        cmocka_unit_test(test_context_policy),
        cmocka_unit_test(test_failed_load),
        cmocka_unit_test(test_bad_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
