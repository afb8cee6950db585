/*
 * The HTTP/1.1 request writer's own parts (client side): the request line and the
 * Host field. Fields, framing and the end of the head are the shared builder's
 * (write.c).
 *
 * What reaches these functions has been through ${slot} expansion, so they check
 * every byte: a CR or LF here would let a metadata value write a request of its own.
 */
#include <string.h>

#include "http1/engine.h"

/* WISP_EHEADER for bytes that would end the line, WISP_EINVAL for the rest of what
 * cannot appear unencoded: space, controls, DEL and non-ASCII. */
static int visible_ascii(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\r' || c == '\n' || c == '\0')
            return WISP_EHEADER;
        if (c <= 0x20 || c >= 0x7f)
            return WISP_EINVAL;
    }
    return 0;
}

int wisp__h1_out_method(wisp__h1_out_t *w, const char *method)
{
    size_t i, method_len;

    if (w->err != 0)
        return w->err;
    if (method == NULL || (method_len = strlen(method)) == 0)
        return wisp__h1_out_fail(w, WISP_EINVAL);
    for (i = 0; i < method_len; i++)
        if (!wisp__is_tchar((unsigned char)method[i]))
            return wisp__h1_out_fail(w, WISP_EINVAL);
    wisp__h1_out_put(w, method, method_len);
    return wisp__h1_out_put(w, " ", 1);
}

int wisp__h1_out_target_end(wisp__h1_out_t *w, size_t at)
{
    const char *path = w->buf + at;
    size_t path_len = w->len - at;
    int ret;

    if (w->err != 0)
        return w->err;
    if (at > w->len || path_len == 0)
        return wisp__h1_out_fail(w, WISP_EINVAL);
    ret = visible_ascii(path, path_len);
    /* Origin form, or "*" for a server-wide OPTIONS. */
    if (ret == 0 && path[0] != '/' && !(path_len == 1 && path[0] == '*'))
        ret = WISP_EINVAL;
    if (ret != 0)
        return wisp__h1_out_fail(w, ret);
    return wisp__h1_out_put(w, " HTTP/1.1\r\n", 11);
}

int wisp__h1_out_host(wisp__h1_out_t *w, const char *host, size_t host_len, uint16_t port, int tls)
{
    size_t i;
    int ret, bracket;

    if (w->err != 0)
        return w->err;
    if (host == NULL || host_len == 0)
        return wisp__h1_out_fail(w, WISP_EINVAL);
    ret = visible_ascii(host, host_len);
    /* Characters that would turn the authority into a path, query or userinfo. */
    for (i = 0; ret == 0 && i < host_len; i++)
        if (memchr("/\\?#@", host[i], 5) != NULL)
            ret = WISP_EINVAL;
    if (ret != 0)
        return wisp__h1_out_fail(w, ret);
    /* RFC 3986 3.2.2: an IPv6 literal is written in brackets (unless it already is). */
    bracket = memchr(host, ':', host_len) != NULL && host[0] != '[';
    wisp__h1_out_put(w, "Host: ", 6);
    if (bracket)
        wisp__h1_out_put(w, "[", 1);
    wisp__h1_out_put(w, host, host_len);
    if (bracket)
        wisp__h1_out_put(w, "]", 1);
    /* RFC 9110 7.2: the port is left out when it is the scheme's default. */
    if (port != (tls ? 443 : 80)) {
        wisp__h1_out_put(w, ":", 1);
        wisp__h1_out_u64(w, port);
    }
    return wisp__h1_out_put(w, "\r\n", 2);
}
