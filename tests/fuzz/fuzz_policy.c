/*
 * Fuzz target: the JSON policy loader, from raw bytes to model and back to nothing.
 *
 * Each input is loaded twice: whole, and in fragments whose sizes come from the
 * input itself. The two loads must agree exactly (result and every error line),
 * since the loader must not care how its input is split. A policy that loads is then
 * walked: lookups by every name, every template expanded with hostile slot values.
 * Afterwards the context must hold zero heap. Any disagreement or leak aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <wisp/core.h>
#include <wisp/policy.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

static int slot(void *user, const char *name, size_t len, const char **v, size_t *vlen)
{
    (void)user;
    if (len && name[0] == 'u')
        return WISP_ENOTFOUND;
    *v = "a b/\r\n%\xff";
    *vlen = 9;
    return 0;
}

static void walk(const wisp_policy_t *p)
{
    char out[128];
    size_t i, k, n;

    for (i = 0; i < p->stream_count; i++) {
        const wisp_policy_stream_t *s = &p->streams[i];

        if (wisp_policy_stream_find(p, s->name) != s)
            abort();
        for (k = 0; k < s->metadata_count; k++)
            if (!wisp_policy_meta_find(s, s->metadata[k].name, strlen(s->metadata[k].name)))
                abort();
        /* An expansion either fits, NUL-terminated, or fails with nothing written. */
        if (s->url &&
            !wisp_policy_template_expand(s->url, WISP_TEMPLATE_URL, slot, NULL, out, sizeof(out),
                                         &n) &&
            strlen(out) != n)
            abort();
        if (s->endpoint &&
            wisp_policy_template_expand(s->endpoint, WISP_TEMPLATE_HEADER, slot, NULL, out,
                                        sizeof(out), &n) &&
            (out[0] || n))
            abort();
        if (!s->server && s->tls && !s->trust_store)
            abort(); /* the loader guarantees a trust store for TLS clients */
    }
    for (i = 0; i < p->trust_store_count; i++)
        for (k = 0; k < p->trust_stores[i].cert_count; k++)
            if (p->trust_stores[i].certs[k]->kind != WISP_CERT_X509)
                abort();
}

static int load_split(wisp_context_t *cx, const uint8_t *data, size_t size, wisp_policy_t **out,
                      wisp_policy_errors_t *errs)
{
    wisp_policy_loader_t *l;
    size_t off = 0, n;
    int ret = wisp_policy_loader_create(cx, "fuzz.json", errs, &l);

    while (!ret && off < size) {
        n = 1 + data[off] % 61;
        if (n > size - off)
            n = size - off;
        ret = wisp_policy_loader_feed(l, data + off, n);
        off += n;
    }
    if (ret != WISP_ENOMEM && l)
        ret = wisp_policy_loader_finish(l, out);
    wisp_policy_loader_destroy(&l);
    return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wisp_policy_errors_t e1, e2;
    wisp_context_info_t info;
    wisp_policy_t *p1 = NULL, *p2 = NULL;
    wisp_context_t *cx;
    wisp_stats_t st;
    unsigned i;
    int r1, r2;

    memset(&info, 0, sizeof(info));
    info.log = quiet;
    if (wisp_context_create(&info, &cx))
        abort();
    r1 = wisp_policy_load_json(cx, "fuzz.json", (const char *)data, size, &p1, &e1);
    r2 = load_split(cx, data, size, &p2, &e2);
    if (r1 != r2 || e1.count != e2.count || e1.truncated != e2.truncated || !p1 != !p2)
        abort();
    for (i = 0; i < e1.count; i++)
        if (strcmp(e1.e[i].text, e2.e[i].text))
            abort();
    if (p1)
        walk(p1);
    wisp_policy_free(cx, &p1);
    wisp_policy_free(cx, &p2);
    wisp_get_stats(cx, &st);
    if (st.heap_in_use)
        abort();
    wisp_context_destroy(cx);
    return 0;
}
