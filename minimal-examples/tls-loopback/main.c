/*
 * tls-loopback: wisp's TLS glue on its own event loop, both ends in one process.
 *
 * A TLS server (tests/certs/server.pem) listens on 127.0.0.1; a client that trusts
 * only tests/certs/ca.pem connects to "localhost" twice, the second time resuming
 * the first session, and each side sends the other N bytes. It prints what happened
 * and exits non-zero if anything failed or any heap is left.
 *
 * This example predates the stream API and so uses the library-internal TLS
 * interface (WISP_LIBRARY); applications use streams (see client-get).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlspeer.h"

static void print_stats(wisp_context_t *cx, const char *when)
{
    char json[512];
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    if (wisp_stats_json(&st, json, sizeof(json)) > 0)
        printf("%-18s %s\n", when, json);
}

static int one_connection(wisp_context_t *cx, wisp__tls_conf_t *sconf, wisp__tls_conf_t *cconf,
                          size_t bytes, wisp__tls_session_t **session)
{
    tlspeer_t srv, cli;
    tlspeer_t *both[2] = {&cli, &srv};
    tlslistener_t l;
    wisp_stats_t st;
    int ret;

    memset(&srv, 0, sizeof(srv));
    memset(&cli, 0, sizeof(cli));
    memset(&l, 0, sizeof(l));
    srv.tx_total = cli.rx_total = bytes;
    cli.tx_total = srv.rx_total = bytes;
    srv.tx_seed = cli.rx_seed = 7;
    cli.save_session = !*session;
    ret = tlslistener_open(&l, cx, sconf, "127.0.0.1", &srv, 1);
    if (!ret)
        ret = tlspeer_connect(&cli, cx, cconf, "localhost", &l.bound, *session);
    if (!ret)
        ret = tlspeer_run(cx, both, 2, 30000);
    tlslistener_close(&l);
    if (!ret)
        ret = cli.err ? cli.err : srv.err;
    printf("connection: %s handshake, %zu bytes each way: %s\n", cli.resumed ? "resumed" : "full",
           bytes, ret ? wisp_strerror(ret) : "ok");
    wisp_get_stats(cx, &st);
    if (cli.resumed)
        wisp__stats(cx)->handshakes_resumed++;
    else
        wisp__stats(cx)->handshakes_full++;
    if (cli.session)
        *session = cli.session;
    return ret;
}

int main(int argc, char **argv)
{
    const char *certs = argc > 1 ? argv[1] : WISP_TEST_CERTS;
    size_t bytes = argc > 2 ? (size_t)strtoul(argv[2], NULL, 0) : 1u << 20;
    wisp__tls_blob_t ca = tlspeer_cert_blob(certs, "ca.pem"),
                     crt = tlspeer_cert_blob(certs, "server.pem"),
                     key = tlspeer_cert_blob(certs, "server.key");
    wisp_context_info_t info;
    wisp__tls_conf_info_t ci, si;
    wisp__tls_conf_t *cconf = NULL, *sconf = NULL;
    wisp__tls_session_t *session = NULL;
    wisp_context_t *cx = NULL;
    wisp_stats_t st;
    int ret;

    if (!ca.data || !crt.data || !key.data) {
        fprintf(stderr, "cannot read the certificates in %s\n", certs);
        return 2;
    }
    memset(&info, 0, sizeof(info));
    info.log_level = WISP_LOG_WARN;
    ret = wisp_context_create(&info, &cx);
    if (ret) {
        fprintf(stderr, "context: %s\n", wisp_strerror(ret));
        return 1;
    }
    printf("wisp tls-loopback, mbedTLS %s\n", wisp_tls_version());
    print_stats(cx, "start:");
    memset(&ci, 0, sizeof(ci));
    ci.ca = &ca;
    ci.ca_count = 1;
    memset(&si, 0, sizeof(si));
    si.server = 1;
    si.cert = crt;
    si.key = key;
    ret = wisp__tls_conf_create(cx, &ci, &cconf);
    if (!ret)
        ret = wisp__tls_conf_create(cx, &si, &sconf);
    if (!ret)
        ret = one_connection(cx, sconf, cconf, bytes, &session);
    if (!ret)
        ret = one_connection(cx, sconf, cconf, bytes, &session);
    print_stats(cx, "after 2 conns:");
    wisp__tls_session_free(cx, &session);
    wisp__tls_conf_destroy(&cconf);
    wisp__tls_conf_destroy(&sconf);
    wisp_get_stats(cx, &st);
    print_stats(cx, "configs freed:");
    wisp_context_destroy(cx);
    tlspeer_blob_free(&ca);
    tlspeer_blob_free(&crt);
    tlspeer_blob_free(&key);
    if (ret)
        fprintf(stderr, "tls-loopback failed: %s\n", wisp_strerror(ret));
    /* With the last TLS config gone the context holds no heap at all. */
    if (!ret && st.heap_in_use) {
        fprintf(stderr, "tls-loopback: %zu bytes still held\n", st.heap_in_use);
        ret = WISP_EINTERNAL;
    }
    return ret ? 1 : 0;
}
