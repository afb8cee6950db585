/*
 * See streamtest.h. Loops run on the wall clock and always have a deadline: a test
 * that waits for a state that never comes fails, it does not hang.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "streamtest.h"

#ifndef WISP_PYTHON3
#define WISP_PYTHON3 "/usr/bin/python3"
#endif
#ifndef WISP_BADSERVER
#define WISP_BADSERVER WISP_SOURCE_DIR "/tests/faults/badserver.py"
#endif

extern char **environ;

uint64_t st_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- Data ---- */

uint8_t st_pattern(uint64_t i)
{
    return (uint8_t)(i * 31u + (i >> 8) + 7u);
}

void st_adler(uint32_t *a, uint32_t *b, const uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        *a = (*a + buf[i]) % 65521u;
        *b = (*b + *a) % 65521u;
    }
}

/* ---- Callbacks ---- */

static int st_state_cb(void *user, wisp_state_t state, int arg)
{
    strec_t *r = user;

    if (r->destroying) {
        r->after_destroying++;
        return 0;
    }
    if (r->nstates < ST_MAX_STATES) {
        r->state[r->nstates] = state;
        r->arg[r->nstates] = arg;
        r->nstates++;
    } else {
        r->overflow++;
    }
    if ((state == WISP_STATE_ACK || state == WISP_STATE_NACK) && r->meta_slot && r->s) {
        const void *v = NULL;
        size_t len = 0;

        r->meta_ret = wisp_stream_get_metadata(r->s, r->meta_slot, &v, &len);
        if (r->meta_ret == 0 && len <= WISP_STREAM_META_MAX) {
            if (len)
                memcpy(r->meta, v, len);
            r->meta[len] = '\0';
            r->meta_len = len;
        }
    }
    if (state == WISP_STATE_CONNECTED)
        r->tx_sent = 0; /* a (re)sent request starts its body again */
    if (state == WISP_STATE_DONE || state == WISP_STATE_ALL_RETRIES_FAILED ||
        state == WISP_STATE_TIMEOUT) {
        if (r->terminals >= r->requests)
            r->extra_terminals++;
        r->terminals++;
    }
    if (state == WISP_STATE_DESTROYING) {
        r->destroying++;
        r->s = NULL;
        return 0;
    }
    if (state == (r->again_at ? r->again_at : WISP_STATE_DONE) && r->again && r->s) {
        int ret;

        r->again--;
        ret = st_request(r);
        if (ret && !r->again_ret)
            r->again_ret = ret;
    }
    if (r->disconnect_at && state == r->disconnect_at) {
        r->disconnect_at = 0;
        return WISP_CB_DISCONNECT;
    }
    if (r->destroy_at && state == r->destroy_at) {
        r->destroy_at = 0;
        return WISP_CB_DESTROY;
    }
    return 0;
}

static int st_rx_cb(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    strec_t *r = user;
    size_t i;

    if (r->destroying) {
        r->after_destroying++;
        return 0;
    }
    r->rx_calls++;
    if (flags & WISP_SOM) {
        r->som++;
        r->in_msg = 1;
    } else if (!r->in_msg) {
        r->rx_bad++;
    }
    if (len) {
        if (r->rx_pattern)
            for (i = 0; i < len; i++)
                if (buf[i] != st_pattern(r->rx_bytes + i))
                    r->rx_pattern_bad++;
        st_adler(&r->adler_a, &r->adler_b, buf, len);
        if (r->body_kept < ST_BODY_KEEP) {
            size_t n = ST_BODY_KEEP - r->body_kept;

            if (n > len)
                n = len;
            memcpy(r->body + r->body_kept, buf, n);
            r->body_kept += n;
            r->body[r->body_kept] = '\0';
        }
        r->rx_bytes += len;
    }
    if (flags & WISP_EOM) {
        r->eom++;
        r->in_msg = 0;
    }
    if (r->rx_action_at && r->rx_bytes >= r->rx_action_at) {
        r->rx_action_at = 0;
        r->rx_calls_at_action = r->rx_calls;
        return r->rx_action;
    }
    return 0;
}

static int st_tx_cb(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    strec_t *r = user;
    size_t n = r->tx_total - r->tx_sent, i;

    r->tx_calls++;
    if (n > *len)
        n = *len;
    if (r->tx_piece && n > r->tx_piece)
        n = r->tx_piece;
    for (i = 0; i < n; i++)
        buf[i] = st_pattern(r->tx_sent + i);
    r->tx_sent += n;
    *len = n;
    if (r->tx_sent == r->tx_total) {
        *flags |= WISP_EOM;
        r->tx_eoms++;
    }
    return 0;
}

/* ---- Streams ---- */

void st_reset(strec_t *r)
{
    r->nstates = 0;
    r->overflow = 0;
    r->rx_bytes = 0;
    r->adler_a = 1;
    r->adler_b = 0;
    r->body_kept = 0;
    r->body[0] = '\0';
    r->rx_calls = r->som = r->eom = r->rx_bad = 0;
    r->in_msg = 0;
    r->rx_pattern_bad = 0;
    r->tx_sent = 0;
    r->tx_calls = r->tx_eoms = 0;
    r->meta_len = 0;
    r->meta[0] = '\0';
    r->meta_ret = 1;
}

int st_try_new(stfx_t *f, const char *type, strec_t **out)
{
    strec_t *r;
    int ret;

    assert_true(f->nrec < ST_MAX_RECS);
    r = &f->rec[f->nrec++];
    memset(r, 0, sizeof(*r));
    snprintf(r->type, sizeof(r->type), "%s", type);
    st_reset(r);
    r->ops.type = r->type;
    r->ops.rx = st_rx_cb;
    r->ops.tx = st_tx_cb;
    r->ops.state = st_state_cb;
    *out = r;
    ret = wisp_stream_create(f->cx, &r->ops, r, &r->s);
    r->created = ret == 0;
    if (!r->created && r->s)
        fail_msg("wisp_stream_create(%s) failed (%s) but set *out", type, wisp_errname(ret));
    return ret;
}

strec_t *st_new(stfx_t *f, const char *type)
{
    strec_t *r;
    int ret = st_try_new(f, type, &r);

    if (ret)
        fail_msg("wisp_stream_create(%s): %s", type, wisp_errname(ret));
    assert_non_null(r->s);
    return r;
}

void st_destroy(strec_t *r)
{
    if (r->s && !r->destroying)
        wisp_stream_destroy(r->s);
}

int st_find(const strec_t *r, wisp_state_t state, size_t from)
{
    size_t i;

    for (i = from; i < r->nstates; i++)
        if (r->state[i] == state)
            return (int)i;
    return -1;
}

size_t st_count(const strec_t *r, wisp_state_t state)
{
    size_t i, n = 0;

    for (i = 0; i < r->nstates; i++)
        n += r->state[i] == state;
    return n;
}

wisp_state_t st_last(const strec_t *r)
{
    size_t i = r->nstates;

    while (i-- > 0)
        if (r->state[i] != WISP_STATE_DESTROYING)
            return r->state[i];
    return (wisp_state_t)0;
}

int st_last_arg(const strec_t *r)
{
    size_t i = r->nstates;

    while (i-- > 0)
        if (r->state[i] != WISP_STATE_DESTROYING)
            return r->arg[i];
    return 0;
}

const char *st_seq(const strec_t *r, size_t from)
{
    static char buf[4096];
    size_t i, off = 0;

    buf[0] = '\0';
    for (i = from; i < r->nstates && off < sizeof(buf) - 80; i++) {
        wisp_state_t s = r->state[i];
        int a = r->arg[i];
        int n;

        if (s == WISP_STATE_CREATED)
            continue;
        switch (s) {
        case WISP_STATE_ACK:
        case WISP_STATE_NACK:
        case WISP_STATE_RETRYING:
            n = snprintf(buf + off, sizeof(buf) - off, "%s%s:%d", off ? " " : "",
                         wisp_state_name(s), a);
            break;
        case WISP_STATE_CONNECTION_FAILED:
        case WISP_STATE_ALL_RETRIES_FAILED:
        case WISP_STATE_TIMEOUT:
        case WISP_STATE_DISCONNECTED:
            n = snprintf(buf + off, sizeof(buf) - off, "%s%s:%s", off ? " " : "",
                         wisp_state_name(s), wisp_errname(a));
            break;
        default:
            n = snprintf(buf + off, sizeof(buf) - off, "%s%s", off ? " " : "", wisp_state_name(s));
            break;
        }
        if (n > 0)
            off += (size_t)n;
    }
    if (r->overflow)
        snprintf(buf + off, sizeof(buf) - off, " ... (%zu more)", r->overflow);
    return buf;
}

const char *st_body(const strec_t *r)
{
    return r->body;
}

/* Counted before the call: a cycle may end inside it (a refused submit). */
int st_request(strec_t *r)
{
    int ret;

    r->requests++;
    ret = wisp_stream_request_tx(r->s);
    if (ret)
        r->requests--;
    return ret;
}

int st_request_len(strec_t *r, size_t len)
{
    int ret;

    r->requests++;
    ret = wisp_stream_request_tx_len(r->s, len);
    if (ret)
        r->requests--;
    return ret;
}

int st_settled(const strec_t *r)
{
    wisp_state_t last = st_last(r);

    if (r->destroying)
        return 1;
    if (!r->s)
        return 0;
    switch (last) {
    case WISP_STATE_DONE:
    case WISP_STATE_TIMEOUT:
    case WISP_STATE_ALL_RETRIES_FAILED:
        /* Terminal, and every cycle asked for has ended (none pending). */
        return wisp_stream_state(r->s) == last && r->terminals >= r->requests;
    default:
        return 0;
    }
}

/* ---- Loop ---- */

int st_run_until(wisp_context_t *cx, int (*pred)(void *), void *arg, int ms)
{
    uint64_t end = st_now_ms() + (uint64_t)ms;

    while (!pred(arg)) {
        int ret;

        if (st_now_ms() >= end)
            return pred(arg);
        ret = wisp_service(cx, 10);
        if (ret && ret != WISP_ECANCELED)
            fail_msg("wisp_service: %s", wisp_errname(ret));
    }
    return 1;
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

void st_run_for(wisp_context_t *cx, int ms)
{
    (void)st_run_until(cx, never, NULL, ms);
}

int st_wait(stfx_t *f, strec_t **recs, size_t n, int ms, int quiet_ms)
{
    uint64_t end = st_now_ms() + (uint64_t)ms, quiet_since = 0;
    size_t last_total = (size_t)-1;

    for (;;) {
        size_t i, total = 0;
        int all = 1;

        for (i = 0; i < n; i++) {
            total += recs[i]->nstates + recs[i]->overflow;
            all = all && st_settled(recs[i]);
        }
        if (total != last_total || !all) {
            last_total = total;
            quiet_since = st_now_ms();
        } else if (st_now_ms() - quiet_since >= (uint64_t)quiet_ms) {
            return 1;
        }
        if (st_now_ms() >= end)
            return 0;
        (void)wisp_service(f->cx, 5);
    }
}

int st_wait1(stfx_t *f, strec_t *r, int ms)
{
    return st_wait(f, &r, 1, ms, 100);
}

/* ---- Fixture ---- */

wisp_stats_t stfx_stats(stfx_t *f)
{
    wisp_stats_t st;

    wisp_get_stats(f->cx, &st);
    return st;
}

stfx_t *stfx_open(const char *policy)
{
    stfx_t *f = calloc(1, sizeof(*f));
    int ret;

    assert_non_null(f);
    testalloc_init(&f->ta, 0);
    f->policy = policy ? strdup(policy) : NULL;
    ret = testalloc_context(&f->ta, f->policy, &f->cx);
    if (ret)
        fail_msg("wisp_context_create: %s (run with WISP_TEST_LOG=1 for the log)",
                 wisp_errname(ret));
    f->heap_base = stfx_stats(f).heap_in_use;
    return f;
}

static int idle(void *arg)
{
    stfx_t *f = arg;
    wisp_stats_t st = stfx_stats(f);

    return st.vhosts_live == 0 && st.conns_live == 0 && st.streams_live == 0;
}

void stfx_assert_idle(stfx_t *f, int ms)
{
    wisp_stats_t st;

    (void)st_run_until(f->cx, idle, f, ms);
    st = stfx_stats(f);
    if (st.vhosts_live || st.conns_live || st.streams_live)
        fail_msg("still live after %d ms: vhosts %u conns %u streams %u", ms, st.vhosts_live,
                 st.conns_live, st.streams_live);
}

void stfx_finish(stfx_t **pf, int ms)
{
    stfx_t *f = *pf;
    size_t i;

    /* SPEC §6: a stream that settled has ended each of its cycles exactly once. */
    for (i = 0; i < f->nrec; i++) {
        strec_t *r = &f->rec[i];

        if (r->extra_terminals)
            fail_msg("stream %zu (%s): %u terminal states that ended no cycle: %s", i, r->type,
                     r->extra_terminals, st_seq(r, 0));
        if (r->s && st_settled(r) && r->terminals != r->requests)
            fail_msg("stream %zu (%s): %u requests, %u terminal states: %s", i, r->type,
                     r->requests, r->terminals, st_seq(r, 0));
    }
    for (i = 0; i < f->nrec; i++)
        st_destroy(&f->rec[i]);
    stfx_assert_idle(f, ms);
    for (i = 0; i < f->nrec; i++) {
        strec_t *r = &f->rec[i];

        if (r->created && r->destroying != 1)
            fail_msg("stream %zu (%s): %u DESTROYING callbacks", i, r->type, r->destroying);
        if (r->after_destroying)
            fail_msg("stream %zu (%s): %u callbacks after DESTROYING", i, r->type,
                     r->after_destroying);
        if (r->overflow)
            fail_msg("stream %zu (%s): runaway states: %s", i, r->type, st_seq(r, 0));
    }
    wisp_context_destroy(f->cx);
    f->cx = NULL;
    if (f->ta.live_blocks)
        fail_msg("%zu blocks still allocated after wisp_context_destroy", f->ta.live_blocks);
    free(f->policy);
    free(f);
    *pf = NULL;
}

void stfx_abort(stfx_t **pf)
{
    stfx_t *f = *pf;

    if (!f)
        return;
    wisp_context_destroy(f->cx);
    free(f->policy);
    free(f);
    *pf = NULL;
}

/* ---- Policy text ---- */

char *st_subst(const char *tmpl, const char *const *pairs)
{
    char *out = strdup(tmpl);
    size_t k;

    assert_non_null(out);
    for (k = 0; pairs[k] && pairs[k + 1]; k += 2) {
        const char *key = pairs[k], *val = pairs[k + 1], *hit;
        size_t klen = strlen(key), vlen = strlen(val);

        while ((hit = strstr(out, key)) != NULL) {
            size_t pre = (size_t)(hit - out), rest = strlen(hit + klen);
            char *n = malloc(pre + vlen + rest + 1);

            assert_non_null(n);
            memcpy(n, out, pre);
            memcpy(n + pre, val, vlen);
            memcpy(n + pre + vlen, hit + klen, rest + 1);
            free(out);
            out = n;
        }
    }
    return out;
}

char *st_append(char *s, const char *fmt, ...)
{
    va_list ap;
    size_t old = s ? strlen(s) : 0;
    int n;
    char *out;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    out = realloc(s, old + (size_t)n + 1);
    assert_non_null(out);
    va_start(ap, fmt);
    vsnprintf(out + old, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

/* ---- badserver.py ---- */

void badserver_start(badserver_t *b, const char *const *args)
{
    posix_spawn_file_actions_t fa;
    int out[2], in[2], ret, fd;
    char *argv[32], line[32];
    size_t argc = 0, i, got = 0;
    uint64_t end;

    memset(b, 0, sizeof(*b));
    b->stdin_fd = -1;
    snprintf(b->log, sizeof(b->log), "/tmp/wisp-badserver-XXXXXX");
    fd = mkstemp(b->log);
    assert_true(fd >= 0);
    close(fd);

    argv[argc++] = strdup(WISP_PYTHON3);
    argv[argc++] = strdup(WISP_BADSERVER);
    argv[argc++] = strdup("--log");
    argv[argc++] = strdup(b->log);
    argv[argc++] = strdup("--max-seconds");
    argv[argc++] = strdup("50");
    for (i = 0; args && args[i] && argc < 30; i++)
        argv[argc++] = strdup(args[i]);
    argv[argc] = NULL;

    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(in), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    ret = posix_spawn(&b->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    for (i = 0; i < argc; i++)
        free(argv[i]);
    close(in[0]);
    close(out[1]);
    if (ret) {
        close(in[1]);
        close(out[0]);
        fail_msg("cannot start %s %s: %s", WISP_PYTHON3, WISP_BADSERVER, strerror(ret));
    }
    b->stdin_fd = in[1];
    (void)fcntl(b->stdin_fd, F_SETFD, FD_CLOEXEC);

    /* The first line of its stdout is the port. */
    end = st_now_ms() + 10000;
    while (got < sizeof(line) - 1 && st_now_ms() < end) {
        struct pollfd pfd = {out[0], POLLIN, 0};
        ssize_t n;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        n = read(out[0], line + got, 1);
        if (n <= 0)
            break;
        if (line[got] == '\n')
            break;
        got += (size_t)n;
    }
    line[got] = '\0';
    close(out[0]);
    b->port = atoi(line);
    if (b->port <= 0 || b->port > 65535) {
        badserver_stop(b);
        fail_msg("badserver.py did not report its port (got \"%s\")", line);
    }
}

void badserver_stop(badserver_t *b)
{
    uint64_t end;
    int status;

    if (b->stdin_fd >= 0) {
        close(b->stdin_fd);
        b->stdin_fd = -1;
    }
    if (b->pid > 0) {
        end = st_now_ms() + 3000;
        while (waitpid(b->pid, &status, WNOHANG) == 0) {
            if (st_now_ms() >= end) {
                kill(b->pid, SIGKILL);
                (void)waitpid(b->pid, &status, 0);
                break;
            }
            usleep(10000);
        }
        b->pid = 0;
    }
    if (b->log[0]) {
        unlink(b->log);
        b->log[0] = '\0';
    }
}

size_t badserver_count(const badserver_t *b, const char *prefix)
{
    char *text = test_read_file(b->log, NULL), *line, *save = NULL;
    size_t n = 0, plen = strlen(prefix);

    if (!text)
        return 0;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        n += strncmp(line, prefix, plen) == 0;
    free(text);
    return n;
}

size_t badserver_wait_count(const badserver_t *b, const char *prefix, size_t n, int ms)
{
    uint64_t end = st_now_ms() + (uint64_t)ms;
    size_t got;

    while ((got = badserver_count(b, prefix)) != n && st_now_ms() < end)
        usleep(10000);
    return got;
}
