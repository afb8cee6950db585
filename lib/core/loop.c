/*
 * The event loop. One iteration, in this order: poll the registered sockets (timeout
 * clipped to the earliest timer) and dispatch their events; run posted calls; run
 * due timers; run deferred work (socket flushes, connection scheduling, object
 * destruction). A context destroyed from inside any of these is freed after the
 * deferred work, and that wisp_service() returns WISP_ECANCELED.
 *
 * Data layout:
 *   ios[]/pfds[]  parallel dense arrays of registered sockets and their poll entries.
 *                 Unregistering during dispatch leaves a NULL hole (so an event
 *                 already fetched for a closed socket is dropped); holes are
 *                 compacted once dispatch ends.
 *   timers        doubly linked, sorted by deadline, searched from the tail on
 *                 insertion (O(1) when durations repeat, as stream timeouts do).
 *                 Due timers move to timers_due before any runs (see run_timers).
 *   posts         a fixed ring guarded by the platform lock: the only state touched
 *                 by other threads (wisp_post, wisp_stop).
 */
#include <string.h>

#include "core/context-private.h"

/* wisp__timer_t.armed */
enum { TIMER_IDLE, TIMER_PENDING, TIMER_DUE };

/* ---- Poll registrations ---- */

/* Replace the three parallel tables (NULLs to drop them). */
static void io_tables_set(wisp_context_t *cx, wisp__sock_t **ios, wisp_pollfd_t *pfds,
                          void *scratch, size_t cap)
{
    wisp__free(cx, cx->ios);
    wisp__free(cx, cx->pfds);
    wisp__free(cx, cx->poll_scratch);
    cx->ios = ios;
    cx->pfds = pfds;
    cx->poll_scratch = scratch;
    cx->io_cap = cap;
}

void wisp__io_release(wisp_context_t *cx)
{
    io_tables_set(cx, NULL, NULL, NULL, 0);
    cx->io_count = 0;
}

int wisp__io_add(wisp_context_t *cx, wisp__sock_t *s)
{
    /* Keep one spare pfds entry past the last socket for the wake fd. */
    if (cx->io_count + 1 >= cx->io_cap) {
        size_t ncap = cx->io_cap ? cx->io_cap * 2 : 8;
        wisp__sock_t **nios = wisp__alloc(cx, ncap * sizeof(*nios));
        wisp_pollfd_t *npfds = wisp__alloc(cx, ncap * sizeof(*npfds));
        void *nscratch =
            cx->plat->poll_scratch ? wisp__alloc(cx, ncap * cx->plat->poll_scratch) : NULL;

        if (!nios || !npfds || (cx->plat->poll_scratch && !nscratch)) {
            wisp__free(cx, nios);
            wisp__free(cx, npfds);
            wisp__free(cx, nscratch);
            return WISP_ENOMEM;
        }
        if (cx->io_count) {
            memcpy(nios, cx->ios, cx->io_count * sizeof(*nios));
            memcpy(npfds, cx->pfds, cx->io_count * sizeof(*npfds));
        }
        io_tables_set(cx, nios, npfds, nscratch, ncap);
    }
    s->io_slot = (int)cx->io_count;
    cx->ios[cx->io_count] = s;
    cx->pfds[cx->io_count].fd = s->fd;
    cx->pfds[cx->io_count].events = s->want;
    cx->pfds[cx->io_count].revents = 0;
    cx->io_count++;
    return 0;
}

void wisp__io_update(wisp_context_t *cx, wisp__sock_t *s)
{
    if (s->io_slot >= 0)
        cx->pfds[s->io_slot].events = s->want;
}

/* After a burst the tables would otherwise stay at their high-water mark for as long
 * as one socket (a listener, say) is registered, and a server's heap would never come
 * back to its idle figure. Halve them while they are at most a quarter full (the
 * growth rule doubles at full, so a steady load does not make them flap). A refused
 * allocation keeps the larger tables: nothing is lost but the bytes. Compiled out of
 * client-only firmware (no listener, no POSIX sockets): there a context's few sockets
 * fit the 8 entries it never shrinks below, and the tables go with the last one. */
#define IO_SHRINK (WISP_WITH_SERVER || WISP_WITH_PLAT_POSIX)
#if IO_SHRINK
static void io_shrink(wisp_context_t *cx)
{
    size_t ncap = cx->io_cap;
    wisp__sock_t **nios;
    wisp_pollfd_t *npfds;
    void *nscratch;

    while (ncap > 8 && cx->io_count + 1 <= ncap / 4)
        ncap /= 2;
    if (ncap == cx->io_cap)
        return;
    nios = wisp__alloc(cx, ncap * sizeof(*nios));
    npfds = wisp__alloc(cx, ncap * sizeof(*npfds));
    nscratch = cx->plat->poll_scratch ? wisp__alloc(cx, ncap * cx->plat->poll_scratch) : NULL;
    if (!nios || !npfds || (cx->plat->poll_scratch && !nscratch)) {
        wisp__free(cx, nios);
        wisp__free(cx, npfds);
        wisp__free(cx, nscratch);
        return;
    }
    memcpy(nios, cx->ios, cx->io_count * sizeof(*nios));
    memcpy(npfds, cx->pfds, cx->io_count * sizeof(*npfds));
    io_tables_set(cx, nios, npfds, nscratch, ncap);
}
#endif

static void io_compact(wisp_context_t *cx)
{
    size_t i, j = 0;

    for (i = 0; i < cx->io_count; i++) {
        if (!cx->ios[i])
            continue;
        cx->ios[j] = cx->ios[i];
        cx->pfds[j] = cx->pfds[i];
        cx->ios[j]->io_slot = (int)j;
        j++;
    }
    cx->io_count = j;
    cx->io_dirty = 0;
    if (!j && cx->io_cap)
        io_tables_set(cx, NULL, NULL, NULL, 0); /* idle heap is zero */
#if IO_SHRINK
    else
        io_shrink(cx);
#endif
}

void wisp__io_del(wisp_context_t *cx, wisp__sock_t *s)
{
    if (s->io_slot < 0)
        return;
    cx->ios[s->io_slot] = NULL;
    cx->pfds[s->io_slot].fd = -1;
    cx->pfds[s->io_slot].events = 0;
    cx->pfds[s->io_slot].revents = 0;
    s->io_slot = -1;
    cx->io_dirty = 1;
    if (!cx->in_dispatch)
        io_compact(cx);
}

/* ---- Timers ---- */

void wisp__timer_init(wisp__timer_t *t, wisp__timer_cb cb)
{
    memset(t, 0, sizeof(*t));
    t->cb = cb;
}

/* The list a timer is on: the sorted pending list, or this iteration's due list. */
static wisp__timer_t **timer_list(wisp_context_t *cx, const wisp__timer_t *t)
{
    return t->armed == TIMER_DUE ? &cx->timers_due : &cx->timers;
}

void wisp__timer_stop(wisp_context_t *cx, wisp__timer_t *t)
{
    if (!t->armed)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        *timer_list(cx, t) = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else if (t->armed == TIMER_PENDING)
        cx->timers_tail = t->prev;
    t->next = t->prev = NULL;
    t->armed = 0;
}

void wisp__timer_start(wisp_context_t *cx, wisp__timer_t *t, uint32_t ms)
{
    wisp__timer_t *it;

    wisp__timer_stop(cx, t);
    t->deadline = wisp_now_ms(cx) + ms;
    /* Search from the tail: timers are mostly armed with the same few durations on
     * one monotonic clock, so a new deadline is almost always the latest, and N
     * streams with the same timeout cost O(1) each instead of O(N). Equal
     * deadlines keep their arming order. */
    for (it = cx->timers_tail; it && it->deadline > t->deadline; it = it->prev)
        ;
    t->prev = it;
    t->next = it ? it->next : cx->timers;
    if (t->next)
        t->next->prev = t;
    else
        cx->timers_tail = t;
    if (it)
        it->next = t;
    else
        cx->timers = t;
    t->armed = TIMER_PENDING;
}

static void run_timers(wisp_context_t *cx)
{
    uint64_t now = wisp_now_ms(cx);
    wisp__timer_t *t, *last = NULL;

    /* Take every due timer off the pending list before any runs. A callback that
     * re-arms its timer (even for 0 ms) or arms another one puts it on the pending
     * list, which waits for the next iteration: one pass can never loop. A
     * callback may stop a timer still waiting on the due list. */
    for (t = cx->timers; t && t->deadline <= now; t = t->next) {
        t->armed = TIMER_DUE;
        last = t;
    }
    if (!last)
        return;
    cx->timers_due = cx->timers;
    cx->timers = last->next;
    if (cx->timers)
        cx->timers->prev = NULL;
    else
        cx->timers_tail = NULL;
    last->next = NULL;
    while ((t = cx->timers_due) != NULL) {
        wisp__timer_stop(cx, t);
        t->cb(t);
    }
}

static int poll_timeout(wisp_context_t *cx, int timeout_ms)
{
    uint64_t now, wait;

    if (cx->defer_head)
        return 0;
    if (!cx->timers)
        return timeout_ms;
    now = wisp_now_ms(cx);
    wait = cx->timers->deadline > now ? cx->timers->deadline - now : 0;
    if (timeout_ms >= 0 && (uint64_t)timeout_ms < wait)
        return timeout_ms;
    return wait > 0x7fffffff ? 0x7fffffff : (int)wait;
}

/* ---- Deferred work ---- */

void wisp__defer_init(wisp__defer_t *d, wisp__defer_cb cb)
{
    d->next = NULL;
    d->cb = cb;
    d->queued = 0;
}

void wisp__defer(wisp_context_t *cx, wisp__defer_t *d)
{
    if (d->queued)
        return;
    d->queued = 1;
    d->next = NULL;
    if (cx->defer_tail)
        cx->defer_tail->next = d;
    else
        cx->defer_head = d;
    cx->defer_tail = d;
}

void wisp__defer_cancel(wisp_context_t *cx, wisp__defer_t *d)
{
    wisp__defer_t **pp, *prev = NULL;

    if (!d->queued)
        return;
    for (pp = &cx->defer_head; *pp; prev = *pp, pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            if (cx->defer_tail == d)
                cx->defer_tail = prev;
            break;
        }
    }
    d->next = NULL;
    d->queued = 0;
}

void wisp__defer_run(wisp_context_t *cx)
{
    wisp__defer_t *d;

    /* Items queued by a running item run in this same pass: destruction that
     * causes more destruction completes before the iteration ends. */
    while ((d = cx->defer_head)) {
        cx->defer_head = d->next;
        if (!cx->defer_head)
            cx->defer_tail = NULL;
        d->next = NULL;
        d->queued = 0;
        d->cb(d);
    }
}

/* ---- Cross-thread posts ---- */

int wisp_post(wisp_context_t *cx, wisp_post_cb fn, void *arg)
{
    int ret = 0;

    if (!cx || !fn)
        return WISP_EINVAL;
    cx->plat->lock(cx->plat->user, &cx->post_lock);
    if (cx->post_count == WISP_POST_QUEUE_LEN) {
        ret = WISP_EBUSY;
    } else {
        wisp__post_slot_t *slot =
            &cx->posts[(cx->post_head + cx->post_count) % WISP_POST_QUEUE_LEN];
        slot->fn = fn;
        slot->arg = arg;
        cx->post_count++;
        /* Signal before unlocking: once the post is visible the loop may run it and
         * the context may be freed (a resolver's post is the last thing it waits
         * for), so the wake storage must not be touched after the unlock. */
        cx->plat->wake_signal(cx->plat->user, &cx->wake);
    }
    cx->plat->unlock(cx->plat->user, &cx->post_lock);
    return ret;
}

void wisp_stop(wisp_context_t *cx)
{
    if (!cx)
        return;
    cx->plat->lock(cx->plat->user, &cx->post_lock);
    cx->stop = 1;
    cx->plat->unlock(cx->plat->user, &cx->post_lock);
    cx->plat->wake_signal(cx->plat->user, &cx->wake);
}

static void run_posts(wisp_context_t *cx)
{
    unsigned n;

    /* Drain the wake primitive only when poll saw it: a read per iteration would
     * be a wasted syscall (EAGAIN) on every loop of a busy connection. */
    if (cx->wake_flagged) {
        cx->wake_flagged = 0;
        cx->plat->wake_drain(cx->plat->user, &cx->wake);
    }
    /* Run only what was queued before we looked, so a post that posts again
     * cannot keep this iteration going forever. */
    cx->plat->lock(cx->plat->user, &cx->post_lock);
    n = cx->post_count;
    cx->plat->unlock(cx->plat->user, &cx->post_lock);
    while (n--) {
        wisp__post_slot_t slot;

        cx->plat->lock(cx->plat->user, &cx->post_lock);
        slot = cx->posts[cx->post_head];
        cx->post_head = (cx->post_head + 1) % WISP_POST_QUEUE_LEN;
        cx->post_count--;
        cx->plat->unlock(cx->plat->user, &cx->post_lock);
        slot.fn(cx, slot.arg);
    }
}

static int take_stop(wisp_context_t *cx)
{
    int stop;

    cx->plat->lock(cx->plat->user, &cx->post_lock);
    stop = cx->stop;
    cx->stop = 0;
    cx->plat->unlock(cx->plat->user, &cx->post_lock);
    return stop;
}

/* ---- The iteration ---- */

static int poll_once(wisp_context_t *cx, int timeout_ms)
{
    wisp_pollfd_t wake_only = {0, WISP_POLLIN, 0};
    uint64_t scratch_one[8]; /* one entry of port scratch when nothing is registered */
    size_t n = cx->io_count, i;
    int ret;

    if (!n) {
        if (cx->plat->poll_scratch > sizeof(scratch_one))
            return WISP_EUNSUPPORTED;
        wake_only.fd = cx->wake_fd;
        ret = cx->plat->poll(cx->plat->user, &wake_only, 1, timeout_ms, scratch_one);
        cx->wake_flagged = ret > 0 && wake_only.revents;
        return ret < 0 ? ret : 0;
    }
    /* io_add keeps a spare entry at the end of pfds[] for the wake fd. */
    cx->pfds[n].fd = cx->wake_fd;
    cx->pfds[n].events = WISP_POLLIN;
    for (i = 0; i <= n; i++)
        cx->pfds[i].revents = 0;
    ret = cx->plat->poll(cx->plat->user, cx->pfds, n + 1, timeout_ms, cx->poll_scratch);
    if (ret <= 0)
        return ret;
    cx->wake_flagged = cx->pfds[n].revents != 0;
    cx->in_dispatch = 1;
    for (i = 0; i < n; i++) {
        /* A callback may close any socket (its slot turns NULL and is skipped) or
         * add one (appended past n, and pfds may move: index, don't cache). */
        if (cx->ios[i] && cx->pfds[i].revents)
            wisp__sock_dispatch(cx->ios[i], cx->pfds[i].revents);
    }
    cx->in_dispatch = 0;
    if (cx->io_dirty)
        io_compact(cx);
    return 0;
}

int wisp__loop_iterate(wisp_context_t *cx, int timeout_ms)
{
    int ret = poll_once(cx, poll_timeout(cx, timeout_ms));

    run_posts(cx);
    run_timers(cx);
    wisp__defer_run(cx);
    return ret;
}

int wisp_service(wisp_context_t *cx, int timeout_ms)
{
    int ret;

    if (!cx)
        return WISP_EINVAL;
    if (cx->in_service || cx->dying)
        return WISP_ESTATE; /* called from one of its own callbacks */
    if (take_stop(cx))
        return WISP_ECANCELED;
    cx->in_service = 1;
    ret = wisp__loop_iterate(cx, timeout_ms);
    cx->in_service = 0;
    if (cx->dying) {
        wisp__context_free(cx);
        return WISP_ECANCELED;
    }
    if (ret < 0) {
        WISP_LOGE(cx, "poll failed: %s", wisp_strerror(ret));
        return ret;
    }
    /* wisp_stop() from a callback of this iteration ends it, not the next one. */
    return take_stop(cx) ? WISP_ECANCELED : 0;
}

int wisp_run(wisp_context_t *cx)
{
    int ret;

    while ((ret = wisp_service(cx, -1)) == 0)
        ;
    return ret == WISP_ECANCELED ? 0 : ret;
}
