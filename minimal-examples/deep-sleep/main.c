/*
 * deep-sleep: a device that wakes, does one HTTPS GET, and sleeps again, without
 * paying a full TLS handshake on every wake.
 *
 * Before "sleeping" (exiting) it saves the context's TLS sessions with
 * wisp_context_sessions_save() to a file; on the next start it loads them with
 * wisp_context_sessions_load() before creating its stream, so the connection
 * resumes the saved session. The file holds session secrets: it is written with
 * mode 0600 through a temporary file and rename(), and deleted once loaded (a blob is
 * good for one wake; the next save writes a fresh one). On a real device the blob
 * goes to RTC memory or encrypted flash instead.
 *
 * usage: wisp-deep-sleep [POLICY.json [SESSIONS_FILE [--expect-resumed]]]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wisp.h>

#ifndef POLICY_FILE
#define POLICY_FILE "policy.json"
#endif

static int status;   /* HTTP status of the response, 0 if none */
static int finished; /* the transaction is over, one way or another */

/* The whole file, or NULL (len set). */
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

/* Wake: the sessions the last run saved, if any. */
static void load_sessions(wisp_context_t *cx, const char *path)
{
    size_t len = 0;
    char *blob = read_file(path, &len);
    int ret;

    if (!blob) {
        printf("sessions: none saved (%s), a full handshake follows\n", path);
        return;
    }
    ret = wisp_context_sessions_load(cx, blob, len);
    printf("sessions: loaded %lu bytes from %s: %s\n", (unsigned long)len, path,
           ret ? wisp_strerror(ret) : "ok");
    memset(blob, 0, len); /* secrets */
    free(blob);
    unlink(path); /* used once; the save before sleeping writes a fresh one */
}

/* Sleep: save the sessions, secret file, written whole or not at all. */
static int save_sessions(wisp_context_t *cx, const char *path)
{
    char tmp[1024];
    size_t len = 0;
    unsigned char *blob;
    int fd, ok = 0;

    if (wisp_context_sessions_save(cx, NULL, 0, &len) || !(blob = malloc(len)))
        return -1;
    if (wisp_context_sessions_save(cx, blob, len, &len) == 0) {
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            ok = write(fd, blob, len) == (ssize_t)len && fsync(fd) == 0;
            ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
            if (!ok)
                unlink(tmp);
        }
    }
    memset(blob, 0, len);
    free(blob);
    if (ok)
        printf("sessions: saved %lu bytes to %s\n", (unsigned long)len, path);
    return ok ? 0 : -1;
}

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    (void)user;
    (void)flags;
    if (len)
        fwrite(buf, 1, len, stdout);
    return WISP_CB_OK;
}

static int on_state(void *user, wisp_state_t state, int arg)
{
    (void)user;
    switch (state) {
    case WISP_STATE_ACK:
    case WISP_STATE_NACK:
        status = arg;
        printf("status: %d\nbody: ", status);
        break;
    case WISP_STATE_DONE:
        finished = 1;
        break;
    case WISP_STATE_CONNECTION_FAILED:
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
    const char *sessions = argc > 2 ? argv[2] : "deep-sleep.sessions";
    int expect_resumed = argc > 3 && !strcmp(argv[3], "--expect-resumed");
    wisp_context_info_t info = {0};
    wisp_stream_ops_t ops = {0};
    wisp_context_t *cx;
    wisp_stream_t *s = NULL;
    wisp_stats_t st;
    char *text;
    int ret;

    text = read_file(path, &info.policy_json_len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    info.policy_json = text;
    info.policy_name = path;
    ret = wisp_context_create(&info, &cx);
    free(text);
    if (ret)
        return 1;

    load_sessions(cx, sessions); /* before the first stream: its vhost takes them */
    ops.type = "hello";
    ops.rx = on_rx;
    ops.state = on_state;
    if (wisp_stream_create(cx, &ops, NULL, &s) || wisp_stream_request_tx(s)) {
        wisp_context_destroy(cx);
        return 1;
    }
    while (!finished)
        if (wisp_service(cx, 1000) < 0)
            break;

    /* While the stream lives, its vhost (and the session) does too. */
    if (save_sessions(cx, sessions))
        fprintf(stderr, "sessions: not saved\n");
    wisp_get_stats(cx, &st);
    printf("handshake: %s (handshakes_full %u, handshakes_resumed %u), heap_peak %lu\n",
           st.handshakes_resumed ? "resumed" : "full", (unsigned)st.handshakes_full,
           (unsigned)st.handshakes_resumed, (unsigned long)st.heap_peak);
    wisp_stream_destroy(s);
    wisp_context_destroy(cx); /* then deep sleep */
    if (status != 200 || (expect_resumed && st.handshakes_resumed != 1))
        return 1;
    return 0;
}
