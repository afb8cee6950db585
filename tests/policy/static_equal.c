/*
 * Static and JSON policies are the same model.
 *
 * Every example policy (policies/, each .json) is compiled into const C at build time by
 * wisp_add_static_policy() (the generated list is static-policies.h) and loaded at
 * run time by the JSON loader; the two models must be equal field by field, and the
 * static one must work through the same API without ever being freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testfiles.h"
#include "policy-compare.h"
#include "static-policies.h" /* WISP_STATIC_POLICIES(X): X(name, "path.json") */

typedef struct entry {
    const wisp_policy_t *policy;
    const char *path;
} entry_t;

#define ENTRY(name, path) {&name, path},
static const entry_t entries[] = {WISP_STATIC_POLICIES(ENTRY)};

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

static void test_static_equals_json(void **state)
{
    static wisp_policy_errors_t errs;
    wisp_context_info_t info;
    wisp_context_t *cx;
    wisp_policy_t *loaded, *sp;
    wisp_stats_t st;
    char why[256];
    size_t i, len;
    char *text;

    (void)state;
    memset(&info, 0, sizeof(info));
    info.log = quiet;
    assert_int_equal(wisp_context_create(&info, &cx), 0);
    assert_true(sizeof(entries) / sizeof(entries[0]) >= 3);
    for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        const wisp_policy_t *s = entries[i].policy;

        text = test_read_file(entries[i].path, &len);
        assert_non_null(text);
        if (wisp_policy_load_json(cx, entries[i].path, text, len, &loaded, &errs))
            fail_msg("%s: %s", entries[i].path, errs.count ? errs.e[0].text : "load failed");
        free(text);
        if (!policy_equal(s, loaded, why, sizeof(why)))
            fail_msg("%s: static and JSON differ: %s", entries[i].path, why);
        assert_false(s->allocated);
        /* The same lookups work on both. */
        if (s->stream_count)
            assert_ptr_equal(wisp_policy_stream_find(s, s->streams[0].name), &s->streams[0]);
        wisp_policy_free(cx, &loaded);
        /* Freeing a static policy only clears the caller's pointer. */
        sp = (wisp_policy_t *)(uintptr_t)s;
        wisp_policy_free(cx, &sp);
        assert_null(sp);
    }
    wisp_get_stats(cx, &st);
    assert_int_equal(st.heap_in_use, 0);
    wisp_context_destroy(cx);
}

/* A static policy is accepted by the context as is. */
static void test_context_takes_static(void **state)
{
    wisp_context_info_t info;
    wisp_context_t *cx;

    (void)state;
    memset(&info, 0, sizeof(info));
    info.log = quiet;
    info.policy = entries[0].policy;
    assert_int_equal(wisp_context_create(&info, &cx), 0);
    assert_ptr_equal(wisp_context_policy(cx), entries[0].policy);
    wisp_context_destroy(cx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_equals_json),
        cmocka_unit_test(test_context_takes_static),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
