/*
 * Lazy refcounted client vhosts.
 *
 * The context's vhosts are one singly linked list whose head is stored directly in
 * context slot WISP_SLOT_VHOST, so an idle context holds no vhost bookkeeping at all
 * (heap after the last stream equals heap before the first). A vhost is keyed by
 * what shapes its ssl_config: trust store, client certificate and key, and maximum
 * fragment length.
 *
 * References: one per live stream of a type that uses it, one per live connection.
 * At zero the vhost is freed at once, or after the store's linger_ms, during which a
 * new stream revives it without re-parsing anything.
 *
 * Certificates come from the policy as DER and are parsed without copying: a static
 * policy's DER stays in flash, a loaded policy's lives on the heap as long as the
 * context, which outlives every vhost.
 *
 * Resumption: the vhost keeps the last TLS session per host:port, so a stream that
 * must reconnect (the server closed, a leader failed) resumes instead of paying a
 * full handshake. It also remembers, per host:port, a server that failed a pipeline
 * (lib/http1/client-conn.c), so pipelining is not tried there again while the vhost
 * lives.
 */
#include <string.h>

#include "vhost/vhost-internal.h"

#if WISP_H1_PIPELINE_MAX > 1
#define WISP_HOSTPORT_SET_MAX 8

struct wisp__hostport {
    struct wisp__hostport *next;
    uint16_t port;
    char host[];
};
#endif

typedef struct vh_session {
    struct vh_session *next;
    wisp__tls_session_t *sess;
    uint16_t port;
    char host[];
} vh_session_t;

struct wisp__vhost {
    wisp__vhost_t *next;
    wisp_context_t *cx;
    const wisp_policy_stream_t *server;     /* a server vhost: its stream type */
    const wisp_policy_trust_store_t *store; /* client: the trust store; server: client_ca */
    const wisp_policy_cert_t *client_cert, *client_key;
    uint16_t mfl;
    unsigned refs;
    wisp__tls_conf_t *tls;
    wisp__timer_t linger;
    vh_session_t *sessions; /* most recently stored first */
    unsigned nsessions;     /* at most WISP_VHOST_SESSIONS_MAX */
#if WISP_H1_PIPELINE_MAX > 1
    wisp__hostport_t *nopipe; /* host:port that do not pipeline */
#endif
};

static const char *name_of(const wisp__vhost_t *v)
{
    return v->server ? v->server->name : v->store->name;
}

static wisp__vhost_t **list_head(wisp_context_t *cx)
{
    /* The slot holds the list head itself; see the file comment. */
    return (wisp__vhost_t **)wisp__slot_ptr(cx, WISP_SLOT_VHOST);
}

static void sessions_free(wisp__vhost_t *v)
{
    while (v->sessions) {
        vh_session_t *s = v->sessions;

        v->sessions = s->next;
        wisp__tls_session_free(v->cx, &s->sess);
        wisp__free(v->cx, s);
    }
    v->nsessions = 0;
}

static void vhost_free(wisp__vhost_t *v)
{
    wisp_context_t *cx = v->cx;
    wisp__vhost_t **pp;
    wisp_stats_t *st = wisp__stats(cx);

    for (pp = list_head(cx); *pp; pp = &(*pp)->next) {
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    }
    wisp__timer_stop(cx, &v->linger);
    sessions_free(v);
#if WISP_H1_PIPELINE_MAX > 1
    wisp__hostport_free(cx, &v->nopipe);
#endif
    wisp__tls_conf_destroy(&v->tls);
    st->vhosts_live--;
    st->vhosts_destroyed++;
    WISP_LOGI(cx, "vhost '%s' destroyed", name_of(v));
    wisp__free(cx, v);
}

static void linger_expired(wisp__timer_t *t)
{
    wisp__vhost_t *v = (wisp__vhost_t *)((char *)t - offsetof(wisp__vhost_t, linger));

    if (!v->refs)
        vhost_free(v);
}

/* Context teardown: streams and connections are gone; free what lingers. */
static void vhosts_destroy_all(wisp_context_t *cx, void *head)
{
    wisp__vhost_t *v;

    (void)head;
    while ((v = *list_head(cx)) != NULL) {
        if (v->refs)
            WISP_LOGE(cx, "vhost '%s' freed with %u references left", name_of(v), v->refs);
        vhost_free(v);
    }
}

static int vhost_setup_tls(wisp__vhost_t *v)
{
    const wisp_policy_trust_store_t *ts = v->store;
    wisp__tls_blob_t ca[WISP_POLICY_TRUST_CERTS_MAX];
    wisp__tls_conf_info_t info;
    size_t i;

    memset(&info, 0, sizeof(info));
#if WISP_WITH_SERVER
    if (v->server) {
        /* One server config for every connection of the listener: certificate and
         * key, session cache and tickets (lib/tls), client CAs when asked. */
        info.server = 1;
        v->client_cert = v->server->cert;
        v->client_key = v->server->key;
    }
#endif
    if (ts && ts->cert_count > WISP_POLICY_TRUST_CERTS_MAX)
        return WISP_ETOOBIG;
    for (i = 0; ts && i < ts->cert_count; i++) {
        ca[i].data = ts->certs[i]->der;
        ca[i].len = ts->certs[i]->len;
    }
    info.ca = ca;
    info.ca_count = ts ? ts->cert_count : 0;
    info.ca_nocopy = 1;
    info.system_ca = ts ? ts->system : 0;
    if (v->client_cert && v->client_key) {
        info.cert.data = v->client_cert->der;
        info.cert.len = v->client_cert->len;
        info.key.data = v->client_key->der;
        info.key.len = v->client_key->len;
    }
    info.max_fragment_len = v->mfl;
    return wisp__tls_conf_create(v->cx, &info, &v->tls);
}

/* A new vhost's second half, client or server: its TLS config, then on the list
 * with one reference. On failure v is freed. */
static int vhost_start(wisp__vhost_t *v, const wisp_policy_stream_t *ps)
{
    wisp_context_t *cx = v->cx;
    int ret;

    wisp__timer_init(&v->linger, linger_expired);
    ret = vhost_setup_tls(v);
    if (ret) {
        WISP_LOGE(cx, "vhost '%s' (stream type '%s'): %s", name_of(v), ps->name,
                  wisp_strerror(ret));
        wisp__tls_conf_destroy(&v->tls);
        wisp__free(cx, v);
        return ret;
    }
    v->refs = 1;
    v->next = *list_head(cx);
    *list_head(cx) = v;
    wisp__slot_set_destroy(cx, WISP_SLOT_VHOST, vhosts_destroy_all);
    wisp__stats(cx)->vhosts_live++;
    wisp__stats(cx)->vhosts_created++;
    return 0;
}

int wisp__vhost_acquire(wisp_context_t *cx, const wisp_policy_stream_t *ps, wisp__vhost_t **out)
{
    const wisp__vhost_hooks_t *hooks;
    wisp__vhost_t *v;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || !ps || !ps->tls || !ps->trust_store)
        return WISP_EINVAL;
    for (v = *list_head(cx); v; v = v->next) {
        if (!v->server && v->store == ps->trust_store && v->client_cert == ps->client_cert &&
            v->client_key == ps->client_key && v->mfl == ps->max_fragment_len) {
            if (!v->refs)
                WISP_LOGI(cx, "vhost '%s' revived during its linger", v->store->name);
            wisp__timer_stop(cx, &v->linger);
            v->refs++;
            *out = v;
            return 0;
        }
    }
    v = wisp__zalloc(cx, sizeof(*v));
    if (!v)
        return WISP_ENOMEM;
    v->cx = cx;
    v->store = ps->trust_store;
    v->client_cert = ps->client_cert;
    v->client_key = ps->client_key;
    v->mfl = ps->max_fragment_len;
    ret = vhost_start(v, ps);
    if (ret)
        return ret;
    WISP_LOGI(cx, "vhost '%s' created (%lu CA certs%s)", v->store->name,
              (unsigned long)v->store->cert_count, v->store->system ? ", system bundle" : "");
    /* Sessions loaded from a saved blob before this vhost existed (sessions.c). */
    if ((hooks = wisp__slot(cx, WISP_SLOT_SESSIONS)) != NULL)
        hooks->created(cx, v);
    *out = v;
    return 0;
}

#if WISP_WITH_SERVER
int wisp__vhost_acquire_server(wisp_context_t *cx, const wisp_policy_stream_t *ps,
                               wisp__vhost_t **out)
{
    wisp__vhost_t *v;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || !ps || !ps->server || !ps->tls || !ps->cert || !ps->key)
        return WISP_EINVAL;
    /* A listener created again while the old one drains gets a vhost of its own: the
     * old one goes with its last connection (SPEC §2). */
    v = wisp__zalloc(cx, sizeof(*v));
    if (!v)
        return WISP_ENOMEM;
    v->cx = cx;
    v->server = ps;
    v->store = ps->client_ca;
    ret = vhost_start(v, ps);
    if (ret)
        return ret;
    WISP_LOGI(cx, "vhost '%s' created (server%s)", ps->name,
              ps->client_ca ? ", client certificates required" : "");
    *out = v;
    return 0;
}
#endif

void wisp__vhost_ref(wisp__vhost_t *v)
{
    if (v)
        v->refs++;
}

void wisp__vhost_unref(wisp__vhost_t **vp)
{
    wisp__vhost_t *v;

    if (!vp || !*vp)
        return;
    v = *vp;
    *vp = NULL;
    if (!v->refs) {
        /* An underflow is a bug in a caller: log it and keep the vhost intact. */
        WISP_LOGE(v->cx, "vhost '%s': reference underflow", name_of(v));
        return;
    }
    if (--v->refs)
        return;
    if (!v->server && v->store->linger_ms)
        wisp__timer_start(v->cx, &v->linger, v->store->linger_ms);
    else
        vhost_free(v);
}

wisp__tls_conf_t *wisp__vhost_tls(const wisp__vhost_t *v)
{
    return v ? v->tls : NULL;
}

const char *wisp__vhost_name(const wisp__vhost_t *v)
{
    return v ? name_of(v) : "";
}

static vh_session_t **session_find(wisp__vhost_t *v, const char *host, uint16_t port)
{
    vh_session_t **pp;

    for (pp = &v->sessions; *pp; pp = &(*pp)->next)
        if ((*pp)->port == port && !strcmp((*pp)->host, host))
            return pp;
    return NULL;
}

const wisp__tls_session_t *wisp__vhost_session(const wisp__vhost_t *v, const char *host,
                                               uint16_t port)
{
    vh_session_t **pp;

    if (!v || !host)
        return NULL;
    pp = session_find((wisp__vhost_t *)(uintptr_t)v, host, port);
    return pp ? (*pp)->sess : NULL;
}

void wisp__vhost_session_drop(wisp__vhost_t *v, const char *host, uint16_t port)
{
    vh_session_t **pp, *s;

    if (!v || !host || !(pp = session_find(v, host, port)))
        return;
    s = *pp;
    *pp = s->next;
    wisp__tls_session_free(v->cx, &s->sess);
    wisp__free(v->cx, s);
    v->nsessions--;
}

/* Over the cap: the least recently stored session goes (the list's tail). */
static void sessions_trim(wisp__vhost_t *v)
{
    vh_session_t **pp = &v->sessions;

    while (*pp && (*pp)->next)
        pp = &(*pp)->next;
    if (*pp && v->nsessions > WISP_VHOST_SESSIONS_MAX) {
        wisp__tls_session_free(v->cx, &(*pp)->sess);
        wisp__free(v->cx, *pp);
        *pp = NULL;
        v->nsessions--;
    }
}

void wisp__vhost_session_put(wisp__vhost_t *v, const char *host, uint16_t port,
                             wisp__tls_session_t *sess)
{
    vh_session_t **pp, *s;
    size_t hlen;

    if (!v || !host || !sess)
        return;
    pp = session_find(v, host, port);
    if (pp) {
        /* Refresh, and move to the front: the list is in order of use. */
        s = *pp;
        wisp__tls_session_free(v->cx, &s->sess);
        s->sess = sess;
        *pp = s->next;
        s->next = v->sessions;
        v->sessions = s;
        return;
    }
    hlen = strlen(host);
    s = wisp__alloc(v->cx, sizeof(*s) + hlen + 1);
    if (!s) {
        /* Resumption is an optimisation: without memory, do without it. */
        wisp__tls_session_free(v->cx, &sess);
        return;
    }
    memcpy(s->host, host, hlen + 1);
    s->port = port;
    s->sess = sess;
    s->next = v->sessions;
    v->sessions = s;
    v->nsessions++;
    sessions_trim(v);
}

wisp__vhost_t *wisp__vhost_next(wisp_context_t *cx, const wisp__vhost_t *v)
{
    wisp__vhost_t *n = v ? v->next : cx ? *list_head(cx) : NULL;

    while (n && n->server) /* server vhosts keep no client sessions */
        n = n->next;
    return n;
}

void wisp__vhost_key(const wisp__vhost_t *v, const wisp_policy_trust_store_t **store,
                     const wisp_policy_cert_t **client_cert, uint16_t *mfl)
{
    *store = v->store;
    *client_cert = v->client_key ? v->client_cert : NULL;
    *mfl = v->mfl;
}

const wisp__tls_session_t *wisp__vhost_session_at(const wisp__vhost_t *v, unsigned i,
                                                  const char **host, uint16_t *port)
{
    const vh_session_t *s;

    for (s = v ? v->sessions : NULL; s && i; s = s->next)
        i--;
    if (!s)
        return NULL;
    *host = s->host;
    *port = s->port;
    return s->sess;
}

/* ---- host:port sets (only the h1 client's pipelining uses them) ---- */

#if WISP_H1_PIPELINE_MAX > 1

int wisp__hostport_has(const wisp__hostport_t *set, const char *host, uint16_t port)
{
    for (; set && host; set = set->next)
        if (set->port == port && !strcmp(set->host, host))
            return 1;
    return 0;
}

int wisp__hostport_add(wisp_context_t *cx, wisp__hostport_t **set, const char *host, uint16_t port)
{
    wisp__hostport_t *e, **pp;
    size_t hlen, n = 0;

    if (!set || !host)
        return WISP_EINVAL;
    if (wisp__hostport_has(*set, host, port))
        return 0;
    hlen = strlen(host);
    e = wisp__alloc(cx, sizeof(*e) + hlen + 1);
    if (!e)
        return WISP_ENOMEM;
    memcpy(e->host, host, hlen + 1);
    e->port = port;
    e->next = *set;
    *set = e;
    /* Newest first: past the cap, the tail (the oldest) goes. */
    for (pp = set; *pp && ++n <= WISP_HOSTPORT_SET_MAX; pp = &(*pp)->next)
        ;
    wisp__hostport_free(cx, pp);
    return 0;
}

void wisp__hostport_free(wisp_context_t *cx, wisp__hostport_t **set)
{
    while (set && *set) {
        wisp__hostport_t *e = *set;

        *set = e->next;
        wisp__free(cx, e);
    }
}

wisp__hostport_t **wisp__vhost_nopipe(wisp__vhost_t *v)
{
    return v ? &v->nopipe : NULL;
}
#endif
