/*
 * The public context lifecycle. It sits in lib/stream, the top of the dependency
 * chain, because creating a context means attaching a policy (lib/policy) on top of
 * the base context from lib/core, and destroying one means tearing down streams,
 * connections and vhosts before the core frees what is left.
 */
#include <stddef.h>
#include <string.h>

#include "core/core-internal.h"
#include "http1/http1-internal.h"
#include "stream/stream-internal.h"
#include "wisp/policy.h"
#include "policy/policy-internal.h" /* wisp__policy_layout_check() */

#if WISP_WITH_JSON_POLICY
static void policy_destroy(wisp_context_t *cx, void *p)
{
    wisp_policy_t *policy = p;

    wisp_policy_free(cx, &policy);
}

#endif

static int attach_json(wisp_context_t *cx, const wisp_context_info_t *info)
{
#if WISP_WITH_JSON_POLICY
    wisp_policy_t *p = NULL;
    size_t len = info->policy_json_len ? info->policy_json_len : strlen(info->policy_json);
    int ret = wisp_policy_load_json(cx, info->policy_name ? info->policy_name : "policy",
                                    info->policy_json, len, &p, NULL);

    if (ret)
        return ret;
    wisp__context_set_policy(cx, p);
    wisp__slot_set(cx, WISP_SLOT_POLICY, p, policy_destroy);
    return 0;
#else
    (void)info;
    WISP_LOGE(cx, "this build has no JSON policy loader (WISP_WITH_JSON_POLICY=0): "
                  "use a static policy");
    return WISP_EUNSUPPORTED;
#endif
}

/* The info struct as this library knows it, from one the application was compiled
 * with (core.h, "Growing structs"): shorter is zero-filled, longer must end in
 * zeros. The first version ended at plat. */
static int info_take(const wisp_context_info_t *in, size_t size, wisp_context_info_t *info)
{
    const unsigned char *tail = (const unsigned char *)in;
    size_t i;

    if (size < offsetof(wisp_context_info_t, plat) + sizeof(in->plat))
        return WISP_EINVAL;
    memset(info, 0, sizeof(*info));
    for (i = sizeof(*info); i < size; i++)
        if (tail[i])
            return WISP_EUNSUPPORTED;
    memcpy(info, in, size < sizeof(*info) ? size : sizeof(*info));
    return 0;
}

int wisp_context_create_sized(const wisp_context_info_t *in, size_t size, wisp_context_t **out)
{
    wisp_context_info_t copy, *info = &copy;
    wisp_context_t *cx;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!in || (ret = info_take(in, size, &copy)) != 0)
        return in ? ret : WISP_EINVAL;
    if (info->policy && info->policy_json)
        return WISP_EINVAL;
    ret = wisp__context_new(info, &cx);
    if (ret)
        return ret;
    if (info->policy_json)
        ret = attach_json(cx, info);
    else if (!(ret = wisp__policy_layout_check(cx, info->policy)))
        wisp__context_set_policy(cx, info->policy);
    if (ret) {
        wisp__context_free(cx);
        return ret;
    }
    *out = cx;
    return 0;
}

void wisp_context_destroy(wisp_context_t *cx)
{
    if (!cx || wisp__context_dying(cx))
        return;
    if (wisp__context_defer_free(cx)) {
        /* From inside a callback: every stream hears DESTROYING now, and the loop
         * frees the context when this iteration ends (SPEC §5). */
#if WISP_WITH_CLIENT
        wisp__streams_destroy_all(cx);
#endif
        return;
    }
    wisp__context_free(cx);
}

int wisp_context_close_idle(wisp_context_t *cx)
{
    if (!cx)
        return 0;
#if WISP_WITH_CLIENT
    return wisp__h1_close_idle(cx);
#else
    return 0;
#endif
}
