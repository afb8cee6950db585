/*
 * A two-thread server under ThreadSanitizer (issue 9): the multi-core layout of
 * SPEC §5, one context per thread, each with a listener on the same port
 * (SO_REUSEPORT, set by the POSIX port on every listener), and wisp_post() carrying
 * work across threads.
 *
 * Every request is answered through the other thread: at the request's end its
 * thread posts a job to the other context, which does the "work" (its own counter)
 * and posts the job back; the request's own thread then answers it, in a later loop
 * iteration. Clients are plain blocking sockets in CLIENTS more threads (the server
 * stream has "tls": false, so the load is many requests, not handshakes): each makes
 * CONNS connections of REQS keep-alive requests, the last one with Connection: close.
 *
 * Passes when every request got a 200 with the body its job computed, both
 * listeners accepted connections (the kernel spreads them over the reuseport group),
 * every job ran on the other thread and came back, both contexts' heap is back to
 * the idle context's figure once the listeners are gone, and TSan reports no race
 * (halt_on_error=1 turns a report into a failure).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wisp.h"

#define CLIENTS 4
#define CONNS 100
#define REQS 10
#define TOTAL (CLIENTS * CONNS * REQS)

struct server {
    int index;
    pthread_t thread;
    wisp_context_t *cx;
    wisp_stream_t *listener;
    /* Touched only on this server's loop thread until it is joined. */
    unsigned long requests, conns_seen, work_done, replies, wrong_thread, failures;
    size_t heap_start, heap_left; /* heap_in_use with the idle context, and at the end */
};

/* One request's app state (wisp allocates and frees it). */
struct req {
    char body[64];
    size_t len, off;
};

/* A unit of work crossing to the other thread and back. */
struct job {
    struct req *r;
    struct server *home, *worker;
    unsigned long value; /* written by the worker thread, read back home */
};

static struct server srv[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int port, ready;
static unsigned long client_ok[CLIENTS], client_bad[CLIENTS];

static void post_retrying(wisp_context_t *cx, wisp_post_cb fn, void *arg)
{
    struct timespec pause = {0, 100000};

    /* At most CLIENTS jobs are in flight: the ring cannot stay full. */
    while (wisp_post(cx, fn, arg) == WISP_EBUSY)
        nanosleep(&pause, NULL);
}

static void on_reply(wisp_context_t *cx, void *arg)
{
    struct job *j = arg;
    struct req *r = j->r;
    struct server *s = j->home;

    (void)cx;
    if (!pthread_equal(pthread_self(), s->thread))
        s->wrong_thread++;
    s->replies++;
    r->len = (size_t)snprintf(r->body, sizeof(r->body), "work %lu of thread %d\n", j->value,
                              j->worker->index);
    free(j);
    if (wisp_stream_request_tx_len(wisp_stream_from_user(r), r->len))
        s->failures++;
}

static void on_work(wisp_context_t *cx, void *arg)
{
    struct job *j = arg;

    (void)cx;
    if (!pthread_equal(pthread_self(), j->worker->thread))
        j->worker->wrong_thread++;
    j->value = ++j->worker->work_done;
    post_retrying(j->home->cx, on_reply, j);
}

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    struct req *r = user;
    struct server *s = wisp_stream_parent_user(wisp_stream_from_user(r));
    struct job *j;

    (void)buf;
    (void)len;
    if (!(flags & WISP_EOM))
        return WISP_CB_OK;
    s->requests++;
    j = calloc(1, sizeof(*j));
    if (!j) {
        s->failures++;
        return WISP_CB_DISCONNECT;
    }
    j->r = r;
    j->home = s;
    j->worker = &srv[!s->index];
    post_retrying(j->worker->cx, on_work, j);
    return WISP_CB_OK;
}

static int on_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    struct req *r = user;
    size_t n = r->len - r->off;

    if (n > *len)
        n = *len;
    memcpy(buf, r->body + r->off, n);
    r->off += n;
    *len = n;
    if (r->off == r->len)
        *flags |= WISP_EOM;
    return WISP_CB_OK;
}

static int on_state(void *user, wisp_state_t state, int arg)
{
    struct req *r = user;

    (void)arg;
    if (state == WISP_STATE_DISCONNECTED)
        ((struct server *)wisp_stream_parent_user(wisp_stream_from_user(r)))->failures++;
    return WISP_CB_OK;
}

static const wisp_stream_ops_t ops = {"s", on_rx, on_tx, on_state};

static int server_up(struct server *s, int want_port)
{
    wisp_context_info_t info;
    wisp_stats_t st;
    char policy[256];

    memset(&info, 0, sizeof(info));
    snprintf(policy, sizeof(policy),
             "{\"schema\":1,\"streams\":{\"s\":{\"server\":true,\"bind\":\"127.0.0.1\","
             "\"port\":%d,\"tls\":false,\"max_connections\":64}}}",
             want_port);
    info.policy_json = policy;
    info.policy_json_len = strlen(policy);
    info.log_level = WISP_LOG_WARN;
    info.log_level_set = 1;
    if (wisp_context_create(&info, &s->cx))
        return -1;
    wisp_get_stats(s->cx, &st);
    s->heap_start = st.heap_in_use;
    if (wisp_stream_create(s->cx, &ops, s, &s->listener) ||
        wisp_stream_set_user_size(s->listener, sizeof(struct req)))
        return -1;
    return wisp_stream_local_port(s->listener);
}

/* Server thread: the first picks the port, the second joins it; both run until
 * stopped, then tear down on their own thread. */
static void *server_main(void *arg)
{
    struct server *s = arg;
    wisp_stats_t st;
    int p, i;

    pthread_mutex_lock(&lock);
    while (s->index == 1 && !port)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    p = server_up(s, s->index == 0 ? 0 : port);
    pthread_mutex_lock(&lock);
    if (s->index == 0)
        port = p > 0 ? p : -1;
    ready += p > 0 ? 1 : 100;
    pthread_cond_broadcast(&cond);
    /* Both contexts exist before either serves: a job may go to the other at once. */
    while (ready < 2)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    if (ready == 2)
        wisp_run(s->cx);
    wisp_stream_destroy(s->listener);
    for (i = 0; i < 50 && s->cx; i++) {
        wisp_get_stats(s->cx, &st);
        if (!st.conns_live && !st.streams_live)
            break;
        wisp_service(s->cx, 20);
    }
    if (s->cx) {
        wisp_get_stats(s->cx, &st);
        s->heap_left = st.heap_in_use;
        /* Connections seen by this listener (the reuseport split). */
        s->conns_seen = st.conns_opened;
    }
    return NULL;
}

/* One HTTP/1.1 exchange on a blocking socket; 0 when a 200 with a matching
 * Content-Length body came back. */
static int exchange(int fd, int last)
{
    char buf[1024], req[96];
    size_t have = 0, need = 0;
    const char *end, *cl;
    ssize_t n;
    int len = snprintf(req, sizeof(req), "GET /work HTTP/1.1\r\nHost: x\r\n%s\r\n",
                       last ? "Connection: close\r\n" : "");

    if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len)
        return -1;
    for (;;) {
        n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        cl = strstr(buf, "Content-Length: ");
        if (!cl || cl > end)
            cl = strstr(buf, "content-length: ");
        if (!cl || cl > end || strncmp(buf, "HTTP/1.1 200 ", 13))
            return -1;
        need = (size_t)(end + 4 - buf) + (size_t)atoi(cl + 16);
        if (have >= need)
            return (have == need && strstr(end, "work ")) ? 0 : -1;
    }
}

static void *client_main(void *arg)
{
    int id = (int)(long)arg, c, q, fd;
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (c = 0; c < CONNS; c++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
            client_bad[id] += REQS;
            if (fd >= 0)
                close(fd);
            continue;
        }
        for (q = 0; q < REQS; q++) {
            if (exchange(fd, q == REQS - 1) == 0) {
                client_ok[id]++;
            } else {
                client_bad[id] += (unsigned long)(REQS - q);
                break;
            }
        }
        close(fd);
    }
    return NULL;
}

int main(void)
{
    pthread_t cl[CLIENTS];
    unsigned long ok = 0, bad = 0;
    int i, pass;

    for (i = 0; i < 2; i++) {
        srv[i].index = i;
        pthread_create(&srv[i].thread, NULL, server_main, &srv[i]);
    }
    pthread_mutex_lock(&lock);
    while (ready < 2)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    if (ready == 2) {
        for (i = 0; i < CLIENTS; i++)
            pthread_create(&cl[i], NULL, client_main, (void *)(long)i);
        for (i = 0; i < CLIENTS; i++)
            pthread_join(cl[i], NULL);
    }
    for (i = 0; i < 2; i++)
        if (srv[i].cx)
            wisp_stop(srv[i].cx);
    for (i = 0; i < 2; i++)
        pthread_join(srv[i].thread, NULL);
    for (i = 0; i < CLIENTS; i++) {
        ok += client_ok[i];
        bad += client_bad[i];
    }
    pass = ready == 2 && ok == TOTAL && !bad;
    for (i = 0; i < 2; i++) {
        printf("server %d (port %d): %lu connections, %lu requests, %lu jobs done for the other, "
               "%lu replies, %lu on a wrong thread, %lu failures, heap left %lu above idle\n",
               i, port, srv[i].conns_seen, srv[i].requests, srv[i].work_done, srv[i].replies,
               srv[i].wrong_thread, srv[i].failures,
               (unsigned long)(srv[i].heap_left - srv[i].heap_start));
        pass = pass && srv[i].conns_seen > 0 && srv[i].replies == srv[i].requests &&
               srv[i].work_done == srv[!i].requests && !srv[i].wrong_thread && !srv[i].failures &&
               srv[i].heap_left == srv[i].heap_start;
        wisp_context_destroy(srv[i].cx);
    }
    printf("requests answered 200: %lu of %d, failed %lu: %s\n", ok, TOTAL, bad,
           pass ? "PASS" : "FAIL");
    return pass ? 0 : 1;
}
