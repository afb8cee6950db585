/*
 * wisp_strerror() and wisp_errname(), generated from the one table in wisp/error.h.
 *
 * The table's codes run 0, -1, -2, ... without a gap (checked at compile time below),
 * so the text of code -n is the n-th string of one NUL-separated blob: no table of
 * pointers (two of them cost 4 bytes per code each on a 32-bit MCU).
 */
#include <string.h>

#include "wisp/error.h"

#define WISP_X_INDEX(name, value, text) WISP_IDX_##name,
enum { WISP_ERRORS(WISP_X_INDEX) WISP_ERROR_COUNT };
#undef WISP_X_INDEX

/* A code out of place or a gap fails here: the array size turns negative. */
#define WISP_X_CHECK(name, value, text) char name[(value) == -WISP_IDX_##name ? 1 : -1];
typedef struct {
    WISP_ERRORS(WISP_X_CHECK)
} wisp__error_table_is_dense_t;
#undef WISP_X_CHECK

#if WISP_WITH_ERROR_TEXT
#define WISP_X_TEXT(name, value, text) text "\0"
static const char texts[] = WISP_ERRORS(WISP_X_TEXT);
#undef WISP_X_TEXT
#endif

#define WISP_X_NAME(name, value, text) #name "\0"
static const char names[] = WISP_ERRORS(WISP_X_NAME);
#undef WISP_X_NAME

static const char *nth(const char *blob, int err, const char *unknown)
{
    int n;

    if (err > 0 || err <= -WISP_ERROR_COUNT)
        return unknown;
    for (n = -err; n > 0; n--)
        blob += strlen(blob) + 1;
    return blob;
}

const char *wisp_strerror(int err)
{
#if WISP_WITH_ERROR_TEXT
    return nth(texts, err, "unknown error");
#else
    return nth(names, err, "unknown error");
#endif
}

const char *wisp_errname(int err)
{
    return nth(names, err, "WISP_E?");
}
