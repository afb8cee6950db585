/*
 * Private to lib/stream: the stream object and what its three files share.
 *
 *   stream.c   what every stream has: the state callback (notify), metadata, the
 *              list, creation, destruction (deferred reap), the public entry points
 *   client.c   client streams: the request cycle of SPEC §6 on the h1 client
 *   server.c   server streams: the listener, and one stream per request
 *
 * A stream's kind is its role: a table of the few operations that differ, so that
 * stream.c needs no #if for a build without the client or the server.
 */
#ifndef WISP_STREAM_INTERNAL_H
#define WISP_STREAM_INTERNAL_H

#include "core/core-internal.h"
#include "http1/http1-internal.h"
#include "vhost/vhost-internal.h"
#include "wisp/stream.h"

typedef struct wisp__meta_val {
    char *v;
    size_t len;
    uint8_t set; /* server request: set by the app, so it goes out with the answer */
} wisp__meta_val_t;

typedef struct wisp__stream_role {
    /** wisp_stream_request_tx(_len): len -1 for a body of unknown length. */
    int (*request)(wisp_stream_t *s, int64_t len);
    void (*resume)(wisp_stream_t *s);
    /** WISP_CB_DISCONNECT from a state callback. */
    void (*abort)(wisp_stream_t *s, int err);
    /** The stream is being destroyed: take it off the wire (before DESTROYING). */
    void (*cancel)(wisp_stream_t *s);
    /** The reap: free what the role holds. */
    void (*release)(wisp_stream_t *s);
    /** The timeout of wisp_stream_start_timeout() fired. */
    void (*timed_out)(wisp_stream_t *s);
    /** Nonzero while a transaction runs (a timeout may be started). */
    int (*active)(const wisp_stream_t *s);
    /** Read-only names besides the policy's slots ("method", "path"...), or NULL. */
    int (*pseudo)(const wisp_stream_t *s, const char *name, const void **v, size_t *len);
    /** Writable names besides the policy's slots ("status"): WISP_ENOTFOUND when
     *  name is not one, or NULL. */
    int (*set_pseudo)(wisp_stream_t *s, const char *name, const void *v, size_t len);
} wisp__stream_role_t;

/* Client stream: one embedded h1 transaction, submitted for each request. */
typedef struct wisp__client_part {
    wisp__h1_conn_t *nail; /* nailed_up: the connection this stream holds up */
    wisp__h1_txn_t txn;
    wisp__timer_t backoff;
    int64_t req_len;     /* body length of the current request: -1 chunked */
    int64_t pending_len; /* of a request_tx remembered while active */
    uint16_t failures;   /* in this cycle, against the retry policy's conceal */
    uint8_t pending_tx;  /* a request_tx arrived during an open cycle */
} wisp__client_part_t;

/* Server listener, or one request it received. */
typedef struct wisp__server_part {
    wisp__h1_srv_t *srv;  /* listener: the h1 listener (NULL once let go) */
    size_t user_size;     /* listener: app state bytes per request */
    wisp__h1_sreq_t sreq; /* request: on its connection */
    void *parent_user;    /* request: the listener's user pointer */
    char *target;         /* request: method NUL path [? query] as received */
    size_t method_len, path_len, query_len;
    char status_text[4]; /* request: "status" as the app set it */
} wisp__server_part_t;

struct wisp_stream {
    wisp_stream_t *next, *prev;
    wisp_context_t *cx;
    const wisp_stream_ops_t *ops;
    const wisp__stream_role_t *role;
    void *user;
    const wisp_policy_stream_t *ps;
    wisp__vhost_t *vhost;
    wisp__timer_t timeout;
    wisp__defer_t reap;
    wisp_state_t state;
    uint16_t status;
    uint8_t rx_started; /* this message's body has begun (WISP_SOM sent) */
    uint8_t unheard;    /* server request before SERVER_REQUEST: it ends without a callback */
    union {
        wisp__client_part_t cl;
        wisp__server_part_t sv;
    } x;
    wisp__meta_val_t meta[]; /* one per ps->metadata slot */
};

/** The one transition function: set, log, call out. Nonzero when the stream is
 *  being destroyed: the caller must then leave it alone. */
int wisp__stream_notify(wisp_stream_t *s, wisp_state_t st, int arg);
/** Body bytes to the app's rx (WISP_SOM added on the first). WISP_ECANCELED when
 *  the app asked to disconnect or destroy. */
int wisp__stream_rx(wisp_stream_t *s, const uint8_t *data, size_t len, unsigned flags);
/** Pull body bytes from the app's tx: 0, WISP_EAGAIN, WISP_ECANCELED, or an error. */
int wisp__stream_tx(wisp_stream_t *s, uint8_t *buf, size_t *len, int *eom);
int wisp__stream_meta_index(const wisp_stream_t *s, const char *name, size_t len);
/** Store a copy (value NULL clears). 0, WISP_ETOOBIG, WISP_ENOMEM. */
int wisp__stream_meta_store(wisp_stream_t *s, int i, const void *value, size_t len);
/** A received header field fills every slot bound to it. 0, or WISP_ETOOBIG (a
 *  value over WISP_STREAM_META_MAX: that slot is left as it was), WISP_ENOMEM. */
int wisp__stream_meta_from_header(wisp_stream_t *s, const char *name, size_t nlen,
                                  const char *value, size_t vlen);
/** Put a new stream on the context's list (streams_live, teardown hook). */
void wisp__stream_link(wisp_stream_t *s);
/** Allocate a zeroed stream of type ps with extra bytes after its slots (*extra
 *  then points at them, aligned), or NULL. */
wisp_stream_t *wisp__stream_alloc(wisp_context_t *cx, const wisp_policy_stream_t *ps, size_t extra,
                                  void **extra_out);
/** Free a stream that was never linked (and holds no metadata values). */
void wisp__stream_free_unlinked(wisp_stream_t *s);

/** Role set-up, called by wisp_stream_create on a fresh (unlinked) stream. */
int wisp__client_stream_init(wisp_stream_t *s);
int wisp__server_stream_init(wisp_stream_t *s);

/** Destroy every stream of cx now (each gets DESTROYING); they are freed at the end
 *  of the loop iteration. For a context destroyed from inside a callback. */
void wisp__streams_destroy_all(wisp_context_t *cx);

#endif /* WISP_STREAM_INTERNAL_H */
