/*
 * Static and JSON policies are the same model.
 *
 * Every example policy (policies/, each .json) is compiled into const C at build time by
 * wisp_add_static_policy() (the generated list is static-policies.h) and loaded at
 * run time by the JSON loader; the two models must be equal field by field (the
 * layout stamp included), the static one must work through the same API without
 * ever being freed, and a context must refuse a static policy of another layout.
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

typedef struct log_capture {
    char line[512];
    unsigned errors;
} log_capture_t;

static void capture(void *user, int level, const char *line)
{
    log_capture_t *c = user;

    if (level != WISP_LOG_ERROR)
        return;
    c->errors++;
    snprintf(c->line, sizeof(c->line), "%s", line);
}

/* A static policy is stamped with the layout of the wisp-policy that wrote it, and a
 * context refuses any other: an older tool's policy (layout 1 is the unstamped one,
 * whose first field, schema, is 1) or a newer one's. */
static void test_layout_stamp(void **state)
{
    static const uint32_t wrong[] = {0, 1, WISP_POLICY_LAYOUT + 1, 0xffffffffu};
    wisp_context_info_t info;
    wisp_context_t *cx;
    wisp_policy_t copy;
    log_capture_t log;
    char want[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        assert_int_equal(entries[i].policy->layout, WISP_POLICY_LAYOUT);
    for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        copy = *entries[0].policy;
        copy.layout = wrong[i];
        memset(&log, 0, sizeof(log));
        memset(&info, 0, sizeof(info));
        info.log = capture;
        info.log_user = &log;
        info.policy = &copy;
        cx = (wisp_context_t *)&log; /* must be cleared on failure */
        assert_int_equal(wisp_context_create(&info, &cx), WISP_EPOLICY);
        assert_null(cx);
        assert_int_equal(log.errors, 1);
        snprintf(want, sizeof(want), "policy: layout %lu, but this library reads layout %d",
                 (unsigned long)wrong[i], WISP_POLICY_LAYOUT);
        if (!strstr(log.line, want) || !strstr(log.line, "wisp-policy"))
            fail_msg("log line \"%s\" lacks \"%s\"", log.line, want);
    }
    /* The right stamp, and no policy at all, still work. */
    copy.layout = WISP_POLICY_LAYOUT;
    info.policy = &copy;
    assert_int_equal(wisp_context_create(&info, &cx), 0);
    wisp_context_destroy(cx);
    info.policy = NULL;
    assert_int_equal(wisp_context_create(&info, &cx), 0);
    wisp_context_destroy(cx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_equals_json),
        cmocka_unit_test(test_context_takes_static),
        cmocka_unit_test(test_layout_stamp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
