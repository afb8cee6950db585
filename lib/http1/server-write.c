/*
 * The HTTP/1.1 response writer's own part (server side): the status line, with the
 * standard reason phrase for the codes a wisp server commonly sends. Fields, framing
 * and the end of the head are the shared builder's (write.c).
 */
#include <string.h>

#include "http1/engine.h"

/* HTTP/1.1 allows an empty reason phrase, and clients ignore it; the phrases kept
 * here are those a person reading a trace would miss. Everything else goes out
 * empty rather than costing ROM for a table. */
static const char *reason_for(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

int wisp__h1_out_status_line(wisp__h1_out_t *w, int status, const char *reason)
{
    size_t reason_len;
    int ret;

    if (w->err != 0)
        return w->err;
    if (status < 100 || status > 599)
        return wisp__h1_out_fail(w, WISP_EINVAL);
    if (reason == NULL)
        reason = reason_for(status);
    reason_len = strlen(reason);
    ret = wisp__h1_value_check(reason, reason_len);
    if (ret != 0)
        return wisp__h1_out_fail(w, ret);
    wisp__h1_out_put(w, "HTTP/1.1 ", 9);
    wisp__h1_out_u64(w, (uint64_t)status);
    wisp__h1_out_put(w, " ", 1);
    wisp__h1_out_put(w, reason, reason_len);
    return wisp__h1_out_put(w, "\r\n", 2);
}
