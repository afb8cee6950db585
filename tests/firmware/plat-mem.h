/*
 * An in-memory wisp_plat_ops_t for the firmware test board: connected socket pairs
 * in RAM, a virtual millisecond clock, and a TEST-ONLY entropy source.
 */
#ifndef WISP_FW_PLAT_MEM_H
#define WISP_FW_PLAT_MEM_H

#include <wisp.h>

/** The platform table. */
const wisp_plat_ops_t *mem_plat(void);
/** The server end of the oldest connection not yet accepted, or -1. */
int mem_accept(void);
/** Bytes and EOF on a socket end, for the in-image peer (same results as the ops). */
int mem_send(int fd, const void *buf, size_t len);
int mem_recv(int fd, void *buf, size_t len);
void mem_close(int fd);
/** TEST-ONLY entropy (a fixed-seed generator): never use outside the emulator. */
int mem_entropy(void *user, void *buf, size_t len);
/** Virtual milliseconds so far. */
uint64_t mem_now(void);

#endif
