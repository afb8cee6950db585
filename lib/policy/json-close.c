/*
 * The JSON policy loader's closing checks. Nothing about a stream is known for sure
 * until its object closes (whether it is a client or a server, whether it uses TLS),
 * so this is where required keys are checked, role and TLS rules applied, defaults
 * filled from the key table and ${slot}s checked against the stream's metadata.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/json-load.h"

static int backoff_close(loader_t *l, struct frame *f)
{
    wisp_policy_retry_t *r = &l->retries[f->index];
    size_t n = f->count < WISP_POLICY_BACKOFF_MAX ? f->count : WISP_POLICY_BACKOFF_MAX;
    uint32_t *a;

    if (!n) {
        wisp__loader_report(l, f->at, "must hold 1..%d delays", WISP_POLICY_BACKOFF_MAX);
        return 0;
    }
    a = wisp__alloc(l->cx, n * sizeof(*a));
    if (!a)
        return wisp__loader_nomem(l);
    memcpy(a, l->backoff, n * sizeof(*a));
    r->backoff_ms = a;
    r->backoff_count = n;
    return 0;
}

static void retry_close(loader_t *l, struct frame *f)
{
    wisp_policy_retry_t *r = &l->retries[f->index];

    if (!l->kseen[YK_backoff_ms].line)
        wisp__loader_missing(l, f, wisp__loader_retry_keys[YK_backoff_ms]);
    if (!l->kseen[YK_conceal].line)
        r->conceal = (uint16_t)r->backoff_count;
}

static void trust_certs_close(loader_t *l, struct frame *f)
{
    if (!f->count)
        wisp__loader_report(l, f->at, "must hold 1..%d certificates", WISP_POLICY_TRUST_CERTS_MAX);
    l->trusts[f->index].cert_count =
        f->count < WISP_POLICY_TRUST_CERTS_MAX ? f->count : WISP_POLICY_TRUST_CERTS_MAX;
}

static void status_close(loader_t *l, struct frame *f)
{
    wisp_policy_stream_t *s = &l->streams[f->index];
    uint16_t lo = l->status_codes[0], hi = l->status_codes[1];

    if (f->count < 2) {
        wisp__loader_report(l, f->at, "expected two status codes [min, max]");
    } else if (lo && hi && lo > hi) {
        wisp__loader_report(l, f->at, "min %u is above max %u", lo, hi);
    } else if (lo && hi) {
        s->expect_status_min = lo;
        s->expect_status_max = hi;
    }
}

/* Every ${slot} of a template must be declared in the stream's metadata. */
static void check_slots(loader_t *l, struct frame *f, const wisp_policy_stream_t *s, int key,
                        const char *tmpl)
{
    char hint[WISP_POLICY_NAME_MAX + 32], buf[80];
    const char *lit, *slot;
    size_t lit_len, slot_len;

    while (tmpl && wisp__template_step(&tmpl, &lit, &lit_len, &slot, &slot_len) == 1) {
        if (!slot || wisp_policy_meta_find(s, slot, slot_len))
            continue;
        wisp__loader_key_report(l, f, wisp__loader_stream_keys[key].name, l->vseen[key],
                                "undeclared metadata slot \"%s\"%s",
                                wisp__loader_show(buf, sizeof(buf), slot, slot_len),
                                wisp__loader_suggest(hint, sizeof(hint), slot, slot_len,
                                                     s->metadata, s->metadata_count,
                                                     sizeof(*s->metadata)));
    }
}

static void client_close(loader_t *l, struct frame *f, wisp_policy_stream_t *s)
{
    pos_t *seen = l->kseen;

    if (!seen[SK_protocol].line)
        s->protocol = WISP_PROTO_H1;
    if (!seen[SK_method].line)
        s->method = WISP_METHOD_GET;
    if (!seen[SK_expect_status].line) {
        s->expect_status_min = 200;
        s->expect_status_max = 299;
    }
    if (seen[SK_port].line && l->vseen[SK_port].line && !s->port)
        wisp__loader_key_report(l, f, "port", l->vseen[SK_port],
                                "must be 1..65535 for a client stream");
    if (!seen[SK_endpoint].line)
        wisp__loader_missing(l, f, "endpoint");
    if (s->tls && !seen[SK_trust_store].line)
        wisp__loader_missing(l, f, "trust_store");
    if (seen[SK_client_cert].line && !seen[SK_client_key].line)
        wisp__loader_key_report(l, f, "client_cert", seen[SK_client_cert], "needs \"%s\" too",
                                "client_key");
    if (seen[SK_client_key].line && !seen[SK_client_cert].line)
        wisp__loader_key_report(l, f, "client_key", seen[SK_client_key], "needs \"%s\" too",
                                "client_cert");
    check_slots(l, f, s, SK_endpoint, s->endpoint);
    check_slots(l, f, s, SK_url, s->url);
}

static int stream_close(loader_t *l, struct frame *f)
{
    wisp_policy_stream_t *s = &l->streams[f->index];
    int role = s->server ? R_SERVER : R_CLIENT, k;

    for (k = 0; k < SK_COUNT; k++) {
        const struct skey *d = &wisp__loader_stream_keys[k];

        if (l->kseen[k].line && !(d->roles & role))
            wisp__loader_key_report(l, f, d->name, l->kseen[k], "not valid for a %s stream",
                                    s->server ? "server" : "client");
        else if (!l->kseen[k].line && (d->roles & role) && (d->type == V_BOOL || d->type == V_UINT))
            wisp__loader_store(s, d, d->dflt);
    }
    if (!l->kseen[SK_port].line)
        s->port = s->tls ? 443 : 80;
    if (!s->tls) {
        for (k = 0; k < SK_COUNT; k++)
            if (l->kseen[k].line && (wisp__loader_stream_keys[k].roles & role) &&
                tls_only(&wisp__loader_stream_keys[k]))
                wisp__loader_key_report(l, f, wisp__loader_stream_keys[k].name, l->kseen[k],
                                        "needs \"tls\": true");
        if (s->max_fragment_len && !s->server)
            wisp__loader_key_report(l, f, "max_fragment_len", l->kseen[SK_max_fragment_len],
                                    "needs \"tls\": true");
    }
    if (s->server) {
        if (s->tls && !l->kseen[SK_cert].line)
            wisp__loader_missing(l, f, "cert");
        if (s->tls && !l->kseen[SK_key].line)
            wisp__loader_missing(l, f, "key");
        if (!s->bind && !(s->bind = wisp__strndup(l->cx, "0.0.0.0", 7)))
            return wisp__loader_nomem(l);
        return 0;
    }
    client_close(l, f, s);
    if (!s->url && !(s->url = wisp__strndup(l->cx, "/", 1)))
        return wisp__loader_nomem(l);
    return 0;
}

int wisp__loader_close(loader_t *l)
{
    struct frame *f = &l->fr[l->depth];
    int ret = 0;

    wisp__loader_path_set(l, f->path_len);
    switch (f->kind) {
    case K_ROOT:
        if (!l->root_seen[RK_SCHEMA].line)
            wisp__loader_missing(l, f, wisp__loader_root_keys[RK_SCHEMA]);
        break;
    case K_RETRY:
        retry_close(l, f);
        break;
    case K_BACKOFF:
        ret = backoff_close(l, f);
        break;
    case K_TRUST:
        if (!l->kseen[TK_certs].line)
            wisp__loader_missing(l, f, wisp__loader_trust_keys[TK_certs]);
        break;
    case K_TRUST_CERTS:
        trust_certs_close(l, f);
        break;
    case K_STATUS:
        status_close(l, f);
        break;
    case K_STREAM:
        ret = stream_close(l, f);
        break;
    default:
        break;
    }
    l->depth--;
    return ret;
}
