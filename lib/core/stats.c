/*
 * Statistics as one JSON object with exactly the keys SPEC §5 names, in that order.
 *
 * Only conversions newlib-nano has: no %zu or %llu (nano has neither, and an unknown
 * conversion consumes no argument, so every later field would be wrong). Sizes go
 * through %lu; the 64-bit byte counters are formatted here.
 */
#include <stdio.h>

#include "wisp/core.h"

/* Decimal digits of v into buf (at least 21 bytes); returns buf. */
static const char *u64_str(uint64_t v, char *buf)
{
    char *p = buf + 20;

    *p = '\0';
    do {
        *--p = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return p;
}

int wisp_stats_json(const wisp_stats_t *st, char *buf, size_t len)
{
    char in[21], out[21];
    int n;

    if (!st || !buf)
        return WISP_EINVAL;
    n = snprintf(
        buf, len,
        "{\"heap_in_use\":%lu,\"heap_peak\":%lu,\"vhosts_live\":%u,"
        "\"vhosts_created\":%u,\"vhosts_destroyed\":%u,\"conns_live\":%u,"
        "\"conns_opened\":%u,\"handshakes_full\":%u,\"handshakes_resumed\":%u,"
        "\"streams_live\":%u,\"transactions\":%u,\"reuses\":%u,\"retries\":%u,"
        "\"bytes_in\":%s,\"bytes_out\":%s,\"conns_refused\":%u}",
        (unsigned long)st->heap_in_use, (unsigned long)st->heap_peak, (unsigned)st->vhosts_live,
        (unsigned)st->vhosts_created, (unsigned)st->vhosts_destroyed, (unsigned)st->conns_live,
        (unsigned)st->conns_opened, (unsigned)st->handshakes_full, (unsigned)st->handshakes_resumed,
        (unsigned)st->streams_live, (unsigned)st->transactions, (unsigned)st->reuses,
        (unsigned)st->retries, u64_str(st->bytes_in, in), u64_str(st->bytes_out, out),
        (unsigned)st->conns_refused);
    if (n < 0 || (size_t)n >= len)
        return WISP_ETOOBIG;
    return n;
}
