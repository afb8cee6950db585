/*
 * Shared by the h1 fuzz targets: a transcript of parser callbacks folded into an
 * FNV-1a hash, so the targets can compare the splits of one input cheaply. Static
 * functions only: each target stays one translation unit.
 */
#ifndef WISP_FUZZ_H1_RECORD_H
#define WISP_FUZZ_H1_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http1/http1-internal.h"

typedef struct rec {
    uint64_t h;
    int in_body;
} rec_t;

static void mix(rec_t *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        r->h = (r->h ^ b[i]) * 0x100000001b3ull;
}

static void tag(rec_t *r, char t, int v)
{
    r->in_body = 0;
    mix(r, &t, 1);
    mix(r, &v, sizeof(v));
}

static int on_header(void *u, const char *n, size_t nl, const char *v, size_t vl)
{
    tag(u, 'H', (int)nl);
    mix(u, n, nl + 1);
    mix(u, v, vl + 1);
    return 0;
}

static int on_headers_done(void *u)
{
    tag(u, 'D', 0);
    return 0;
}

static int on_body(void *u, const uint8_t *data, size_t len)
{
    rec_t *r = u;

    if (len == 0)
        abort();
    if (!r->in_body)
        tag(r, 'B', 0);
    r->in_body = 1;
    mix(r, data, len);
    return 0;
}

static int on_complete(void *u)
{
    tag(u, 'C', 0);
    return 0;
}

#endif
