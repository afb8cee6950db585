/*
 * client-post: a request body produced on demand by the tx callback.
 *
 * The stream type "upload" POSTs to /count, which answers with a line of JSON that
 * says how many body bytes the server received: {"count":N,"page":P,"bytes":B}
 * (minimal-examples/server, or the nginx test fixture). One stream runs two
 * transactions: with the length announced (Content-Length), then without (chunked).
 * wisp pulls the body through tx in pieces of its choosing, so the application never
 * holds it whole; rx keeps the short answer and the program checks B.
 *
 * usage: wisp-client-post [POLICY.json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wisp.h>

#ifndef POLICY_FILE
#define POLICY_FILE "policy.json"
#endif

#define BODY_LEN 20000 /* bytes: more than one tx call */

typedef struct app {
    size_t sent;     /* body bytes sent in the current transaction */
    char answer[96]; /* the server's answer, NUL-terminated (truncated if longer) */
    size_t alen;
    int status, finished;
} app_t;

/* Byte i of the body: lines of the alphabet, as a sensor log might look. */
static uint8_t body_byte(size_t i)
{
    return i % 27 == 26 ? '\n' : (uint8_t)('a' + i % 27);
}

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

/* wisp asks for up to *len bytes; we say how many we wrote and flag the last ones. */
static int on_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    app_t *a = user;
    size_t n = 0;

    while (n < *len && a->sent < BODY_LEN)
        buf[n++] = body_byte(a->sent++);
    *len = n;
    if (a->sent == BODY_LEN)
        *flags |= WISP_EOM;
    return WISP_CB_OK;
}

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    app_t *a = user;

    (void)flags;
    if (len > sizeof(a->answer) - 1 - a->alen)
        len = sizeof(a->answer) - 1 - a->alen;
    memcpy(a->answer + a->alen, buf, len);
    a->alen += len;
    a->answer[a->alen] = '\0';
    return WISP_CB_OK;
}

/* The "bytes" figure of the answer, or -1 if it has none. */
static long bytes_received(const app_t *a)
{
    const char *p = strstr(a->answer, "\"bytes\":");

    return p ? strtol(p + 8, NULL, 10) : -1;
}

static int on_state(void *user, wisp_state_t state, int arg)
{
    app_t *a = user;

    if (state == WISP_STATE_ACK || state == WISP_STATE_NACK)
        a->status = arg;
    /* This policy has no retry, so a failure ends the transaction (wisp logs why). */
    if (state == WISP_STATE_DONE || state == WISP_STATE_CONNECTION_FAILED ||
        state == WISP_STATE_DISCONNECTED || state == WISP_STATE_TIMEOUT)
        a->finished = 1;
    return WISP_CB_OK;
}

/* One POST; chunked unless with_length. Returns 1 if the server got every byte. */
static int post(wisp_context_t *cx, wisp_stream_t *s, app_t *a, int with_length)
{
    long got;

    a->sent = a->alen = 0;
    a->answer[0] = '\0';
    a->status = a->finished = 0;
    if ((with_length ? wisp_stream_request_tx_len(s, BODY_LEN) : wisp_stream_request_tx(s)))
        return 0;
    while (!a->finished)
        if (wisp_service(cx, 1000) < 0)
            return 0;
    got = bytes_received(a);
    printf("POST %-15s status %d, sent %zu bytes, the server received %ld: %s\n",
           with_length ? "Content-Length:" : "chunked:", a->status, a->sent, got,
           got == BODY_LEN ? "all of them" : "WRONG");
    printf("  answer: %s", a->answer);
    if (!a->alen || a->answer[a->alen - 1] != '\n')
        printf("\n");
    return a->status == 200 && got == BODY_LEN;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : POLICY_FILE;
    wisp_context_info_t info = {0};
    wisp_stream_ops_t ops = {0};
    wisp_context_t *cx;
    wisp_stream_t *s;
    app_t a;
    char *text;
    int ok = 0, ret;

    if (!(text = read_file(path, &info.policy_json_len))) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    info.policy_json = text;
    info.policy_name = path;
    ret = wisp_context_create(&info, &cx);
    free(text);
    if (ret)
        return 1;

    ops.type = "upload";
    ops.tx = on_tx; /* a tx callback: this stream type sends a body */
    ops.rx = on_rx;
    ops.state = on_state;
    if (wisp_stream_create(cx, &ops, &a, &s) == 0) {
        ok = post(cx, s, &a, 1);       /* Content-Length: 20000 */
        ok = post(cx, s, &a, 0) && ok; /* Transfer-Encoding: chunked */
        wisp_stream_destroy(s);
    }
    wisp_context_destroy(cx);
    return ok ? 0 : 1;
}
