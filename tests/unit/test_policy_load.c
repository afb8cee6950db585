/*
 * The JSON policy loader (lib/policy/json-load.c, json-cert.c) and the model API
 * (lib/policy/policy.c).
 *
 * - every example policy loads clean, fed whole, byte by byte and in random splits,
 *   into the same model each time;
 * - every error class has a failing policy whose errors are checked exactly
 *   (line, column, path, message), whole and byte by byte, each also logged;
 * - defaults, limits, the error cap, the loader API contract, lookups and the
 *   ${slot} template expander;
 * - nothing leaks: heap in use is back to its baseline after every load.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testfiles.h"
#include "../policy/policy-compare.h"
#include "policy/policy-internal.h"

/* ---- Fixture: a context whose log lines are counted ---- */

typedef struct fixture {
    wisp_context_t *cx;
    unsigned logged_errors;
    size_t baseline;
    wisp_policy_errors_t errs;
} fixture_t;

static void count_log(void *user, int level, const char *line)
{
    fixture_t *f = user;

    (void)line;
    if (level == WISP_LOG_ERROR)
        f->logged_errors++;
}

static size_t heap(wisp_context_t *cx)
{
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    return st.heap_in_use;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    wisp_context_info_t info;

    if (!f)
        return -1;
    memset(&info, 0, sizeof(info));
    info.log = count_log;
    info.log_user = f;
    if (wisp_context_create(&info, &f->cx))
        return -1;
    f->baseline = heap(f->cx);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(heap(f->cx), f->baseline);
    wisp_context_destroy(f->cx);
    free(f);
    return 0;
}

/* ---- Helpers ---- */

/* A deterministic generator for the random splits, the same on every run. */
static unsigned long rng_state = 12345;

static size_t rng(size_t n)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return (size_t)(rng_state >> 33) % n;
}

/* Load text through the fragment API. step 0: random fragments of 1..max bytes. */
static int load_split(fixture_t *f, const char *text, size_t len, size_t step, size_t max,
                      wisp_policy_t **out)
{
    wisp_policy_loader_t *l;
    size_t off = 0, n;
    int ret;

    assert_int_equal(wisp_policy_loader_create(f->cx, "policy.json", &f->errs, &l), 0);
    ret = 0;
    while (!ret && off < len) {
        n = step ? step : 1 + rng(max);
        if (n > len - off)
            n = len - off;
        ret = wisp_policy_loader_feed(l, text + off, n);
        off += n;
    }
    if (ret != WISP_ENOMEM)
        ret = wisp_policy_loader_finish(l, out);
    wisp_policy_loader_destroy(&l);
    assert_null(l);
    return ret;
}

/* The error list as one string, one line per error, each line's numbers checked
 * against the line and column fields. */
static const char *joined(const wisp_policy_errors_t *e)
{
    static char buf[WISP_POLICY_ERRORS_MAX * WISP_POLICY_ERROR_LEN];
    size_t n = 0;
    unsigned i, line, col;

    buf[0] = '\0';
    for (i = 0; i < e->count; i++) {
        const char *t = strchr(e->e[i].text, ':');

        assert_non_null(t);
        assert_int_equal(sscanf(t, ":%u:%u:", &line, &col), 2);
        assert_int_equal(line, e->e[i].line);
        assert_int_equal(col, e->e[i].col);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\n", e->e[i].text);
    }
    return buf;
}

/* ---- Every example policy, whole and in pieces ---- */

static void check_example(fixture_t *f, const char *path)
{
    wisp_policy_t *whole = NULL, *piece = NULL;
    char why[256];
    size_t len;
    char *text = test_read_file(path, &len);
    int i;

    assert_non_null(text);
    if (wisp_policy_load_json(f->cx, "policy.json", text, len, &whole, &f->errs))
        fail_msg("%s: %s", path, f->errs.count ? f->errs.e[0].text : "load failed");
    assert_int_equal(f->errs.count, 0);
    assert_true(whole->allocated);
    assert_int_equal(load_split(f, text, len, 1, 0, &piece), 0);
    if (!policy_equal(whole, piece, why, sizeof(why)))
        fail_msg("%s byte by byte: %s", path, why);
    wisp_policy_free(f->cx, &piece);
    for (i = 0; i < 25; i++) {
        assert_int_equal(load_split(f, text, len, 0, i < 12 ? 8 : 2000, &piece), 0);
        if (!policy_equal(whole, piece, why, sizeof(why)))
            fail_msg("%s random split %d: %s", path, i, why);
        wisp_policy_free(f->cx, &piece);
    }
    wisp_policy_free(f->cx, &whole);
    assert_null(whole);
    assert_int_equal(heap(f->cx), f->baseline);
    free(text);
}

static void test_examples(void **state)
{
    fixture_t *f = *state;
    char path[1024];
    struct dirent *d;
    DIR *dir = opendir(WISP_SOURCE_DIR "/policies");
    int n = 0;

    assert_non_null(dir);
    while ((d = readdir(dir))) {
        size_t len = strlen(d->d_name);

        if (len < 6 || strcmp(d->d_name + len - 5, ".json") ||
            !strcmp(d->d_name, "wisp-policy.schema.json"))
            continue;
        snprintf(path, sizeof(path), "%s/policies/%s", WISP_SOURCE_DIR, d->d_name);
        check_example(f, path);
        n++;
    }
    closedir(dir);
    assert_true(n >= 3);
    assert_int_equal(f->logged_errors, 0);
}

/* ---- Failing policies: one or more per error class ---- */

typedef struct bad_case {
    const char *name;
    const char *json;
    const char *errors; /* the exact error lines, each ending in \n */
} bad_case_t;

static const bad_case_t bad[] = {
    {"syntax_root", "{\"schema\":1,}", "policy.json:1:13: (root): trailing comma before '}'\n"},
    {"syntax_nested", "{\"schema\":1,\"streams\":{\"a\":{\"port\":1,}}}",
     "policy.json:1:38: streams.a: trailing comma before '}'\n"},
    {"not_object", "[\"schema\", 1]",
     "policy.json:1:1: (root): expected an object, got an array\n"},
    {"missing_schema", "{}", "policy.json:1:1: schema: missing required key\n"},
    {"bad_schema", "{\"schema\":2}",
     "policy.json:1:11: schema: unsupported schema version 2 (this loader reads 1)\n"},
    {"schema_type", "{\"schema\":\"1\"}",
     "policy.json:1:11: schema: expected an integer, got a string\n"},
    {"unknown_key", "{\"schema\":1,\"stream\":{}}",
     "policy.json:1:13: stream: unknown key (did you mean \"streams\"?)\n"},
    {"unknown_key_nohint", "{\"schema\":1,\"colour\":\"red\"}",
     "policy.json:1:13: colour: unknown key\n"},
    {"dup_root_key", "{\"schema\":1,\"schema\":1}", "policy.json:1:13: schema: duplicate key\n"},
    {"dup_entry",
     "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[1]},\"r\":{\"backoff_ms\":[2]}}}",
     "policy.json:1:45: retry.r: duplicate key\n"},
    {"wrong_type_skip",
     "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[1],\"jitter_pct\":{\"a\":[1,{\"b\":2}]}}}}",
     "policy.json:1:57: retry.r.jitter_pct: expected an integer, got an object\n"},
    {"not_integer", "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[1.5],\"jitter_pct\":1e1}}}",
     "policy.json:1:41: retry.r.backoff_ms[0]: expected an integer, got 1.5\n"
     "policy.json:1:59: retry.r.jitter_pct: expected an integer, got 1e1\n"},
    {"negative", "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[-1]}}}",
     "policy.json:1:41: retry.r.backoff_ms[0]: must be 0..86400000, got -1\n"},
    {"huge", "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[99999999999999999999999]}}}",
     "policy.json:1:41: retry.r.backoff_ms[0]: must be 0..86400000, got 99999999999999999999999\n"},
    {"bad_name", "{\"schema\":1,\"retry\":{\"r 1\":{\"backoff_ms\":[1]}}}",
     "policy.json:1:22: retry.r 1: invalid name (use A-Z a-z 0-9 _ -)\n"},
    {"long_name",
     "{\"schema\":1,\"retry\":{"
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":{\"backoff_ms\":[1]}}}",
     "policy.json:1:22: retry.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: "
     "name longer than 63 characters\n"},
    {"reserved_system", "{\"schema\":1,\"trust_stores\":{\"system\":{\"certs\":[\"x\"]}}}",
     "policy.json:1:29: trust_stores.system: the name \"system\" is reserved for the OS CA "
     "bundle\n"},
    {"retry_missing_backoff", "{\"schema\":1,\"retry\":{\"r\":{\"jitter_pct\":5}}}",
     "policy.json:1:26: retry.r.backoff_ms: missing required key\n"},
    {"retry_empty_backoff", "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[]}}}",
     "policy.json:1:40: retry.r.backoff_ms: must hold 1..16 delays\n"},
    {"retry_many_backoff",
     "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18]"
     "}}}",
     "policy.json:1:80: retry.r.backoff_ms[16]: more than 16 delays\n"},
    {"retry_jitter", "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[1],\"jitter_pct\":101}}}",
     "policy.json:1:57: retry.r.jitter_pct: must be 0..100, got 101\n"},
    {"retry_conceal_typo",
     "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[1],\"conceal\":\"forver\"}}}",
     "policy.json:1:54: retry.r.conceal: expected an integer or \"forever\" (did you mean "
     "\"forever\"?)\n"},
    {"retry_conceal_range",
     "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[1],\"conceal\":65535}}}",
     "policy.json:1:54: retry.r.conceal: must be 0..65534, got 65535\n"},
    {"retry_not_object", "{\"schema\":1,\"retry\":{\"r\":[1]}}",
     "policy.json:1:26: retry.r: expected an object, got an array\n"},
    {"cert_not_string", "{\"schema\":1,\"certs\":{\"c\":42}}",
     "policy.json:1:26: certs.c: expected a string (PEM or base64 DER), got a number\n"},
    {"cert_bad_base64", "{\"schema\":1,\"certs\":{\"c\":\"MII*\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: invalid base64 character\n"},
    {"cert_bad_length", "{\"schema\":1,\"certs\":{\"c\":\"MIIBx\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: base64 length is not a multiple "
     "of 4\n"},
    {"cert_pem_label",
     "{\"schema\":1,\"certs\":{\"c\":\"-----BEGIN PUBLIC KEY-----\\nMAA=\\n-----END PUBLIC "
     "KEY-----\\n\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: unsupported PEM type (expected "
     "CERTIFICATE or a PRIVATE KEY)\n"},
    {"cert_pem_two",
     "{\"schema\":1,\"certs\":{\"c\":\"-----BEGIN CERTIFICATE-----\\nMAA=\\n-----END "
     "CERTIFICATE-----\\n-----BEGIN CERTIFICATE-----\\nMAA=\\n-----END CERTIFICATE-----\\n\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: more than one PEM block (one "
     "certificate or key per entry)\n"},
    {"cert_pem_encrypted",
     "{\"schema\":1,\"certs\":{\"c\":\"-----BEGIN ENCRYPTED PRIVATE KEY-----\\nMAA=\\n-----END "
     "ENCRYPTED PRIVATE KEY-----\\n\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: encrypted private keys are not "
     "supported\n"},
    {"cert_pem_headers",
     "{\"schema\":1,\"certs\":{\"c\":\"-----BEGIN RSA PRIVATE KEY-----\\nProc-Type: "
     "4,ENCRYPTED\\n\\nMAA=\\n-----END RSA PRIVATE KEY-----\\n\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: PEM headers (encrypted PEM) are "
     "not supported\n"},
    {"cert_pem_end",
     "{\"schema\":1,\"certs\":{\"c\":\"-----BEGIN CERTIFICATE-----\\nMAA=\\n-----END "
     "CERTIFICAT-----\\n\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: PEM END line does not match its "
     "BEGIN line\n"},
    {"cert_pem_noend", "{\"schema\":1,\"certs\":{\"c\":\"-----BEGIN CERTIFICATE-----\\nMAA=\\n\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: PEM block has no \"-----END\" "
     "line\n"},
    {"cert_der_truncated", "{\"schema\":1,\"certs\":{\"c\":\"MAUCAQ==\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: malformed DER (truncated, "
     "corrupted or not a DER SEQUENCE)\n"},
    {"cert_der_trailing", "{\"schema\":1,\"certs\":{\"c\":\"MAMCAQEA\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: malformed DER (truncated, "
     "corrupted or not a DER SEQUENCE)\n"},
    {"cert_der_neither", "{\"schema\":1,\"certs\":{\"c\":\"MAMEAQA=\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: DER holds neither a certificate "
     "nor a private key\n"},
    {"cert_der_not_seq", "{\"schema\":1,\"certs\":{\"c\":\"AgEB\"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: malformed DER (truncated, "
     "corrupted or not a DER SEQUENCE)\n"},
    {"cert_empty", "{\"schema\":1,\"certs\":{\"c\":\"  \"}}",
     "policy.json:1:26: certs.c: not a valid certificate or key: empty certificate\n"},
    {"trust_missing_certs", "{\"schema\":1,\"trust_stores\":{\"t\":{\"linger_ms\":5}}}",
     "policy.json:1:33: trust_stores.t.certs: missing required key\n"},
    {"trust_empty_certs", "{\"schema\":1,\"trust_stores\":{\"t\":{\"certs\":[]}}}",
     "policy.json:1:42: trust_stores.t.certs: must hold 1..16 certificates\n"},
    {"trust_unknown_cert",
     "{\"schema\":1,\"certs\":{\"root_ca\":\"MAMCAQA=\"},\"trust_stores\":{\"t\":{\"certs\":["
     "\"root_cb\"]}}}",
     "policy.json:1:74: trust_stores.t.certs[0]: unknown certificate \"root_cb\" (did you mean "
     "\"root_ca\"?)\n"},
    {"trust_key_as_cert",
     "{\"schema\":1,\"certs\":{\"k\":\"MAMCAQA=\"},\"trust_stores\":{\"t\":{\"certs\":[\"k\"]}}}",
     "policy.json:1:68: trust_stores.t.certs[0]: \"k\" is a private key, not a certificate\n"},
    {"trust_cert_not_string", "{\"schema\":1,\"trust_stores\":{\"t\":{\"certs\":[1]}}}",
     "policy.json:1:43: trust_stores.t.certs[0]: expected a string, got a number\n"},
    {"stream_missing_endpoint", "{\"schema\":1,\"streams\":{\"s\":{\"tls\":false}}}",
     "policy.json:1:28: streams.s.endpoint: missing required key\n"},
    {"stream_missing_trust", "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\"}}}",
     "policy.json:1:28: streams.s.trust_store: missing required key\n"},
    {"stream_client_cert_alone",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"client_key\":\"k\"}}}",
     "policy.json:1:56: streams.s.client_key: needs \"tls\": true\n"
     "policy.json:1:56: streams.s.client_key: needs \"client_cert\" too\n"
     "policy.json:1:69: streams.s.client_key: unknown certificate \"k\"\n"},
    {"stream_role_key",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"body_limit\":5}}}",
     "policy.json:1:56: streams.s.body_limit: not valid for a client stream\n"},
    {"stream_server_role_key",
     "{\"schema\":1,\"streams\":{\"s\":{\"server\":true,\"tls\":false,\"method\":\"GET\",\"retry\":"
     "\"r\"}}}",
     "policy.json:1:55: streams.s.method: not valid for a server stream\n"
     "policy.json:1:70: streams.s.retry: not valid for a server stream\n"
     "policy.json:1:78: streams.s.retry: unknown retry \"r\"\n"},
    {"stream_server_missing", "{\"schema\":1,\"streams\":{\"s\":{\"server\":true}}}",
     "policy.json:1:28: streams.s.cert: missing required key\n"
     "policy.json:1:28: streams.s.key: missing required key\n"},
    {"stream_tls_only",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"trust_store\":"
     "\"system\",\"max_fragment_len\":512}}}",
     "policy.json:1:56: streams.s.trust_store: needs \"tls\": true\n"
     "policy.json:1:79: streams.s.max_fragment_len: needs \"tls\": true\n"},
    {"stream_port_zero",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"port\":0}}}",
     "policy.json:1:63: streams.s.port: must be 1..65535 for a client stream\n"},
    {"stream_url_slash",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"url\":\"v1\"}}}",
     "policy.json:1:62: streams.s.url: must start with '/'\n"},
    {"stream_url_space",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"url\":\"/a b\"}}}",
     "policy.json:1:62: streams.s.url: byte 0x20 is not allowed here (percent-encode it)\n"},
    {"stream_url_utf8",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"url\":\"/"
     "caf\\u00e9\"}}}",
     "policy.json:1:62: streams.s.url: byte 0xC3 is not allowed here (percent-encode it)\n"},
    {"stream_endpoint_empty",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"\",\"tls\":false}}}",
     "policy.json:1:40: streams.s.endpoint: must not be empty\n"},
    {"stream_endpoint_char",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"a/b\",\"tls\":false}}}",
     "policy.json:1:40: streams.s.endpoint: character '/' is not allowed here\n"},
    {"stream_template_open",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"url\":\"/"
     "${x\",\"metadata\":{\"x\":null}}}}",
     "policy.json:1:62: streams.s.url: \"${\" without a closing '}'\n"},
    {"stream_template_name",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"${a.b}\",\"tls\":false}}}",
     "policy.json:1:40: streams.s.endpoint: invalid slot name \"a.b\" in \"${...}\"\n"},
    {"stream_template_undeclared",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"${hots}\",\"url\":\"/"
     "${id}\",\"tls\":false,\"metadata\":{\"host\":null}}}}",
     "policy.json:1:40: streams.s.endpoint: undeclared metadata slot \"hots\" (did you mean "
     "\"host\"?)\n"
     "policy.json:1:56: streams.s.url: undeclared metadata slot \"id\"\n"},
    {"stream_method_list",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"method\":\"FETCH\"}}}",
     "policy.json:1:65: streams.s.method: unknown method \"FETCH\" (did you mean \"PATCH\"?)\n"},
    {"stream_method_case",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"method\":\"get\"}}}",
     "policy.json:1:65: streams.s.method: unknown method \"get\" (one of GET, HEAD, POST, PUT, "
     "PATCH, DELETE, OPTIONS)\n"},
    {"stream_protocol",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"protocol\":\"h2\"}}}",
     "policy.json:1:67: streams.s.protocol: unknown protocol \"h2\" (did you mean \"h1\"?)\n"},
    {"stream_status_count",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"expect_status\":[200,"
     "201,202]}}}",
     "policy.json:1:81: streams.s.expect_status[2]: more than two status codes (expected [min, "
     "max])\n"},
    {"stream_status_range",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"expect_status\":[99,600]"
     "}}}",
     "policy.json:1:73: streams.s.expect_status[0]: must be 100..599, got 99\n"
     "policy.json:1:76: streams.s.expect_status[1]: must be 100..599, got 600\n"},
    {"stream_status_type",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"expect_status\":200}}}",
     "policy.json:1:72: streams.s.expect_status: expected an array [min, max], got a number\n"},
    {"stream_headers",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"headers\":{\"Accept\":"
     "\"a\",\"accept\":\"b\",\"bad header\":\"c\",\"x-ok\":\"a\\rb\",\"x-n\":1}}}}",
     "policy.json:1:80: streams.s.headers.accept: duplicate header\n"
     "policy.json:1:93: streams.s.headers.bad header: invalid header name\n"
     "policy.json:1:117: streams.s.headers.x-ok: header value holds control character 0x0D\n"
     "policy.json:1:130: streams.s.headers.x-n: expected a string, got a number\n"},
    {"stream_headers_many",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"headers\":{\"h1\":\"\","
     "\"h2\":\"\",\"h3\":\"\",\"h4\":\"\",\"h5\":\"\",\"h6\":\"\",\"h7\":\"\",\"h8\":\"\",\"h9\":"
     "\"\",\"h10\":\"\",\"h11\":\"\",\"h12\":\"\",\"h13\":\"\",\"h14\":\"\",\"h15\":\"\",\"h16\":"
     "\"\",\"h17\":\"\"}}}}",
     "policy.json:1:202: streams.s.headers.h17: more than 16 headers\n"},
    {"stream_metadata",
     "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"metadata\":{\"a.b\":"
     "null,\"ok\":7,\"ok2\":\"bad header\",\"ok3\":\"etag\",\"ok3\":null}}}}",
     "policy.json:1:68: streams.s.metadata.a.b: invalid slot name (use 1..63 of A-Z a-z 0-9 _ -)\n"
     "policy.json:1:84: streams.s.metadata.ok: expected a header name or null, got a number\n"
     "policy.json:1:92: streams.s.metadata.ok2: invalid header name\n"
     "policy.json:1:118: streams.s.metadata.ok3: duplicate key\n"},
    {"stream_unknown_refs",
     "{\"schema\":1,\"retry\":{\"default\":{\"backoff_ms\":[1]}},\"trust_stores\":{\"local\":{"
     "\"certs\":[\"c\"]}},\"certs\":{\"c\":\"MAMCAQA=\"},\"streams\":{\"s\":{\"endpoint\":\"h\","
     "\"trust_store\":\"lcoal\",\"retry\":\"defualt\"}}}",
     "policy.json:1:86: trust_stores.local.certs[0]: \"c\" is a private key, not a certificate\n"
     "policy.json:1:163: streams.s.trust_store: unknown trust store \"lcoal\" (did you mean "
     "\"local\"?)\n"
     "policy.json:1:179: streams.s.retry: unknown retry \"defualt\" (did you mean \"default\"?)\n"},
    {"stream_client_ca_system",
     "{\"schema\":1,\"certs\":{\"c\":\"MAUwAAIBAA==\",\"k\":\"MAMCAQA=\"},\"streams\":{\"s\":{"
     "\"server\":true,\"cert\":\"c\",\"key\":\"k\",\"client_ca\":\"system\"}}}",
     "policy.json:1:120: streams.s.client_ca: the trust store \"system\" cannot check client "
     "certificates\n"},
    {"stream_cert_as_key",
     "{\"schema\":1,\"certs\":{\"c\":\"MAUwAAIBAA==\"},\"streams\":{\"s\":{\"server\":true,"
     "\"cert\":\"c\",\"key\":\"c\"}}}",
     "policy.json:1:89: streams.s.key: \"c\" is a certificate, not a private key\n"},
    {"stream_not_object", "{\"schema\":1,\"streams\":{\"s\":\"x\"}}",
     "policy.json:1:28: streams.s: expected an object, got a string\n"},
    {"string_nul", "{\"schema\":1,\"release\":\"a\\u0000b\"}",
     "policy.json:1:23: release: string holds a NUL character (\\u0000)\n"},
    {"release_type", "{\"schema\":1,\"release\":1}",
     "policy.json:1:23: release: expected a string, got a number\n"},
    {"multi_line",
     "{\n  \"schema\": 1,\n  \"streams\": {\n    \"time\": {\n      \"endpoint\": "
     "\"api.example.com\",\n      \"trust_store\": \"lcoal\",\n      \"methd\": \"GET\"\n    }\n  "
     "},\n  \"trust_stores\": {\"local\": {\"certs\": [\"ca\"]}},\n  \"certs\": {\"ca\": "
     "\"MAUwAAIBAA==\"}\n}",
     "policy.json:7:7: streams.time.methd: unknown key (did you mean \"method\"?)\n"
     "policy.json:6:22: streams.time.trust_store: unknown trust store \"lcoal\" (did you mean "
     "\"local\"?)\n"},
};

static void check_bad(fixture_t *f, const char *name, const char *json, size_t len,
                      const char *want)
{
    wisp_policy_t *p = (wisp_policy_t *)&p; /* must come back NULL */
    unsigned logged = f->logged_errors;
    int ret;

    ret = wisp_policy_load_json(f->cx, "policy.json", json, len, &p, &f->errs);
    if (ret != WISP_EPOLICY || strcmp(joined(&f->errs), want))
        fail_msg("%s: got %d:\n%swant:\n%s", name, ret, joined(&f->errs), want);
    assert_null(p);
    assert_int_equal(f->logged_errors - logged, f->errs.count);
    assert_int_equal(heap(f->cx), f->baseline);
    /* The same errors, fed one byte at a time. */
    assert_int_equal(load_split(f, json, len, 1, 0, &p), WISP_EPOLICY);
    if (strcmp(joined(&f->errs), want))
        fail_msg("%s byte by byte:\n%swant:\n%s", name, joined(&f->errs), want);
    assert_int_equal(heap(f->cx), f->baseline);
}

static void test_bad_policies(void **state)
{
    fixture_t *f = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check_bad(f, bad[i].name, bad[i].json, strlen(bad[i].json), bad[i].errors);
}

/* Build "{"schema":1,<middle>}" into a malloc'd buffer. */
static char *doc(const char *fmt, ...) WISP_PRINTF(1, 2);
static char *doc(const char *fmt, ...)
{
    size_t cap = 1 << 17, n;
    char *buf = malloc(cap);
    va_list ap;

    assert_non_null(buf);
    n = (size_t)snprintf(buf, cap, "{\"schema\":1,");
    va_start(ap, fmt);
    n += (size_t)vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
    assert_true(n + 2 < cap);
    memcpy(buf + n, "}", 2);
    return buf;
}

/* times copies of pre + index + post, joined by sep. */
static char *repeat(int times, const char *sep, const char *pre, const char *post)
{
    size_t cap = (strlen(pre) + strlen(post) + strlen(sep) + 16) * (size_t)times + 1, o = 0;
    char *buf = malloc(cap);
    int i;

    assert_non_null(buf);
    buf[0] = '\0';
    for (i = 0; i < times; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s%d%s", i ? sep : "", pre, i, post);
    return buf;
}

static void expect_one(fixture_t *f, char *json, const char *want)
{
    char line[WISP_POLICY_ERROR_LEN + 2];

    snprintf(line, sizeof(line), "%s\n", want);
    check_bad(f, "limit", json, strlen(json), line);
    free(json);
}

static void test_limits(void **state)
{
    fixture_t *f = *state;
    char *big = malloc(40000), *list, *json;
    size_t i, n;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    assert_non_null(big);
    /* A string value past the token limit. */
    memset(big, 'a', 1025);
    big[1025] = '\0';
    expect_one(f,
               doc("\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"url\":\"/%s\"}}", big),
               "policy.json:1:62: streams.s.url: string longer than 1024 bytes");
    /* Certificate text past WISP_POLICY_CERT_TEXT_MAX. */
    memset(big, 'A', WISP_POLICY_CERT_TEXT_MAX + 4);
    big[WISP_POLICY_CERT_TEXT_MAX + 4] = '\0';
    expect_one(f, doc("\"certs\":{\"c\":\"%s\"}", big),
               "policy.json:1:26: certs.c: certificate text longer than 16384 bytes");
    /* DER past WISP_POLICY_DER_MAX: a SEQUENCE of 8199 bytes in all (no padding). */
    {
        unsigned char der[8199] = {0x30, 0x82, 0x20, 0x03};

        for (i = 0, n = 0; i < sizeof(der); i += 3) {
            unsigned v = (unsigned)der[i] << 16 | (unsigned)der[i + 1] << 8 | der[i + 2];

            big[n++] = b64[v >> 18];
            big[n++] = b64[(v >> 12) & 63];
            big[n++] = b64[(v >> 6) & 63];
            big[n++] = b64[v & 63];
        }
        big[n] = '\0';
    }
    expect_one(f, doc("\"certs\":{\"c\":\"%s\"}", big),
               "policy.json:1:26: certs.c: certificate larger than 8192 bytes (DER)");
    /* 65 streams. */
    list = repeat(65, ",", "\"s", "\":{\"endpoint\":\"h\",\"tls\":false}");
    expect_one(f, doc("\"streams\":{%s}", list),
               "policy.json:1:2254: streams.s64: more than 64 entries");
    free(list);
    /* 17 certificates in a trust store. */
    {
        char *certs = repeat(17, ",", "\"c", "\":\"MAUwAAIBAA==\"");

        list = repeat(17, ",", "\"c", "\"");
        expect_one(f, doc("\"certs\":{%s},\"trust_stores\":{\"t\":{\"certs\":[%s]}}", certs, list),
                   "policy.json:1:486: trust_stores.t.certs[16]: more than 16 certificates");
        free(list);
        free(certs);
    }
    /* 17 metadata slots. */
    list = repeat(17, ",", "\"m", "\":null");
    expect_one(
        f, doc("\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"metadata\":{%s}}}", list),
        "policy.json:1:234: streams.s.metadata.m16: more than 16 slots");
    free(list);
    /* Nesting past the tokenizer's depth limit inside a skipped value. */
    list = malloc(16);
    assert_non_null(list);
    memset(list, '[', 15);
    list[15] = '\0';
    json = doc("\"release\":[%s]", list);
    check_bad(f, "depth", json, strlen(json),
              "policy.json:1:23: release: expected a string, got an array\n"
              "policy.json:1:38: release: nesting deeper than 16 levels\n");
    free(json);
    free(list);
    /* pipeline_depth: 1..WISP_POLICY_PIPELINE_MAX, clients only. */
    expect_one(f,
               doc("\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"pipeline_depth\":17}}"),
               "policy.json:1:73: streams.s.pipeline_depth: must be 1..16, got 17");
    expect_one(f,
               doc("\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,\"pipeline_depth\":0}}"),
               "policy.json:1:73: streams.s.pipeline_depth: must be 1..16, got 0");
    expect_one(f, doc("\"streams\":{\"s\":{\"server\":true,\"tls\":false,\"pipeline_depth\":4}}"),
               "policy.json:1:55: streams.s.pipeline_depth: not valid for a server stream");
    free(big);
}

/* Past WISP_POLICY_ERRORS_MAX the loader stops and says so. */
static void test_error_cap(void **state)
{
    fixture_t *f = *state;
    char *list = repeat(20, ",", "\"k", "\":1"), *json = doc("%s", list);
    wisp_policy_t *p;

    assert_int_equal(wisp_policy_load_json(f->cx, "policy.json", json, strlen(json), &p, &f->errs),
                     WISP_EPOLICY);
    assert_int_equal(f->errs.count, WISP_POLICY_ERRORS_MAX);
    assert_true(f->errs.truncated);
    assert_string_equal(f->errs.e[0].text, "policy.json:1:13: k0: unknown key");
    assert_string_equal(f->errs.e[15].text, "policy.json:1:123: k15: unknown key");
    /* Without a list, errors are still counted, logged and refused. */
    f->logged_errors = 0;
    assert_int_equal(wisp_policy_load_json(f->cx, NULL, json, strlen(json), &p, NULL),
                     WISP_EPOLICY);
    assert_int_equal(f->logged_errors, WISP_POLICY_ERRORS_MAX + 1); /* + "too many" */
    free(list);
    free(json);
}

/* ---- Defaults ---- */

static void test_defaults(void **state)
{
    static const char json[] =
        "{\"schema\":1,\"certs\":{\"c\":\"MAUwAAIBAA==\",\"k\":\"MAMCAQA=\"},"
        "\"retry\":{\"r\":{\"backoff_ms\":[10,20]}},"
        "\"streams\":{\"c\":{\"endpoint\":\"h\",\"trust_store\":\"system\"},"
        "\"p\":{\"endpoint\":\"h\",\"tls\":false},"
        "\"s\":{\"server\":true,\"cert\":\"c\",\"key\":\"k\"},"
        "\"q\":{\"server\":true,\"tls\":false}}}";
    fixture_t *f = *state;
    const wisp_policy_stream_t *s;
    const wisp_policy_retry_t *r;
    wisp_policy_t *p;

    assert_int_equal(wisp_policy_load_json(f->cx, NULL, json, strlen(json), &p, &f->errs), 0);
    assert_int_equal(p->schema, 1);
    assert_null(p->release);
    r = wisp_policy_retry_find(p, "r");
    assert_non_null(r);
    assert_int_equal(r->backoff_count, 2);
    assert_int_equal(r->jitter_pct, 0);
    assert_int_equal(r->conceal, 2);

    s = wisp_policy_stream_find(p, "c");
    assert_non_null(s);
    assert_int_equal(s->server, 0);
    assert_int_equal(s->tls, 1);
    assert_int_equal(s->port, 443);
    assert_int_equal(s->protocol, WISP_PROTO_H1);
    assert_int_equal(s->method, WISP_METHOD_GET);
    assert_string_equal(s->url, "/");
    assert_ptr_equal(s->trust_store, wisp_policy_trust_store_find(p, "system"));
    assert_true(s->trust_store->system);
    assert_int_equal(s->trust_store->cert_count, 0);
    assert_null(s->trust_store->certs);
    assert_null(s->retry);
    assert_null(s->client_cert);
    assert_int_equal(s->header_count, 0);
    assert_null(s->headers);
    assert_int_equal(s->metadata_count, 0);
    assert_int_equal(s->timeout_ms, 10000);
    assert_int_equal(s->connect_timeout_ms, 5000);
    assert_int_equal(s->keepalive_ms, 5000);
    assert_int_equal(s->expect_status_min, 200);
    assert_int_equal(s->expect_status_max, 299);
    assert_int_equal(s->max_fragment_len, 0);
    assert_int_equal(s->reuse, 1);
    assert_int_equal(s->pipeline_depth, 1);
    assert_int_equal(s->nailed_up, 0);
    /* Server fields stay zero on a client stream. */
    assert_null(s->bind);
    assert_int_equal(s->max_connections, 0);
    assert_int_equal(s->header_limit, 0);

    s = wisp_policy_stream_find(p, "p");
    assert_int_equal(s->port, 80);
    assert_null(s->trust_store);

    s = wisp_policy_stream_find(p, "s");
    assert_int_equal(s->server, 1);
    assert_int_equal(s->tls, 1);
    assert_int_equal(s->port, 443);
    assert_string_equal(s->bind, "0.0.0.0");
    assert_ptr_equal(s->cert, wisp_policy_cert_find(p, "c"));
    assert_ptr_equal(s->key, wisp_policy_cert_find(p, "k"));
    assert_int_equal(s->cert->kind, WISP_CERT_X509);
    assert_int_equal(s->key->kind, WISP_CERT_KEY);
    assert_null(s->client_ca);
    assert_int_equal(s->max_connections, 32);
    assert_int_equal(s->header_limit, 4096);
    assert_int_equal(s->body_limit, 1048576);
    assert_int_equal(s->handshake_timeout_ms, 5000);
    assert_int_equal(s->idle_timeout_ms, 10000);
    /* Client fields stay zero on a server stream. */
    assert_null(s->url);
    assert_null(s->endpoint);
    assert_int_equal(s->method, 0);
    assert_int_equal(s->protocol, 0);
    assert_int_equal(s->timeout_ms, 0);
    assert_int_equal(s->reuse, 0);
    assert_int_equal(s->pipeline_depth, 0);

    s = wisp_policy_stream_find(p, "q");
    assert_int_equal(s->port, 80);
    assert_null(s->cert);
    wisp_policy_free(f->cx, &p);
}

/* ---- Header names ---- */

/* A metadata slot's header name is stored lower-cased whatever its spelling, since
 * the stream compares received names against it; fixed headers stay as written. */
static void test_header_case(void **state)
{
    static const char *const spellings[] = {"ETag", "etag", "ETAG", "eTaG"};
    fixture_t *f = *state;
    wisp_policy_t *p, *first = NULL;
    const wisp_policy_stream_t *s;
    char json[512], why[256];
    size_t i;

    for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        snprintf(json, sizeof(json),
                 "{\"schema\":1,\"streams\":{\"s\":{\"endpoint\":\"h\",\"tls\":false,"
                 "\"headers\":{\"X-Fixed\":\"1\"},\"metadata\":{\"tag\":\"%s\"}}}}",
                 spellings[i]);
        assert_int_equal(wisp_policy_load_json(f->cx, NULL, json, strlen(json), &p, NULL), 0);
        s = wisp_policy_stream_find(p, "s");
        assert_non_null(s);
        assert_string_equal(s->metadata[0].header, "etag");
        assert_string_equal(s->headers[0].name, "X-Fixed");
        if (!first) {
            first = p;
            continue;
        }
        if (!policy_equal(first, p, why, sizeof(why)))
            fail_msg("\"%s\": %s", spellings[i], why);
        wisp_policy_free(f->cx, &p);
    }
    wisp_policy_free(f->cx, &first);
}

/* ---- Model API ---- */

static void test_lookups(void **state)
{
    fixture_t *f = *state;
    wisp_policy_t *p;
    size_t len;
    char *text = test_read_file(WISP_SOURCE_DIR "/policies/client.json", &len);
    const wisp_policy_stream_t *s;

    assert_non_null(text);
    assert_int_equal(wisp_policy_load_json(f->cx, NULL, text, len, &p, NULL), 0);
    free(text);
    assert_string_equal(p->release, "2026-11-21a");
    s = wisp_policy_stream_find(p, "upload");
    assert_non_null(s);
    assert_int_equal(s->method, WISP_METHOD_POST);
    assert_ptr_equal(s->retry, wisp_policy_retry_find(p, "forever"));
    assert_int_equal(s->retry->conceal, WISP_POLICY_FOREVER);
    assert_ptr_equal(s->client_cert, wisp_policy_cert_find(p, "device_cert"));
    assert_ptr_equal(s->client_key, wisp_policy_cert_find(p, "device_key"));
    assert_non_null(wisp_policy_meta_find(s, "request_id", 10));
    assert_string_equal(wisp_policy_meta_find(s, "request_id_x", 10)->header, "x-request-id");
    assert_null(wisp_policy_meta_find(s, "request", 7));
    assert_null(wisp_policy_stream_find(p, "nope"));
    assert_null(wisp_policy_stream_find(p, NULL));
    assert_null(wisp_policy_stream_find(NULL, "upload"));
    assert_null(wisp_policy_trust_store_find(p, "nope"));
    assert_null(wisp_policy_retry_find(p, "nope"));
    assert_null(wisp_policy_cert_find(p, "nope"));
    /* The trust store's certificates point into the policy's own certs. */
    assert_int_equal(wisp_policy_trust_store_find(p, "local")->cert_count, 2);
    assert_ptr_equal(wisp_policy_trust_store_find(p, "local")->certs[1],
                     wisp_policy_cert_find(p, "inter_ca"));
    assert_string_equal(wisp_policy_method_name(WISP_METHOD_OPTIONS), "OPTIONS");
    assert_null(wisp_policy_method_name((wisp_method_t)0));
    assert_null(wisp_policy_method_name((wisp_method_t)99));
    wisp_policy_free(f->cx, &p);
    assert_null(p);
    wisp_policy_free(f->cx, &p); /* NULL-safe */
    wisp_policy_free(f->cx, NULL);
}

/* A policy not built by the loader is never freed: free only clears the pointer. */
static void test_free_static(void **state)
{
    static const wisp_policy_t stat = {.schema = 1};
    fixture_t *f = *state;
    wisp_policy_t copy = stat, *p = &copy;

    wisp_policy_free(f->cx, &p);
    assert_null(p);
    assert_int_equal(copy.schema, 1);
}

static void test_loader_api(void **state)
{
    fixture_t *f = *state;
    wisp_policy_loader_t *l = NULL;
    wisp_policy_t *p = NULL;

    assert_int_equal(wisp_policy_loader_create(NULL, NULL, NULL, &l), WISP_EINVAL);
    assert_null(l);
    assert_int_equal(wisp_policy_loader_create(f->cx, NULL, NULL, NULL), WISP_EINVAL);
    assert_int_equal(wisp_policy_loader_feed(NULL, "{", 1), WISP_EINVAL);
    assert_int_equal(wisp_policy_loader_finish(NULL, &p), WISP_EINVAL);
    wisp_policy_loader_destroy(NULL);
    wisp_policy_loader_destroy(&l);
    assert_int_equal(wisp_policy_load_json(NULL, NULL, "{}", 2, &p, NULL), WISP_EINVAL);
    assert_int_equal(wisp_policy_load_json(f->cx, NULL, NULL, 2, &p, NULL), WISP_EINVAL);
    assert_int_equal(wisp_policy_load_json(f->cx, NULL, "{}", 2, NULL, NULL), WISP_EINVAL);

    /* Empty fragments are fine; finishing twice, or feeding after, is not. */
    assert_int_equal(wisp_policy_loader_create(f->cx, "x.json", &f->errs, &l), 0);
    assert_int_equal(wisp_policy_loader_feed(l, NULL, 0), 0);
    assert_int_equal(wisp_policy_loader_feed(l, "{\"schema\"", 9), 0);
    assert_int_equal(wisp_policy_loader_feed(l, "", 0), 0);
    assert_int_equal(wisp_policy_loader_feed(l, ":1}", 3), 0);
    assert_int_equal(wisp_policy_loader_finish(l, NULL), WISP_EINVAL);
    assert_int_equal(wisp_policy_loader_finish(l, &p), 0);
    assert_non_null(p);
    assert_int_equal(p->stream_count, 0);
    wisp_policy_free(f->cx, &p);
    assert_int_equal(wisp_policy_loader_finish(l, &p), WISP_ESTATE);
    assert_null(p);
    assert_int_equal(wisp_policy_loader_feed(l, " ", 1), WISP_ESTATE);
    wisp_policy_loader_destroy(&l);
    assert_null(l);

    /* After a syntax error, feeding says so at once and does nothing more. */
    assert_int_equal(wisp_policy_loader_create(f->cx, "x.json", &f->errs, &l), 0);
    assert_int_equal(wisp_policy_loader_feed(l, "{\"schema\":1,,", 13), WISP_EPOLICY);
    assert_int_equal(wisp_policy_loader_feed(l, "}", 1), WISP_EPOLICY);
    assert_int_equal(wisp_policy_loader_finish(l, &p), WISP_EPOLICY);
    assert_null(p);
    assert_int_equal(f->errs.count, 1);
    assert_string_equal(f->errs.e[0].text,
                        "x.json:1:13: (root): expected a key in double quotes, got ','");
    /* Destroying without finishing frees what was built. */
    wisp_policy_loader_destroy(&l);
    assert_int_equal(wisp_policy_loader_create(f->cx, "x.json", &f->errs, &l), 0);
    assert_int_equal(
        wisp_policy_loader_feed(l, "{\"schema\":1,\"streams\":{\"a\":{\"endpoint\":", 39), 0);
    wisp_policy_loader_destroy(&l);
    assert_int_equal(heap(f->cx), f->baseline);
}

/* ---- Templates ---- */

typedef struct slots {
    const char *names[4], *values[4];
    int fail;
} slots_t;

static int get_slot(void *user, const char *name, size_t len, const char **v, size_t *vlen)
{
    slots_t *s = user;
    int i;

    if (s->fail)
        return s->fail;
    for (i = 0; i < 4 && s->names[i]; i++) {
        if (strlen(s->names[i]) == len && !memcmp(s->names[i], name, len)) {
            *v = s->values[i];
            *vlen = s->values[i] ? strlen(s->values[i]) : 0;
            return 0;
        }
    }
    return WISP_ENOTFOUND;
}

static void test_templates(void **state)
{
    slots_t s = {
        {"tz", "host", "empty", "nul"}, {"Europe/Paris 1&2", "api.example.com", NULL, NULL}, 0};
    char out[64];
    size_t len = 99;

    (void)state;
    assert_int_equal(wisp_policy_template_expand("/v1/time?tz=${tz}", WISP_TEMPLATE_URL, get_slot,
                                                 &s, out, sizeof(out), &len),
                     0);
    assert_string_equal(out, "/v1/time?tz=Europe%2FParis%201%262");
    assert_int_equal(len, strlen(out));
    assert_int_equal(wisp_policy_template_expand("${host}", WISP_TEMPLATE_HEADER, get_slot, &s, out,
                                                 sizeof(out), &len),
                     0);
    assert_string_equal(out, "api.example.com");
    /* Unset and unknown slots expand to nothing; a lone '$' is literal. */
    assert_int_equal(wisp_policy_template_expand("/a${empty}b${zz}c$d$", WISP_TEMPLATE_URL,
                                                 get_slot, &s, out, sizeof(out), &len),
                     0);
    assert_string_equal(out, "/abc$d$");
    /* Header-bound values: CR, LF and NUL are refused. */
    s.values[0] = "a\r\nX-Evil: 1";
    assert_int_equal(wisp_policy_template_expand("${tz}", WISP_TEMPLATE_HEADER, get_slot, &s, out,
                                                 sizeof(out), &len),
                     WISP_EHEADER);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    /* ... but percent-encoded in a URL. */
    assert_int_equal(wisp_policy_template_expand("/${tz}", WISP_TEMPLATE_URL, get_slot, &s, out,
                                                 sizeof(out), NULL),
                     0);
    assert_string_equal(out, "/a%0D%0AX-Evil%3A%201");
    /* The output cap: exactly fitting works, one byte less is WISP_ETOOBIG. */
    s.values[0] = "0123456789";
    assert_int_equal(
        wisp_policy_template_expand("/x/${tz}", WISP_TEMPLATE_URL, get_slot, &s, out, 14, &len), 0);
    assert_int_equal(len, 13);
    assert_int_equal(
        wisp_policy_template_expand("/x/${tz}", WISP_TEMPLATE_URL, get_slot, &s, out, 13, &len),
        WISP_ETOOBIG);
    assert_string_equal(out, "");
    assert_int_equal(
        wisp_policy_template_expand("/x/${tz}", WISP_TEMPLATE_URL, get_slot, &s, out, 3, &len),
        WISP_ETOOBIG);
    s.values[0] = "\xff";
    assert_int_equal(
        wisp_policy_template_expand("${tz}", WISP_TEMPLATE_URL, get_slot, &s, out, 3, &len),
        WISP_ETOOBIG);
    assert_int_equal(
        wisp_policy_template_expand("${tz}", WISP_TEMPLATE_URL, get_slot, &s, out, 4, &len), 0);
    assert_string_equal(out, "%FF");
    /* Callback errors pass through; bad arguments and malformed templates fail. */
    s.fail = WISP_EINTERNAL;
    assert_int_equal(wisp_policy_template_expand("${tz}", WISP_TEMPLATE_URL, get_slot, &s, out,
                                                 sizeof(out), &len),
                     WISP_EINTERNAL);
    s.fail = 0;
    assert_int_equal(wisp_policy_template_expand("/${tz", WISP_TEMPLATE_URL, get_slot, &s, out,
                                                 sizeof(out), &len),
                     WISP_EINVAL);
    assert_int_equal(wisp_policy_template_expand("/", (wisp_template_mode_t)0, get_slot, &s, out,
                                                 sizeof(out), &len),
                     WISP_EINVAL);
    assert_int_equal(
        wisp_policy_template_expand(NULL, WISP_TEMPLATE_URL, get_slot, &s, out, sizeof(out), &len),
        WISP_EINVAL);
    assert_int_equal(
        wisp_policy_template_expand("/", WISP_TEMPLATE_URL, NULL, &s, out, sizeof(out), &len),
        WISP_EINVAL);
    assert_int_equal(
        wisp_policy_template_expand("/", WISP_TEMPLATE_URL, get_slot, &s, out, 0, &len),
        WISP_EINVAL);
    assert_int_equal(wisp_policy_template_expand("", WISP_TEMPLATE_URL, get_slot, &s, out, 1, &len),
                     0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_examples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_static, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loader_api, setup, teardown),
        cmocka_unit_test(test_templates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
