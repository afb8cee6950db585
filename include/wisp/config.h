/*
 * wisp build-time configuration.
 *
 * Every option has a default here and may be overridden with -D on the command line
 * or, for firmware, in a file named by WISP_CONFIG_FILE (included first). Each option
 * states what it costs in RAM (per context, per connection, per stream) or ROM.
 * wisp/config-check.h rejects impossible combinations with #error.
 */
#ifndef WISP_CONFIG_H
#define WISP_CONFIG_H

#ifdef WISP_CONFIG_FILE
#include WISP_CONFIG_FILE
#endif

/* ---- Export and attribute macros (not options) -------------------------------- */

#if defined(WISP_BUILDING_SHARED) && defined(__GNUC__)
#define WISP_API __attribute__((visibility("default")))
#else
#define WISP_API
#endif

#if defined(__GNUC__)
#define WISP_NODISCARD __attribute__((warn_unused_result))
#define WISP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WISP_NODISCARD
#define WISP_PRINTF(f, a)
#endif

/* ---- Features ----------------------------------------------------------------- */

/** Client streams (ROM: the h1 client, queueing and stream state machine). */
#ifndef WISP_WITH_CLIENT
#define WISP_WITH_CLIENT 1
#endif

/** Server streams (ROM: listener, h1 request parser, server TLS with cache). */
#ifndef WISP_WITH_SERVER
#define WISP_WITH_SERVER 1
#endif

/** JSON policy loader. Off for firmware that uses only static policies: no JSON code
 *  is linked at all. ROM: the streaming parser and validator. */
#ifndef WISP_WITH_JSON_POLICY
#define WISP_WITH_JSON_POLICY 1
#endif

/** The POSIX port is built in and is the platform of a context created without one.
 *  Set by the build (CMake WISP_PLAT_POSIX, off for bare-metal toolchains). */
#ifndef WISP_WITH_PLAT_POSIX
#define WISP_WITH_PLAT_POSIX 1
#endif

/** A context created without an allocator uses the C library's malloc/free. With 0
 *  the allocator is required (WISP_EINVAL without one) and wisp links no malloc.
 *  ROM: a few bytes, plus malloc itself if nothing else links it. */
#ifndef WISP_WITH_DEFAULT_ALLOC
#define WISP_WITH_DEFAULT_ALLOC WISP_WITH_PLAT_POSIX
#endif

/** A context created without a log sink writes to stderr. With 0 such a context logs
 *  nothing and wisp links no stdio stream code (formatting still uses vsnprintf). */
#ifndef WISP_WITH_DEFAULT_LOG
#define WISP_WITH_DEFAULT_LOG WISP_WITH_PLAT_POSIX
#endif

/** wisp_strerror() returns an English sentence per code. With 0 it returns the
 *  code's symbolic name instead (what wisp_errname() returns): about 1.4 KiB less
 *  ROM on Cortex-M4 for the table of texts. The firmware builds set 0. */
#ifndef WISP_WITH_ERROR_TEXT
#define WISP_WITH_ERROR_TEXT 1
#endif

/** Read-ahead of a TLS connection's socket (client and server), in bytes: mbedTLS asks for a
 *  record's 5-byte header and then exactly its body, two recv() calls per record, and
 *  a short read of a record says nothing about what is left in the kernel. With a
 *  read-ahead one recv() of up to this many bytes serves both (and often the next
 *  record), and a short one says the socket is drained, which saves the EAGAIN read
 *  around a kept-alive request (lib/core/README.md). The buffer is allocated when
 *  such a read needs it and freed when drained, like the output buffer. 0 compiles
 *  it out: the firmware builds, where reads cost no syscall and heap is scarce. */
#ifndef WISP_SOCK_READAHEAD
#if WISP_WITH_PLAT_POSIX
#define WISP_SOCK_READAHEAD 2048
#else
#define WISP_SOCK_READAHEAD 0
#endif
#endif

/* ---- Logging ------------------------------------------------------------------ */

/** Compile-time log floor: messages below this level are removed by the compiler.
 *  0 error, 1 warn, 2 notice, 3 info, 4 debug. ROM: every format string kept. */
#ifndef WISP_LOG_LEVEL
#define WISP_LOG_LEVEL 4
#endif

/** Longest formatted log line, bytes on the stack of the logging call. The default
 *  holds a whole policy error line (WISP_POLICY_ERROR_LEN); firmware that logs less
 *  may shrink it. */
#ifndef WISP_LOG_LINE_MAX
#define WISP_LOG_LINE_MAX 400
#endif

/* ---- Loop and platform -------------------------------------------------------- */

/** Slots in the cross-thread wisp_post() ring. RAM: 16 bytes each, per context. */
#ifndef WISP_POST_QUEUE_LEN
#define WISP_POST_QUEUE_LEN 64
#endif

/** Addresses kept from one name resolution. RAM: 20 bytes each, per lookup in flight. */
#ifndef WISP_RESOLVE_MAX_ADDRS
#define WISP_RESOLVE_MAX_ADDRS 4
#endif

/** POSIX port: resolver threads at most, shared by every context of the process, and
 *  how long one may wait for work before it exits (so an idle process has none). */
#ifndef WISP_POSIX_RESOLVERS
#define WISP_POSIX_RESOLVERS 8
#endif
#ifndef WISP_POSIX_RESOLVER_IDLE_MS
#define WISP_POSIX_RESOLVER_IDLE_MS 2000
#endif

/** Longest host name, including the terminating NUL (RFC 1035 allows 253 + 1). */
#ifndef WISP_HOSTNAME_MAX
#define WISP_HOSTNAME_MAX 254
#endif

/** Hard cap on one socket's coalescing output buffer. A TLS flight (certificate
 *  chain included) must fit so it goes out in one write. RAM: up to this much per
 *  connection while data is pending; allocated on first write. */
#ifndef WISP_SOCK_OUT_MAX
#define WISP_SOCK_OUT_MAX (20 * 1024)
#endif

/* ---- HTTP/1.1 ---------------------------------------------------------------- */

/** Longest line an h1 parser accepts — start line, one header field, a chunk-size
 *  line with its extensions, or one trailer field — counting its CR but not its LF.
 *  Longer lines fail with WISP_ETOOBIG. RAM: this many bytes (+1) in every parser,
 *  i.e. per connection; no heap of its own. */
#ifndef WISP_H1_LINE_MAX
#define WISP_H1_LINE_MAX 1024
#endif

/** Default cap on the bytes of one message head (start line, fields and the empty
 *  line) and of one trailer section. RAM: none (a counter). */
#ifndef WISP_H1_HEAD_MAX
#define WISP_H1_HEAD_MAX 8192
#endif

/** Most requests in flight on one h1 client connection (pipelining, the policy's
 *  pipeline_depth is capped by it): 1..16. 1 compiles pipelining out — pipeline_depth
 *  is still accepted, and every connection runs at depth 1. RAM per connection:
 *  (this - 1) pointers and one transaction struct (about 100 bytes on Cortex-M at
 *  16). ROM when > 1: about 1.5 KiB (Cortex-M4, -Os). The firmware build sets 1. */
#ifndef WISP_H1_PIPELINE_MAX
#define WISP_H1_PIPELINE_MAX 16
#endif

/* ---- TLS ---------------------------------------------------------------------- */

/** Entries in a server vhost's TLS session cache. RAM: about 180 bytes each. */
#ifndef WISP_TLS_SERVER_CACHE_SIZE
#define WISP_TLS_SERVER_CACHE_SIZE 64
#endif

/** Server session cache and ticket lifetime, seconds. */
#ifndef WISP_TLS_SESSION_LIFETIME_S
#define WISP_TLS_SESSION_LIFETIME_S 3600
#endif

/** How long a saved client session is used at most, seconds, when the server gave no
 *  ticket lifetime (a TLS 1.2 session ID, or a ticket with hint 0): a session older
 *  than this is skipped by wisp_context_sessions_load(). RFC 5246 advises at most a
 *  day. No RAM cost. */
#ifndef WISP_TLS_CLIENT_SESSION_LIFETIME_S
#define WISP_TLS_CLIENT_SESSION_LIFETIME_S 86400
#endif

/** Client TLS sessions a vhost keeps for resumption, one per host:port, the least
 *  recently stored dropped first. RAM: one mbedTLS session copy each, about 200 B,
 *  plus the server's certificate chain when MBEDTLS_SSL_KEEP_PEER_CERTIFICATE is on
 *  (Debian's default: about 1-2 KiB more). */
#ifndef WISP_VHOST_SESSIONS_MAX
#define WISP_VHOST_SESSIONS_MAX 8
#endif

#include "wisp/config-check.h"

#endif /* WISP_CONFIG_H */
