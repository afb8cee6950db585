#include <stdlib.h>
#include <string.h>

#include "testalloc.h"

static void *ta_alloc(void *user, size_t size)
{
    testalloc_t *ta = user;
    void *p;

    ta->calls++;
    if (ta->fail_at && ta->calls == ta->fail_at) {
        ta->failed++;
        return NULL;
    }
    p = malloc(size);
    if (p)
        ta->live_blocks++;
    return p;
}

static void ta_free(void *user, void *ptr)
{
    testalloc_t *ta = user;

    if (ptr)
        ta->live_blocks--;
    free(ptr);
}

void testalloc_init(testalloc_t *ta, size_t fail_at)
{
    memset(ta, 0, sizeof(*ta));
    ta->a.alloc = ta_alloc;
    ta->a.free = ta_free;
    ta->a.user = ta;
    ta->fail_at = fail_at;
}

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

int testalloc_context(testalloc_t *ta, const char *policy_json, wisp_context_t **cx)
{
    return testalloc_context_plat(ta, policy_json, NULL, cx);
}

int testalloc_context_plat(testalloc_t *ta, const char *policy_json, const wisp_plat_ops_t *plat,
                           wisp_context_t **cx)
{
    wisp_context_info_t info;

    memset(&info, 0, sizeof(info));
    info.allocator = &ta->a;
    info.policy_json = policy_json;
    info.policy_json_len = policy_json ? strlen(policy_json) : 0;
    info.log = getenv("WISP_TEST_LOG") ? NULL : quiet;
    info.log_level = getenv("WISP_TEST_LOG") ? WISP_LOG_DEBUG : WISP_LOG_ERROR;
    info.log_level_set = 1;
    info.plat = plat;
    return wisp_context_create(&info, cx);
}
