/*
 * The POSIX port resolves names on a bounded pool of threads (lib/plat/posix/posix.c).
 * 64 lookups of "localhost" are handed to the port's resolve() at once, and every
 * job's done() refuses (WISP_EBUSY, as a full post ring does) until the test opens a
 * gate, so each lookup holds its thread until then. With the gate shut at most
 * WISP_POSIX_RESOLVERS resolver threads may be alive (counted by the name the port
 * gives them, "wisp-resolve"); with a thread per lookup, as before the pool, the
 * process had 65 threads at that point (the test then counted every thread). Then: every job done
 * once, with a loopback address; the pool's threads gone after WISP_POSIX_RESOLVER_IDLE_MS without
 * work; and a lookup after that starts a thread again and is answered.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "wisp.h"

#define JOBS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int gate_open, done_calls, refused;
static wisp_resolve_job_t jobs[JOBS];

static int job_done(wisp_resolve_job_t *job)
{
    int ret = 0;

    (void)job;
    pthread_mutex_lock(&mu);
    if (!gate_open) {
        refused++;
        ret = WISP_EBUSY;
    } else {
        done_calls++;
    }
    pthread_mutex_unlock(&mu);
    return ret;
}

/* The port's resolver threads alive now: those named "wisp-resolve" (the port names
 * them; a sanitizer's own threads are not counted). */
static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[300], name[32] = "";
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r")) != NULL) {
            if (fgets(name, sizeof(name), f))
                n += !strncmp(name, "wisp-resolve", 12);
            fclose(f);
        }
    }
    closedir(d);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

static int locked(const int *v)
{
    int x;

    pthread_mutex_lock(&mu);
    x = *v;
    pthread_mutex_unlock(&mu);
    return x;
}

/* Wait (at most limit_ms) until the process is back to n threads. */
static int threads_back_to(int n, long limit_ms)
{
    long waited;

    for (waited = 0; waited < limit_ms; waited += 20) {
        if (threads_now() == n)
            return 1;
        sleep_ms(20);
    }
    return threads_now() == n;
}

static int is_loopback(const wisp_resolve_job_t *j)
{
    static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    size_t i;

    for (i = 0; i < j->count; i++)
        if ((j->addrs[i].family == 4 && j->addrs[i].ip[0] == 127) ||
            (j->addrs[i].family == 6 && !memcmp(j->addrs[i].ip, v6, 16)))
            return 1;
    return 0;
}

static void test_bounded_pool(void **state)
{
    const wisp_plat_ops_t *px = wisp_plat_posix();
    int base = threads_now(), peak = base, i, n;
    long waited;

    (void)state;
    for (i = 0; i < JOBS; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].host = "localhost";
        jobs[i].port = (uint16_t)(1000 + i);
        jobs[i].status = -1;
        jobs[i].done = job_done;
        assert_int_equal(px->resolve(px->user, &jobs[i]), 0);
    }
    /* Every running lookup now spins on the shut gate: the threads stay. Give the
     * pool time to reach its size (or, without a pool, every thread to start). */
    for (waited = 0; waited < 2000 && locked(&refused) < WISP_POSIX_RESOLVERS * 3; waited += 10) {
        n = threads_now();
        peak = n > peak ? n : peak;
        sleep_ms(10);
    }
    n = threads_now();
    peak = n > peak ? n : peak;
    print_message("resolver threads: %d before, %d at most with %d lookups waiting\n", base, peak,
                  JOBS);
    assert_true(peak - base >= 1);
    assert_true(peak - base <= WISP_POSIX_RESOLVERS);

    pthread_mutex_lock(&mu);
    gate_open = 1;
    pthread_mutex_unlock(&mu);
    for (waited = 0; waited < 10000 && locked(&done_calls) < JOBS; waited += 10)
        sleep_ms(10);
    assert_int_equal(locked(&done_calls), JOBS);
    for (i = 0; i < JOBS; i++) {
        assert_int_equal(jobs[i].status, 0);
        assert_true(jobs[i].count >= 1);
        assert_true(is_loopback(&jobs[i]));
        assert_int_equal(jobs[i].addrs[0].port, 1000 + i);
    }

    /* Idle for WISP_POSIX_RESOLVER_IDLE_MS: every pool thread leaves. */
    assert_true(threads_back_to(base, WISP_POSIX_RESOLVER_IDLE_MS + 3000));

    /* And the pool starts again for the next lookup. */
    memset(&jobs[0], 0, sizeof(jobs[0]));
    jobs[0].host = "localhost";
    jobs[0].port = 443;
    jobs[0].done = job_done;
    assert_int_equal(px->resolve(px->user, &jobs[0]), 0);
    for (waited = 0; waited < 5000 && locked(&done_calls) < JOBS + 1; waited += 10)
        sleep_ms(10);
    assert_int_equal(locked(&done_calls), JOBS + 1);
    assert_true(is_loopback(&jobs[0]));
    assert_true(threads_back_to(base, WISP_POSIX_RESOLVER_IDLE_MS + 3000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_pool),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
