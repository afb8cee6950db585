/*
 * Name resolution that never blocks the loop.
 *
 * A request is one allocation holding the platform job, the host name and the
 * caller's callback. Numeric addresses are parsed here and answered at the end of
 * the iteration (deferred), names go to the platform's resolve(), whose thread posts
 * the finished job back through wisp_post(). Cancelling a name lookup cannot stop
 * the thread, so the request stays allocated, marked cancelled, until it comes back;
 * the context waits for such stragglers before it is freed.
 */
#include <string.h>

#include "core/context-private.h"

struct wisp__resolve {
    wisp_resolve_job_t job; /* first: the platform hands back &job */
    wisp_context_t *cx;
    wisp__resolve_cb cb;
    void *arg;
    wisp__defer_t numeric;
    uint8_t cancelled;
    uint8_t threaded;
    char host[];
};

static void deliver(wisp__resolve_t *r)
{
    wisp_context_t *cx = r->cx;

    if (!r->cancelled)
        r->cb(r->arg, r->job.status, r->job.addrs, r->job.count);
    wisp__free(cx, r);
}

static void numeric_done(wisp__defer_t *d)
{
    deliver((wisp__resolve_t *)((char *)d - offsetof(wisp__resolve_t, numeric)));
}

static void posted_done(wisp_context_t *cx, void *arg)
{
    wisp__resolve_t *r = arg;

    cx->resolves_in_flight--;
    if (r->job.status == 0 && r->job.count == 0)
        r->job.status = WISP_EDNS;
    if (r->job.status)
        WISP_LOGI(cx, "resolve %s: %s", r->host, wisp_strerror(r->job.status));
    deliver(r);
}

/* Runs on the resolver thread: only wisp_post() is allowed here. */
static int job_done(wisp_resolve_job_t *job)
{
    wisp__resolve_t *r = (wisp__resolve_t *)job;

    return wisp_post(r->cx, posted_done, r);
}

int wisp__resolve_start(wisp_context_t *cx, const char *host, uint16_t port, wisp__resolve_cb cb,
                        void *arg, wisp__resolve_t **h)
{
    wisp__resolve_t *r;
    size_t hlen;
    int ret;

    if (!cx || !host || !cb || !h)
        return WISP_EINVAL;
    *h = NULL;
    hlen = strlen(host);
    if (!hlen || hlen >= WISP_HOSTNAME_MAX)
        return WISP_EINVAL;
    r = wisp__zalloc(cx, sizeof(*r) + hlen + 1);
    if (!r)
        return WISP_ENOMEM;
    memcpy(r->host, host, hlen + 1);
    r->cx = cx;
    r->cb = cb;
    r->arg = arg;
    r->job.host = r->host;
    r->job.port = port;
    r->job.done = job_done;
    if (wisp_addr_parse(host, port, &r->job.addrs[0]) == 0) {
        r->job.count = 1;
        wisp__defer_init(&r->numeric, numeric_done);
        wisp__defer(cx, &r->numeric);
        *h = r;
        return 0;
    }
    if (!cx->plat->resolve) {
        wisp__free(cx, r);
        return WISP_EUNSUPPORTED;
    }
    r->threaded = 1;
    cx->resolves_in_flight++;
    ret = cx->plat->resolve(cx->plat->user, &r->job);
    if (ret) {
        cx->resolves_in_flight--;
        wisp__free(cx, r);
        return ret;
    }
    *h = r;
    return 0;
}

void wisp__resolve_cancel(wisp__resolve_t **h)
{
    wisp__resolve_t *r;

    if (!h || !*h)
        return;
    r = *h;
    *h = NULL;
    if (!r->threaded) {
        wisp__defer_cancel(r->cx, &r->numeric);
        wisp__free(r->cx, r);
        return;
    }
    r->cancelled = 1;
}
