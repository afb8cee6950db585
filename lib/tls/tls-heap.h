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

/**
 * \brief  Charge the mbedTLS allocations made from now on to the process, not to a
 *         context: for mbedTLS's process-global state (PSA's, on 3.6), which outlives
 *         any one context. Those blocks come from the allocator of the first context
 *         passed here (remembered for the life of the process), count in no
 *         context's heap, and go back when mbedTLS frees them
 *         (mbedtls_psa_crypto_free(), the application's call at shutdown). End the
 *         section with wisp__tls_heap_use(). Does nothing without
 *         MBEDTLS_PLATFORM_MEMORY.
 * \return the context charged before.
 */
wisp_context_t *wisp__tls_heap_global(wisp_context_t *cx);

#endif /* WISP_TLS_HEAP_H */
