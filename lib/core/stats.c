/*
 * Statistics as one JSON object with exactly the keys SPEC §5 names, in that order.
 */
#include <stdio.h>

#include "wisp/core.h"

int wisp_stats_json(const wisp_stats_t *st, char *buf, size_t len)
{
    int n;

    if (!st || !buf)
        return WISP_EINVAL;
    n = snprintf(buf, len,
                 "{\"heap_in_use\":%zu,\"heap_peak\":%zu,\"vhosts_live\":%u,"
                 "\"vhosts_created\":%u,\"vhosts_destroyed\":%u,\"conns_live\":%u,"
                 "\"conns_opened\":%u,\"handshakes_full\":%u,\"handshakes_resumed\":%u,"
                 "\"streams_live\":%u,\"transactions\":%u,\"reuses\":%u,\"retries\":%u,"
                 "\"bytes_in\":%llu,\"bytes_out\":%llu,\"conns_refused\":%u}",
                 st->heap_in_use, st->heap_peak, (unsigned)st->vhosts_live,
                 (unsigned)st->vhosts_created, (unsigned)st->vhosts_destroyed,
                 (unsigned)st->conns_live, (unsigned)st->conns_opened,
                 (unsigned)st->handshakes_full, (unsigned)st->handshakes_resumed,
                 (unsigned)st->streams_live, (unsigned)st->transactions, (unsigned)st->reuses,
                 (unsigned)st->retries, (unsigned long long)st->bytes_in,
                 (unsigned long long)st->bytes_out, (unsigned)st->conns_refused);
    if (n < 0 || (size_t)n >= len)
        return WISP_ETOOBIG;
    return n;
}
