/*
 * client-get: one HTTPS GET through a secure stream.
 *
 * The policy (policy.json) says everything about the request: host, port, URL, the
 * CA to trust, and a metadata slot "ctype" bound to the response header content-type.
 * The code only names the stream type "hello", starts a transaction and watches the
 * states go by. It prints the status, the header, the body and the context stats.
 *
 * usage: wisp-client-get [POLICY.json]
 */
#include <stdio.h>
#include <stdlib.h>

#include <wisp.h>

#ifndef POLICY_FILE
#define POLICY_FILE "policy.json"
#endif

static int status;   /* HTTP status of the response, 0 if none */
static int finished; /* the transaction is over, one way or another */

/* The whole file as a string, or NULL. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)size, f);
        buf[*len] = '\0';
    }
    if (f)
        fclose(f);
    return buf;
}

/* Body bytes, as they arrive: any number of calls, WISP_EOM on the last. */
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
    case WISP_STATE_ACK:  /* status in the policy's expect_status (200..299) */
    case WISP_STATE_NACK: /* any other status */
        status = arg;
        printf("status: %d\n", status);
        /* The response header the policy binds to the slot "ctype". */
        if (wisp_stream_get_metadata(*s, "ctype", &value, &len) == 0 && value)
            printf("content-type: %.*s\n", (int)len, (const char *)value);
        printf("body: ");
        break;
    case WISP_STATE_DONE: /* the body is complete */
        finished = 1;
        break;
    case WISP_STATE_CONNECTION_FAILED: /* no retry in this policy: each ends the run */
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

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : POLICY_FILE;
    wisp_context_info_t info = {0};
    wisp_stream_ops_t ops = {0};
    wisp_context_t *cx;
    wisp_stream_t *s = NULL;
    wisp_stats_t st;
    char json[512], *text;
    int ret;

    text = read_file(path, &info.policy_json_len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    info.policy_json = text;
    info.policy_name = path;               /* errors read "policy.json:12:5: streams.hello..." */
    ret = wisp_context_create(&info, &cx); /* parses the policy; logs any error */
    free(text);
    if (ret)
        return 1;

    ops.type = "hello"; /* the stream type in the policy */
    ops.rx = on_rx;
    ops.state = on_state;
    if (wisp_stream_create(cx, &ops, &s, &s) || wisp_stream_request_tx(s)) {
        wisp_context_destroy(cx);
        return 1;
    }
    while (!finished) /* the loop: DNS, TCP, TLS, HTTP, timers, callbacks */
        if (wisp_service(cx, 1000) < 0)
            break;

    wisp_stream_destroy(s); /* freed at the end of the next loop iteration */
    wisp_service(cx, 0);
    wisp_get_stats(cx, &st);
    if (wisp_stats_json(&st, json, sizeof(json)) > 0)
        printf("stats: %s\n", json);
    wisp_context_destroy(cx); /* closes the kept-alive connection, frees everything */
    return status == 200 ? 0 : 1;
}
