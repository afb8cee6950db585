/*
 * Fuzz target: the HTTP/1.1 response parser (lib/http1/client-parse.c + parse.c).
 *
 * Differential as well as crash-seeking: the input is parsed as a connection's byte
 * stream (pipelined responses one after another, then EOF), once whole, once byte by
 * byte and once in odd-sized pieces, with and without a HEAD request and a small
 * head cap. The callbacks, results and keep-alive decisions are folded into a hash;
 * any difference between the splits aborts, because the parser promises that the
 * split of its input never matters.
 */
#include "h1_record.h"

static int on_status(void *u, int status, const char *reason, size_t len)
{
    tag(u, 'S', status);
    mix(u, reason, len + 1); /* the NUL is promised too */
    return 0;
}

static const wisp__h1_cbs_t cbs = {on_status,       NULL,    on_header,
                                   on_headers_done, on_body, on_complete};

static uint64_t run(const uint8_t *data, size_t size, size_t step, int head, uint32_t cap)
{
    wisp__h1_resp_cfg_t cfg;
    static wisp__h1_resp_t p;
    rec_t rec = {0xcbf29ce484222325ull, 0};
    size_t pos = 0, used;
    int ret;

    cfg.cb = &cbs;
    cfg.user = &rec;
    cfg.max_head = cap;
    cfg.head_request = (uint8_t)head;
    wisp__h1_resp_init(&p, &cfg);
    while (pos < size) {
        size_t n = step != 0 && step < size - pos ? step : size - pos;

        ret = wisp__h1_resp_feed(&p, data + pos, n, &used);
        if (used > n)
            abort();
        if (ret != 0) {
            tag(&rec, 'E', ret);
            return rec.h;
        }
        pos += used;
        if (wisp__h1_resp_is_done(&p)) {
            tag(&rec, 'K', wisp__h1_resp_keepalive(&p) * 1000 + wisp__h1_resp_status(&p));
            wisp__h1_resp_init(&p, &cfg);
        } else if (used != n) {
            abort();
        }
    }
    ret = wisp__h1_resp_eof(&p);
    tag(&rec, 'F', ret);
    tag(&rec, 'K', wisp__h1_resp_keepalive(&p) * 1000 + wisp__h1_resp_status(&p));
    return rec.h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int head;

    for (head = 0; head <= 1; head++) {
        uint32_t cap = head ? 256 : 0;
        uint64_t whole = run(data, size, 0, head, cap);

        if (run(data, size, 1, head, cap) != whole ||
            run(data, size, 1 + size % 13, head, cap) != whole)
            abort();
    }
    return 0;
}
