/*
 * lazy-vhosts: TLS state exists only while a stream needs it.
 *
 * The policy has three trust stores ("factory", "cloud", "updates") and a stream type
 * for each. A vhost (the parsed CA chain and the mbedTLS config of one trust store) is
 * created with the first stream that needs it and freed with the last reference, so
 * a device talking to one endpoint at a time holds one vhost, not three, and an idle
 * device holds none. This program creates a stream of each type in turn, runs a GET,
 * destroys it, and prints the vhost counters and the heap after each step.
 *
 * It exits non-zero unless at most one vhost was ever alive, none is left after each
 * stream, and the heap is back to its starting figure each time.
 *
 * usage: wisp-lazy-vhosts [POLICY.json]
 */
#include <stdio.h>
#include <stdlib.h>

#include <wisp.h>

#ifndef POLICY_FILE
#define POLICY_FILE "policy.json"
#endif

static int status, finished;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)size, f);
        buf[*len] = '\0';
    }
    if (f)
        fclose(f);
    return buf;
}

static int on_state(void *user, wisp_state_t state, int arg)
{
    (void)user;
    if (state == WISP_STATE_ACK || state == WISP_STATE_NACK)
        status = arg;
    /* No retry in this policy: any of these ends the transaction. */
    if (state == WISP_STATE_DONE || state == WISP_STATE_CONNECTION_FAILED ||
        state == WISP_STATE_DISCONNECTED || state == WISP_STATE_TIMEOUT)
        finished = 1;
    return WISP_CB_OK;
}

static wisp_stats_t show(wisp_context_t *cx, const char *type, const char *step)
{
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    printf("%-10s %-10s vhosts_live %u  vhosts_created %u  vhosts_destroyed %u  "
           "heap_in_use %zu\n",
           type, step, (unsigned)st.vhosts_live, (unsigned)st.vhosts_created,
           (unsigned)st.vhosts_destroyed, st.heap_in_use);
    return st;
}

int main(int argc, char **argv)
{
    static const char *const types[] = {"provision", "telemetry", "firmware"};
    const char *path = argc > 1 ? argv[1] : POLICY_FILE;
    wisp_context_info_t info = {0};
    wisp_stream_ops_t ops = {0};
    wisp_context_t *cx;
    wisp_stream_t *s;
    wisp_stats_t st, start;
    char *text;
    int bad = 0, i, spins;

    if (!(text = read_file(path, &info.policy_json_len))) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    info.policy_json = text;
    info.policy_name = path;
    i = wisp_context_create(&info, &cx);
    free(text);
    if (i)
        return 1;
    start = show(cx, "context", "start"); /* the parsed policy is on the context heap */

    for (i = 0; i < 3; i++) {
        ops.type = types[i];
        ops.state = on_state;
        if (wisp_stream_create(cx, &ops, NULL, &s)) /* creates the type's vhost */
            return 1;
        st = show(cx, types[i], "created");
        bad |= st.vhosts_live != 1;

        status = finished = 0;
        if (wisp_stream_request_tx(s) == 0)
            while (!finished && wisp_service(cx, 1000) >= 0)
                ;
        st = show(cx, types[i], status ? "GET done" : "GET failed");
        bad |= status != 200 || st.vhosts_live != 1;

        /* The policy says keepalive_ms 0 and linger_ms 0: once the stream is freed
         * (at the end of a loop iteration) nothing holds the vhost any more. */
        wisp_stream_destroy(s);
        for (spins = 0; spins < 100 && (st.streams_live || st.vhosts_live); spins++) {
            wisp_service(cx, 10);
            wisp_get_stats(cx, &st);
        }
        st = show(cx, types[i], "destroyed");
        bad |= st.vhosts_live != 0 || st.heap_in_use != start.heap_in_use;
    }
    bad |= st.vhosts_created != 3 || st.vhosts_destroyed != 3;
    printf("%s\n", bad ? "FAILED: vhosts or heap not as expected"
                       : "ok: one vhost at a time, none left, heap back to the start");
    wisp_context_destroy(cx);
    return bad;
}
