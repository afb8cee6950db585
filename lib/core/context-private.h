/*
 * Private layout of the context. Only the files of lib/core and core tests include this.
 */
#ifndef WISP_CORE_CONTEXT_PRIVATE_H
#define WISP_CORE_CONTEXT_PRIVATE_H

#include "core/core-internal.h"

/* One registered socket: the loop polls cx->ios[i]->fd for cx->ios[i]->want. */
typedef struct wisp__post_slot {
    wisp_post_cb fn;
    void *arg;
} wisp__post_slot_t;

struct wisp_context {
    wisp_allocator_t alloc;
    size_t heap_limit;
    uint8_t heap_warned;

    wisp_log_cb log;
    void *log_user;
    int log_level;

    const wisp_plat_ops_t *plat; /* &plat_ops */
    wisp_plat_ops_t plat_ops;    /* the port's table, copied at its size */
    union {
        uint8_t b[WISP_PLAT_WAKE_SIZE];
        uint64_t align;
    } wake;
    union {
        uint8_t b[WISP_PLAT_LOCK_SIZE];
        uint64_t align;
        void *p;
    } post_lock;
    int wake_fd;
    wisp__post_slot_t posts[WISP_POST_QUEUE_LEN];
    unsigned post_head, post_count; /* guarded by post_lock */
    volatile int stop;              /* set from any thread; read under post_lock */

    /* Poll registrations: a dense array; a slot emptied during dispatch is NULL
     * until the end of the iteration, so events fetched for it are dropped. */
    wisp__sock_t **ios;
    wisp_pollfd_t *pfds;
    void *poll_scratch; /* io_cap * plat->poll_scratch bytes for the port */
    size_t io_count, io_cap;
    uint8_t io_dirty;
    uint8_t in_dispatch;
    uint8_t wake_flagged; /* the last poll saw the wake fd readable */
    uint8_t in_service;   /* inside wisp_service(): callbacks may be running */
    uint8_t dying;        /* being destroyed, or to be freed when the outermost call ends */
    uint8_t freeing;      /* wisp__context_free() is running */
    unsigned hold;        /* API calls in progress that call out (wisp__context_hold) */

    wisp__timer_t *timers, *timers_tail; /* pending, sorted by deadline, earliest first */
    wisp__timer_t *timers_due;           /* taken off by run_timers, about to run */
    wisp__defer_t *defer_head, *defer_tail;

    unsigned resolves_in_flight;

    void *slots[WISP_SLOT_COUNT];
    wisp__slot_destroy_cb slot_destroy[WISP_SLOT_COUNT];

    const struct wisp_policy *policy;
    wisp_stats_t stats;
};

/* Loop internals shared between loop.c and sock.c. */
WISP_NODISCARD int wisp__io_add(wisp_context_t *cx, wisp__sock_t *s);
void wisp__io_update(wisp_context_t *cx, wisp__sock_t *s);
void wisp__io_del(wisp_context_t *cx, wisp__sock_t *s);
/** Free the registration tables (context teardown). */
void wisp__io_release(wisp_context_t *cx);
void wisp__sock_dispatch(wisp__sock_t *s, unsigned revents);
/** One loop iteration without the public entry's checks (context teardown uses it
 *  to wait for resolver threads). Returns a poll error or 0. */
int wisp__loop_iterate(wisp_context_t *cx, int timeout_ms);
/** Run queued deferred items (including socket flushes) until none remain. */
void wisp__defer_run(wisp_context_t *cx);

#endif /* WISP_CORE_CONTEXT_PRIVATE_H */
