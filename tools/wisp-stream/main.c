/*
 * wisp-stream: run any client stream type of a policy from the shell, as curl does
 * for URLs. This is how a developer tries a policy on a Linux board before it goes
 * into firmware: the same JSON, the same runtime, no application code.
 *
 * One run: load the policy into a context, create --count streams of the type at
 * once, set their metadata, start one transaction on each and run the loop until
 * every stream has finished it. Response bodies go to stdout; -v narrates on stderr.
 *
 * Bodies of several streams must not interleave on stdout. The first stream whose
 * body starts arriving owns stdout and writes straight through; bodies of the others
 * are held in memory until it finishes, then written whole, in the order they
 * completed. With reuse (the h1 default) transactions run one after another on one
 * connection, so nothing is held and memory stays flat whatever the body sizes.
 *
 * A stream has finished its transaction at its cycle's one terminal state (SPEC §6):
 * DONE, ALL_RETRIES_FAILED or TIMEOUT (or DESTROYING). The run counts finished
 * streams, so deciding that all are done costs nothing per iteration, and no extra
 * iteration is needed to be sure. Held bodies wait in two FIFOs (complete, in the
 * order they completed; still arriving, in the order they started), so handing
 * stdout on is O(1) per body whatever --count is.
 *
 * At exit the streams are destroyed and idle kept-alive connections closed at once
 * (wisp_context_close_idle, with close_notify), so --stats shows what is left only
 * of a trust store's linger_ms; --drain waits for that too.
 *
 * On a terminal, a run longer than a second shows a one-line progress meter on stderr
 * (body bytes, rate, elapsed, streams finished), redrawn in place as curl does, and
 * ended with a newline when the run ends. Never when stderr is not a TTY, when the
 * bodies go to the terminal too (curl's rule: they would mix), with -v (whose
 * narration shares stderr) or with --no-progress.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wisp.h>

/* Exit statuses, as --help documents them. */
#define EXIT_NACK 1
#define EXIT_FAIL 2
#define EXIT_USAGE 64
#define EXIT_POLICY 65
#define EXIT_NOINPUT 66
#define EXIT_INTERRUPTED 130

#define COUNT_MAX 10000u
#define META_ARGS_MAX 32
#define POLICY_FILE_MAX (4u << 20)   /* a policy of 64 certificates is about 1 MiB */
#define HOLD_MAX ((size_t)256 << 20) /* body bytes held back from stdout, all streams */
#define GRACE_MS 1000                /* --timeout: wait this much longer for wisp */
#define PROGRESS_AFTER_MS 1000       /* the meter appears once a run is this long */
#define PROGRESS_EVERY_MS 250        /* and is redrawn at most this often */

static const char usage_text[] =
    "usage: wisp-stream POLICY.json STREAM [options]\n"
    "\n"
    "Run client stream type STREAM of the policy in POLICY.json once, as curl does\n"
    "for a URL: connect as the policy says, send the request, print the response\n"
    "body on stdout.\n"
    "\n"
    "options:\n"
    "  --meta NAME=VALUE  set metadata slot NAME (repeatable). A slot bound to a\n"
    "                     header is sent as that request header; any slot may be used\n"
    "                     as ${NAME} in the policy's endpoint and url.\n"
    "  --data FILE        send FILE as the request body, with Content-Length\n"
    "                     (a FIFO or other non-regular file goes chunked)\n"
    "  --data -           send stdin as the request body, chunked (with --count 1)\n"
    "  --count N          create N streams of the type at once (1..10000, default 1).\n"
    "                     Bodies are not interleaved: each is printed whole, the first\n"
    "                     one as it arrives, the others held in memory until the\n"
    "                     stdout is free, in the order they completed.\n"
    "  --timeout MS       give each transaction MS milliseconds (in place of the\n"
    "                     policy's timeout_ms); the tool gives up 1 s after that\n"
    "  --stats            print the context statistics as one JSON object on stderr\n"
    "                     at exit, after every stream was destroyed. heap_in_use then\n"
    "                     counts the parsed policy, and connections still kept alive\n"
    "                     (keepalive_ms) with their vhosts, unless --drain\n"
    "  --drain            after the last stream, run the loop until kept-alive\n"
    "                     connections have closed and lingering vhosts are freed, so\n"
    "                     --stats shows the heap back at the policy's own figure\n"
    "  --no-progress      no progress meter (drawn on stderr only when it is a\n"
    "                     terminal and stdout is not, the run lasts over a second\n"
    "                     and there is no -v)\n"
    "  -v                 print state changes, status and response headers (the\n"
    "                     policy's metadata slots that have a value) on stderr;\n"
    "                     -vv adds wisp's info log, -vvv its debug log\n"
    "  -h, --help         this text\n"
    "\n"
    "A body of a transaction that is retried (GET after a lost connection) is printed\n"
    "again from its start after what had arrived; stdin cannot be sent twice.\n"
    "\n"
    "exit status:\n"
    "   0  every stream got a status in the policy's expect_status (ACK), then DONE\n"
    "   1  some stream got a status outside it (NACK), none failed\n"
    "   2  some stream failed: CONNECTION_FAILED, ALL_RETRIES_FAILED, TIMEOUT,\n"
    "      DISCONNECTED, or an error creating it or writing stdout\n"
    "  64  usage error: bad option, unknown or server stream type, unknown metadata\n"
    "      slot or a value the slot refuses\n"
    "  65  the policy cannot be read or has errors (listed on stderr)\n"
    "  66  the --data file cannot be read (or stdin is closed)\n"
    " 130  interrupted (SIGINT or SIGTERM)\n";

typedef struct meta_arg {
    const char *name;
    size_t name_len;
    const char *value;
} meta_arg_t;

typedef struct opts {
    const char *policy_path;
    const char *type;
    const char *data; /* NULL, "-" or a path */
    meta_arg_t meta[META_ARGS_MAX];
    unsigned meta_count;
    unsigned long count;
    unsigned long timeout_ms;
    int stats;
    int drain;
    int no_progress;
    int verbose;
} opts_t;

struct run;

/* One stream of the run and its transaction. */
typedef struct tstream {
    struct run *run;
    wisp_stream_t *s;
    unsigned id;          /* 1-based, for messages */
    FILE *body;           /* --data FILE, opened at the first tx call */
    uint64_t body_left;   /* bytes still to send when the length is known */
    uint64_t body_sent;   /* bytes sent in this attempt */
    wisp_state_t end;     /* the state that finished the transaction */
    wisp_state_t outcome; /* ACK or NACK of the last response, or 0 */
    wisp_state_t failed;  /* the last failure state seen, or 0 */
    int error;            /* its error code */
    uint8_t finished;
    uint8_t rx_done;     /* the body's EOM arrived */
    uint8_t held_queued; /* on the run's holding or done FIFO */
    uint8_t *held;       /* body held back while another stream owns stdout */
    size_t held_len, held_cap;
    struct tstream *hnext, *hprev; /* links of that FIFO */
} tstream_t;

/* A FIFO of streams with held bodies. */
typedef struct hlist {
    tstream_t *head, *tail;
} hlist_t;

typedef struct run {
    const opts_t *o;
    wisp_context_t *cx;
    const wisp_policy_stream_t *type;
    tstream_t *ts;
    unsigned n;
    int64_t data_len; /* --data length, -1 when unknown (chunked) */
    tstream_t *owner; /* whose body is being written to stdout */
    size_t held_total;
    hlist_t holding;    /* held bodies still arriving, in the order they started */
    hlist_t done;       /* held bodies complete, in the order they completed */
    unsigned nfinished; /* streams whose transaction has finished */
    uint64_t t0;
    size_t heap_policy; /* heap_in_use of the fresh context: the parsed policy */
    int stop;           /* stdout failed: stop waiting */
    int progress;       /* draw the progress meter (stderr is a terminal) */
    int meter_shown;    /* it has been drawn: end its line at the end */
    uint64_t rx_bytes;  /* body bytes received, all streams */
    uint64_t meter_ms;  /* when it was last drawn */
} run_t;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- Command line ---------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) WISP_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("wisp-stream: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(wisp-stream --help for usage)\n", stderr);
    return EXIT_USAGE;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The value of option `name` given as "--name VALUE" or "--name=VALUE", or NULL when
 * argv[*i] is not that option. Advances *i over a separate value. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int add_meta(opts_t *o, const char *arg)
{
    const char *eq = strchr(arg, '=');

    if (!eq || eq == arg)
        return usage_error("--meta wants NAME=VALUE, not \"%s\"", arg);
    if (o->meta_count == META_ARGS_MAX)
        return usage_error("at most %d --meta options", META_ARGS_MAX);
    o->meta[o->meta_count].name = arg;
    o->meta[o->meta_count].name_len = (size_t)(eq - arg);
    o->meta[o->meta_count].value = eq + 1;
    o->meta_count++;
    return 0;
}

/* 0 to run, -1 after --help, or an exit status. */
static int parse_args(int argc, char **argv, opts_t *o)
{
    const char *v;
    int i, missing = 0, positional = 0, only_args = 0, ret;

    memset(o, 0, sizeof(*o));
    o->count = 1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (positional == 0)
                o->policy_path = a;
            else if (positional == 1)
                o->type = a;
            else
                return usage_error("unexpected argument \"%s\"", a);
            positional++;
        } else if (!strcmp(a, "--")) {
            only_args = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(a, "--stats")) {
            o->stats = 1;
        } else if (!strcmp(a, "--drain")) {
            o->drain = 1;
        } else if (!strcmp(a, "--no-progress")) {
            o->no_progress = 1;
        } else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
            o->verbose += (int)strlen(a + 1);
        } else if ((v = opt_value(argc, argv, &i, "--meta", &missing)) != NULL) {
            if ((ret = add_meta(o, v)) != 0)
                return ret;
        } else if ((v = opt_value(argc, argv, &i, "--data", &missing)) != NULL) {
            if (!*v)
                return usage_error("--data wants a file name or -");
            o->data = v;
        } else if ((v = opt_value(argc, argv, &i, "--count", &missing)) != NULL) {
            if (parse_ulong(v, 1, COUNT_MAX, &o->count))
                return usage_error("--count wants a number from 1 to 10000, not \"%s\"", v);
        } else if ((v = opt_value(argc, argv, &i, "--timeout", &missing)) != NULL) {
            if (parse_ulong(v, 1, 86400000ul, &o->timeout_ms))
                return usage_error("--timeout wants milliseconds (1..86400000), not \"%s\"", v);
        } else if (missing) {
            return usage_error("%s needs a value", a);
        } else {
            return usage_error("unknown option \"%s\"", a);
        }
    }
    if (positional < 2)
        return usage_error("%s", positional ? "missing STREAM" : "missing POLICY.json and STREAM");
    if (o->data && !strcmp(o->data, "-") && o->count > 1)
        return usage_error("--data - reads stdin once: it needs --count 1");
    return 0;
}

/* ---- Input files ----------------------------------------------------------------- */

/* The whole file, NUL-terminated, or NULL with a message. */
static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, *p;
    size_t cap = 0, n;

    *len = 0;
    if (!f) {
        fprintf(stderr, "wisp-stream: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    do {
        if (cap - *len < 4096) {
            cap = cap ? cap * 2 : 16384;
            p = *len < max ? realloc(buf, cap + 1) : NULL;
            if (!p) {
                fprintf(stderr, "wisp-stream: %s: %s\n", path,
                        *len < max ? "out of memory" : "larger than 4 MiB");
                goto fail;
            }
            buf = p;
        }
        n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
    } while (n > 0);
    if (ferror(f)) {
        fprintf(stderr, "wisp-stream: %s: read error\n", path);
        goto fail;
    }
    fclose(f);
    buf[*len] = '\0';
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* --data: the body's length (-1 for stdin and non-regular files), or an exit status
 * in *status. */
static int64_t data_length(const char *path, int *status)
{
    struct stat sb;
    FILE *f = NULL;
    int ok;

    *status = 0;
    if (!path)
        return -1;
    /* A closed stdin would let read(0) steal from whatever wisp opens as fd 0. */
    if (!strcmp(path, "-"))
        ok = fstat(STDIN_FILENO, &sb) == 0;
    else
        ok = (f = fopen(path, "rb")) != NULL && fstat(fileno(f), &sb) == 0;
    if (ok && S_ISDIR(sb.st_mode)) {
        ok = 0;
        errno = EISDIR;
    }
    if (!ok)
        fprintf(stderr, "wisp-stream: %s: %s\n", strcmp(path, "-") ? path : "stdin",
                strerror(errno));
    if (f)
        fclose(f);
    if (!ok)
        *status = EXIT_NOINPUT;
    return ok && strcmp(path, "-") && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
}

/* ---- The progress meter ----------------------------------------------------------- */

/* n bytes as "812 B", "12.3 KiB", "4.56 MiB"... */
static void human_bytes(char *buf, size_t len, double n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;

    while (n >= 1024.0 && u < 4) {
        n /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.*f %s", u == 0 ? 0 : n < 10.0 ? 2 : n < 100.0 ? 1 : 0, n, units[u]);
}

/* One line, redrawn in place: bytes, rate, elapsed, streams finished. */
static void progress_draw(run_t *r, uint64_t now)
{
    char got[32], rate[32], line[128];
    uint64_t ms = now - r->t0, sec = ms / 1000;

    human_bytes(got, sizeof(got), (double)r->rx_bytes);
    human_bytes(rate, sizeof(rate), ms ? (double)r->rx_bytes * 1000.0 / (double)ms : 0.0);
    snprintf(line, sizeof(line), "%s  %s/s  %u:%02u:%02u  %u/%u done", got, rate,
             (unsigned)(sec / 3600), (unsigned)(sec / 60 % 60), (unsigned)(sec % 60), r->nfinished,
             r->n);
    /* Padded, so that a shorter line covers a longer one. */
    fprintf(stderr, "\r%-60s", line);
    fflush(stderr);
    r->meter_ms = now;
    r->meter_shown = 1;
}

static void progress_tick(run_t *r)
{
    uint64_t now;

    if (!r->progress)
        return;
    now = wisp_now_ms(r->cx);
    if (now - r->t0 < PROGRESS_AFTER_MS ||
        (r->meter_shown && now - r->meter_ms < PROGRESS_EVERY_MS))
        return;
    progress_draw(r, now);
}

/* The final figures and a newline, before anything else goes to stderr. */
static void progress_end(run_t *r)
{
    if (!r->meter_shown)
        return;
    progress_draw(r, wisp_now_ms(r->cx));
    fputc('\n', stderr);
    r->meter_shown = 0;
}

/* ---- Response bodies on stdout --------------------------------------------------- */

static void out_write(run_t *r, const uint8_t *buf, size_t len)
{
    if (r->stop || !len)
        return;
    /* With -v, flush so that bodies and the narration on stderr keep their order. */
    if (fwrite(buf, 1, len, stdout) != len || (r->o->verbose && fflush(stdout) != 0)) {
        progress_end(r);
        fprintf(stderr, "wisp-stream: writing stdout: %s\n", strerror(errno));
        r->stop = 1;
    }
}

static void hl_push(hlist_t *l, tstream_t *t)
{
    t->hnext = NULL;
    t->hprev = l->tail;
    if (l->tail)
        l->tail->hnext = t;
    else
        l->head = t;
    l->tail = t;
    t->held_queued = 1;
}

static void hl_remove(hlist_t *l, tstream_t *t)
{
    if (t->hprev)
        t->hprev->hnext = t->hnext;
    else
        l->head = t->hnext;
    if (t->hnext)
        t->hnext->hprev = t->hprev;
    else
        l->tail = t->hprev;
    t->hnext = t->hprev = NULL;
    t->held_queued = 0;
}

/* Forget a held body (a retry sends the request again, and the answer comes again). */
static void held_drop(tstream_t *t)
{
    run_t *r = t->run;

    if (t->held_queued)
        hl_remove(t->rx_done ? &r->done : &r->holding, t);
    r->held_total -= t->held_len;
    free(t->held);
    t->held = NULL;
    t->held_len = t->held_cap = 0;
}

static void held_write(tstream_t *t)
{
    out_write(t->run, t->held, t->held_len);
    held_drop(t);
}

static int hold(tstream_t *t, const uint8_t *buf, size_t len)
{
    run_t *r = t->run;
    uint8_t *p;
    size_t cap;

    if (!len) /* buf may be NULL then */
        return 0;
    if (len > HOLD_MAX - r->held_total) {
        fprintf(stderr, "wisp-stream: [%u] more than 256 MiB of bodies held back\n", t->id);
        return -1;
    }
    if (len > t->held_cap - t->held_len) {
        cap = t->held_cap ? t->held_cap : 16384;
        while (cap - t->held_len < len)
            cap *= 2;
        p = realloc(t->held, cap);
        if (!p)
            return -1;
        t->held = p;
        t->held_cap = cap;
    }
    memcpy(t->held + t->held_len, buf, len);
    t->held_len += len;
    r->held_total += len;
    if (!t->held_queued)
        hl_push(&r->holding, t);
    return 0;
}

/* A held body is complete: it moves to the done FIFO. */
static void held_complete(tstream_t *t)
{
    if (t->held_queued) {
        hl_remove(&t->run->holding, t);
        hl_push(&t->run->done, t);
    }
}

/* The owner of stdout is done: write the held bodies that are complete, in the order
 * they completed, then let the body that started arriving first take over stdout.
 * With all set, write every held body (the end of the run). */
static void release_stdout(run_t *r, int all)
{
    r->owner = NULL;
    while (r->done.head)
        held_write(r->done.head);
    while (r->holding.head) {
        tstream_t *t = r->holding.head;

        held_write(t);
        if (!all) {
            r->owner = t;
            return;
        }
    }
}

/* ---- Callbacks --------------------------------------------------------------------- */

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    tstream_t *t = user;
    run_t *r = t->run;

    r->rx_bytes += len;
    if (!r->owner)
        r->owner = t;
    if (r->owner == t)
        out_write(r, buf, len);
    else if (hold(t, buf, len))
        r->stop = 1;
    if (flags & WISP_EOM) {
        held_complete(t);
        t->rx_done = 1;
        if (r->owner == t)
            release_stdout(r, 0);
    }
    return WISP_CB_OK;
}

static int on_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    tstream_t *t = user;
    run_t *r = t->run;
    size_t want = *len, got;
    ssize_t n;

    if (r->data_len >= 0 && want > t->body_left)
        want = (size_t)t->body_left;
    if (!strcmp(r->o->data, "-")) {
        do {
            n = read(STDIN_FILENO, buf, want);
        } while (n < 0 && errno == EINTR && !interrupted);
        if (n < 0) {
            fprintf(stderr, "wisp-stream: reading stdin: %s\n", strerror(errno));
            return WISP_ECANCELED;
        }
        got = (size_t)n;
    } else {
        if (!t->body && !(t->body = fopen(r->o->data, "rb"))) {
            fprintf(stderr, "wisp-stream: %s: %s\n", r->o->data, strerror(errno));
            return WISP_ECANCELED;
        }
        got = fread(buf, 1, want, t->body);
        if (ferror(t->body)) {
            fprintf(stderr, "wisp-stream: %s: read error\n", r->o->data);
            return WISP_ECANCELED;
        }
    }
    *len = got;
    t->body_sent += got;
    if (r->data_len < 0) {
        if (got == 0 && want > 0)
            *flags |= WISP_EOM;
        return 0;
    }
    t->body_left -= got;
    if (t->body_left == 0) {
        *flags |= WISP_EOM;
    } else if (got == 0 && want > 0) {
        fprintf(stderr, "wisp-stream: %s: shorter than when it was opened\n", r->o->data);
        return WISP_ECANCELED;
    }
    return 0;
}

/* Printable bytes of a header value as is, anything else as '?'. */
static void put_clean(const char *v, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        fputc(v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?', stderr);
}

static void print_metadata(const tstream_t *t)
{
    const wisp_policy_stream_t *type = t->run->type;
    const void *v;
    size_t i, len;

    for (i = 0; i < type->metadata_count; i++) {
        const wisp_policy_meta_t *m = &type->metadata[i];
        if (wisp_stream_get_metadata(t->s, m->name, &v, &len) || !v)
            continue;
        if (m->header)
            fprintf(stderr, "< [%u] %s: ", t->id, m->header);
        else
            fprintf(stderr, "* [%u] metadata %s = ", t->id, m->name);
        put_clean(v, len);
        fputc('\n', stderr);
    }
}

static void print_state(const tstream_t *t, wisp_state_t st, int arg)
{
    run_t *r = t->run;

    fprintf(stderr, "* [%u] +%llu ms %s", t->id, (unsigned long long)(wisp_now_ms(r->cx) - r->t0),
            wisp_state_name(st));
    switch (st) {
    case WISP_STATE_ACK:
    case WISP_STATE_NACK:
        fprintf(stderr, " %d", arg);
        break;
    case WISP_STATE_RETRYING:
        fprintf(stderr, " in %d ms", arg);
        break;
    case WISP_STATE_CONNECTION_FAILED:
    case WISP_STATE_ALL_RETRIES_FAILED:
    case WISP_STATE_TIMEOUT:
    case WISP_STATE_DISCONNECTED:
        if (arg < 0)
            fprintf(stderr, ": %s (%s)", wisp_errname(arg), wisp_strerror(arg));
        break;
    default:
        break;
    }
    fputc('\n', stderr);
}

static void finish(tstream_t *t, wisp_state_t st)
{
    if (!t->finished)
        t->run->nfinished++;
    t->finished = 1;
    t->end = st;
    if (t->run->owner == t)
        release_stdout(t->run, 0);
}

static int on_state(void *user, wisp_state_t st, int arg)
{
    tstream_t *t = user;

    if (t->run->o->verbose)
        print_state(t, st, arg);
    switch (st) {
    case WISP_STATE_ACK:
    case WISP_STATE_NACK:
        t->outcome = st;
        if (t->run->o->verbose)
            print_metadata(t);
        break;
    case WISP_STATE_RETRYING:
        /* The whole request goes again, and the whole response comes again. */
        t->outcome = 0;
        if (t->run->owner != t)
            held_drop(t);
        t->rx_done = 0;
        if (t->body_sent && !strcmp(t->run->o->data ? t->run->o->data : "", "-")) {
            fprintf(stderr, "wisp-stream: [%u] cannot send stdin again\n", t->id);
            return WISP_CB_DESTROY;
        }
        if (t->body)
            rewind(t->body);
        t->body_left = t->run->data_len < 0 ? 0 : (uint64_t)t->run->data_len;
        t->body_sent = 0;
        break;
    case WISP_STATE_CONNECTION_FAILED:
    case WISP_STATE_DISCONNECTED:
        t->failed = st; /* reported at the end when it finishes the transaction */
        t->error = arg;
        break;
    case WISP_STATE_DONE:
    case WISP_STATE_ALL_RETRIES_FAILED:
    case WISP_STATE_TIMEOUT:
        if (st != WISP_STATE_DONE) {
            t->failed = st;
            t->error = arg;
        }
        finish(t, st); /* the cycle's one terminal state */
        break;
    case WISP_STATE_DESTROYING:
        if (!t->finished)
            finish(t, st);
        t->s = NULL;
        break;
    default:
        break;
    }
    return WISP_CB_OK;
}

/* ---- The run ----------------------------------------------------------------------- */

static void list_types(const wisp_policy_t *p)
{
    size_t i;

    fputs("client stream types in the policy:", stderr);
    for (i = 0; i < p->stream_count; i++)
        if (!p->streams[i].server)
            fprintf(stderr, " %s", p->streams[i].name);
    fputc('\n', stderr);
}

/* Checks STREAM and every --meta name against the policy: 0 or EXIT_USAGE. */
static int check_names(run_t *r)
{
    const wisp_policy_t *p = wisp_context_policy(r->cx);
    const opts_t *o = r->o;
    unsigned i;
    size_t j;

    r->type = wisp_policy_stream_find(p, o->type);
    if (!r->type || r->type->server) {
        fprintf(stderr, "wisp-stream: %s: %s stream type \"%s\"\n", o->policy_path,
                r->type ? "cannot run the server" : "no", o->type);
        list_types(p);
        return EXIT_USAGE;
    }
    for (i = 0; i < o->meta_count; i++) {
        if (wisp_policy_meta_find(r->type, o->meta[i].name, o->meta[i].name_len))
            continue;
        fprintf(stderr, "wisp-stream: stream type \"%s\" has no metadata slot \"%.*s\";", o->type,
                (int)o->meta[i].name_len, o->meta[i].name);
        if (!r->type->metadata_count)
            fputs(" it has none", stderr);
        for (j = 0; j < r->type->metadata_count; j++)
            fprintf(stderr, " %s", r->type->metadata[j].name);
        fputc('\n', stderr);
        return EXIT_USAGE;
    }
    return 0;
}

static void describe(const run_t *r)
{
    const wisp_policy_stream_t *s = r->type;

    fprintf(stderr, "* stream type %s: %s %s://%s:%u%s", s->name,
            wisp_policy_method_name(s->method), s->tls ? "https" : "http", s->endpoint,
            (unsigned)s->port, s->url);
    if (s->trust_store)
        fprintf(stderr, " (trust store %s)", s->trust_store->name);
    if (r->data_len >= 0)
        fprintf(stderr, ", body %lld bytes", (long long)r->data_len);
    else if (r->o->data)
        fputs(", body chunked", stderr);
    fprintf(stderr, ", %u stream%s\n", r->n, r->n == 1 ? "" : "s");
}

/* Creates every stream, sets its metadata, starts its transaction. */
static int start_streams(run_t *r, wisp_stream_ops_t *ops)
{
    const opts_t *o = r->o;
    char name[WISP_POLICY_NAME_MAX + 1];
    unsigned i, m;
    int ret;

    for (i = 0; i < r->n; i++) {
        tstream_t *t = &r->ts[i];
        t->run = r;
        t->id = i + 1;
        t->body_left = r->data_len < 0 ? 0 : (uint64_t)r->data_len;
        ret = wisp_stream_create(r->cx, ops, t, &t->s);
        if (ret) {
            fprintf(stderr, "wisp-stream: [%u] creating a %s stream: %s\n", t->id, o->type,
                    wisp_strerror(ret));
            return EXIT_FAIL;
        }
        for (m = 0; m < o->meta_count; m++) {
            snprintf(name, sizeof(name), "%.*s", (int)o->meta[m].name_len, o->meta[m].name);
            ret = wisp_stream_set_metadata(t->s, name, o->meta[m].value, strlen(o->meta[m].value));
            if (ret) {
                fprintf(stderr, "wisp-stream: --meta %s: %s\n", name, wisp_strerror(ret));
                return ret == WISP_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
            }
        }
    }
    for (i = 0; i < r->n; i++) {
        tstream_t *t = &r->ts[i];
        if (r->data_len >= 0)
            ret = wisp_stream_request_tx_len(t->s, (size_t)r->data_len);
        else
            ret = wisp_stream_request_tx(t->s);
        if (!ret && o->timeout_ms)
            ret = wisp_stream_start_timeout(t->s, (uint32_t)o->timeout_ms);
        if (ret) {
            fprintf(stderr, "wisp-stream: [%u] starting the transaction: %s\n", t->id,
                    wisp_strerror(ret));
            return EXIT_FAIL;
        }
    }
    return 0;
}

static int all_finished(const run_t *r)
{
    return r->nfinished == r->n;
}

/* Runs the loop until every transaction finished: 0, or an exit status. */
static int wait_streams(run_t *r)
{
    uint64_t deadline = 0;
    int ret;

    if (r->o->timeout_ms)
        deadline = r->t0 + r->o->timeout_ms + GRACE_MS;
    while (!r->stop) {
        if (all_finished(r))
            return 0;
        if (interrupted) {
            progress_end(r);
            fputs("wisp-stream: interrupted\n", stderr);
            return EXIT_INTERRUPTED;
        }
        if (deadline && wisp_now_ms(r->cx) >= deadline) {
            progress_end(r);
            fprintf(stderr, "wisp-stream: no end of the transaction after %lu ms\n",
                    r->o->timeout_ms + GRACE_MS);
            return EXIT_FAIL;
        }
        /* Wake now and then to notice a signal or the deadline. */
        ret = wisp_service(r->cx, 250);
        if (ret && ret != WISP_EAGAIN && !interrupted) {
            progress_end(r);
            fprintf(stderr, "wisp-stream: event loop: %s\n", wisp_strerror(ret));
            return EXIT_FAIL;
        }
        progress_tick(r);
    }
    return EXIT_FAIL;
}

/* The exit status the finished streams earn: the worst of them. */
static int result(const run_t *r)
{
    int worst = 0, st;
    unsigned i;

    for (i = 0; i < r->n; i++) {
        const tstream_t *t = &r->ts[i];
        if (t->finished && t->end == WISP_STATE_DONE && t->outcome == WISP_STATE_ACK)
            st = 0;
        else if (t->finished && t->end == WISP_STATE_DONE && t->outcome == WISP_STATE_NACK)
            st = EXIT_NACK;
        else
            st = EXIT_FAIL;
        if (st > worst)
            worst = st;
    }
    return worst;
}

/* Without -v, a stream that failed would end the run with exit 2 and not a word on
 * stderr: name the first few failures and count the rest. */
static void report_failures(const run_t *r)
{
    unsigned i, shown = 0, more = 0;

    for (i = 0; i < r->n; i++) {
        const tstream_t *t = &r->ts[i];
        wisp_state_t st = t->failed ? t->failed : t->end;

        if (!t->finished || (t->end == WISP_STATE_DONE && t->outcome))
            continue;
        if (shown == 3) {
            more++;
            continue;
        }
        fprintf(stderr, "wisp-stream: [%u] %s", t->id, wisp_state_name(st));
        if (t->error < 0)
            fprintf(stderr, ": %s (%s)", wisp_errname(t->error), wisp_strerror(t->error));
        fputc('\n', stderr);
        shown++;
    }
    if (more)
        fprintf(stderr, "wisp-stream: %u more stream%s failed\n", more, more == 1 ? "" : "s");
}

/* --drain: runs the loop until no connection or vhost is left, for at most the
 * type's keepalive_ms and its trust store's linger_ms (plus a second to close). */
static void drain(run_t *r)
{
    uint64_t end = wisp_now_ms(r->cx) + r->type->keepalive_ms + 1000;
    wisp_stats_t st;

    if (r->type->trust_store)
        end += r->type->trust_store->linger_ms;
    for (;;) {
        wisp_get_stats(r->cx, &st);
        if ((!st.conns_live && !st.vhosts_live) || interrupted || wisp_now_ms(r->cx) > end)
            return;
        (void)wisp_service(r->cx, 100);
    }
}

/* -v: what the heap holds at exit. */
static void explain_heap(const run_t *r)
{
    wisp_stats_t st;

    wisp_get_stats(r->cx, &st);
    if (st.heap_in_use == r->heap_policy && !st.conns_live && !st.vhosts_live)
        fprintf(stderr, "* heap_in_use %zu at exit: the policy's, nothing else\n", st.heap_in_use);
    else
        fprintf(stderr,
                "* heap_in_use %zu at exit: the policy's %zu, the rest held by %u "
                "connection(s) and %u vhost(s) until the context goes\n",
                st.heap_in_use, r->heap_policy, (unsigned)st.conns_live, (unsigned)st.vhosts_live);
}

/* Destroys the streams and lets the loop free them. */
static void destroy_streams(run_t *r)
{
    wisp_stats_t st;
    unsigned i;
    int spins;

    for (i = 0; i < r->n; i++) {
        wisp_stream_destroy(r->ts[i].s);
        if (r->ts[i].body)
            fclose(r->ts[i].body);
        r->ts[i].body = NULL;
    }
    for (spins = 0; spins < 100; spins++) {
        wisp_get_stats(r->cx, &st);
        if (!st.streams_live)
            break;
        (void)wisp_service(r->cx, 0);
    }
    for (i = 0; i < r->n; i++)
        held_drop(&r->ts[i]);
    /* Before exit (or deep sleep, on a device): close what idles now, with
     * close_notify, instead of leaving it to keepalive_ms. */
    (void)wisp_context_close_idle(r->cx);
    if (r->o->drain)
        drain(r);
    if (r->o->verbose)
        explain_heap(r);
}

static void print_stats(wisp_context_t *cx)
{
    char json[1024];
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    if (wisp_stats_json(&st, json, sizeof(json)) > 0)
        fprintf(stderr, "%s\n", json);
}

static const int log_levels[] = {WISP_LOG_NOTICE, WISP_LOG_NOTICE, WISP_LOG_INFO, WISP_LOG_DEBUG};

int main(int argc, char **argv)
{
    wisp_context_info_t info;
    wisp_stream_ops_t ops;
    struct sigaction sa;
    wisp_stats_t st;
    char *policy = NULL;
    size_t policy_len;
    opts_t o;
    run_t r;
    int ret, res;

    ret = parse_args(argc, argv, &o);
    if (ret)
        return ret < 0 ? 0 : ret;
    memset(&r, 0, sizeof(r));
    r.o = &o;
    r.n = (unsigned)o.count;
    r.data_len = data_length(o.data, &ret);
    if (ret)
        return ret;
    policy = read_file(o.policy_path, POLICY_FILE_MAX, &policy_len);
    if (!policy)
        return EXIT_POLICY;

    memset(&info, 0, sizeof(info));
    info.policy_json = policy;
    info.policy_json_len = policy_len;
    info.policy_name = o.policy_path;
    info.log_level = log_levels[o.verbose > 3 ? 3 : o.verbose];
    ret = wisp_context_create(&info, &r.cx);
    free(policy);
    if (ret) {
        fprintf(stderr, "wisp-stream: %s: %s\n", o.policy_path, wisp_strerror(ret));
        return ret == WISP_EPOLICY ? EXIT_POLICY : EXIT_FAIL;
    }
    r.t0 = wisp_now_ms(r.cx);
    wisp_get_stats(r.cx, &st);
    r.heap_policy = st.heap_in_use;
    ret = check_names(&r);
    if (ret)
        goto out;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal wakes the loop's poll */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&ops, 0, sizeof(ops));
    ops.type = o.type;
    ops.rx = on_rx;
    ops.tx = o.data ? on_tx : NULL;
    ops.state = on_state;
    r.ts = calloc(r.n, sizeof(*r.ts));
    if (!r.ts) {
        fputs("wisp-stream: out of memory\n", stderr);
        ret = EXIT_FAIL;
        goto out;
    }
    if (o.verbose) {
        fprintf(stderr, "* policy %s: %zu bytes of heap\n", o.policy_path, r.heap_policy);
        describe(&r);
    }
    r.progress = !o.no_progress && !o.verbose && isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO);
    ret = start_streams(&r, &ops);
    if (!ret)
        ret = wait_streams(&r);
    progress_end(&r);
    release_stdout(&r, 1);
    if (fflush(stdout) != 0)
        r.stop = 1;
    res = result(&r);
    if (!ret)
        ret = r.stop ? EXIT_FAIL : res;
    if (res == EXIT_FAIL && !o.verbose)
        report_failures(&r);
    destroy_streams(&r);
out:
    if (o.stats)
        print_stats(r.cx);
    wisp_context_destroy(r.cx);
    free(r.ts);
    return ret;
}
