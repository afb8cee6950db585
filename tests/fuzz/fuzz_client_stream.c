/*
 * Fuzz target: a whole client stream — JSON policy, context, up to four streams (two
 * of one type queued on one connection), vhost, h1 client, callbacks; TLS off, or on
 * with the script's bytes as the "server's TLS" — fed a fuzzed server byte stream
 * through the fake network (tests/support/fakenet.h: virtual clock, no sockets).
 *
 * The callbacks only watch: every request_tx cycle must end in exactly one terminal
 * state, nothing may run after DESTROYING, and the heap must be empty after the
 * context is destroyed. The input layout and the invariants are in client_world.h.
 */
#include "client_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cw_run(data, size, 0, NULL);
    return 0;
}
