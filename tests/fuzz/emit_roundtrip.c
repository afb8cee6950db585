/*
 * The static-policy round trip, with the real tool and the real compiler:
 *
 *   emit_roundtrip WISP_POLICY WORKDIR CC [CFLAG...] -- INPUT...
 *
 * Every INPUT (a file, or every regular file in a directory) that the JSON loader
 * accepts is compiled by `WISP_POLICY compile` into C, the C is compiled by CC with
 * the CFLAGs into a shared object, and the policy in that object (dlopen) must equal
 * the one the loader builds from the same JSON, field by field (policy-compare.h).
 * An input the loader refuses must be refused by the tool too (exit status 1).
 *
 * ctest runs it over the emitter's seed corpus and the policy loader's
 * (fuzz_policy_emit_roundtrip); tests/fuzz/run-fuzz.sh runs it over the corpus that
 * fuzz_policy_emit grew, so what the fuzzer found also goes through the compiler.
 * Exit status: 0 all round trips held, 1 one did not (or an input could not be read,
 * or no input was a policy at all), 2 bad usage.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wisp/core.h>
#include <wisp/policy.h>

#include "policy-compare.h"

#define SYMBOL "wisp_roundtrip_policy"

/* execvp() takes char *const[]: the fixed words live in writable arrays. */
static char w_compile[] = "compile", w_o[] = "-o", w_n[] = "-n", w_symbol[] = SYMBOL;

typedef struct run {
    char *tool;
    const char *work;
    char **cc; /* CC and its flags, NULL-terminated, two free slots at the end */
    size_t cc_n;
    wisp_context_t *cx;
    unsigned checked, refused, failed;
} run_t;

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

/* Run argv, its output to the log file; the exit status, or -1. */
static int spawn(char *const argv[], const char *log)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (!pid) {
        if (!freopen(log, "w", stdout) || dup2(fileno(stdout), 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET) &&
        (buf = malloc((size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static void show_log(const char *log)
{
    size_t n;
    char *text = read_all(log, &n);

    if (text) {
        fwrite(text, 1, n, stderr);
        free(text);
    }
}

static int bad(run_t *r, const char *path, const char *what, const char *log)
{
    fprintf(stderr, "emit_roundtrip: %s: %s\n", path, what);
    if (log)
        show_log(log);
    r->failed++;
    return -1;
}

static int one(run_t *r, char *path)
{
    static wisp_policy_errors_t errs;
    char c[4096], so[4096], log[4096], why[512];
    char *tool_argv[8];
    const wisp_policy_t *compiled;
    wisp_policy_t *loaded = NULL;
    void *dl;
    size_t len;
    char *text = read_all(path, &len);
    int ret, status;

    if (!text)
        return bad(r, path, strerror(errno), NULL);
    ret = wisp_policy_load_json(r->cx, path, text, len, &loaded, &errs);
    free(text);
    snprintf(c, sizeof(c), "%s/%s.c", r->work, SYMBOL);
    snprintf(so, sizeof(so), "%s/%s-%u.so", r->work, SYMBOL, r->checked + r->refused);
    snprintf(log, sizeof(log), "%s/log.txt", r->work);
    tool_argv[0] = r->tool;
    tool_argv[1] = w_compile;
    tool_argv[2] = path;
    tool_argv[3] = w_o;
    tool_argv[4] = c;
    tool_argv[5] = w_n;
    tool_argv[6] = w_symbol;
    tool_argv[7] = NULL;
    status = spawn(tool_argv, log);
    if (ret) {
        r->refused++;
        return status == 1 ? 0 : bad(r, path, "the loader refused it, the tool did not", log);
    }
    if (status != 0) {
        wisp_policy_free(r->cx, &loaded);
        return bad(r, path, "the loader accepted it, wisp-policy compile failed", log);
    }
    r->cc[r->cc_n] = c;
    r->cc[r->cc_n + 1] = w_o;
    r->cc[r->cc_n + 2] = so;
    r->cc[r->cc_n + 3] = NULL;
    if (spawn(r->cc, log) != 0) {
        wisp_policy_free(r->cx, &loaded);
        return bad(r, path, "the generated C does not compile", log);
    }
    dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    compiled = dl ? dlsym(dl, SYMBOL) : NULL;
    if (!compiled) {
        fprintf(stderr, "emit_roundtrip: %s: %s\n", so, dlerror());
        ret = bad(r, path, "the compiled policy could not be loaded", NULL);
    } else if (!policy_equal(compiled, loaded, why, sizeof(why))) {
        fprintf(stderr, "emit_roundtrip: %s: compiled and loaded differ: %s\n", path, why);
        ret = bad(r, path, "round trip failed", NULL);
    } else {
        r->checked++;
        ret = 0;
    }
    if (dl)
        dlclose(dl);
    unlink(so);
    wisp_policy_free(r->cx, &loaded);
    return ret;
}

static int walk(run_t *r, char *path)
{
    struct stat st;
    struct dirent *e;
    char sub[4096];
    DIR *d;

    if (stat(path, &st))
        return bad(r, path, strerror(errno), NULL);
    if (!S_ISDIR(st.st_mode))
        return one(r, path);
    if (!(d = opendir(path)))
        return bad(r, path, strerror(errno), NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (!stat(sub, &st) && S_ISREG(st.st_mode))
            one(r, sub);
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    wisp_context_info_t info;
    wisp_stats_t st;
    run_t r;
    int i, dash = 0;

    for (i = 4; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            dash = i;
            break;
        }
    if (argc < 5 || !dash || dash == argc - 1) {
        fputs("usage: emit_roundtrip WISP_POLICY WORKDIR CC [CFLAG...] -- INPUT...\n", stderr);
        return 2;
    }
    memset(&r, 0, sizeof(r));
    r.tool = argv[1];
    r.work = argv[2];
    r.cc_n = (size_t)(dash - 3);
    r.cc = calloc(r.cc_n + 4, sizeof(*r.cc));
    if (!r.cc || (mkdir(r.work, 0777) && errno != EEXIST)) {
        perror(r.work);
        return 1;
    }
    for (i = 3; i < dash; i++)
        r.cc[i - 3] = argv[i];
    memset(&info, 0, sizeof(info));
    info.log = quiet;
    if (wisp_context_create(&info, &r.cx))
        return 1;
    for (i = dash + 1; i < argc; i++)
        walk(&r, argv[i]);
    wisp_get_stats(r.cx, &st);
    wisp_context_destroy(r.cx);
    free(r.cc);
    printf("emit_roundtrip: %u policies compiled and equal, %u inputs refused by both, %u "
           "failed\n",
           r.checked, r.refused, r.failed);
    if (st.heap_in_use) {
        fprintf(stderr, "emit_roundtrip: %lu bytes of heap left\n", (unsigned long)st.heap_in_use);
        return 1;
    }
    return r.failed || !r.checked ? 1 : 0;
}
