/*
 * Numeric hosts (SPEC §8): every spelling glibc's inet_aton(3) reads as IPv4 but the
 * dotted quad is refused, by the loader for a literal endpoint or bind, and by
 * WISP_TEMPLATE_HOST after ${slot} expansion. One table of spellings drives all
 * three checks, so the classifier, the loader and the expander cannot drift apart.
 * The forms and addresses are what glibc 2.36's inet_aton(3) and
 * getaddrinfo(AI_NUMERICHOST) answer for each spelling (WISP_HOST_NUMERIC: both
 * refuse it, though every label is a number).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy-internal.h"

typedef struct host_case {
    const char *host;
    int form;      /* enum wisp__host_form */
    uint32_t addr; /* for WISP_HOST_IPV4 and WISP_HOST_IPV4_ODD */
} host_case_t;

static const host_case_t cases[] = {
    /* The canonical dotted quad, the only IPv4 spelling accepted. */
    {"127.0.0.1", WISP_HOST_IPV4, 0x7f000001},
    {"0.0.0.0", WISP_HOST_IPV4, 0},
    {"255.255.255.255", WISP_HOST_IPV4, 0xffffffff},
    {"10.20.30.40", WISP_HOST_IPV4, 0x0a141e28},
    /* Short forms: the last part fills the remaining bytes. */
    {"127.1", WISP_HOST_IPV4_ODD, 0x7f000001},
    {"1.2.3", WISP_HOST_IPV4_ODD, 0x01020003},
    {"10.65535", WISP_HOST_IPV4_ODD, 0x0a00ffff},
    {"2130706433", WISP_HOST_IPV4_ODD, 0x7f000001},
    {"0", WISP_HOST_IPV4_ODD, 0},
    {"4294967295", WISP_HOST_IPV4_ODD, 0xffffffff},
    /* Hex and octal parts, and leading zeros (octal to glibc). */
    {"0x7f.1", WISP_HOST_IPV4_ODD, 0x7f000001},
    {"0X7F.0.0.1", WISP_HOST_IPV4_ODD, 0x7f000001},
    {"0x7f000001", WISP_HOST_IPV4_ODD, 0x7f000001},
    {"0177.0.0.1", WISP_HOST_IPV4_ODD, 0x7f000001},
    {"127.0.0.01", WISP_HOST_IPV4_ODD, 0x7f000001},
    {"127.000.000.001", WISP_HOST_IPV4_ODD, 0x7f000001},
    {"010.0.0.1", WISP_HOST_IPV4_ODD, 0x08000001},
    /* Numeric, but glibc refuses it as an address: refused too. */
    {"1.2.3.256", WISP_HOST_NUMERIC, 0},
    {"256.1", WISP_HOST_NUMERIC, 0},
    {"1.65536.1", WISP_HOST_NUMERIC, 0},
    {"4294967296", WISP_HOST_NUMERIC, 0},
    {"99999999999999999999", WISP_HOST_NUMERIC, 0},
    {"08.0.0.1", WISP_HOST_NUMERIC, 0},
    {"1.2.3.4.5", WISP_HOST_NUMERIC, 0},
    {"0x.0.0.1", WISP_HOST_NUMERIC, 0},
    {"127.0.0.1.", WISP_HOST_NUMERIC, 0},
    /* Names and IPv6 literals pass. */
    {"api.example.com", WISP_HOST_NAME, 0},
    {"localhost", WISP_HOST_NAME, 0},
    {"1.2.3.4.example", WISP_HOST_NAME, 0},
    {"example.123", WISP_HOST_NAME, 0},
    {"1a.2.3.4", WISP_HOST_NAME, 0},
    {"0x7g.1", WISP_HOST_NAME, 0},
    {"1..2", WISP_HOST_NAME, 0},
    {"::1", WISP_HOST_NAME, 0},
    {"[::1]", WISP_HOST_NAME, 0},
    {"::ffff:127.0.0.1", WISP_HOST_NAME, 0},
    {"fe80::1", WISP_HOST_NAME, 0},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void test_host_form(void **state)
{
    size_t i;
    uint32_t a;

    (void)state;
    for (i = 0; i < NCASES; i++) {
        a = 0xdeadbeef;
        if (wisp__host_form(cases[i].host, strlen(cases[i].host), &a) != cases[i].form)
            fail_msg("\"%s\": form %d, want %d", cases[i].host,
                     wisp__host_form(cases[i].host, strlen(cases[i].host), NULL), cases[i].form);
        if (cases[i].form == WISP_HOST_IPV4 || cases[i].form == WISP_HOST_IPV4_ODD)
            if (a != cases[i].addr)
                fail_msg("\"%s\": address %08x, want %08x", cases[i].host, (unsigned)a,
                         (unsigned)cases[i].addr);
    }
    /* Only the given length counts. */
    assert_int_equal(wisp__host_form("127.0.0.1xyz", 9, NULL), WISP_HOST_IPV4);
    assert_int_equal(wisp__host_form(NULL, 0, NULL), WISP_HOST_NAME);
    assert_int_equal(wisp__host_form("", 0, NULL), WISP_HOST_NAME);
}

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

static wisp_context_t *context(void)
{
    wisp_context_info_t info;
    wisp_context_t *cx;

    memset(&info, 0, sizeof(info));
    info.log = quiet;
    assert_int_equal(wisp_context_create(&info, &cx), 0);
    return cx;
}

/* Load a one-stream policy whose key holds host; 0 or the single error line. */
static int load_host(wisp_context_t *cx, const char *key, const char *host,
                     wisp_policy_errors_t *errs)
{
    char json[512];
    wisp_policy_t *p = NULL;
    int ret;

    snprintf(json, sizeof(json),
             "{\"schema\":1,\"streams\":{\"s\":{%s\"%s\":\"%s\",\"tls\":false}}}",
             strcmp(key, "bind") ? "" : "\"server\":true,", key, host);
    ret = wisp_policy_load_json(cx, "policy.json", json, strlen(json), &p, errs);
    wisp_policy_free(cx, &p);
    return ret;
}

static void test_loader_refuses(void **state)
{
    static const char *const keys[] = {"endpoint", "bind"};
    wisp_policy_errors_t errs;
    wisp_context_t *cx = context();
    char want[256];
    size_t i, k;
    int col;

    (void)state;
    for (k = 0; k < 2; k++) {
        for (i = 0; i < NCASES; i++) {
            const host_case_t *c = &cases[i];
            int ret = load_host(cx, keys[k], c->host, &errs);

            if (c->form <= WISP_HOST_IPV4) {
                if (ret)
                    fail_msg("%s \"%s\": %s", keys[k], c->host, errs.e[0].text);
                continue;
            }
            assert_int_equal(ret, WISP_EPOLICY);
            assert_int_equal(errs.count, 1);
            /* The value's column: after {"schema":1,"streams":{"s":{ and the key. */
            col = 32 + (k ? 14 : 0) + (int)strlen(keys[k]);
            if (c->form == WISP_HOST_IPV4_ODD)
                snprintf(want, sizeof(want),
                         "policy.json:1:%d: streams.s.%s: \"%s\" is a short or odd IPv4 "
                         "spelling: write %u.%u.%u.%u",
                         col, keys[k], c->host, (unsigned)(c->addr >> 24),
                         (unsigned)(c->addr >> 16 & 255), (unsigned)(c->addr >> 8 & 255),
                         (unsigned)(c->addr & 255));
            else
                snprintf(want, sizeof(want),
                         "policy.json:1:%d: streams.s.%s: \"%s\" is numeric but not an IPv4 "
                         "address (write a dotted quad)",
                         col, keys[k], c->host);
            assert_string_equal(errs.e[0].text, want);
        }
    }
    /* A templated endpoint is judged after expansion, not here. */
    assert_int_equal(
        load_host(cx, "endpoint", "127.${x}\",\"metadata\":{\"x\":null},\"url\":\"/", &errs), 0);
    wisp_context_destroy(cx);
}

typedef struct slot_value {
    const char *v;
} slot_value_t;

static int get_slot(void *user, const char *name, size_t len, const char **value, size_t *vlen)
{
    const slot_value_t *sv = user;

    (void)name;
    (void)len;
    *value = sv->v;
    *vlen = strlen(sv->v);
    return 0;
}

/* Expand tmpl with every slot set to value. */
static int expand(const char *tmpl, wisp_template_mode_t mode, const char *value, char *out,
                  size_t size, size_t *len)
{
    slot_value_t sv = {value};

    return wisp_policy_template_expand(tmpl, mode, get_slot, &sv, out, size, len);
}

static void test_template_host(void **state)
{
    char out[64];
    size_t i, len;
    int ret;

    (void)state;
    for (i = 0; i < NCASES; i++) {
        const char *h = cases[i].host;

        /* The whole host from one slot. */
        ret = expand("${h}", WISP_TEMPLATE_HOST, h, out, sizeof(out), &len);
        if (cases[i].form <= WISP_HOST_IPV4) {
            if (ret)
                fail_msg("\"%s\": %d", h, ret);
            assert_string_equal(out, h);
            assert_int_equal(len, strlen(h));
        } else {
            if (ret != WISP_EINVAL)
                fail_msg("\"%s\": %d, want WISP_EINVAL", h, ret);
            assert_string_equal(out, "");
            /* The header mode does not judge hosts. */
            assert_int_equal(expand("${h}", WISP_TEMPLATE_HEADER, h, out, sizeof(out), NULL), 0);
        }
    }
    /* Literal text and slot value are judged together. */
    assert_int_equal(expand("127.${h}", WISP_TEMPLATE_HOST, "1", out, sizeof(out), NULL),
                     WISP_EINVAL);
    assert_int_equal(expand("127.0.0.${h}", WISP_TEMPLATE_HOST, "1", out, sizeof(out), NULL), 0);
    assert_int_equal(expand("${h}.example.com", WISP_TEMPLATE_HOST, "127", out, sizeof(out), NULL),
                     0);
    /* As the header mode: CR, LF and NUL are refused. */
    assert_int_equal(expand("${h}", WISP_TEMPLATE_HOST, "a\r\nb", out, sizeof(out), NULL),
                     WISP_EHEADER);
    assert_int_equal(expand("${h}", WISP_TEMPLATE_HOST, "a\nb", out, sizeof(out), NULL),
                     WISP_EHEADER);
    /* An unset slot is empty: "" is a (bad) name, for the resolver to refuse. */
    assert_int_equal(expand("${h}", WISP_TEMPLATE_HOST, "", out, sizeof(out), NULL), 0);
    assert_int_equal(expand("${h}", (wisp_template_mode_t)99, "x", out, sizeof(out), NULL),
                     WISP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_form),
        cmocka_unit_test(test_loader_refuses),
        cmocka_unit_test(test_template_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
