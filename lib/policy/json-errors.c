/*
 * The JSON policy loader's error lines: "FILE:LINE:COL: path.to.key: message",
 * logged and listed up to WISP_POLICY_ERRORS_MAX; the dotted path of the value
 * being read; user text made safe to print; and "did you mean" (an optimal string
 * alignment distance of at most 2 against the names a value could have been).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/json-load.h"

/* ---- Errors ---- */

int wisp__loader_nomem(loader_t *l)
{
    if (l->status != WISP_ENOMEM)
        WISP_LOGE(l->cx, "%s: out of memory loading the policy", l->filename);
    l->status = WISP_ENOMEM;
    return WISP_ENOMEM;
}

/* Report l->msg at AT, under the current path: one line to the log and, with an
 * errors array, a copy there. */
static void report_msg(loader_t *l, pos_t at)
{
    if (l->status)
        return;
    if (l->nerr == WISP_POLICY_ERRORS_MAX) {
        WISP_LOGE(l->cx, "%s: too many errors (limit %d), stopping", l->filename,
                  WISP_POLICY_ERRORS_MAX);
        if (l->errs)
            l->errs->truncated = 1;
        l->status = WISP_EPOLICY;
        return;
    }
    if (snprintf(l->line, sizeof(l->line), "%s:%u:%u: %s: %s", l->filename, (unsigned)at.line,
                 (unsigned)at.col, l->path_len ? l->path : "(root)",
                 l->msg) >= (int)sizeof(l->line))
        memcpy(l->line + sizeof(l->line) - 4, "...", 4); /* cut, and says so */
    WISP_LOGE(l->cx, "%s", l->line);
    if (l->errs) {
        wisp_policy_error_t *e = &l->errs->e[l->errs->count++];

        e->line = at.line;
        e->col = at.col;
        memcpy(e->text, l->line, sizeof(e->text));
    }
    l->nerr++;
}

void wisp__loader_report(loader_t *l, pos_t at, const char *fmt, ...)
{
    va_list ap;

    if (l->status)
        return;
    va_start(ap, fmt);
    vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
    va_end(ap);
    report_msg(l, at);
}

/* A user string made safe for an error line: printable ASCII kept, the rest as
 * \xNN, cut at 64 characters. */
const char *wisp__loader_show(char *out, size_t size, const char *s, size_t len)
{
    size_t i, o = 0;

    for (i = 0; i < len && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i == 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, size - o, "\\x%02X", c);
    }
    out[o] = '\0';
    return out;
}

/* Optimal string alignment distance (edits and adjacent swaps), or 3 when it is
 * more than 2 or either word is too long to be a name. */
static unsigned distance(const char *a, size_t an, const char *b, size_t bn)
{
    uint8_t row[3][WISP_POLICY_NAME_MAX + 2];
    uint8_t *pp = row[0], *prev = row[1], *cur = row[2], *tmp;
    size_t i, k;

    if (an > WISP_POLICY_NAME_MAX || bn > WISP_POLICY_NAME_MAX || an > bn + 2 || bn > an + 2)
        return 3;
    for (k = 0; k <= bn; k++)
        prev[k] = (uint8_t)k;
    for (i = 1; i <= an; i++) {
        cur[0] = (uint8_t)i;
        for (k = 1; k <= bn; k++) {
            unsigned d = prev[k - 1] + (a[i - 1] != b[k - 1]);

            if (prev[k] + 1u < d)
                d = prev[k] + 1u;
            if (cur[k - 1] + 1u < d)
                d = cur[k - 1] + 1u;
            if (i > 1 && k > 1 && a[i - 1] == b[k - 2] && a[i - 2] == b[k - 1] &&
                pp[k - 2] + 1u < d)
                d = pp[k - 2] + 1u;
            cur[k] = (uint8_t)(d > 200 ? 200 : d);
        }
        tmp = pp;
        pp = prev;
        prev = cur;
        cur = tmp;
    }
    return prev[bn] > 2 ? 3 : prev[bn];
}

/* " (did you mean "x"?)" for the closest of count named things (each starting with
 * its const char *name, stride bytes apart) within distance 2, or "". */
const char *wisp__loader_suggest(char *out, size_t size, const char *word, size_t len,
                                 const void *base, size_t count, size_t stride)
{
    const char *best = NULL;
    unsigned best_d = 3, d;
    size_t i;

    for (i = 0; i < count; i++) {
        const char *name = *(const char *const *)(const void *)((const char *)base + i * stride);

        if (!name)
            continue;
        d = distance(word, len, name, strlen(name));
        if (d < best_d) {
            best = name;
            best_d = d;
        }
    }
    if (best)
        snprintf(out, size, " (did you mean \"%s\"?)", best);
    else
        out[0] = '\0';
    return out;
}

/* ---- Paths ---- */

void wisp__loader_path_set(loader_t *l, size_t len)
{
    l->path_len = len;
    l->path[len] = '\0';
}

/* Append to the path, cut (never overflowing) at PATH_LEN - 1 characters. */
void wisp__loader_path_append(loader_t *l, const char *s)
{
    size_t n = strlen(s), room = sizeof(l->path) - 1 - l->path_len;

    if (n > room)
        n = room;
    memcpy(l->path + l->path_len, s, n);
    wisp__loader_path_set(l, l->path_len + n);
}

void wisp__loader_path_key(loader_t *l, const char *key, size_t len)
{
    char buf[WISP_POLICY_NAME_MAX * 4 + 8];

    if (l->path_len)
        wisp__loader_path_append(l, ".");
    wisp__loader_path_append(l, wisp__loader_show(buf, sizeof(buf), key, len));
}

void wisp__loader_path_index(loader_t *l, unsigned i)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "[%u]", i);
    wisp__loader_path_append(l, buf);
}

/* Report at a key of the closing object f (path: f's path plus the key). */
void wisp__loader_key_report(loader_t *l, struct frame *f, const char *key, pos_t at,
                             const char *fmt, ...)
{
    va_list ap;

    if (l->status)
        return;
    va_start(ap, fmt);
    vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
    va_end(ap);
    wisp__loader_path_set(l, f->path_len);
    wisp__loader_path_key(l, key, strlen(key));
    report_msg(l, at);
    wisp__loader_path_set(l, f->path_len);
}

void wisp__loader_missing(loader_t *l, struct frame *f, const char *key)
{
    wisp__loader_key_report(l, f, key, f->at, "missing required key");
}
