/*
 * Appended to mbedTLS 3.6's default configuration for the build-mbedtls3 tree of
 * `make test` (MBEDTLS_USER_CONFIG_FILE).
 *
 * MBEDTLS_USE_PSA_CRYPTO sends X.509 and TLS 1.2 crypto through the PSA API as well
 * as TLS 1.3's, so it is the configuration where a missing psa_crypto_init() shows
 * first (mbedtls_ssl_ticket_setup then fails with -0x6C00). Testing with it covers
 * the default configuration's needs too.
 */
#define MBEDTLS_USE_PSA_CRYPTO
