/*
 * Freeing a policy the JSON loader made: every string, array and DER block it
 * allocated on the context heap, key material zeroized first.
 */
#include <stdint.h>

#include "policy/json-load.h"

/* The model's pointers are const because a static policy lives in flash; a loaded
 * policy owns them, and this is the one place that gives them back. The integer
 * round trip drops the qualifier without a cast-qual warning. */
static void free_const(wisp_context_t *cx, const void *p)
{
    wisp__free(cx, (void *)(uintptr_t)p);
}

static void free_stream(wisp_context_t *cx, const wisp_policy_stream_t *s)
{
    size_t i;

    for (i = 0; i < s->header_count; i++) {
        free_const(cx, s->headers[i].name);
        free_const(cx, s->headers[i].value);
    }
    for (i = 0; i < s->metadata_count; i++) {
        free_const(cx, s->metadata[i].name);
        free_const(cx, s->metadata[i].header);
    }
    free_const(cx, s->headers);
    free_const(cx, s->metadata);
    free_const(cx, s->name);
    free_const(cx, s->endpoint);
    free_const(cx, s->url);
    free_const(cx, s->bind);
}

void wisp__policy_free_loaded(wisp_context_t *cx, wisp_policy_t *p)
{
    size_t i;

    for (i = 0; i < p->stream_count; i++)
        free_stream(cx, &p->streams[i]);
    for (i = 0; i < p->trust_store_count; i++) {
        free_const(cx, p->trust_stores[i].name);
        free_const(cx, p->trust_stores[i].certs);
    }
    for (i = 0; i < p->cert_count; i++) {
        free_const(cx, p->certs[i].name);
        /* Every DER blob, certificates included: one rule, and a key is never
         * missed because its kind was not known yet (SPEC §8). */
        if (p->certs[i].der)
            wisp__zeroize((void *)(uintptr_t)p->certs[i].der, p->certs[i].len);
        free_const(cx, p->certs[i].der);
    }
    for (i = 0; i < p->retry_count; i++) {
        free_const(cx, p->retries[i].name);
        free_const(cx, p->retries[i].backoff_ms);
    }
    free_const(cx, p->streams);
    free_const(cx, p->trust_stores);
    free_const(cx, p->certs);
    free_const(cx, p->retries);
    free_const(cx, p->release);
    wisp__free(cx, p);
}
