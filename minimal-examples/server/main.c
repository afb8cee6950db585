/*
 * server: HTTPS from a policy's server stream type.
 *
 *   GET /         a small HTML page whose script fetches /count in a loop and
 *                 reloads itself (for the browser test; see README.md)
 *   GET /count    {"count":N,"page":P} — requests to /count and loads of / so far
 *   POST /count   the same, plus "bytes": the request body's length
 *   anything else 404
 *
 * Every request is its own stream: wisp allocates `struct req` for it
 * (wisp_stream_set_user_size) and frees it after DONE or DISCONNECTED. SIGINT or
 * SIGTERM stops accepting, lets the requests in flight finish, and exits 0.
 *
 * usage: wisp-server [--policy FILE] [--stream NAME] [--stats] [--quiet]
 *   prints "listening on https://127.0.0.1:PORT/" once it accepts (port 0 in the
 *   policy: the system picks one); --stats prints the context stats as one JSON
 *   object on stderr at exit.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wisp.h>

#ifndef POLICY_FILE
#define POLICY_FILE "policy.json"
#endif

static const char page[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>wisp</title></head>\n"
    "<body><h1>wisp server</h1><p id=\"s\">starting</p>\n<script>\n"
    "var q = new URLSearchParams(location.search), secs = +(q.get('for') || 0);\n"
    "var st = JSON.parse(localStorage.getItem('wisp') || '{\"t0\":0,\"loads\":0,\"fetches\":0,"
    "\"errors\":0}');\n"
    "if (!st.t0) st.t0 = Date.now();\n"
    "st.loads++;\n"
    "function show(done) { document.getElementById('s').textContent = (done ? 'done ' : '') +\n"
    "  'loads ' + st.loads + ' fetches ' + st.fetches + ' errors ' + st.errors;\n"
    "  localStorage.setItem('wisp', JSON.stringify(st)); }\n"
    "function step(n) {\n"
    "  if (Date.now() - st.t0 > secs * 1000) { show(true); return; }\n"
    "  if (n == 0) { show(false); location.reload(); return; }\n"
    "  fetch('/count', {cache: 'no-store'}).then(function (r) { return r.json(); })\n"
    "    .then(function () { st.fetches++; show(false); step(n - 1); },\n"
    "          function () { st.errors++; show(false); step(n - 1); });\n"
    "}\n"
    "show(false); step(5);\n"
    "</script></body></html>\n";

/* One request's state, allocated and zeroed by wisp. */
struct req {
    int route;        /* 0: not found, 1: page, 2: count */
    size_t in_bytes;  /* request body received */
    const char *body; /* the answer */
    size_t len, off;
    char json[96];
};

static unsigned long counts, pages;
static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

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

/* The request is complete: choose and send the answer. */
static int answer(struct req *r)
{
    wisp_stream_t *s = wisp_stream_from_user(r);
    const char *ctype = "text/plain";
    int ret;

    if (r->route == 1) {
        pages++;
        r->body = page;
        r->len = sizeof(page) - 1;
        ctype = "text/html; charset=utf-8";
    } else if (r->route == 2) {
        counts++;
        r->len = (size_t)snprintf(r->json, sizeof(r->json),
                                  "{\"count\":%lu,\"page\":%lu,\"bytes\":%lu}\n", counts, pages,
                                  (unsigned long)r->in_bytes);
        r->body = r->json;
        ctype = "application/json";
    } else {
        r->body = "not found\n";
        r->len = strlen(r->body);
        ret = wisp_stream_set_metadata(s, "status", "404", 3);
        if (ret)
            return WISP_CB_DISCONNECT;
    }
    if (wisp_stream_set_metadata(s, "ctype", ctype, strlen(ctype)))
        return WISP_CB_DISCONNECT;
    /* HEAD announces the length a GET would get; wisp sends no body for it. */
    return wisp_stream_request_tx_len(s, r->len) ? WISP_CB_DISCONNECT : WISP_CB_OK;
}

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    struct req *r = user;

    (void)buf;
    r->in_bytes += len;
    return (flags & WISP_EOM) ? answer(r) : WISP_CB_OK;
}

static int on_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    struct req *r = user;
    size_t n = r->len - r->off;

    if (n > *len)
        n = *len;
    memcpy(buf, r->body + r->off, n);
    r->off += n;
    *len = n;
    if (r->off == r->len)
        *flags |= WISP_EOM;
    return WISP_CB_OK;
}

static int on_state(void *user, wisp_state_t state, int arg)
{
    struct req *r = user;
    wisp_stream_t *s;
    const void *path;
    size_t plen;

    if (state == WISP_STATE_SERVER_REQUEST) {
        s = wisp_stream_from_user(r);
        if (wisp_stream_get_metadata(s, "path", &path, &plen) == 0 && path) {
            if (plen == 1 && !memcmp(path, "/", 1))
                r->route = 1;
            else if (plen == 6 && !memcmp(path, "/count", 6))
                r->route = 2;
        }
    } else if (state == WISP_STATE_DISCONNECTED) {
        fprintf(stderr, "request lost: %s\n", wisp_strerror(arg));
    }
    return WISP_CB_OK;
}

static int usage(void)
{
    fprintf(stderr, "usage: wisp-server [--policy FILE] [--stream NAME] [--stats] [--quiet]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *path = POLICY_FILE, *type = "site";
    wisp_context_info_t info = {0};
    wisp_stream_ops_t ops = {0};
    wisp_context_t *cx;
    wisp_stream_t *listener = NULL;
    wisp_stats_t st;
    int i, stats = 0, quiet = 0, ret, rounds;
    char json[768], *text;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--policy") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--stream") && i + 1 < argc)
            type = argv[++i];
        else if (!strcmp(argv[i], "--stats"))
            stats = 1;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else
            return usage();
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    text = read_file(path, &info.policy_json_len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    info.policy_json = text;
    info.policy_name = path;
    info.log_level = quiet ? WISP_LOG_WARN : WISP_LOG_NOTICE;
    info.log_level_set = 1;
    ret = wisp_context_create(&info, &cx);
    free(text);
    if (ret)
        return 1;
    ops.type = type;
    ops.rx = on_rx;
    ops.tx = on_tx;
    ops.state = on_state;
    if (wisp_stream_create(cx, &ops, NULL, &listener) ||
        wisp_stream_set_user_size(listener, sizeof(struct req))) {
        wisp_context_destroy(cx);
        return 1;
    }
    printf("listening on https://127.0.0.1:%d/\n", wisp_stream_local_port(listener));
    fflush(stdout);
    while (!stop_asked)
        if (wisp_service(cx, 200) < 0)
            break;

    /* Graceful stop: no new connections; what is in flight finishes (5 s at most). */
    wisp_stream_destroy(listener);
    for (rounds = 0; rounds < 50; rounds++) {
        wisp_get_stats(cx, &st);
        if (!st.conns_live && !st.streams_live)
            break;
        if (wisp_service(cx, 100) < 0)
            break;
    }
    wisp_get_stats(cx, &st);
    if (stats && wisp_stats_json(&st, json, sizeof(json)) > 0)
        fprintf(stderr, "%s\n", json);
    wisp_context_destroy(cx);
    return 0;
}
