/* Rejects impossible wisp configurations at compile time. Included by wisp/config.h. */
#ifndef WISP_CONFIG_CHECK_H
#define WISP_CONFIG_CHECK_H

#include "wisp/config.h"

#if !WISP_WITH_CLIENT && !WISP_WITH_SERVER
#error "wisp: at least one of WISP_WITH_CLIENT and WISP_WITH_SERVER must be 1"
#endif
#if WISP_LOG_LEVEL < -1 || WISP_LOG_LEVEL > 4
#error "wisp: WISP_LOG_LEVEL must be -1 (none) .. 4 (debug)"
#endif
#if WISP_POST_QUEUE_LEN < 2
#error "wisp: WISP_POST_QUEUE_LEN must be at least 2"
#endif
#if WISP_RESOLVE_MAX_ADDRS < 1
#error "wisp: WISP_RESOLVE_MAX_ADDRS must be at least 1"
#endif
#if WISP_SOCK_OUT_MAX < 4096
#error "wisp: WISP_SOCK_OUT_MAX below 4096 cannot hold a TLS handshake flight"
#endif
#if WISP_LOG_LINE_MAX < 64
#error "wisp: WISP_LOG_LINE_MAX must be at least 64"
#endif

#if WISP_H1_PIPELINE_MAX < 1 || WISP_H1_PIPELINE_MAX > 16
#error "wisp: WISP_H1_PIPELINE_MAX must be 1 .. 16"
#endif
#if WISP_H1_LINE_MAX < 64 || WISP_H1_LINE_MAX > 32767
#error "wisp: WISP_H1_LINE_MAX must be 64 .. 32767"
#endif
#if WISP_H1_HEAD_MAX < 256
#error "wisp: WISP_H1_HEAD_MAX must be at least 256"
#endif

#if WISP_VHOST_SESSIONS_MAX < 1
#error "wisp: WISP_VHOST_SESSIONS_MAX must be at least 1"
#endif

#endif /* WISP_CONFIG_CHECK_H */
