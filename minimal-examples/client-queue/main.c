/*
 * client-queue: N streams created at once to one endpoint, and what it cost.
 *
 * The policy (policy.json) has one stream type, "item": a GET of
 * https://localhost:8443/count with reuse on (the default) and pipeline_depth 8. The
 * program creates N streams of it at once (default 100), starts a transaction on
 * each and runs the loop until every one has finished. wisp queues them on one
 * leader connection: one TCP connection, one TLS handshake, and up to 8 requests
 * written ahead of their responses. At the end it prints what the context stats
 * say: transactions, TCP connections, full and resumed handshakes, peak heap; and
 * how many requests went out pipelined, which the program counts itself from the
 * state callbacks (the stats have no counter for it).
 *
 * Every failure path ends the same way: the streams created so far are destroyed,
 * then the context, and the exit status is 1.
 *
 * usage: wisp-client-queue [POLICY.json [N]]      N from 1 to 10000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wisp.h>

#ifndef POLICY_FILE
#define POLICY_FILE "policy.json"
#endif

#define N_DEFAULT 100
#define N_MAX 10000

/* One stream and its transaction. */
typedef struct item {
    wisp_stream_t *s;
    int status;   /* HTTP status, 0 if none */
    int sent;     /* its request is out, its response not started */
    int finished; /* DONE, ALL_RETRIES_FAILED or TIMEOUT (or destroyed) */
} item_t;

/* What the whole run counts. */
static unsigned finished;  /* streams whose transaction has finished */
static unsigned failed;    /* ... without a response */
static unsigned in_flight; /* requests sent whose response has not started */
static unsigned pipelined; /* requests sent while another was in flight */

/* The whole file as a string, or NULL. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)size, f);
        buf[*len] = '\0';
    }
    if (f)
        fclose(f);
    return buf;
}

/* N from its argument: 0, or -1 if it is not a number from 1 to N_MAX. */
static int parse_count(const char *arg, unsigned *n)
{
    unsigned long v;
    char *end;

    if (*arg < '0' || *arg > '9')
        return -1;
    v = strtoul(arg, &end, 10);
    if (*end || v < 1 || v > N_MAX)
        return -1;
    *n = (unsigned)v;
    return 0;
}

/* The request is no longer waiting for its response. */
static void answered(item_t *it)
{
    if (it->sent) {
        it->sent = 0;
        in_flight--;
    }
}

static void end_transaction(item_t *it, int ok)
{
    answered(it);
    if (!it->finished) {
        it->finished = 1;
        finished++;
        failed += !ok;
    }
}

static int on_state(void *user, wisp_state_t state, int arg)
{
    item_t *it = user;

    switch (state) {
    case WISP_STATE_CONNECTED: /* its request is being written */
        if (in_flight > 0)
            pipelined++; /* ahead of a response still to come on the connection */
        if (!it->sent) {
            it->sent = 1;
            in_flight++;
        }
        break;
    case WISP_STATE_ACK:
    case WISP_STATE_NACK:
        it->status = arg;
        answered(it);
        break;
    case WISP_STATE_CONNECTION_FAILED: /* a retry may follow: not the end yet */
    case WISP_STATE_DISCONNECTED:
        answered(it);
        break;
    case WISP_STATE_DONE:
        end_transaction(it, 1);
        break;
    case WISP_STATE_ALL_RETRIES_FAILED:
    case WISP_STATE_TIMEOUT:
        /* Print only the first: with N streams, N lines say nothing more. */
        if (!failed)
            fprintf(stderr, "stream: %s: %s\n", wisp_state_name(state), wisp_strerror(arg));
        end_transaction(it, 0);
        break;
    case WISP_STATE_DESTROYING: /* the last callback: the handle is gone after it */
        end_transaction(it, it->finished || it->status);
        it->s = NULL;
        break;
    default:
        break;
    }
    return WISP_CB_OK;
}

/* Destroys the streams created so far and lets the loop free them. */
static void destroy_items(wisp_context_t *cx, item_t *items, unsigned n)
{
    wisp_stats_t st;
    unsigned i;
    int spins;

    for (i = 0; i < n; i++) {
        if (items[i].s)
            wisp_stream_destroy(items[i].s); /* never twice: the handle is gone after */
        items[i].s = NULL;
    }
    for (spins = 0; spins < 100; spins++) {
        wisp_get_stats(cx, &st);
        if (!st.streams_live)
            break;
        if (wisp_service(cx, 0) != 0)
            break;
    }
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : POLICY_FILE;
    const wisp_policy_stream_t *type;
    wisp_context_info_t info = {0};
    wisp_stream_ops_t ops = {0};
    wisp_context_t *cx = NULL;
    item_t *items = NULL;
    unsigned i, n = N_DEFAULT, created = 0, ok200 = 0;
    wisp_stats_t st;
    char json[512], *text;
    int ret, rc = 1;

    if (argc > 3 || (argc > 2 && parse_count(argv[2], &n))) {
        fprintf(stderr, "usage: %s [POLICY.json [N]]   (N from 1 to %d, default %d)\n", argv[0],
                N_MAX, N_DEFAULT);
        return 2;
    }
    text = read_file(path, &info.policy_json_len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    info.policy_json = text;
    info.policy_name = path;
    ret = wisp_context_create(&info, &cx); /* parses the policy; logs any error */
    free(text);
    if (ret) {
        fprintf(stderr, "%s: %s\n", path, wisp_strerror(ret));
        return 1;
    }
    type = wisp_policy_stream_find(wisp_context_policy(cx), "item");
    items = calloc(n, sizeof(*items));
    if (!type || !items) {
        fprintf(stderr, "%s\n", items ? "the policy has no stream type \"item\"" : "out of memory");
        goto out;
    }

    ops.type = "item";
    ops.state = on_state; /* no rx callback: the bodies are not needed here */
    for (created = 0; created < n; created++) {
        ret = wisp_stream_create(cx, &ops, &items[created], &items[created].s);
        if (ret) {
            fprintf(stderr, "stream %u: %s\n", created + 1, wisp_strerror(ret));
            goto out;
        }
    }
    /* All created before the first request: they all find the same endpoint with no
     * connection yet, and queue behind the first one's. */
    for (i = 0; i < n; i++) {
        ret = wisp_stream_request_tx(items[i].s);
        if (ret) {
            fprintf(stderr, "stream %u: starting the transaction: %s\n", i + 1, wisp_strerror(ret));
            goto out;
        }
    }
    /* The loop: DNS, TCP, TLS, HTTP, timers, callbacks. Every transaction ends (the
     * policy's timeout_ms), so this ends too. */
    while (finished < n) {
        ret = wisp_service(cx, 1000);
        if (ret) {
            fprintf(stderr, "wisp_service: %s\n", wisp_strerror(ret));
            goto out;
        }
    }

    for (i = 0; i < n; i++)
        ok200 += items[i].status == 200;
    /* The stats once the streams are gone: the connection stays (keepalive_ms). */
    destroy_items(cx, items, created);
    wisp_get_stats(cx, &st);
    printf("streams             %u created at once, type \"item\": GET %s://%s:%u%s\n", n,
           type->tls ? "https" : "http", type->endpoint, (unsigned)type->port, type->url);
    printf("transactions        %u (%u answered 200, %u failed)\n", (unsigned)st.transactions,
           ok200, failed);
    printf("TCP connections     %u\n", (unsigned)st.conns_opened);
    printf("TLS handshakes      %u full, %u resumed\n", (unsigned)st.handshakes_full,
           (unsigned)st.handshakes_resumed);
    printf("pipelined requests  %u (written before the previous response began;"
           " pipeline_depth %u)\n",
           pipelined, (unsigned)type->pipeline_depth);
    printf("peak heap           %zu bytes (wisp's own, the parsed policy included)\n",
           st.heap_peak);
    if (wisp_stats_json(&st, json, sizeof(json)) > 0)
        printf("stats: %s\n", json);
    rc = ok200 == n ? 0 : 1;
out:
    destroy_items(cx, items, created);
    wisp_context_destroy(cx); /* closes the kept-alive connection, frees everything */
    free(items);
    return rc;
}
