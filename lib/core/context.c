/*
 * The base context: allocator, logging, platform, wake primitive and post ring,
 * module slots. The public wisp_context_create()/destroy() (lib/stream/context.c)
 * wrap these and attach the policy, so that core depends on no module above it.
 *
 * Invariant: after wisp__context_free() every byte from wisp__alloc() is returned;
 * a non-zero heap_in_use at that point is logged as a leak.
 */
#include <string.h>

#include "core/context-private.h"

/* The defaults exist only in builds that ask for them (wisp/config.h), so firmware
 * that passes its own allocator, sink and platform links no malloc, no stdio stream
 * and no POSIX code. */
#if WISP_WITH_DEFAULT_ALLOC
void wisp__alloc_default(wisp_allocator_t *a);
#endif
#if WISP_WITH_DEFAULT_LOG
void wisp__log_stderr(void *user, int level, const char *line);
#define DEFAULT_LOG wisp__log_stderr
#else
#define DEFAULT_LOG NULL
#endif
#if WISP_WITH_PLAT_POSIX
#define DEFAULT_PLAT wisp_plat_posix()
#else
#define DEFAULT_PLAT NULL
#endif

static int open_wake(wisp_context_t *cx)
{
    int ret;

    if (!cx->plat->wake_open || !cx->plat->lock_create)
        return WISP_EUNSUPPORTED;
    ret = cx->plat->lock_create(cx->plat->user, &cx->post_lock);
    if (ret)
        return ret;
    ret = cx->plat->wake_open(cx->plat->user, &cx->wake, &cx->wake_fd);
    if (ret)
        cx->plat->lock_destroy(cx->plat->user, &cx->post_lock);
    return ret;
}

int wisp__context_new(const wisp_context_info_t *info, wisp_context_t **out)
{
    const wisp_plat_ops_t *plat;
    wisp_allocator_t a;
    wisp_context_t *cx;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!info)
        return WISP_EINVAL;
    if (info->allocator) {
        if (!info->allocator->alloc || !info->allocator->free)
            return WISP_EINVAL;
        a = *info->allocator;
    } else {
#if WISP_WITH_DEFAULT_ALLOC
        wisp__alloc_default(&a);
#else
        return WISP_EINVAL;
#endif
    }
    /* The context block itself is not counted in heap_in_use: the figure reports
     * what wisp holds for streams, vhosts and connections, and reads 0 when idle. */
    cx = a.alloc(a.user, sizeof(*cx));
    if (!cx)
        return WISP_ENOMEM;
    memset(cx, 0, sizeof(*cx));
    cx->alloc = a;
    cx->heap_limit = info->heap_limit;
    cx->log = info->log ? info->log : DEFAULT_LOG;
    cx->log_user = info->log ? info->log_user : NULL;
    cx->log_level = (info->log_level || info->log_level_set) ? info->log_level : WISP_LOG_NOTICE;
    /* The platform table is copied at the size the port was compiled with (0: the
     * whole table of the first version, which is today's); ops it does not have
     * read NULL. */
    plat = info->plat ? info->plat : DEFAULT_PLAT;
    if (plat) {
        size_t n = info->plat_size ? info->plat_size : sizeof(cx->plat_ops);

        memcpy(&cx->plat_ops, plat, n < sizeof(cx->plat_ops) ? n : sizeof(cx->plat_ops));
    }
    cx->plat = &cx->plat_ops;
    cx->wake_fd = -1;
    if (!plat || !cx->plat->now_ms || !cx->plat->poll) {
        a.free(a.user, cx);
        return WISP_EINVAL;
    }
    ret = open_wake(cx);
    if (ret) {
        a.free(a.user, cx);
        return ret;
    }
    *out = cx;
    return 0;
}

void wisp__context_set_policy(wisp_context_t *cx, const struct wisp_policy *p)
{
    cx->policy = p;
}

const struct wisp_policy *wisp_context_policy(const wisp_context_t *cx)
{
    return cx ? cx->policy : NULL;
}

void wisp__context_free(wisp_context_t *cx)
{
    wisp_allocator_t a;
    int i;

    if (!cx)
        return;
    /* A DESTROYING callback below may call wisp_context_destroy() again: it sees
     * the context dying and returns. */
    cx->dying = 1;
    cx->freeing = 1;
    /* Module state goes from the top of the dependency chain down. */
    for (i = WISP_SLOT_COUNT - 1; i >= 0; i--) {
        if (cx->slot_destroy[i] && cx->slots[i])
            cx->slot_destroy[i](cx, cx->slots[i]);
        cx->slots[i] = NULL;
    }
    /* Name lookups still running on resolver threads will post back into this
     * context: wait for them (each is bounded by the resolver's own timeout). */
    while (cx->resolves_in_flight)
        (void)wisp__loop_iterate(cx, 100);
    wisp__defer_run(cx);
    wisp__io_release(cx);
    if (cx->stats.heap_in_use)
        WISP_LOGE(cx, "context destroyed with %lu bytes still in use (leak)",
                  (unsigned long)cx->stats.heap_in_use);
    cx->plat->wake_close(cx->plat->user, &cx->wake);
    cx->plat->lock_destroy(cx->plat->user, &cx->post_lock);
    a = cx->alloc;
    memset(cx, 0, sizeof(*cx));
    a.free(a.user, cx);
}

int wisp__context_defer_free(wisp_context_t *cx)
{
    if (!cx->in_service && !cx->hold)
        return 0;
    cx->dying = 1;
    return 1;
}

void wisp__context_hold(wisp_context_t *cx)
{
    cx->hold++;
}

int wisp__context_release(wisp_context_t *cx)
{
    if (--cx->hold || !cx->dying || cx->in_service || cx->freeing)
        return 0;
    wisp__context_free(cx);
    return 1;
}

int wisp__context_dying(const wisp_context_t *cx)
{
    return cx->dying;
}

void *wisp__slot(const wisp_context_t *cx, int slot)
{
    return (cx && slot >= 0 && slot < WISP_SLOT_COUNT) ? cx->slots[slot] : NULL;
}

void wisp__slot_set(wisp_context_t *cx, int slot, void *state, wisp__slot_destroy_cb d)
{
    if (!cx || slot < 0 || slot >= WISP_SLOT_COUNT)
        return;
    cx->slots[slot] = state;
    cx->slot_destroy[slot] = d;
}

void **wisp__slot_ptr(wisp_context_t *cx, int slot)
{
    return (slot >= 0 && slot < WISP_SLOT_COUNT) ? &cx->slots[slot] : NULL;
}

void wisp__slot_set_destroy(wisp_context_t *cx, int slot, wisp__slot_destroy_cb d)
{
    if (slot >= 0 && slot < WISP_SLOT_COUNT)
        cx->slot_destroy[slot] = d;
}

wisp_stats_t *wisp__stats(wisp_context_t *cx)
{
    return &cx->stats;
}

const wisp_plat_ops_t *wisp__plat(const wisp_context_t *cx)
{
    return cx->plat;
}

uint64_t wisp_now_ms(const wisp_context_t *cx)
{
    return cx ? cx->plat->now_ms(cx->plat->user) : 0;
}

void wisp_get_stats_sized(const wisp_context_t *cx, wisp_stats_t *st, size_t size)
{
    if (!cx || !st)
        return;
    if (size > sizeof(*st)) {
        memset((char *)st + sizeof(*st), 0, size - sizeof(*st)); /* fields we lack */
        size = sizeof(*st);
    }
    memcpy(st, &cx->stats, size);
}
