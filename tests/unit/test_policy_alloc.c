/*
 * Allocation failure at every allocation site of a policy load.
 *
 * The context gets an allocator that fails its n-th call. For n = 1, 2, ... over a
 * whole load of each example policy (and of a policy with errors, whose error path
 * allocates too), the load must fail cleanly with WISP_ENOMEM, return no policy and
 * leave heap_in_use exactly where it was, until n passes the number of allocations
 * the load makes and it succeeds. Loads are run whole and in small fragments, which
 * take different paths through the tokenizer's string pieces. At the end the
 * allocator itself must hold nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <wisp/policy.h>

#include "testfiles.h"

typedef struct failing {
    unsigned long calls;   /* allocations since the last reset */
    unsigned long fail_at; /* fail this call (1-based); 0: never */
    long live;             /* blocks handed out and not yet freed */
} failing_t;

static void *f_alloc(void *user, size_t size)
{
    failing_t *f = user;
    void *p;

    if (f->fail_at && ++f->calls == f->fail_at)
        return NULL;
    p = malloc(size);
    if (p)
        f->live++;
    return p;
}

static void f_free(void *user, void *ptr)
{
    failing_t *f = user;

    if (ptr) {
        f->live--;
        free(ptr);
    }
}

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

static size_t heap(wisp_context_t *cx)
{
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    return st.heap_in_use;
}

static int load(wisp_context_t *cx, const char *text, size_t len, size_t step, wisp_policy_t **out)
{
    static wisp_policy_errors_t errs;
    wisp_policy_loader_t *l;
    size_t off, n;
    int ret;

    if (!step)
        return wisp_policy_load_json(cx, "policy.json", text, len, out, &errs);
    *out = NULL;
    ret = wisp_policy_loader_create(cx, "policy.json", &errs, &l);
    if (ret)
        return ret;
    for (off = 0; !ret && off < len; off += n) {
        n = len - off < step ? len - off : step;
        ret = wisp_policy_loader_feed(l, text + off, n);
    }
    if (ret != WISP_ENOMEM)
        ret = wisp_policy_loader_finish(l, out);
    wisp_policy_loader_destroy(&l);
    return ret;
}

/* Fail every allocation of one load in turn; want is the result without failures. */
static void sweep(const char *name, const char *text, size_t len, size_t step, int want)
{
    failing_t fa = {0, 0, 0};
    wisp_allocator_t a = {f_alloc, f_free, &fa};
    wisp_context_info_t info;
    wisp_context_t *cx;
    wisp_policy_t *p;
    unsigned long n;
    size_t base;
    int ret;

    memset(&info, 0, sizeof(info));
    info.allocator = &a;
    info.log = quiet;
    assert_int_equal(wisp_context_create(&info, &cx), 0);
    base = heap(cx);
    for (n = 1;; n++) {
        fa.calls = 0;
        fa.fail_at = n;
        p = (wisp_policy_t *)&p;
        ret = load(cx, text, len, step, &p);
        fa.fail_at = 0;
        if (fa.calls < n) {
            /* Allocation n never happened: the load ran clean. */
            if (ret != want)
                fail_msg("%s (step %zu): %d without failures, want %d", name, step, ret, want);
            break;
        }
        if (ret != WISP_ENOMEM || p != NULL)
            fail_msg("%s (step %zu): allocation %lu failed, got %d", name, step, n, ret);
        if (heap(cx) != base)
            fail_msg("%s (step %zu): allocation %lu failed, %zu bytes left", name, step, n,
                     heap(cx) - base);
    }
    assert_true(n > 3); /* the sweep reached real allocation sites */
    print_message("%s (step %zu): %lu allocation sites failed in turn\n", name, step, n - 1);
    wisp_policy_free(cx, &p);
    assert_int_equal(heap(cx), base);
    wisp_context_destroy(cx);
    assert_int_equal(fa.live, 0);
}

static void test_examples(void **state)
{
    static const char *const names[] = {"minimal.json", "client.json", "server.json",
                                        "loopback.json"};
    char path[1024];
    size_t i, len;
    char *text;

    (void)state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/policies/%s", WISP_SOURCE_DIR, names[i]);
        text = test_read_file(path, &len);
        assert_non_null(text);
        sweep(names[i], text, len, 0, 0);
        sweep(names[i], text, len, 97, 0);
        free(text);
    }
}

/* Errors allocate too (pending references with their paths, the cert text). */
static void test_with_errors(void **state)
{
    static const char json[] =
        "{\"schema\":1,\"certs\":{\"c\":\"MAUwAAIBAA==\",\"bad\":\"@@\"},"
        "\"trust_stores\":{\"t\":{\"certs\":[\"c\",\"nope\"]}},"
        "\"streams\":{\"s\":{\"endpoint\":\"${h}\",\"trust_store\":\"tt\",\"url\":\"/${x}\","
        "\"metadata\":{\"h\":null},\"headers\":{\"a\":\"b\"},\"retry\":\"r\"}}}";

    (void)state;
    sweep("errors", json, sizeof(json) - 1, 0, WISP_EPOLICY);
    sweep("errors", json, sizeof(json) - 1, 5, WISP_EPOLICY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_with_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
