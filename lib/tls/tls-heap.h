/*
 * mbedTLS's heap, accounted to a wisp context (lib/tls/tls-heap.c).
 */
#ifndef WISP_TLS_HEAP_H
#define WISP_TLS_HEAP_H

#include "core/core-internal.h"

/**
 * \brief  Charge the mbedTLS allocations made from now on to cx (NULL: to nobody,
 *         so they fail). Installs wisp's calloc/free in mbedTLS on first use.
 *         Does nothing in builds whose mbedTLS lacks MBEDTLS_PLATFORM_MEMORY.
 * \return the context charged before, so a caller can restore it.
 */
wisp_context_t *wisp__tls_heap_use(wisp_context_t *cx);

#endif /* WISP_TLS_HEAP_H */
