/*
 * wisp-policy: check JSON policies, and compile one into const C (a static policy).
 *
 *   wisp-policy check FILE...
 *   wisp-policy compile FILE -o OUT.c -n NAME
 *
 * Both run the library's own loader, fed in small fragments the way a device would
 * read a policy, so the tool accepts exactly what wisp accepts at run time and
 * prints exactly the errors wisp would log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wisp/core.h>
#include <wisp/policy.h>

#include "emit.h"

static const char usage[] =
    "usage: wisp-policy check FILE...\n"
    "       wisp-policy compile FILE -o OUT.c -n NAME\n"
    "\n"
    "check    validate each JSON policy; print every error as\n"
    "         FILE:LINE:COL: path.to.key: message\n"
    "compile  validate FILE and write OUT.c with the policy as const C, plus OUT.h\n"
    "         declaring `extern const wisp_policy_t NAME;`\n"
    "\n"
    "Exit status: 0 success, 1 the policy has errors (or a file could not be read\n"
    "or written), 2 bad usage.\n";

/* The loader logs every error it lists; the tool prints the list instead. */
static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

/* The read buffer held policy text, private keys included: wiped through a volatile
 * pointer, which the compiler cannot drop as a dead store (SPEC §8). */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n--)
        *v++ = 0;
}

static int load(wisp_context_t *cx, const char *path, wisp_policy_t **out)
{
    static wisp_policy_errors_t errs;
    wisp_policy_loader_t *l = NULL;
    char buf[4096];
    size_t n;
    unsigned i;
    FILE *f;
    int ret;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    setvbuf(f, NULL, _IONBF, 0); /* no stdio copy of the text: buf is the only one */
    ret = wisp_policy_loader_create(cx, path, &errs, &l);
    while (!ret && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        ret = wisp_policy_loader_feed(l, buf, n);
    if (ferror(f)) {
        fprintf(stderr, "%s: read error\n", path);
        ret = WISP_EINVAL;
    } else if (ret != WISP_ENOMEM && l) {
        ret = wisp_policy_loader_finish(l, out);
    }
    fclose(f);
    wipe(buf, sizeof(buf));
    wisp_policy_loader_destroy(&l);
    for (i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.e[i].text);
    if (errs.truncated)
        fprintf(stderr, "%s: too many errors, stopped after %d\n", path, WISP_POLICY_ERRORS_MAX);
    if (ret && ret != WISP_EPOLICY)
        fprintf(stderr, "%s: %s\n", path, wisp_strerror(ret));
    return ret ? 1 : 0;
}

static int check(wisp_context_t *cx, int argc, char **argv)
{
    wisp_policy_t *p;
    int i, status = 0;

    if (argc < 1) {
        fputs(usage, stderr);
        return 2;
    }
    for (i = 0; i < argc; i++) {
        if (load(cx, argv[i], &p))
            status = 1;
        wisp_policy_free(cx, &p);
    }
    return status;
}

static int c_identifier(const char *s)
{
    const char *c;

    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return 0;
    return 1;
}

/* "dir/out.c" -> "dir/out.h"; anything else gets ".h" appended. */
static char *header_path(const char *out)
{
    size_t n = strlen(out);
    char *h = malloc(n + 3);

    if (!h)
        return NULL;
    memcpy(h, out, n + 1);
    if (n > 2 && !strcmp(h + n - 2, ".c"))
        h[n - 1] = 'h';
    else
        memcpy(h + n, ".h", 3);
    return h;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

/* Write both files next to their targets, then rename: a failed run never leaves a
 * half-written file for the build to pick up. */
static int write_outputs(const wisp_policy_t *p, const char *input, const char *out,
                         const char *name)
{
    char *hpath = header_path(out), *ctmp = NULL, *htmp = NULL;
    FILE *c = NULL, *h = NULL;
    int status = 1, failed;

    if (!hpath)
        goto out;
    ctmp = malloc(strlen(out) + 5);
    htmp = malloc(strlen(hpath) + 5);
    if (!ctmp || !htmp)
        goto out;
    snprintf(ctmp, strlen(out) + 5, "%s.tmp", out);
    snprintf(htmp, strlen(hpath) + 5, "%s.tmp", hpath);
    c = fopen(ctmp, "w");
    h = fopen(htmp, "w");
    if (!c || !h) {
        fprintf(stderr, "%s: %s\n", c ? htmp : ctmp, strerror(errno));
        goto out;
    }
    failed = emit_policy(c, h, p, name, input, base_name(hpath)) != 0;
    failed |= fclose(c) != 0;
    failed |= fclose(h) != 0;
    c = h = NULL;
    if (failed) {
        fprintf(stderr, "%s: write error\n", out);
        goto out;
    }
    if (rename(ctmp, out) || rename(htmp, hpath)) {
        fprintf(stderr, "%s: %s\n", out, strerror(errno));
        goto out;
    }
    status = 0;
out:
    if (c)
        fclose(c);
    if (h)
        fclose(h);
    if (status && ctmp) {
        remove(ctmp);
        remove(htmp);
    }
    free(hpath);
    free(ctmp);
    free(htmp);
    return status;
}

static int compile(wisp_context_t *cx, int argc, char **argv)
{
    const char *input = NULL, *out = NULL, *name = NULL;
    wisp_policy_t *p;
    int i, status;

    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            name = argv[++i];
        else if (argv[i][0] != '-' && !input)
            input = argv[i];
        else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!input || !out || !name) {
        fputs(usage, stderr);
        return 2;
    }
    if (!c_identifier(name)) {
        fprintf(stderr, "wisp-policy: NAME must be a C identifier, not \"%s\"\n", name);
        return 2;
    }
    status = load(cx, input, &p);
    if (!status)
        status = write_outputs(p, input, out, name);
    wisp_policy_free(cx, &p);
    return status;
}

int main(int argc, char **argv)
{
    wisp_context_info_t info;
    wisp_context_t *cx;
    int status;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    memset(&info, 0, sizeof(info));
    info.log = quiet;
    if (wisp_context_create(&info, &cx)) {
        fputs("wisp-policy: cannot create a wisp context\n", stderr);
        return 1;
    }
    if (!strcmp(argv[1], "check"))
        status = check(cx, argc - 2, argv + 2);
    else if (!strcmp(argv[1], "compile"))
        status = compile(cx, argc - 2, argv + 2);
    else {
        fputs(usage, stderr);
        status = 2;
    }
    wisp_context_destroy(cx);
    return status;
}
