/*
 * client-static-policy: client-get with the policy compiled into the program.
 *
 * The build runs `wisp-policy compile policy.json` (CMake: wisp_add_static_policy),
 * which turns the JSON into const C: the CA certificate as a DER byte array, the
 * stream type as an initialised struct. This is how firmware carries its policy:
 * no file to read, no JSON parser linked, no heap spent on the policy (heap_in_use
 * is 0 before the first stream), certificates parsed straight from flash.
 *
 * Everything after wisp_context_create() is the same code as with a JSON policy.
 *
 * usage: wisp-client-static-policy
 */
#include <stdio.h>

#include <wisp.h>

#include "example_policy.h" /* generated: extern const wisp_policy_t example_policy; */

static int status, finished;

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    (void)user;
    (void)flags;
    if (len) /* the last call may bring only WISP_EOM, with buf NULL */
        fwrite(buf, 1, len, stdout);
    return WISP_CB_OK;
}

static int on_state(void *user, wisp_state_t state, int arg)
{
    wisp_stream_t **s = user;
    const void *value;
    size_t len;

    switch (state) {
    case WISP_STATE_ACK:
    case WISP_STATE_NACK:
        status = arg;
        printf("status: %d\n", status);
        if (wisp_stream_get_metadata(*s, "ctype", &value, &len) == 0 && value)
            printf("content-type: %.*s\n", (int)len, (const char *)value);
        printf("body: ");
        break;
    case WISP_STATE_DONE:
        finished = 1;
        break;
    case WISP_STATE_CONNECTION_FAILED: /* no retry in this policy */
    case WISP_STATE_DISCONNECTED:
    case WISP_STATE_TIMEOUT:
    case WISP_STATE_ALL_RETRIES_FAILED:
        fprintf(stderr, "%s: %s\n", wisp_state_name(state), wisp_strerror(arg));
        finished = 1;
        break;
    default:
        break;
    }
    return WISP_CB_OK;
}

static void print_stats(wisp_context_t *cx, const char *when)
{
    wisp_stats_t st;
    char json[512];

    wisp_get_stats(cx, &st);
    if (wisp_stats_json(&st, json, sizeof(json)) > 0)
        printf("%s: %s\n", when, json);
}

int main(void)
{
    wisp_context_info_t info = {0};
    wisp_stream_ops_t ops = {0};
    wisp_context_t *cx;
    wisp_stream_t *s = NULL;

    info.policy = &example_policy; /* const, lives as long as the program */
    if (wisp_context_create(&info, &cx))
        return 1;
    printf("policy \"%s\" in const data\n", example_policy.release);
    print_stats(cx, "before");

    ops.type = "hello";
    ops.rx = on_rx;
    ops.state = on_state;
    if (wisp_stream_create(cx, &ops, &s, &s) || wisp_stream_request_tx(s)) {
        wisp_context_destroy(cx);
        return 1;
    }
    while (!finished)
        if (wisp_service(cx, 1000) < 0)
            break;

    wisp_stream_destroy(s);
    wisp_service(cx, 0);
    print_stats(cx, "after");
    wisp_context_destroy(cx);
    return status == 200 ? 0 : 1;
}
