#include <stdlib.h>
#include <string.h>

#include "testalloc.h"

/* Remember a live block's size; -1 if the table cannot grow. */
static int record(testalloc_t *ta, void *p, size_t size)
{
    testalloc_block_t *n;

    if (ta->nblocks == ta->blocks_cap) {
        n = realloc(ta->blocks, (ta->blocks_cap ? ta->blocks_cap * 2 : 256) * sizeof(*n));
        if (!n)
            return -1;
        ta->blocks = n;
        ta->blocks_cap = ta->blocks_cap ? ta->blocks_cap * 2 : 256;
    }
    ta->blocks[ta->nblocks].p = p;
    ta->blocks[ta->nblocks].size = size;
    ta->nblocks++;
    return 0;
}

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
    if (p && ta->on_free && record(ta, p, size)) {
        free(p);
        ta->live_blocks--;
        return NULL;
    }
    return p;
}

static void ta_free(void *user, void *ptr)
{
    testalloc_t *ta = user;
    size_t i;

    if (ptr)
        ta->live_blocks--;
    for (i = 0; ptr && ta->on_free && i < ta->nblocks; i++) {
        if (ta->blocks[i].p == ptr) {
            ta->on_free(ta->on_free_user, ptr, ta->blocks[i].size);
            ta->blocks[i] = ta->blocks[--ta->nblocks];
            break;
        }
    }
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

void testalloc_watch_frees(testalloc_t *ta, testalloc_free_cb cb, void *user)
{
    ta->on_free = cb;
    ta->on_free_user = user;
}

void testalloc_done(testalloc_t *ta)
{
    free(ta->blocks);
    ta->blocks = NULL;
    ta->nblocks = ta->blocks_cap = 0;
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
