/*
 * A counting allocator for tests: tracks live blocks and bytes outside wisp's own
 * accounting (so a leak shows even after the context is gone) and can fail the n-th
 * allocation, for allocation-failure sweeps.
 */
#ifndef WISP_TEST_TESTALLOC_H
#define WISP_TEST_TESTALLOC_H

#include <stddef.h>

#include "wisp/core.h"

typedef struct testalloc {
    wisp_allocator_t a; /* give &ta.a to wisp_context_info_t.allocator */
    size_t live_blocks;
    size_t calls;   /* allocation attempts so far */
    size_t fail_at; /* 1-based attempt to fail; 0 = never */
    size_t failed;  /* attempts refused */
} testalloc_t;

void testalloc_init(testalloc_t *ta, size_t fail_at);

/** A context with the test allocator, the given JSON policy (or none), quiet logs. */
int testalloc_context(testalloc_t *ta, const char *policy_json, wisp_context_t **cx);
/** The same on a given platform (a fake network, say). */
int testalloc_context_plat(testalloc_t *ta, const char *policy_json, const wisp_plat_ops_t *plat,
                           wisp_context_t **cx);

#endif
