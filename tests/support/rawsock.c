#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawsock.h"

int rawsock_connect(int port, int nonblock)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (nonblock)
        assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

int rawsock_read(int fd, char *out, size_t cap, size_t *len)
{
    for (;;) {
        char sink[512];
        ssize_t n;

        if (*len + 1 < cap)
            n = recv(fd, out + *len, cap - 1 - *len, 0);
        else
            n = recv(fd, sink, sizeof(sink), 0);
        if (n > 0) {
            if (*len + 1 < cap) {
                *len += (size_t)n;
                out[*len] = '\0';
            }
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return 1;
        return 0;
    }
}

void rawsock_reset(int fd)
{
    struct linger lg = {1, 0};

    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}
