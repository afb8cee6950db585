/*
 * The HTTP/1.1 parser test harness: a recorder that turns callbacks into a
 * transcript, and a driver that feeds a case in many splits (see h1_table.h).
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "h1_table.h"

static void add(h1t_rec_t *r, const void *p, size_t n)
{
    if (n > sizeof(r->log) - 1 - r->len)
        n = sizeof(r->log) - 1 - r->len;
    memcpy(r->log + r->len, p, n);
    r->len += n;
    r->log[r->len] = '\0';
}

static void adds(h1t_rec_t *r, const char *s)
{
    add(r, s, strlen(s));
}

/* Start a non-body event: close a running body line first. */
static int event(h1t_rec_t *r, char letter)
{
    if (r->in_body)
        adds(r, "\n");
    r->in_body = 0;
    if (r->done)
        adds(r, "! callback after on_complete\n");
    return r->stop_on == letter ? r->stop_ret : 0;
}

static void nul_check(h1t_rec_t *r, const char *s, size_t n)
{
    if (s[n] != '\0')
        adds(r, "! not NUL-terminated\n");
}

static int on_status(void *user, int status, const char *reason, size_t len)
{
    h1t_rec_t *r = user;
    char tmp[16];
    int ret = event(r, 'S');

    snprintf(tmp, sizeof(tmp), "S %d ", status);
    adds(r, tmp);
    add(r, reason, len);
    adds(r, "\n");
    nul_check(r, reason, len);
    return ret;
}

static int on_request(void *user, const char *m, size_t ml, const char *t, size_t tl)
{
    h1t_rec_t *r = user;
    int ret = event(r, 'R');

    adds(r, "R ");
    add(r, m, ml);
    adds(r, " ");
    add(r, t, tl);
    adds(r, "\n");
    nul_check(r, m, ml);
    nul_check(r, t, tl);
    return ret;
}

static int on_header(void *user, const char *n, size_t nl, const char *v, size_t vl)
{
    h1t_rec_t *r = user;
    int ret = event(r, 'H');

    adds(r, "H ");
    add(r, n, nl);
    adds(r, ": ");
    add(r, v, vl);
    adds(r, "\n");
    nul_check(r, n, nl);
    nul_check(r, v, vl);
    return ret;
}

static int on_headers_done(void *user)
{
    h1t_rec_t *r = user;
    int ret = event(r, 'D');

    adds(r, "D\n");
    return ret;
}

static int on_body(void *user, const uint8_t *data, size_t len)
{
    h1t_rec_t *r = user;

    if (len == 0)
        adds(r, "! empty body call\n");
    if (r->done)
        adds(r, "! body after on_complete\n");
    if (!r->in_body)
        adds(r, "B ");
    r->in_body = 1;
    add(r, data, len);
    return r->stop_on == 'B' ? r->stop_ret : 0;
}

static int on_complete(void *user)
{
    h1t_rec_t *r = user;
    int ret = event(r, 'C');

    adds(r, "C\n");
    r->done = 1;
    return ret;
}

const wisp__h1_cbs_t h1t_cbs = {on_status,       on_request, on_header,
                                on_headers_done, on_body,    on_complete};

void h1t_rec_init(h1t_rec_t *r)
{
    memset(r, 0, sizeof(*r));
}

/* Next piece length for a split; a small LCG keeps random splits reproducible. */
static size_t piece(int split, unsigned *seed, size_t pos, size_t len)
{
    static const size_t spans[] = {1, 2, 3, 7, 16, 61, 500};

    switch (split) {
    case H1T_WHOLE:
        return len - pos;
    case H1T_BYTES:
        return 1;
    case H1T_HALVES:
        return pos < len / 2 ? len / 2 - pos : len - pos;
    default:
        *seed = *seed * 1103515245u + 12345u;
        return 1 + (*seed >> 8) % spans[(*seed >> 24) % (sizeof(spans) / sizeof(spans[0]))];
    }
}

typedef struct parser {
    wisp__h1_resp_t resp;
    wisp__h1_req_t req;
} parser_t;

static int feed(int kind, parser_t *p, const uint8_t *b, size_t n, size_t *used)
{
    return kind == H1T_RESP ? wisp__h1_resp_feed(&p->resp, b, n, used)
                            : wisp__h1_req_feed(&p->req, b, n, used);
}

static int is_done(int kind, const parser_t *p)
{
    return kind == H1T_RESP ? wisp__h1_resp_is_done(&p->resp) : wisp__h1_req_is_done(&p->req);
}

void h1t_run(int kind, const h1t_case_t *c, int split, unsigned seed, h1t_result_t *res)
{
    static parser_t p;
    const uint8_t *in = (const uint8_t *)c->in;
    size_t len = c->in_len != 0 ? c->in_len : strlen(c->in);
    size_t pos = 0;
    int done = 0;

    memset(res, 0, sizeof(*res));
    h1t_rec_init(&res->rec);
    if (kind == H1T_RESP) {
        wisp__h1_resp_cfg_t cfg = {&h1t_cbs, &res->rec, c->max_head, (uint8_t)c->head};

        wisp__h1_resp_init(&p.resp, &cfg);
    } else {
        wisp__h1_req_cfg_t cfg = {&h1t_cbs, &res->rec, c->max_head, c->max_body};

        wisp__h1_req_init(&p.req, &cfg);
    }
    while (pos < len) {
        size_t n = piece(split, &seed, pos, len), used = 0;

        if (n > len - pos)
            n = len - pos;
        if (done) {
            res->leftover += n;
        } else {
            res->err = feed(kind, &p, in + pos, n, &used);
            if (res->err != 0)
                break;
            if (used != n && !is_done(kind, &p))
                adds(&res->rec, "! short consume without completion\n");
            done = is_done(kind, &p);
            res->leftover += n - used;
        }
        pos += n;
    }
    if (res->err == 0 && c->eof)
        res->err = kind == H1T_RESP ? wisp__h1_resp_eof(&p.resp) : wisp__h1_req_eof(&p.req);
    if (kind == H1T_RESP) {
        res->keepalive = wisp__h1_resp_keepalive(&p.resp);
    } else {
        res->keepalive = wisp__h1_req_keepalive(&p.req);
        res->req_bits = (wisp__h1_req_http11(&p.req) ? H1T_HTTP11 : 0) |
                        (wisp__h1_req_expect_continue(&p.req) ? H1T_EXPECT : 0) |
                        (wisp__h1_req_in_body(&p.req) ? H1T_IN_BODY : 0);
    }
    if (res->rec.in_body)
        adds(&res->rec, "\n");
}

static const char *split_name(int split)
{
    static const char *const names[] = {"whole", "bytes", "halves", "random"};

    return names[split];
}

static void check_one(int kind, const h1t_case_t *c, int split, unsigned seed)
{
    static h1t_result_t res;
    int ok;

    h1t_run(kind, c, split, seed, &res);
    ok = strcmp(res.rec.log, c->want) == 0 && res.err == c->err && res.keepalive == c->keepalive &&
         (res.err != 0 || res.leftover == c->leftover) &&
         (kind == H1T_RESP || res.req_bits == c->req_bits);
    if (!ok) {
        print_error("case \"%s\", split %s (seed %u):\n"
                    "  transcript:\n%s  wanted:\n%s"
                    "  err %s (wanted %s), keepalive %d (%d), leftover %zu (%zu), bits %d (%d)\n",
                    c->name, split_name(split), seed, res.rec.log, c->want, wisp_errname(res.err),
                    wisp_errname(c->err), res.keepalive, c->keepalive, res.leftover, c->leftover,
                    res.req_bits, c->req_bits);
        fail();
    }
}

void h1t_check(int kind, const h1t_case_t *c)
{
    unsigned seed;

    check_one(kind, c, H1T_WHOLE, 0);
    check_one(kind, c, H1T_BYTES, 0);
    check_one(kind, c, H1T_HALVES, 0);
    for (seed = 1; seed <= 40; seed++)
        check_one(kind, c, H1T_RANDOM, seed);
}

void h1t_check_table(int kind, const h1t_case_t *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        h1t_check(kind, &cases[i]);
}
