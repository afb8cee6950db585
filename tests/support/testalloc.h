/*
 * A counting allocator for tests: tracks live blocks and bytes outside wisp's own
 * accounting (so a leak shows even after the context is gone) and can fail the n-th
 * allocation, for allocation-failure sweeps.
 */
#ifndef WISP_TEST_TESTALLOC_H
#define WISP_TEST_TESTALLOC_H

#include <stddef.h>

#include "wisp/core.h"

/** Called with each block about to be freed, its size and its contents intact. */
typedef void (*testalloc_free_cb)(void *user, const void *ptr, size_t size);

typedef struct testalloc_block {
    void *p;
    size_t size;
} testalloc_block_t;

typedef struct testalloc {
    wisp_allocator_t a; /* give &ta.a to wisp_context_info_t.allocator */
    size_t live_blocks;
    size_t calls;   /* allocation attempts so far */
    size_t fail_at; /* 1-based attempt to fail; 0 = never */
    size_t failed;  /* attempts refused */
    /* Recording (testalloc_watch_frees): every live block and its size. */
    testalloc_free_cb on_free;
    void *on_free_user;
    testalloc_block_t *blocks;
    size_t nblocks, blocks_cap;
} testalloc_t;

void testalloc_init(testalloc_t *ta, size_t fail_at);

/** Record block sizes from now on and call cb before each free (for tests that look
 *  at what a freed block still holds, e.g. that secrets were zeroized). Call right
 *  after testalloc_init(), before anything is allocated. */
void testalloc_watch_frees(testalloc_t *ta, testalloc_free_cb cb, void *user);

/** Release the recording table (NULL-safe; harmless without recording). */
void testalloc_done(testalloc_t *ta);

/** A context with the test allocator, the given JSON policy (or none), quiet logs. */
int testalloc_context(testalloc_t *ta, const char *policy_json, wisp_context_t **cx);
/** The same on a given platform (a fake network, say). */
int testalloc_context_plat(testalloc_t *ta, const char *policy_json, const wisp_plat_ops_t *plat,
                           wisp_context_t **cx);

#endif
