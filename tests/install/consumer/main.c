/* A program outside the wisp tree, built against an installed wisp. */
#include <stdio.h>
#include <string.h>

#include <wisp.h>

int main(void)
{
    wisp_context_info_t info;
    wisp_context_t *cx = NULL;
    int ret;

    memset(&info, 0, sizeof(info));
    ret = wisp_context_create(&info, &cx);
    if (ret) {
        fprintf(stderr, "wisp_context_create: %s\n", wisp_strerror(ret));
        return 1;
    }
    ret = wisp_service(cx, 0);
    printf("consumer: wisp with mbedTLS %s, service: %s\n", wisp_tls_version(), wisp_strerror(ret));
    wisp_context_destroy(cx);
    return ret ? 1 : 0;
}
