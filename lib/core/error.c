/*
 * wisp_strerror() and wisp_errname(), generated from the one table in wisp/error.h.
 */
#include "wisp/error.h"

const char *wisp_strerror(int err)
{
    switch (err) {
#define WISP_X_TEXT(name, value, text)                                                             \
    case value:                                                                                    \
        return text;
        WISP_ERRORS(WISP_X_TEXT)
#undef WISP_X_TEXT
    default:
        return "unknown error";
    }
}

const char *wisp_errname(int err)
{
    switch (err) {
#define WISP_X_NAME(name, value, text)                                                             \
    case value:                                                                                    \
        return #name;
        WISP_ERRORS(WISP_X_NAME)
#undef WISP_X_NAME
    default:
        return "WISP_E?";
    }
}
