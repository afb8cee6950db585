/*
 * Logging: a runtime level on top of the compile-time floor (WISP_LOG_LEVEL), one
 * formatted line per call handed to the context's sink. Lines are formatted on the
 * stack (WISP_LOG_LINE_MAX) and truncated, never allocated.
 */
#include <stdio.h>

#include "core/context-private.h"

int wisp__log_enabled(const wisp_context_t *cx, int level)
{
    return cx && level <= cx->log_level && level <= WISP_LOG_LEVEL;
}

void wisp__log(wisp_context_t *cx, int level, const char *fmt, ...)
{
    char line[WISP_LOG_LINE_MAX];
    va_list ap;

    if (!wisp__log_enabled(cx, level) || !cx->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cx->log(cx->log_user, level, line);
}

void wisp_set_log_level(wisp_context_t *cx, int level)
{
    if (cx)
        cx->log_level = level;
}

#if WISP_WITH_DEFAULT_LOG
static const char *const level_names[] = {"E", "W", "N", "I", "D"};

/* The default sink: one line to stderr with a level letter. */
void wisp__log_stderr(void *user, int level, const char *line);
void wisp__log_stderr(void *user, int level, const char *line)
{
    (void)user;
    if (level < 0 || level > WISP_LOG_DEBUG)
        level = WISP_LOG_DEBUG;
    fprintf(stderr, "[wisp %s] %s\n", level_names[level], line);
}
#endif
