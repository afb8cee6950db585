/*
 * Private to lib/stream: what context.c uses of stream.c.
 */
#ifndef WISP_STREAM_INTERNAL_H
#define WISP_STREAM_INTERNAL_H

#include "core/core-internal.h"
#include "wisp/stream.h"

/** Destroy every stream of cx now (each gets DESTROYING); they are freed at the end
 *  of the loop iteration. For a context destroyed from inside a callback. */
void wisp__streams_destroy_all(wisp_context_t *cx);

#endif /* WISP_STREAM_INTERNAL_H */
