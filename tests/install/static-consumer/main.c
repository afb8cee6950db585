/* Creates a context from a static policy compiled by the installed wisp-policy. */
#include <stdio.h>
#include <string.h>

#include <wisp.h>

#include "consumer_policy.h"

int main(void)
{
    wisp_context_info_t info;
    wisp_context_t *cx = NULL;
    int ret;

    memset(&info, 0, sizeof(info));
    info.policy = &consumer_policy;
    ret = wisp_context_create(&info, &cx);
    if (ret || wisp_context_policy(cx) != &consumer_policy) {
        fprintf(stderr, "wisp_context_create: %s\n", wisp_strerror(ret));
        return 1;
    }
    printf("static-consumer: context from the installed static-policy module\n");
    wisp_context_destroy(cx);
    return 0;
}
