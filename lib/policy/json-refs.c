/*
 * The JSON policy loader's name references. Names may be used before they are
 * defined, so a reference (a stream's "trust_store", a trust store's "certs") is
 * queued with its position and path while reading, and resolved here once the
 * document is complete and no model array moves any more. A reference field is a
 * const pointer at the offset the key table gives for it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/json-load.h"

/* ---- Resolving names ---- */

/* Report at a reference: what it names, then why, e.g. unknown trust store "x". */
static void ref_report(loader_t *l, const struct ref *r, const char *what, const char *why)
{
    char buf[80];

    wisp__loader_path_set(l, 0);
    wisp__loader_path_append(l, r->path);
    wisp__loader_report(l, r->at, "%s\"%s\"%s", what,
                        wisp__loader_show(buf, sizeof(buf), r->text, strlen(r->text)), why);
}

/* A stream's reference field is a const pointer at the table's offset for it. */
static void ref_assign(loader_t *l, const struct ref *r, const void *target)
{
    unsigned char *s = (unsigned char *)&l->streams[r->owner];

    memcpy(s + wisp__loader_stream_keys[r->field].off, &target, sizeof(target));
}

/* The reserved "system" store joins the model only if a client stream names it. It
 * is appended before any pointer into trust_stores is taken. */
static int add_system_store(loader_t *l)
{
    wisp_policy_trust_store_t *ts;
    struct ref *r;

    for (r = l->refs; r; r = r->next)
        if (r->what == REF_TRUST && r->field == SK_trust_store && !strcmp(r->text, "system"))
            break;
    if (!r)
        return 0;
    ts = wisp__loader_next_entry(l, K_TRUSTS);
    if (!ts || !(ts->name = wisp__strndup(l->cx, "system", 6)))
        return wisp__loader_nomem(l);
    ts->system = 1;
    l->p->trust_store_count++;
    return 0;
}

static int resolve_cert(loader_t *l, const struct ref *r, const wisp_policy_cert_t ***store,
                        size_t *store_owner)
{
    static const char *const kinds[] = {"", "certificate", "private key"};
    const wisp_policy_cert_t *c = wisp_policy_cert_find(l->p, r->text);
    wisp_policy_trust_store_t *ts;
    char hint[WISP_POLICY_NAME_MAX + 32];

    if (!c) {
        ref_report(l, r, "unknown certificate ",
                   wisp__loader_suggest(hint, sizeof(hint), r->text, strlen(r->text), l->certs,
                                        l->p->cert_count, sizeof(*l->certs)));
        return 0;
    }
    if (c->der && c->kind != (wisp_cert_kind_t)r->what) {
        snprintf(hint, sizeof(hint), " is a %s, not a %s", kinds[c->kind], kinds[r->what]);
        ref_report(l, r, "", hint);
        return 0;
    }
    if (r->field != FIELD_TRUST_CERT) {
        ref_assign(l, r, c);
        return 0;
    }
    /* A trust store's refs are consecutive: allocate its array at the first one. */
    ts = &l->trusts[r->owner];
    if (!ts->cert_count || r->elem >= ts->cert_count)
        return 0;
    if (!*store || *store_owner != r->owner) {
        *store = wisp__zalloc(l->cx, ts->cert_count * sizeof(**store));
        if (!*store)
            return wisp__loader_nomem(l);
        ts->certs = *store;
        *store_owner = r->owner;
    }
    (*store)[r->elem] = c;
    return 0;
}

int wisp__loader_resolve(loader_t *l)
{
    const wisp_policy_cert_t **store = NULL;
    size_t store_owner = 0;
    const void *target;
    char hint[WISP_POLICY_NAME_MAX + 32];
    struct ref *r;
    int ret = add_system_store(l);

    for (r = l->refs; r && !ret && !l->status; r = r->next) {
        if (r->what == REF_X509 || r->what == REF_KEY) {
            ret = resolve_cert(l, r, &store, &store_owner);
            continue;
        }
        if (r->what == REF_RETRY) {
            target = wisp_policy_retry_find(l->p, r->text);
            wisp__loader_suggest(hint, sizeof(hint), r->text, strlen(r->text), l->retries,
                                 l->p->retry_count, sizeof(*l->retries));
        } else if (r->field == SK_client_ca && !strcmp(r->text, "system")) {
            ref_report(l, r, "the trust store ", " cannot check client certificates");
            continue;
        } else {
            target = wisp_policy_trust_store_find(l->p, r->text);
            wisp__loader_suggest(hint, sizeof(hint), r->text, strlen(r->text), l->trusts,
                                 l->p->trust_store_count, sizeof(*l->trusts));
        }
        if (target)
            ref_assign(l, r, target);
        else
            ref_report(l, r, r->what == REF_RETRY ? "unknown retry " : "unknown trust store ",
                       hint);
    }
    return ret;
}
