/*
 * wisp_post() and wisp_stop() from other threads, built with ThreadSanitizer over the
 * library sources: four threads post 20000 calls each while the loop runs; every call
 * must run exactly once on the loop thread; the last check posted stops the loop.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wisp/core.h"

#define THREADS 4
#define PER_THREAD 20000

static wisp_context_t *cx;
static pthread_t loop_thread;
static unsigned long ran; /* touched only on the loop thread */
static int wrong_thread;

static void on_post(wisp_context_t *c, void *arg)
{
    (void)c;
    (void)arg;
    if (!pthread_equal(pthread_self(), loop_thread))
        wrong_thread = 1;
    ran++;
}

static void on_count(wisp_context_t *c, void *arg)
{
    (void)arg;
    if (ran == (unsigned long)THREADS * PER_THREAD)
        wisp_stop(c);
}

static void post_retrying(wisp_post_cb fn)
{
    struct timespec pause = {0, 100000};

    while (wisp_post(cx, fn, NULL) == WISP_EBUSY)
        nanosleep(&pause, NULL);
}

static void *poster(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < PER_THREAD; i++)
        post_retrying(on_post);
    /* The ring is FIFO: when the last poster's check runs, every post of every
     * finished poster has run before it, so the last check sees the full count. */
    post_retrying(on_count);
    return NULL;
}

int main(void)
{
    wisp_context_info_t info;
    pthread_t t[THREADS];
    int i, ret;

    memset(&info, 0, sizeof(info));
    if (wisp_context_create(&info, &cx))
        return 1;
    loop_thread = pthread_self();
    for (i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, poster, NULL);
    ret = wisp_run(cx);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    wisp_context_destroy(cx);
    printf("posts run: %lu of %d, on loop thread: %s, run returned %d\n", ran, THREADS * PER_THREAD,
           wrong_thread ? "NO" : "yes", ret);
    return (ret == 0 && !wrong_thread && ran == (unsigned long)THREADS * PER_THREAD) ? 0 : 1;
}
