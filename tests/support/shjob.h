/*
 * A shell command run on its own thread while the test drives the wisp loop: an
 * openssl s_client / s_server peer, say. The command's output (stdout and whatever
 * it redirects there) is collected in out; done is set through wisp_post(), so the
 * loop thread sees it in order with everything else.
 */
#ifndef WISP_TEST_SHJOB_H
#define WISP_TEST_SHJOB_H

#include <pthread.h>
#include <stddef.h>

#include "wisp/core.h"

typedef struct shjob {
    char cmd[1024];  /* set by the test before shjob_start() */
    char out[16384]; /* the command's output, NUL-terminated */
    size_t len;
    volatile int done; /* set on the loop thread once the command ended */
    wisp_context_t *cx;
    pthread_t th;
} shjob_t;

/** Start j->cmd on a thread (out, len and done reset). 0 or an errno value. */
int shjob_start(shjob_t *j, wisp_context_t *cx);
/** Wait for the thread (after done, or to give up). */
void shjob_join(shjob_t *j);

#endif
