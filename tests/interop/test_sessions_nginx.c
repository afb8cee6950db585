/*
 * Sessions that outlive the process, against nginx (the ctest fixture "nginx"):
 * one context does a GET to each of two host:port pairs (full handshakes), saves its
 * sessions and is destroyed; a new context loads the blob and its GETs are resumed
 * handshakes — by wisp's stats (handshakes_resumed) and by nginx's own access log
 * ($ssl_session_reused is "r"). A policy that moved one of the two to another trust
 * store resumes the other only; one whose trust store is named differently loads
 * nothing (WISP_ENOTFOUND) and pays full handshakes.
 *
 * Usage: interop_sessions_nginx PORT DIR (the fixture's first port and directory).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "streamtest.h"

static int port;
static const char *dir;

/* Two stream types on one trust store: nginx's ports PORT (server.pem) and PORT+7
 * (server-rsa.pem), both chained to ca.pem. */
static char *make_policy(const char *store_a, const char *store_b)
{
    char *ca = test_cert_json("ca.pem");
    char *p = st_append(NULL,
                        "{\"schema\": 1, \"certs\": {\"ca\": \"%s\"},\n"
                        " \"trust_stores\": {\"%s\": {\"certs\": [\"ca\"]}",
                        ca, store_a);

    if (strcmp(store_a, store_b))
        p = st_append(p, ", \"%s\": {\"certs\": [\"ca\"]}", store_b);
    p = st_append(p,
                  "},\n \"streams\": {\n"
                  "  \"a\": {\"endpoint\": \"localhost\", \"port\": %d, \"trust_store\": "
                  "\"%s\", \"url\": \"/sessions\", \"keepalive_ms\": 200},\n"
                  "  \"b\": {\"endpoint\": \"localhost\", \"port\": %d, \"trust_store\": "
                  "\"%s\", \"url\": \"/sessions\", \"keepalive_ms\": 200}}}\n",
                  port, store_a, port + 7, store_b);
    free(ca);
    return p;
}

/* The last access.log line of a GET /sessions on nginx port p, after at least `after`
 * such lines (nginx logs once it has answered, so poll briefly). */
static int log_lines(int p, char *last, size_t len)
{
    char path[512], needle[64];
    int n = 0;
    char *text, *line, *save = NULL;

    snprintf(path, sizeof(path), "%s/access.log", dir);
    snprintf(needle, sizeof(needle), "%d GET /sessions ", p);
    text = test_read_file(path, NULL);
    if (!text)
        return 0;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (!strncmp(line, needle, strlen(needle))) {
            snprintf(last, len, "%s", line);
            n++;
        }
    free(text);
    return n;
}

/* nginx's verdict on the connection of the next GET /sessions to port p: 'r' or '.'. */
static char nginx_reused(int p, int before)
{
    char line[512] = "";
    int tries;
    size_t l;

    for (tries = 0; tries < 100 && log_lines(p, line, sizeof(line)) <= before; tries++)
        usleep(10000);
    /* The field after $connection_requests: "r" or "." (the format ends with
     * $ssl_session_reused $pipe, so it is the one before the last). */
    l = strlen(line);
    print_message("access.log: %s\n", line);
    while (l && line[l - 1] != ' ')
        l--;
    return l >= 2 ? line[l - 2] : '?';
}

/* A GET on each type; returns the fixture's stats afterwards. Streams are kept so
 * that the vhost (and its sessions) is still there for a save. */
static wisp_stats_t get_both(stfx_t *f, char reused[2])
{
    strec_t *ra, *rb;
    int na, nb;
    char line[512];

    na = log_lines(port, line, sizeof(line));
    nb = log_lines(port + 7, line, sizeof(line));
    ra = st_new(f, "a");
    rb = st_new(f, "b");
    assert_int_equal(st_request(ra), 0);
    assert_true(st_wait1(f, ra, 10000));
    assert_int_equal(st_last(ra), WISP_STATE_DONE);
    assert_int_equal(st_request(rb), 0);
    assert_true(st_wait1(f, rb, 10000));
    assert_int_equal(st_last(rb), WISP_STATE_DONE);
    reused[0] = nginx_reused(port, na);
    reused[1] = nginx_reused(port + 7, nb);
    return stfx_stats(f);
}

static void test_resumed_in_a_new_context(void **state)
{
    char *policy = make_policy("ts", "ts");
    stfx_t *f = stfx_open(policy);
    char reused[2];
    wisp_stats_t st;
    uint8_t *blob;
    size_t len = 0;

    (void)state;
    /* Before the "reboot": two full handshakes. */
    st = get_both(f, reused);
    assert_int_equal(st.handshakes_full, 2);
    assert_int_equal(st.handshakes_resumed, 0);
    assert_int_equal(reused[0], '.');
    assert_int_equal(reused[1], '.');
    assert_int_equal(wisp_context_sessions_save(f->cx, NULL, 0, &len), 0);
    blob = malloc(len);
    assert_non_null(blob);
    assert_int_equal(wisp_context_sessions_save(f->cx, blob, len, &len), 0);
    print_message("blob: %zu bytes for 2 sessions (mbedTLS %s)\n", len, wisp_tls_version());
    stfx_finish(&f, 3000);

    /* After: a new context, the blob loaded before any stream exists. */
    f = stfx_open(policy);
    assert_int_equal(wisp_context_sessions_load(f->cx, blob, len), 0);
    st = get_both(f, reused);
    assert_int_equal(st.handshakes_full, 0);
    assert_int_equal(st.handshakes_resumed, 2);
    assert_int_equal(reused[0], 'r');
    assert_int_equal(reused[1], 'r');
    stfx_finish(&f, 3000);
    free(policy);

    /* A new policy release in which b's store is another one: what matches (a's
     * session) loads and resumes, b pays a full handshake. */
    policy = make_policy("ts", "other");
    f = stfx_open(policy);
    assert_int_equal(wisp_context_sessions_load(f->cx, blob, len), 0);
    st = get_both(f, reused);
    assert_int_equal(st.handshakes_full, 1);
    assert_int_equal(st.handshakes_resumed, 1);
    assert_int_equal(reused[0], 'r');
    assert_int_equal(reused[1], '.');
    stfx_finish(&f, 3000);
    free(policy);

    /* Another policy (the store renamed): nothing resumes. */
    policy = make_policy("other", "other");
    f = stfx_open(policy);
    assert_int_equal(wisp_context_sessions_load(f->cx, blob, len), WISP_ENOTFOUND);
    st = get_both(f, reused);
    assert_int_equal(st.handshakes_full, 2);
    assert_int_equal(st.handshakes_resumed, 0);
    assert_int_equal(reused[0], '.');
    assert_int_equal(reused[1], '.');
    stfx_finish(&f, 3000);
    free(policy);
    free(blob);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_resumed_in_a_new_context)};

    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT DIR\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    dir = argv[2];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
