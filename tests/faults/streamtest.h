/*
 * Shared by the stream tests that talk to real servers (tests/faults/ against
 * badserver.py, tests/interop/ against nginx): a recorder for one stream's callbacks,
 * a fixture that owns a context on the counting allocator and checks that nothing is
 * left at the end, policy text helpers, and a handle on a running badserver.py.
 *
 * Records live inside the fixture (not on a test's stack) because a failed assertion
 * leaves the test early and the teardown's wisp_context_destroy() still delivers
 * DESTROYING to every stream left.
 */
#ifndef WISP_TEST_STREAMTEST_H
#define WISP_TEST_STREAMTEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "testalloc.h"
#include "testfiles.h"
#include "wisp/stream.h"

#define ST_MAX_STATES 96
#define ST_MAX_RECS 128
#define ST_BODY_KEEP 4096

typedef struct strec {
    char type[64];
    wisp_stream_t *s;      /* NULL once DESTROYING was delivered */
    int created;           /* wisp_stream_create() succeeded */
    wisp_stream_ops_t ops; /* must outlive the stream: lives here */
    /* Every state callback in order (CREATED included). */
    wisp_state_t state[ST_MAX_STATES];
    int arg[ST_MAX_STATES];
    size_t nstates;
    size_t overflow;           /* states past ST_MAX_STATES (a runaway state machine) */
    unsigned destroying;       /* DESTROYING callbacks: must end at exactly 1 */
    unsigned after_destroying; /* callbacks of any kind after DESTROYING: must be 0 */
    /* Response body: count, Adler-32, the first ST_BODY_KEEP bytes. */
    uint64_t rx_bytes;
    uint32_t adler_a, adler_b;
    char body[ST_BODY_KEEP + 1];
    size_t body_kept;
    unsigned rx_calls, som, eom;
    unsigned rx_bad; /* bytes outside a message (no SOM first) */
    int in_msg;
    int rx_pattern; /* nonzero: check the body against the tx pattern */
    /* Nonzero: once rx_bytes reaches it, return rx_action (WISP_CB_DISCONNECT or
     * WISP_CB_DESTROY) from rx, once; rx_calls_at_action records rx_calls then. */
    uint64_t rx_action_at;
    int rx_action;
    unsigned rx_calls_at_action;
    uint64_t rx_pattern_bad;
    /* Request body from tx: tx_total bytes of the pattern, at most tx_piece a call. */
    size_t tx_total, tx_sent, tx_piece;
    unsigned tx_calls, tx_eoms;
    /* A metadata slot copied out at ACK / NACK. */
    const char *meta_slot;
    char meta[WISP_STREAM_META_MAX + 1];
    size_t meta_len;
    int meta_ret;
    /* Return WISP_CB_DESTROY from the state callback at this state (0: never). */
    wisp_state_t destroy_at;
    /* Return WISP_CB_DISCONNECT from the state callback at this state, once. */
    wisp_state_t disconnect_at;
    /* Call wisp_stream_request_tx() from the DONE callback this many more times;
     * a nonzero return is kept in again_ret. */
    unsigned again;
    int again_ret;
    /* The state whose callback asks again (0: DONE). */
    wisp_state_t again_at;
    /* Cycle accounting (SPEC §6): request_tx calls that returned 0 (through
     * st_request*), terminal states seen (DONE, ALL_RETRIES_FAILED, TIMEOUT), and
     * terminal states that ended no open cycle (must stay 0). */
    unsigned requests, terminals, extra_terminals;
} strec_t;

typedef struct stfx {
    testalloc_t ta;
    wisp_context_t *cx;
    char *policy;
    size_t heap_base; /* heap_in_use right after the context was created */
    strec_t rec[ST_MAX_RECS];
    size_t nrec;
} stfx_t;

/* ---- Fixture ---- */

/** A fixture (calloc'd) with a context on the counting allocator for policy. Asserts. */
stfx_t *stfx_open(const char *policy);
/** End of a test: destroy every stream still held, wait (at most ms) until no vhost,
 *  connection or stream is live, assert that, destroy the context and assert zero live
 *  blocks. Frees the fixture and sets *f to NULL. */
void stfx_finish(stfx_t **f, int ms);
/** Teardown after a failed test: destroy whatever is left without checking. */
void stfx_abort(stfx_t **f);
/** Assert that no vhost, connection or stream is live (after waiting up to ms). */
void stfx_assert_idle(stfx_t *f, int ms);
wisp_stats_t stfx_stats(stfx_t *f);

/* ---- Streams ---- */

/** A new record and its stream of policy type `type`; asserts creation worked. */
strec_t *st_new(stfx_t *f, const char *type);
/** As st_new, returning wisp_stream_create()'s code (the record is kept either way). */
int st_try_new(stfx_t *f, const char *type, strec_t **out);
/** wisp_stream_destroy() unless the stream already got DESTROYING. */
void st_destroy(strec_t *r);
/** Forget the recorded states and body (before the next transaction). */
void st_reset(strec_t *r);

/** The index of the first `state` at or after index from, or -1. */
int st_find(const strec_t *r, wisp_state_t state, size_t from);
size_t st_count(const strec_t *r, wisp_state_t state);
/** The last recorded state other than DESTROYING, or 0. */
wisp_state_t st_last(const strec_t *r);
int st_last_arg(const strec_t *r);
/** The states as text from index from, CREATED left out: "CONNECTING
 *  CONNECTION_FAILED:WISP_EREFUSED RETRYING:50 ..." (static buffer). */
const char *st_seq(const strec_t *r, size_t from);
/** The body kept so far, NUL-terminated. */
const char *st_body(const strec_t *r);

/** Nonzero when the stream rests: its last state is DONE, TIMEOUT, DISCONNECTED,
 *  ALL_RETRIES_FAILED or DESTROYING and the stream agrees. */
int st_settled(const strec_t *r);

/* wisp_stream_request_tx(_len) on r's stream, counted for the cycle accounting. */
int st_request(strec_t *r);
int st_request_len(strec_t *r, size_t len);

/* ---- Loop ---- */

/** Service the loop until pred(arg) or ms pass; returns pred's last value. */
int st_run_until(wisp_context_t *cx, int (*pred)(void *), void *arg, int ms);
/** Service the loop for ms. */
void st_run_for(wisp_context_t *cx, int ms);
/** Wait until every record of the array is settled and none changes for quiet_ms;
 *  returns 1, or 0 after ms. */
int st_wait(stfx_t *f, strec_t **recs, size_t n, int ms, int quiet_ms);
/** st_wait for one record, with a quiet period of 100 ms. */
int st_wait1(stfx_t *f, strec_t *r, int ms);

uint64_t st_now_ms(void);

/* ---- Data ---- */

/** Byte i of the request-body pattern. */
uint8_t st_pattern(uint64_t i);
/** Adler-32 state update (the rolling checksum used for big bodies). */
void st_adler(uint32_t *a, uint32_t *b, const uint8_t *buf, size_t len);

/* ---- Policy text ---- */

/** tmpl with every occurrence of pairs[0] replaced by pairs[1], pairs[2] by pairs[3]...
 *  (NULL-terminated list); malloc'd. */
char *st_subst(const char *tmpl, const char *const *pairs);
/** Append to a malloc'd string (printf style); returns the new string. */
char *st_append(char *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- badserver.py ---- */

typedef struct badserver {
    pid_t pid;
    int port;
    int stdin_fd;  /* closing it makes the server exit */
    char log[128]; /* its --log file */
} badserver_t;

/** Start badserver.py with the given extra arguments (NULL-terminated), read its port.
 *  Asserts. */
void badserver_start(badserver_t *b, const char *const *args);
/** Stop it (stdin EOF, then SIGTERM if need be), reap it, remove its log. Idempotent. */
void badserver_stop(badserver_t *b);
/** Lines of its log that start with prefix ("accept ", "request 1 GET"). */
size_t badserver_count(const badserver_t *b, const char *prefix);
/** badserver_count, polled until it reaches n or ms pass (the server logs from its
 *  own threads, a little after the client saw the event). */
size_t badserver_wait_count(const badserver_t *b, const char *prefix, size_t n, int ms);

#endif
