/*
 * Character classes shared by the HTTP engine and the policy loader, so that a
 * header name the policy accepts is exactly one the HTTP writer accepts.
 */
#include <string.h>

#include "core/core-internal.h"

int wisp__is_tchar(int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    /* strchr would match the terminator for c == 0. */
    return c > 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}
