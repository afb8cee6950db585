/*
 * Fuzz target: the client stream of fuzz_client_stream.c, with the input seeding the
 * schedule too: each callback (state, rx, tx) takes the next schedule byte and does
 * what it says to its own stream or another — return WISP_CB_DESTROY or
 * WISP_CB_DISCONNECT, call wisp_stream_destroy() or wisp_stream_request_tx(), create
 * a stream in an emptied slot, or destroy the context — while up to four streams are
 * queued on one connection. The invariants are the same (client_world.h): one
 * terminal state per cycle, nothing after DESTROYING, zero heap at the end.
 *
 * A schedule byte b: action b & 7, other stream (b >> 3) % 4.
 *   0 nothing              4 wisp_stream_destroy(other)
 *   1 WISP_CB_DESTROY      5 request_tx(self)
 *   2 WISP_CB_DISCONNECT   6 request_tx(other)
 *   3 wisp_stream_destroy(self)
 *   7 other slot empty: create a stream there; b == 0xff: wisp_context_destroy()
 * WISP_CB_DISCONNECT is returned only where the API allows it (all three callbacks).
 */
#include "client_world.h"

static int act(cw_world_t *w, int i, int kind)
{
    uint8_t b;
    int j;

    (void)kind;
    if (w->sched_pos >= w->sched_len)
        return 0;
    b = w->sched[w->sched_pos++];
    j = (b >> 3) % CW_NS;
    switch (b & 7) {
    case 1:
        return WISP_CB_DESTROY;
    case 2:
        return WISP_CB_DISCONNECT;
    case 3:
        wisp_stream_destroy(w->slot[i].s);
        return 0;
    case 4:
        wisp_stream_destroy(w->slot[j].s);
        return 0;
    case 5:
        (void)cw_request(w, i);
        return 0;
    case 6:
        (void)cw_request(w, j);
        return 0;
    case 7:
        if (b == 0xff) {
            w->cx_gone = 1;
            wisp_context_destroy(w->cx);
        } else if (!w->slot[j].s && w->slot[j].destroying) {
            (void)cw_create(w, j);
        }
        return 0;
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_run(data, size, 1, act);
    return 0;
}
