/*
 * A raw TCP client on loopback for the server tests: connect, read what is there,
 * reset. Failures of the socket calls themselves fail the test (cmocka).
 */
#ifndef WISP_TEST_RAWSOCK_H
#define WISP_TEST_RAWSOCK_H

#include <stddef.h>

/** Connected to 127.0.0.1:port (blocking connect: the kernel completes it on
 *  loopback before the server accepts); non-blocking afterwards when nonblock. */
int rawsock_connect(int port, int nonblock);

/** Read what is there into out (NUL-terminated, *len bytes so far; bytes past cap - 1
 *  are read and dropped). 1 once the peer closed (EOF or reset), else 0. */
int rawsock_read(int fd, char *out, size_t cap, size_t *len);

/** Close with a reset (SO_LINGER 0). */
void rawsock_reset(int fd);

#endif
