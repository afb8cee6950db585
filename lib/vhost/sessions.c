/*
 * Saved client sessions: wisp_context_sessions_save() and _load() (SPEC section 8,
 * "Sessions outlive the process"). The mbedTLS half (serialising one session, the
 * wall clock, SHA-256) is lib/tls/tls-session.c; this file owns the blob and decides
 * which vhost each session belongs to.
 *
 * The blob, all integers big-endian:
 *
 *   header   "wSes"  u16 format (1)  u16 flags (0)  u32 mbedTLS version number
 *            u32 entry count  u32 blob length (trailer included)
 *   entry    u32 length of the rest of the entry
 *            u8[32] fingerprint of the vhost key (below)
 *            u8 n + trust store name   u16 max_fragment_len
 *            u16 port   u8 n + host (1..255 bytes)
 *            s64 received (wall-clock seconds)   u32 lifetime (seconds)
 *            mbedTLS's session bytes (mbedtls_ssl_session_save), the rest
 *   trailer  u8[32] SHA-256 of everything before it
 *
 * The fingerprint is SHA-256 over a domain tag, the trust store's name, its system
 * flag and every CA certificate (length-prefixed DER), the client certificate (only
 * with a key, as the vhost uses it) and max_fragment_len: the parts of the policy
 * that decide whether a session may be resumed. It is per entry rather than one for
 * the whole policy, so that a new policy release that changes one trust store keeps
 * the sessions of the others; a blob from a policy whose stores differ resumes
 * nothing. The store name and the length are there in the clear only for the logs.
 *
 * Integrity is an unkeyed SHA-256 and is checked before anything else is read; after
 * it, every field is still bounds-checked, because anyone can compute a SHA-256 for
 * bytes of their choosing. Secrecy and authenticity are the storage's job (core.h).
 *
 * Sessions loaded for a vhost that does not exist yet are kept on the context heap
 * as their saved bytes (not parsed: a parsed session holds the server's X.509 chain,
 * and an idle context should hold none), in context slot WISP_SLOT_SESSIONS, at most
 * WISP_VHOST_SESSIONS_MAX per vhost key. The slot's hooks make wisp__vhost_acquire()
 * hand them to each vhost it creates; the slot is freed with its last entry.
 */
#include <string.h>

#include "vhost/vhost-internal.h"

#define BLOB_MAGIC "wSes"
#define BLOB_FORMAT 1u
#define HDR_LEN 20u
#define FP_LEN 32u
#define TRAILER_LEN 32u
/* fingerprint, name length, mfl, port, host length, received, lifetime */
#define ENTRY_FIXED (FP_LEN + 1u + 2u + 2u + 1u + 8u + 4u)
#define FP_TAG "wisp sessions v1"

typedef struct pend {
    struct pend *next;
    const wisp_policy_trust_store_t *store; /* the vhost key, in the policy */
    const wisp_policy_cert_t *cert;
    uint16_t mfl;
    uint16_t port;
    uint8_t fp[FP_LEN];
    int64_t received;
    uint32_t lifetime;
    size_t sess_len;
    uint8_t *sess; /* after host */
    size_t size;   /* of the whole block, for zeroizing */
    char host[];
} pend_t;

typedef struct store {
    wisp__vhost_hooks_t hooks; /* first: see vhost-internal.h */
    pend_t *list;
} store_t;

/* A vhost key of the policy, with its fingerprint (load). */
typedef struct key {
    const wisp_policy_trust_store_t *store;
    const wisp_policy_cert_t *cert;
    uint16_t mfl;
    unsigned pending;
    uint8_t fp[FP_LEN];
} key_t;

/* A parsed entry; pointers into the blob. */
typedef struct entry {
    const uint8_t *fp, *name, *host, *sess;
    size_t name_len, host_len, sess_len;
    uint16_t mfl, port;
    int64_t received;
    uint32_t lifetime;
} entry_t;

/* ---- bytes ---- */

typedef struct wr {
    uint8_t *buf;
    size_t cap, len;
} wr_t;

static void put(wr_t *w, const void *p, size_t n)
{
    if (w->buf && n <= w->cap && w->len <= w->cap - n)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_be(wr_t *w, uint64_t v, unsigned n)
{
    uint8_t b[8];
    unsigned i;

    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put(w, b, n);
}

/* Overwrite n bytes at off, if they were written. */
static void patch_be(wr_t *w, size_t off, uint64_t v, unsigned n)
{
    wr_t at = {w->buf, w->cap, off};

    put_be(&at, v, n);
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* now - received in seconds; -1 for a date in the future (the clock went back), and
 * no overflow for a date nobody honest wrote. */
static int64_t age_of(int64_t now, int64_t received)
{
    if (received > now)
        return -1;
    if (now >= 0 && received < now - INT64_MAX)
        return INT64_MAX;
    return now - received;
}

/* ---- the vhost key ---- */

/* A hash chain, so that no array of every certificate sits on the stack:
 * h0 = SHA-256(tag, name, NUL, system, mfl); h(i+1) = SHA-256(h(i), len, DER) for each
 * CA certificate and then the client certificate (length 0 without one). */
static int fingerprint(wisp_context_t *cx, const wisp_policy_trust_store_t *ts,
                       const wisp_policy_cert_t *cert, uint16_t mfl, uint8_t fp[FP_LEN])
{
    wisp__tls_blob_t parts[4];
    uint8_t head[3], len4[4];
    size_t i;
    int ret;

    head[0] = ts->system;
    head[1] = (uint8_t)(mfl >> 8);
    head[2] = (uint8_t)mfl;
    parts[0].data = (const uint8_t *)FP_TAG;
    parts[0].len = sizeof(FP_TAG); /* with its NUL */
    parts[1].data = (const uint8_t *)ts->name;
    parts[1].len = strlen(ts->name) + 1;
    parts[2].data = head;
    parts[2].len = sizeof(head);
    if ((ret = wisp__tls_sha256(cx, parts, 3, fp)) != 0)
        return ret;
    for (i = 0; i <= ts->cert_count; i++) {
        const wisp_policy_cert_t *c = i < ts->cert_count ? ts->certs[i] : cert;
        size_t len = c ? c->len : 0;
        wr_t w = {len4, sizeof(len4), 0};

        put_be(&w, len, 4);
        parts[0].data = fp;
        parts[0].len = FP_LEN;
        parts[1].data = len4;
        parts[1].len = sizeof(len4);
        parts[2].data = c ? c->der : NULL;
        parts[2].len = len;
        if ((ret = wisp__tls_sha256(cx, parts, 3, fp)) != 0)
            return ret;
    }
    return 0;
}

static const wisp_policy_cert_t *stream_cert(const wisp_policy_stream_t *ps)
{
    /* As vhost.c: a client certificate counts only with its key. */
    return ps->client_cert && ps->client_key ? ps->client_cert : NULL;
}

static wisp__vhost_t *live_vhost(wisp_context_t *cx, const key_t *k)
{
    const wisp_policy_trust_store_t *ts;
    const wisp_policy_cert_t *cert;
    wisp__vhost_t *v;
    uint16_t mfl;

    for (v = wisp__vhost_next(cx, NULL); v; v = wisp__vhost_next(cx, v)) {
        wisp__vhost_key(v, &ts, &cert, &mfl);
        if (ts == k->store && cert == k->cert && mfl == k->mfl)
            return v;
    }
    return NULL;
}

/* ---- the pending store ---- */

static void pend_free(wisp_context_t *cx, pend_t *p)
{
    wisp__zeroize(p, p->size);
    wisp__free(cx, p);
}

static void store_drop_all(wisp_context_t *cx, void *state)
{
    store_t *st = state;
    pend_t *p;

    while ((p = st->list) != NULL) {
        st->list = p->next;
        pend_free(cx, p);
    }
    wisp__free(cx, st);
}

static void store_clear(wisp_context_t *cx)
{
    store_t *st = wisp__slot(cx, WISP_SLOT_SESSIONS);
    pend_t *p;

    while (st && (p = st->list) != NULL) {
        st->list = p->next;
        pend_free(cx, p);
    }
}

static void store_release_if_empty(wisp_context_t *cx)
{
    store_t *st = wisp__slot(cx, WISP_SLOT_SESSIONS);

    if (st && !st->list) {
        wisp__slot_set(cx, WISP_SLOT_SESSIONS, NULL, NULL);
        store_drop_all(cx, st);
    }
}

/* Parse a saved session, re-date it on mbedTLS's clocks and give it to v. */
static int give(wisp_context_t *cx, wisp__vhost_t *v, const char *host, uint16_t port,
                const uint8_t *sess, size_t sess_len, int64_t now, int64_t age)
{
    wisp__tls_session_t *s = NULL;
    int ret;

    ret = wisp__tls_session_load(cx, sess, sess_len, &s);
    if (ret)
        return ret;
    wisp__tls_session_set_age(s, now, age);
    wisp__vhost_session_put(v, host, port, s);
    return 0;
}

/* wisp__vhost_acquire() created v: move its waiting sessions in. */
static void vhost_created(wisp_context_t *cx, wisp__vhost_t *v)
{
    store_t *st = wisp__slot(cx, WISP_SLOT_SESSIONS);
    const wisp_policy_trust_store_t *ts;
    const wisp_policy_cert_t *cert;
    unsigned moved = 0, dropped = 0;
    pend_t **pp, *p;
    uint16_t mfl;
    int64_t now = 0;

    if (!st)
        return;
    wisp__vhost_key(v, &ts, &cert, &mfl);
    if (wisp__tls_wall_time(&now))
        now = 0; /* not reached: the store exists only if the clock worked at load */
    for (pp = &st->list; (p = *pp) != NULL;) {
        int64_t age = age_of(now, p->received);

        if (p->store != ts || p->cert != cert || p->mfl != mfl) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        if (age >= 0 && age <= (int64_t)p->lifetime &&
            give(cx, v, p->host, p->port, p->sess, p->sess_len, now, age) == 0)
            moved++;
        else
            dropped++;
        pend_free(cx, p);
    }
    if (moved || dropped)
        WISP_LOGI(cx, "vhost '%s': %u saved sessions moved in, %u expired or unusable", ts->name,
                  moved, dropped);
    store_release_if_empty(cx);
}

static store_t *store_get(wisp_context_t *cx)
{
    store_t *st = wisp__slot(cx, WISP_SLOT_SESSIONS);

    if (st)
        return st;
    st = wisp__zalloc(cx, sizeof(*st));
    if (!st)
        return NULL;
    st->hooks.created = vhost_created;
    wisp__slot_set(cx, WISP_SLOT_SESSIONS, st, store_drop_all);
    return st;
}

static int pend_add(wisp_context_t *cx, const key_t *k, const entry_t *e)
{
    store_t *st = store_get(cx);
    size_t size;
    pend_t *p;

    if (!st)
        return WISP_ENOMEM;
    size = sizeof(*p) + e->host_len + 1 + e->sess_len;
    p = wisp__zalloc(cx, size);
    if (!p)
        return WISP_ENOMEM;
    p->size = size;
    p->store = k->store;
    p->cert = k->cert;
    p->mfl = k->mfl;
    p->port = e->port;
    memcpy(p->fp, k->fp, FP_LEN);
    p->received = e->received;
    p->lifetime = e->lifetime;
    memcpy(p->host, e->host, e->host_len);
    p->host[e->host_len] = '\0';
    p->sess = (uint8_t *)p->host + e->host_len + 1;
    p->sess_len = e->sess_len;
    memcpy(p->sess, e->sess, e->sess_len);
    p->next = st->list;
    st->list = p;
    return 0;
}

/* ---- save ---- */

static void put_entry_head(wr_t *w, const uint8_t fp[FP_LEN], const char *name, uint16_t mfl,
                           const char *host, uint16_t port, int64_t received, uint32_t lifetime,
                           size_t sess_len)
{
    size_t nlen = strlen(name), hlen = strlen(host);

    put_be(w, ENTRY_FIXED + nlen + hlen + sess_len, 4);
    put(w, fp, FP_LEN);
    put_be(w, nlen, 1);
    put(w, name, nlen);
    put_be(w, mfl, 2);
    put_be(w, port, 2);
    put_be(w, hlen, 1);
    put(w, host, hlen);
    put_be(w, (uint64_t)received, 8);
    put_be(w, lifetime, 4);
}

/* One live session: its head, then mbedTLS's bytes straight into the blob. */
static int save_live(wisp_context_t *cx, wr_t *w, const uint8_t fp[FP_LEN], const char *name,
                     uint16_t mfl, const char *host, uint16_t port, const wisp__tls_session_t *s,
                     int64_t now, unsigned *count)
{
    size_t head, sess_len = 0, room;
    uint32_t lifetime;
    int64_t age;
    int ret;

    wisp__tls_session_times(s, now, &age, &lifetime);
    if (age < 0)
        age = 0;
    if (age > (int64_t)lifetime || strlen(name) > 255 || strlen(host) > 255 || !*host)
        return 0; /* expired already, or not representable: not worth saving */
    head = w->len;
    put_entry_head(w, fp, name, mfl, host, port, now - age, lifetime, 0);
    room = w->buf && w->len < w->cap ? w->cap - w->len : 0;
    ret = wisp__tls_session_save(cx, s, room ? w->buf + w->len : NULL, room, &sess_len);
    if (ret && ret != WISP_ETOOBIG)
        return ret;
    w->len += sess_len;
    patch_be(w, head, ENTRY_FIXED + strlen(name) + strlen(host) + sess_len, 4);
    (*count)++;
    return 0;
}

static int save_vhost(wisp_context_t *cx, wr_t *w, const wisp__vhost_t *v, int64_t now,
                      unsigned *count)
{
    const wisp_policy_trust_store_t *ts;
    const wisp_policy_cert_t *cert;
    const wisp__tls_session_t *s;
    uint8_t fp[FP_LEN];
    const char *host;
    uint16_t mfl, port;
    unsigned i;
    int ret;

    wisp__vhost_key(v, &ts, &cert, &mfl);
    if (!wisp__vhost_session_at(v, 0, &host, &port))
        return 0;
    if ((ret = fingerprint(cx, ts, cert, mfl, fp)) != 0)
        return ret;
    for (i = 0; (s = wisp__vhost_session_at(v, i, &host, &port)) != NULL; i++)
        if ((ret = save_live(cx, w, fp, ts->name, mfl, host, port, s, now, count)) != 0)
            return ret;
    return 0;
}

int wisp_context_sessions_save(wisp_context_t *cx, void *buf, size_t cap, size_t *len)
{
    store_t *st;
    wisp__vhost_t *v;
    unsigned count = 0;
    uint8_t hash[TRAILER_LEN];
    wisp__tls_blob_t all;
    int64_t now;
    wr_t w;
    pend_t *p;
    int ret;

    if (!cx || !len || (!buf && cap))
        return WISP_EINVAL;
    *len = 0;
    if ((ret = wisp__tls_wall_time(&now)) != 0) {
        WISP_LOGE(cx, "sessions save: mbedTLS has no wall clock (MBEDTLS_HAVE_TIME)");
        return ret;
    }
    w.buf = buf;
    w.cap = cap;
    w.len = 0;
    put(&w, BLOB_MAGIC, 4);
    put_be(&w, BLOB_FORMAT, 2);
    put_be(&w, 0, 2);
    put_be(&w, wisp__tls_version_number(), 4);
    put_be(&w, 0, 4); /* count and length: patched at the end */
    put_be(&w, 0, 4);
    for (v = wisp__vhost_next(cx, NULL); v; v = wisp__vhost_next(cx, v))
        if ((ret = save_vhost(cx, &w, v, now, &count)) != 0)
            goto fail;
    st = wisp__slot(cx, WISP_SLOT_SESSIONS);
    for (p = st ? st->list : NULL; p; p = p->next) {
        int64_t age = age_of(now, p->received);

        if (age < 0 || age > (int64_t)p->lifetime)
            continue;
        put_entry_head(&w, p->fp, p->store->name, p->mfl, p->host, p->port, p->received,
                       p->lifetime, p->sess_len);
        put(&w, p->sess, p->sess_len);
        count++;
    }
    *len = w.len + TRAILER_LEN;
    if (*len > cap) {
        ret = buf ? WISP_ETOOBIG : 0;
        goto fail;
    }
    patch_be(&w, 12, count, 4);
    patch_be(&w, 16, *len, 4);
    all.data = buf;
    all.len = w.len;
    if ((ret = wisp__tls_sha256(cx, &all, 1, hash)) != 0)
        goto fail;
    put(&w, hash, TRAILER_LEN);
    WISP_LOGI(cx, "sessions saved: %u, %lu bytes", count, (unsigned long)*len);
    return 0;
fail:
    /* Whatever was written holds secrets and is not a usable blob. */
    if (buf)
        wisp__zeroize(buf, w.len < cap ? w.len : cap);
    return ret;
}

/* ---- load ---- */

/* One entry at *pos (bounds-checked: the hash says nothing about who wrote it). */
static int parse_entry(const uint8_t *b, size_t end, size_t *pos, entry_t *e)
{
    size_t p = *pos, elen, stop;

    if (end - p < 4)
        return WISP_ECORRUPT;
    elen = (size_t)get_be(b + p, 4);
    p += 4;
    if (elen < ENTRY_FIXED + 1 || elen > end - p)
        return WISP_ECORRUPT;
    stop = p + elen;
    e->fp = b + p;
    p += FP_LEN;
    e->name_len = b[p++];
    if (stop - p < e->name_len + 5u)
        return WISP_ECORRUPT;
    e->name = b + p;
    p += e->name_len;
    e->mfl = (uint16_t)get_be(b + p, 2);
    e->port = (uint16_t)get_be(b + p + 2, 2);
    e->host_len = b[p + 4];
    p += 5;
    if (!e->host_len || stop - p < e->host_len + 12u)
        return WISP_ECORRUPT;
    e->host = b + p;
    p += e->host_len;
    e->received = (int64_t)get_be(b + p, 8);
    e->lifetime = (uint32_t)get_be(b + p + 8, 4);
    p += 12;
    if (stop == p)
        return WISP_ECORRUPT; /* no session bytes */
    e->sess = b + p;
    e->sess_len = stop - p;
    *pos = stop;
    return 0;
}

/* The header and trailer; *count entries follow. */
static int check_blob(wisp_context_t *cx, const uint8_t *b, size_t len, unsigned *count)
{
    uint8_t hash[TRAILER_LEN];
    wisp__tls_blob_t all;
    uint32_t ver, mine = wisp__tls_version_number();
    int ret;

    if (len < HDR_LEN + TRAILER_LEN || memcmp(b, BLOB_MAGIC, 4)) {
        WISP_LOGE(cx, "sessions load: not a wisp sessions blob (%lu bytes)", (unsigned long)len);
        return WISP_ECORRUPT;
    }
    if (get_be(b + 4, 2) != BLOB_FORMAT) {
        WISP_LOGE(cx, "sessions load: blob format %u, this wisp reads %u",
                  (unsigned)get_be(b + 4, 2), BLOB_FORMAT);
        return WISP_EMISMATCH;
    }
    if (get_be(b + 16, 4) != len) {
        WISP_LOGE(cx, "sessions load: blob is %lu bytes, its header says %lu: truncated",
                  (unsigned long)len, (unsigned long)get_be(b + 16, 4));
        return WISP_ECORRUPT;
    }
    all.data = b;
    all.len = len - TRAILER_LEN;
    if ((ret = wisp__tls_sha256(cx, &all, 1, hash)) != 0)
        return ret;
    if (memcmp(hash, b + len - TRAILER_LEN, TRAILER_LEN)) {
        WISP_LOGE(cx, "sessions load: integrity check failed (SHA-256): blob corrupt");
        return WISP_ECORRUPT;
    }
    ver = (uint32_t)get_be(b + 8, 4);
    if (ver != mine) {
        WISP_LOGE(cx, "sessions load: saved with mbedTLS %u.%u.%u, this is %u.%u.%u",
                  (unsigned)(ver >> 24), (unsigned)(ver >> 16 & 0xff), (unsigned)(ver >> 8 & 0xff),
                  (unsigned)(mine >> 24), (unsigned)(mine >> 16 & 0xff),
                  (unsigned)(mine >> 8 & 0xff));
        return WISP_EMISMATCH;
    }
    *count = (unsigned)get_be(b + 12, 4);
    return 0;
}

/* The distinct client vhost keys of the policy, with their fingerprints. */
static int policy_keys(wisp_context_t *cx, key_t **out, size_t *n)
{
    const wisp_policy_t *pol = wisp_context_policy(cx);
    key_t *keys;
    size_t i, j, k = 0;
    int ret;

    *out = NULL;
    *n = 0;
    if (!pol || !pol->stream_count)
        return 0;
    keys = wisp__zalloc(cx, pol->stream_count * sizeof(*keys));
    if (!keys)
        return WISP_ENOMEM;
    for (i = 0; i < pol->stream_count; i++) {
        const wisp_policy_stream_t *ps = &pol->streams[i];

        if (ps->server || !ps->tls || !ps->trust_store)
            continue;
        for (j = 0; j < k; j++)
            if (keys[j].store == ps->trust_store && keys[j].cert == stream_cert(ps) &&
                keys[j].mfl == ps->max_fragment_len)
                break;
        if (j < k)
            continue;
        keys[k].store = ps->trust_store;
        keys[k].cert = stream_cert(ps);
        keys[k].mfl = ps->max_fragment_len;
        if ((ret = fingerprint(cx, keys[k].store, keys[k].cert, keys[k].mfl, keys[k].fp)) != 0) {
            wisp__free(cx, keys);
            return ret;
        }
        k++;
    }
    *out = keys;
    *n = k;
    return 0;
}

static key_t *key_find(key_t *keys, size_t n, const entry_t *e)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!memcmp(keys[i].fp, e->fp, FP_LEN) && keys[i].mfl == e->mfl &&
            strlen(keys[i].store->name) == e->name_len &&
            !memcmp(keys[i].store->name, e->name, e->name_len))
            return &keys[i];
    return NULL;
}

typedef struct tally {
    unsigned loaded, pending, expired, foreign, unusable, over;
} tally_t;

/* One checked entry: into its live vhost, or into the pending store. */
static int load_entry(wisp_context_t *cx, key_t *keys, size_t nkeys, const entry_t *e, int64_t now,
                      tally_t *t)
{
    char *host;
    int64_t age = age_of(now, e->received);
    wisp__vhost_t *v;
    key_t *k;
    int ret;

    if (age < 0 || age > (int64_t)e->lifetime) {
        t->expired++;
        return 0;
    }
    if ((k = key_find(keys, nkeys, e)) == NULL) {
        t->foreign++;
        return 0;
    }
    if ((v = live_vhost(cx, k)) != NULL) {
        if ((host = wisp__strndup(cx, (const char *)e->host, e->host_len)) == NULL)
            return WISP_ENOMEM;
        ret = 0;
        if (!wisp__vhost_session(v, host, e->port)) /* else the live one is newer */
            ret = give(cx, v, host, e->port, e->sess, e->sess_len, now, age);
        wisp__free(cx, host);
        if (ret == WISP_ENOMEM)
            return ret;
        if (ret)
            t->unusable++;
        else
            t->loaded++;
        return 0;
    }
    if (k->pending >= WISP_VHOST_SESSIONS_MAX) {
        t->over++;
        return 0;
    }
    if ((ret = pend_add(cx, k, e)) != 0)
        return ret;
    k->pending++;
    t->pending++;
    return 0;
}

int wisp_context_sessions_load(wisp_context_t *cx, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    key_t *keys = NULL;
    size_t nkeys = 0, pos, end, i;
    unsigned count = 0;
    tally_t t;
    entry_t e;
    int64_t now;
    int ret;

    if (!cx || !buf)
        return WISP_EINVAL;
    if ((ret = wisp__tls_wall_time(&now)) != 0) {
        WISP_LOGE(cx, "sessions load: mbedTLS has no wall clock (MBEDTLS_HAVE_TIME)");
        return ret;
    }
    if ((ret = check_blob(cx, b, len, &count)) != 0)
        return ret;
    /* Walk the whole blob once before taking anything from it. */
    end = len - TRAILER_LEN;
    for (pos = HDR_LEN, i = 0; i < count; i++)
        if (parse_entry(b, end, &pos, &e))
            break;
    if (i < count || pos != end) {
        WISP_LOGE(cx, "sessions load: entry %lu of %u malformed", (unsigned long)i, count);
        return WISP_ECORRUPT;
    }
    if ((ret = policy_keys(cx, &keys, &nkeys)) != 0)
        return ret;
    /* A load replaces what an earlier one left waiting. */
    store_clear(cx);
    memset(&t, 0, sizeof(t));
    for (pos = HDR_LEN, i = 0; i < count && ret == 0; i++) {
        (void)parse_entry(b, end, &pos, &e);
        ret = load_entry(cx, keys, nkeys, &e, now, &t);
    }
    wisp__free(cx, keys);
    store_release_if_empty(cx);
    WISP_LOGN(
        cx,
        "sessions load: %u into live vhosts, %u kept until their vhost exists; skipped %u expired, "
        "%u of another policy, %u unusable, %u over the cap",
        t.loaded, t.pending, t.expired, t.foreign, t.unusable, t.over);
    if (ret)
        return ret;
    return t.loaded || t.pending || !count ? 0 : WISP_ENOTFOUND;
}
