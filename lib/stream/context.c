/*
 * The public context lifecycle. It sits in lib/stream, the top of the dependency
 * chain, because creating a context means attaching a policy (lib/policy) on top of
 * the base context from lib/core, and destroying one means tearing down streams,
 * connections and vhosts before the core frees what is left.
 */
#include "core/core-internal.h"

int wisp_context_create(const wisp_context_info_t *info, wisp_context_t **out)
{
    wisp_context_t *cx;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!info || (info->policy && info->policy_json))
        return WISP_EINVAL;
    ret = wisp__context_new(info, &cx);
    if (ret)
        return ret;
    if (info->policy_json) {
        /* Attached once lib/policy's loader lands. */
        WISP_LOGE(cx, "JSON policies are not supported by this build yet");
        wisp__context_free(cx);
        return WISP_EUNSUPPORTED;
    }
    wisp__context_set_policy(cx, info->policy);
    *out = cx;
    return 0;
}

void wisp_context_destroy(wisp_context_t *cx)
{
    wisp__context_free(cx);
}
