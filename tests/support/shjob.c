#include "shjob.h"

#include <stdio.h>
#include <unistd.h>

static void job_done(wisp_context_t *cx, void *arg)
{
    (void)cx;
    ((shjob_t *)arg)->done = 1;
}

static void *run_job(void *arg)
{
    shjob_t *j = arg;
    FILE *p = popen(j->cmd, "r");
    size_t n;

    if (p) {
        while ((n = fread(j->out + j->len, 1, sizeof(j->out) - 1 - j->len, p)) > 0)
            j->len += n;
        pclose(p);
    }
    j->out[j->len] = '\0';
    while (wisp_post(j->cx, job_done, j) == WISP_EBUSY)
        usleep(1000);
    return NULL;
}

int shjob_start(shjob_t *j, wisp_context_t *cx)
{
    j->cx = cx;
    j->len = 0;
    j->done = 0;
    return pthread_create(&j->th, NULL, run_job, j);
}

void shjob_join(shjob_t *j)
{
    pthread_join(j->th, NULL);
}
