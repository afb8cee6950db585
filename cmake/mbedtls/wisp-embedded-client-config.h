/*
 * wisp's embedded *client* profile for Mbed TLS 2.28 (a complete MBEDTLS_CONFIG_FILE,
 * like wisp-embedded-config.h, of which it is the client-only cut).
 *
 * What it is for: the smallest product SPEC §11 budgets, a client-only firmware
 * (libwisp built with WISP_WITH_SERVER=OFF and a static policy) whose whole image must
 * fit 80 KiB of flash. It talks TLS 1.2 to servers the product's own policy names, so
 * the vendor picks their certificates and suites. What it keeps:
 *
 *   role           client only: no ssl_srv.c, no ticket keys, no session cache
 *   key exchange   ECDHE-ECDSA only (SPEC §8 allows ECDHE-RSA too: see below)
 *   cipher         AES-128-GCM only
 *   group          P-256 only, for the key exchange and the certificate keys
 *   hash           SHA-256 only (certificate signatures ecdsa-with-SHA256)
 *   extensions     SNI, max fragment length, session tickets (client side),
 *                  extended master secret
 *   heap           MBEDTLS_PLATFORM_MEMORY (lib/tls/tls-heap.c counts it)
 *
 * What the cut costs a product: it can only reach servers with a P-256 ECDSA
 * certificate chain signed with SHA-256 that offer ECDHE-ECDSA-AES128-GCM-SHA256.
 * That is the common default of an ECDSA server (nginx, AWS IoT, Azure IoT Hub with
 * an ECC certificate) but not of an RSA-only one; a product that must talk to an RSA
 * server builds with wisp-embedded-config.h instead (about 20 KiB more flash, see
 * bench/RESULTS.md). Client certificates still work for P-256 keys.
 *
 * Where the flash went before this cut (the full profile's client image was 108 KiB):
 * ssl_srv.c is reachable from mbedtls_ssl_handshake_step() as soon as
 * MBEDTLS_SSL_SRV_C is defined, whatever the application calls; every cipher, hash
 * and curve the config enables is referenced from mbedTLS's own tables (cipher_wrap,
 * md_wrap, pk_wrap, the curve list, the OID tables), so --gc-sections keeps them all.
 * In this profile an option either carries a reason here or is not defined.
 *
 * Also left out, as in the full profile: threading, the file system, net_sockets,
 * PEM, error strings, mbedtls_entropy, renegotiation, time (see below).
 */
#ifndef WISP_EMBEDDED_CLIENT_MBEDTLS_CONFIG_H
#define WISP_EMBEDDED_CLIENT_MBEDTLS_CONFIG_H

/* ---- System ------------------------------------------------------------------ */

/* Thumb-2 UMAAL multiply-accumulate in bignum: the ECDHE and the chain's ECDSA
 * verifications are most of a handshake's time on a Cortex-M4. */
#define MBEDTLS_HAVE_ASM
/* No time(): the board has no trusted calendar clock, so certificate validity dates
 * are not checked (MBEDTLS_HAVE_TIME_DATE) and client tickets do not expire by
 * clock. A board with a clock defines both (and MBEDTLS_PLATFORM_GMTIME_R_ALT). */
/* #define MBEDTLS_HAVE_TIME */
/* #define MBEDTLS_HAVE_TIME_DATE */

/* calloc/free are wisp's (lib/tls/tls-heap.c, set before any TLS object exists):
 * with no default, nothing in mbedTLS can reach newlib's malloc behind wisp's back. */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
/* NO_STD_FUNCTIONS also drops the printing and exit defaults; name the C library's
 * (declarations only: nothing in this profile calls them, so nothing is linked). */
#include <stdio.h>
#include <stdlib.h>
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO snprintf
#define MBEDTLS_PLATFORM_PRINTF_MACRO printf
#define MBEDTLS_PLATFORM_FPRINTF_MACRO fprintf
#define MBEDTLS_PLATFORM_EXIT_MACRO exit
#define MBEDTLS_PLATFORM_STD_EXIT_SUCCESS 0
#define MBEDTLS_PLATFORM_STD_EXIT_FAILURE 1
#define MBEDTLS_PLATFORM_VSNPRINTF_MACRO vsnprintf

/* No deprecated compatibility functions. */
#define MBEDTLS_DEPRECATED_REMOVED

/* ---- Crypto primitives ------------------------------------------------------- */

/* AES for AES-128-GCM and CTR_DRBG, which use only the forward cipher. 2.28's cipher
 * layer still references the inverse cipher from its AES-ECB entry, so these two ALTs
 * replace it with stubs that fail (cmake/mbedtls/aes-no-decrypt.c, added to this
 * profile's libmbedcrypto by scripts/firmware-build.sh): 2.3 KiB of flash, the
 * inverse tables and code. A product adding a CBC suite must drop both lines. */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_SETKEY_DEC_ALT
#define MBEDTLS_AES_DECRYPT_ALT
/* One table instead of four and the tables in flash (const): 1.3 KiB of flash for
 * the forward cipher and no RAM, where without ROM_TABLES they would be generated
 * into .bss (and the generator needs a 2 KiB stack frame), and without FEWER_TABLES
 * take four times the flash. A few percent slower. */
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
/* The generic cipher layer: mbedTLS's record layer goes through it. */
#define MBEDTLS_CIPHER_C
/* wisp's per-context DRBG (seeded from the board's entropy callback). */
#define MBEDTLS_CTR_DRBG_C
/* The message-digest layer and the only hash: the suite's PRF and transcript hash,
 * the ServerKeyExchange signature and the certificates' signatures. */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
/* The rolled-up SHA-256 loop: about 1 KiB smaller, 30% slower, a hash is a small
 * part of a handshake. */
#define MBEDTLS_SHA256_SMALLER

/* Elliptic curves: ECDHE on P-256 and ECDSA verification of the server's chain (and
 * signing, if the policy gives the client a P-256 certificate). */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
/* RAM over speed, as in the full profile: a window of 2 points and no fixed-point
 * cache (each would cost KiBs of heap during every verification). */
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
/* The largest number is a P-256 coordinate or scalar (32 bytes): 64 is ample and
 * bounds every MPI the parser will accept from a peer. */
#define MBEDTLS_MPI_MAX_SIZE 64
#define MBEDTLS_MPI_WINDOW_SIZE 2

/* DER certificates (the static policy compiles PEM to DER at build time): the
 * parser, the OID tables, public keys. ASN1_WRITE_C is required by ECDSA_C (the
 * signature encoder) and by ECDH's point export. */
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
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
/* SNI: virtual-hosted servers pick their certificate by it. */
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
/* A policy's max_fragment_len (512..4096): the reason the record buffers below can
 * be 4 KiB instead of 16. */
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
/* RFC 7627: binds the master secret to the handshake; cheap, and resumption without
 * it is open to the triple-handshake attack. */
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
/* Client tickets (RFC 5077): a reconnect resumes in one round trip with no ECDHE or
 * ECDSA on the MCU. MBEDTLS_SSL_TICKET_C (the server's ticket keys) is not needed. */
#define MBEDTLS_SSL_SESSION_TICKETS
/* Not kept: the peer's chain after the handshake (wisp verifies in the callback). */
/* #define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE */

/* The one suite (wisp's own list names more; 2.28 skips suites it was built
 * without). */
#define MBEDTLS_SSL_CIPHERSUITES MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256

/* Record buffers: 4096 each, for the reasons written in wisp-embedded-config.h (a
 * policy's max_fragment_len up to 4096, the server's Certificate message whole in
 * the input buffer). A P-256 chain is about 1.2 KiB, so a product whose policies all
 * ask for max_fragment_len 2048 can halve IN and save 2 KiB of heap. */
#define MBEDTLS_SSL_IN_CONTENT_LEN 4096
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#include "mbedtls/check_config.h"

#endif /* WISP_EMBEDDED_CLIENT_MBEDTLS_CONFIG_H */
