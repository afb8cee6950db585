/*
 * Fuzz target: the HTTP/1.1 request parser (lib/http1/server-parse.c + parse.c).
 *
 * Differential as well as crash-seeking: the input is parsed as a keep-alive
 * connection's byte stream (pipelined requests one after another, then EOF), once
 * whole, once byte by byte and once in odd-sized pieces, with default limits and
 * with small head and body caps. Callbacks, results and the per-request decisions
 * (keep-alive, HTTP/1.1, 100-continue) are folded into a hash; any difference between
 * the splits aborts, because where a request ends must never depend on how its
 * bytes arrived.
 */
#include "h1_record.h"

static int on_request(void *u, const char *m, size_t ml, const char *t, size_t tl)
{
    tag(u, 'R', (int)ml);
    mix(u, m, ml + 1); /* the NUL is promised too */
    mix(u, t, tl + 1);
    return 0;
}

static const wisp__h1_cbs_t cbs = {NULL,    on_request, on_header, on_headers_done,
                                   on_body, on_complete};

static int decisions(const wisp__h1_req_t *q)
{
    return wisp__h1_req_keepalive(q) | wisp__h1_req_http11(q) << 1 |
           wisp__h1_req_expect_continue(q) << 2 | wisp__h1_req_in_body(q) << 3;
}

static uint64_t run(const uint8_t *data, size_t size, size_t step, uint32_t cap, uint64_t max_body)
{
    wisp__h1_req_cfg_t cfg;
    static wisp__h1_req_t q;
    rec_t rec = {0xcbf29ce484222325ull, 0};
    size_t pos = 0, used;
    int ret;

    cfg.cb = &cbs;
    cfg.user = &rec;
    cfg.max_head = cap;
    cfg.max_body = max_body;
    wisp__h1_req_init(&q, &cfg);
    while (pos < size) {
        size_t n = step != 0 && step < size - pos ? step : size - pos;

        ret = wisp__h1_req_feed(&q, data + pos, n, &used);
        if (used > n)
            abort();
        if (ret != 0) {
            tag(&rec, 'E', ret);
            tag(&rec, 'K', decisions(&q));
            return rec.h;
        }
        pos += used;
        if (wisp__h1_req_is_done(&q)) {
            tag(&rec, 'K', decisions(&q));
            wisp__h1_req_init(&q, &cfg);
        } else if (used != n) {
            abort();
        }
    }
    ret = wisp__h1_req_eof(&q);
    tag(&rec, 'F', ret);
    tag(&rec, 'K', decisions(&q));
    return rec.h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int small;

    for (small = 0; small <= 1; small++) {
        uint32_t cap = small ? 256 : 0;
        uint64_t max_body = small ? 64 : 0;
        uint64_t whole = run(data, size, 0, cap, max_body);

        if (run(data, size, 1, cap, max_body) != whole ||
            run(data, size, 1 + size % 13, cap, max_body) != whole)
            abort();
    }
    return 0;
}
