/*
 * wisp's embedded profile for Mbed TLS 3.6 LTS: the twin of wisp-embedded-config.h
 * (2.28), with TLS 1.3 next to TLS 1.2. A complete MBEDTLS_CONFIG_FILE: it replaces
 * mbedtls/mbedtls_config.h (mbedtls/build_info.h then derives the PSA_WANT_* set
 * from it and runs check_config.h). Everything the 2.28 file says holds here; the
 * differences are marked "3.6:".
 *
 * What it is for: a Cortex-M class MCU that runs wisp client streams (and, in the
 * same library, a TLS server for the firmware test's in-image peer or a wisp server)
 * over TLS 1.2 with a static policy. What it keeps:
 *
 *   key exchange   ECDHE-ECDSA and ECDHE-RSA only (SPEC §8: no static RSA, no DHE)
 *   ciphers        AES-GCM (128, 256) and ChaCha20-Poly1305; no CBC, no CCM
 *   groups         X25519, P-256, and P-384 (see "Groups" below)
 *   hashes         SHA-256 and SHA-384 (SHA-512 code, SHA-384 is its truncation)
 *   extensions     SNI, max fragment length, session tickets, extended master secret
 *   heap           MBEDTLS_PLATFORM_MEMORY, so wisp accounts mbedTLS's heap to the
 *                  context (lib/tls/tls-heap.c)
 *
 * What it leaves out on purpose: threading (a wisp context belongs to one loop
 * thread), the file system (certificates come from the static policy in flash),
 * net_sockets (wisp's platform ports do the I/O), PEM (wisp-policy compiles
 * certificates to DER), the error strings (about 10 KiB of ROM; wisp logs the code),
 * mbedtls_entropy (wisp seeds its CTR_DRBG straight from the board's entropy
 * callback), renegotiation, the server session cache (tickets resume statelessly;
 * the cache costs about 180 B of RAM per entry) and certificate validity dates
 * (MBEDTLS_HAVE_TIME_DATE: a board with a trusted calendar clock should define it and
 * MBEDTLS_PLATFORM_GMTIME_R_ALT).
 *
 * 3.6: TLS 1.3 needs PSA Crypto, and PSA's RNG is process-global (one for every
 * context, unlike wisp's per-context CTR_DRBG for TLS): it is seeded from
 * mbedtls_hardware_poll(), which the board supplies (MBEDTLS_ENTROPY_HARDWARE_ALT),
 * and psa_crypto_init() must run once before the first handshake (lib/tls does).
 * With MBEDTLS_PLATFORM_MEMORY, PSA's own heap (its entropy accumulator) is charged
 * to whichever wisp context is current when it is initialised: a firmware calls
 * psa_crypto_init() at boot on an account of its own (tests/firmware/main.c).
 */
#ifndef WISP_EMBEDDED_MBEDTLS36_CONFIG_H
#define WISP_EMBEDDED_MBEDTLS36_CONFIG_H

/* ---- System ------------------------------------------------------------------ */

/* Thumb-2 multiply-accumulate assembly in bignum (UMAAL on Cortex-M4). */
#define MBEDTLS_HAVE_ASM
/* No time(): tickets then never expire by clock on the client, and the server's
 * ticket keys do not rotate. A board with a clock defines these two. */
/* #define MBEDTLS_HAVE_TIME */
/* #define MBEDTLS_HAVE_TIME_DATE */

/* calloc/free are wisp's (tls-heap.c sets them with mbedtls_platform_set_calloc_free
 * before any TLS object exists). No default: until they are set every mbedTLS
 * allocation fails, so nothing can reach newlib's malloc behind wisp's back. */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
/* NO_STD_FUNCTIONS drops only the defaults that would link calloc/free; the printing
 * and exit functions stay the C library's (declarations only: nothing is linked
 * unless mbedTLS code that uses them is). */
#include <stdio.h>
#include <stdlib.h>
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO snprintf
#define MBEDTLS_PLATFORM_PRINTF_MACRO printf
#define MBEDTLS_PLATFORM_FPRINTF_MACRO fprintf
#define MBEDTLS_PLATFORM_EXIT_MACRO exit
#define MBEDTLS_PLATFORM_STD_EXIT_SUCCESS 0
#define MBEDTLS_PLATFORM_STD_EXIT_FAILURE 1
#define MBEDTLS_PLATFORM_VSNPRINTF_MACRO vsnprintf

#define MBEDTLS_DEPRECATED_REMOVED

/* ---- Crypto primitives ------------------------------------------------------- */

#define MBEDTLS_AES_C
/* Tables in flash, and one table instead of four: 6 KiB less RAM, 6 KiB less ROM,
 * a few percent slower. */
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA384_C
/* 3.6: HKDF for the TLS 1.3 key schedule, PSA Crypto for TLS 1.3 itself. */
#define MBEDTLS_HKDF_C
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT
/* Key slots held at once: a handful per connection during a handshake. RAM: the
 * slot table, about 100 bytes a slot. */
#define MBEDTLS_PSA_KEY_SLOT_COUNT 16

#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
/* Deterministic ECDSA signatures (RFC 6979) need HMAC_DRBG: a server key signs with
 * no dependence on the quality of the RNG at that moment. */
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_HMAC_DRBG_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21

/* Groups. X25519 and P-256 are the profile. P-384 is here only because wisp's TLS
 * glue still sets a fixed group list (X25519, P-256, P-384) and mbedTLS refuses a
 * configured group it does not have; drop it once the list is built from the
 * config. It also verifies P-384 certificate chains, which SPEC §8 allows. */
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
/* RAM over speed: a window of 2 points (default 6 keeps up to 32 precomputed points,
 * about 3 KiB for P-256 during every verification) and no fixed-point cache in the
 * group (another 2-3 KiB per curve per group object). */
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
/* Largest number: RSA-2048 peers (SPEC §8: RSA ≥ 2048; 4096 allowed). */
#define MBEDTLS_MPI_MAX_SIZE 512
#define MBEDTLS_MPI_WINDOW_SIZE 2

#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
/* A server chain of leaf + up to 3 intermediates is all an MCU should accept. */
#define MBEDTLS_X509_MAX_INTERMEDIATE_CA 3

/* ---- TLS --------------------------------------------------------------------- */

#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C
/* 3.6: TLS 1.3 requires MBEDTLS_SSL_KEEP_PEER_CERTIFICATE (defined above), so the
 * peer's chain stays parsed for the connection's life: about 1-2 KiB more heap per
 * connection than the 2.28 profile. */

/* Only the AEAD suites of SPEC §8, in preference order (ChaCha20 first: without AES
 * hardware it is the faster of the two on a Cortex-M). */
#define MBEDTLS_SSL_CIPHERSUITES                                                                   \
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS1_3_AES_128_GCM_SHA256,                    \
        MBEDTLS_TLS1_3_AES_256_GCM_SHA384, MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,  \
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,                                           \
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,                                           \
        MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,                                       \
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,                                             \
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384

/*
 * Record buffers. mbedTLS allocates one input and one output buffer per
 * connection when the session is set up (content length + about 90 bytes of header,
 * IV and tag room each), for the connection's whole life.
 *
 * Both 4096, because of three constraints:
 *  - a client may only ask for a max_fragment_len no larger than the smaller of the
 *    two (mbedtls_ssl_conf_max_frag_len refuses more: the extension limits records
 *    both ways), and a policy may ask for any of 512..4096;
 *  - the input buffer must hold the largest handshake message whole, since mbedTLS does
 *    not reassemble a handshake message from several records: that is the server's
 *    Certificate message, about 1.2 KiB for a P-256 leaf and intermediate and 2.5 KiB
 *    for an RSA-2048 pair, so 2048 would refuse RSA chains;
 *  - the output buffer holds wisp's request head (well under 1 KiB), body records
 *    (mbedTLS splits at this size) and our own flights, including the Certificate
 *    message of a wisp server or of the firmware test's in-image peer.
 * A server that ignores max_fragment_len and sends 16 KiB records fails the
 * handshake with a record-overflow alert on this profile: a policy talking to such a
 * server needs a build with IN 16384 (12 KiB more heap per connection).
 */
#define MBEDTLS_SSL_IN_CONTENT_LEN 4096
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#endif /* WISP_EMBEDDED_MBEDTLS36_CONFIG_H */
