/*
 * A server application for tests of wisp's server streams, and the invariants it
 * checks on every request stream (SPEC §6): shared by tests/unit/test_server_fake.c,
 * tests/fuzz/fuzz_server_conn.c and the allocation sweep.
 *
 * Each request stream the app hears of gets a record (its user area holds the
 * record's index + 1, so a callback on a stream the app never heard of shows as 0).
 * What the app does with a request is an action, chosen at SERVER_REQUEST by the
 * test's choose() (default: by path, see srvapp_route()). Checked on every callback:
 *
 *   - SERVER_REQUEST comes first, once; rx only after it and before the end;
 *     tx only after the app asked to answer;
 *   - one end per cycle: DONE (arg: the status the app set) or DISCONNECTED, at
 *     most one of them, then DESTROYING once and last (DESTROYING alone when the
 *     app or the context destroyed the stream first); nothing after DESTROYING;
 *   - no DESTROYING, rx or tx for a stream that never had SERVER_REQUEST.
 *
 * A break is counted in violations with the first message kept in why[].
 * srvapp_check_end() adds the end-of-run checks (every record DESTROYING once,
 * nothing pending). srvapp_check_http() checks that what a server wrote on one
 * connection parses as a sequence of HTTP/1.1 responses.
 */
#ifndef WISP_TEST_SRVAPP_H
#define WISP_TEST_SRVAPP_H

#include <stddef.h>
#include <stdint.h>

#include "wisp/stream.h"

#define SRVAPP_MAX 256 /* records; more requests are counted in overflow */

/* What the app does with a request. */
enum srvapp_action {
    SA_HELLO,       /* 200 "hello" with Content-Length, answered at SERVER_REQUEST */
    SA_ECHO,        /* after the body: 200 with the byte count received */
    SA_CHUNKED,     /* 200 of unknown length (chunked): 3000 bytes in pieces */
    SA_SLOW,        /* answered by srvapp_answer_slow() */
    SA_PATH,        /* 200 with the path as body, after the body */
    SA_404,         /* 404 "no" */
    SA_DESTROY_REQ, /* WISP_CB_DESTROY from SERVER_REQUEST */
    SA_DISC_REQ,    /* WISP_CB_DISCONNECT from SERVER_REQUEST */
    SA_DESTROY_RX,  /* WISP_CB_DESTROY from the EOM rx */
    SA_DISC_RX,     /* WISP_CB_DISCONNECT from the EOM rx */
    SA_DESTROY_TX,  /* answers chunked, WISP_CB_DESTROY from the second tx */
    SA_DISC_TX,     /* answers chunked, WISP_CB_DISCONNECT from the second tx */
    SA_TX_PAUSE,    /* answers with Content-Length, tx pauses (resumed by srvapp_resume) */
    SA_STATUS_204,  /* 204, no body */
    SA_NACTIONS
};

typedef struct srvapp_req {
    wisp_stream_t *s; /* NULL after DESTROYING */
    int action;
    unsigned requests, ends, destroying, after_destroying;
    wisp_state_t end; /* DONE or DISCONNECTED, once it came */
    int end_arg;
    int asked; /* the app asked to answer */
    int rx_eom;
    size_t rx_bytes;
    size_t sent, total;
    int tx_calls;
    int paused;
    char path[64];
    int head; /* a HEAD request */
} srvapp_req_t;

typedef struct srvapp srvapp_t;
#define SRVAPP_MAGIC 0x5ea7a991u
struct srvapp {
    uint32_t magic; /* first: tells the listener's user from a request's */
    /* NULL: srvapp_route(). Returns an enum srvapp_action. */
    int (*choose)(srvapp_t *a, unsigned index, const char *path, size_t len);
    void *user;
    srvapp_req_t req[SRVAPP_MAX];
    unsigned nreq, overflow;
    unsigned requests, done, lost, destroyed, listener_states;
    unsigned violations;
    char why[256];
};

/* The ops of a server stream type named type; its user must be the srvapp_t and
 * its user_size srvapp_user_size(). */
void srvapp_init(srvapp_t *a, const char *type, wisp_stream_ops_t *ops);
size_t srvapp_user_size(void);
int srvapp_route(srvapp_t *a, unsigned index, const char *path, size_t len);
/* Answer every SA_SLOW request still waiting; resume every paused tx. */
void srvapp_answer_slow(srvapp_t *a);
void srvapp_resume(srvapp_t *a);
/* Requests still alive (not DESTROYING yet). */
unsigned srvapp_live(const srvapp_t *a);
/* End of run: every request the app heard of got DESTROYING once. */
void srvapp_check_end(srvapp_t *a);
void srvapp_violation(srvapp_t *a, const char *fmt, ...) WISP_PRINTF(2, 3);

/* What one connection's server wrote: a sequence of HTTP/1.1 responses (1xx
 * interim ones included), the last possibly cut short when the connection closed.
 * 0 if so (*n: complete responses, statuses in status[] up to max), or -1 with
 * the reason in why. */
int srvapp_check_http(const uint8_t *p, size_t len, int *status, size_t max, size_t *n, char *why,
                      size_t why_len);

#endif /* WISP_TEST_SRVAPP_H */
