/*
 * The AES inverse cipher, absent: for mbedTLS 2.28 profiles that define
 * MBEDTLS_AES_SETKEY_DEC_ALT and MBEDTLS_AES_DECRYPT_ALT because all they use AES for
 * is GCM and CTR_DRBG, which run the forward cipher in both directions
 * (wisp-embedded-client-config.h). 2.28's generic cipher layer still references the
 * decryption key schedule and block function from its AES-ECB entry, so without
 * these two the inverse tables (1.3 KiB) and code (1 KiB) stay in every image.
 *
 * scripts/firmware-build.sh compiles this file and adds it to the profile's
 * libmbedcrypto.a, next to its only callers. Anything that does reach them (an
 * AES-ECB or AES-CBC decryption) gets an error and an all-zero block, never output
 * that looks like plaintext.
 */
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/platform.h>

#if defined(MBEDTLS_AES_SETKEY_DEC_ALT) && defined(MBEDTLS_AES_DECRYPT_ALT)

int mbedtls_aes_setkey_dec(mbedtls_aes_context *ctx, const unsigned char *key, unsigned int keybits)
{
    (void)ctx;
    (void)key;
    (void)keybits;
    return MBEDTLS_ERR_PLATFORM_FEATURE_UNSUPPORTED;
}

int mbedtls_internal_aes_decrypt(mbedtls_aes_context *ctx, const unsigned char input[16],
                                 unsigned char output[16])
{
    (void)ctx;
    (void)input;
    memset(output, 0, 16);
    return MBEDTLS_ERR_PLATFORM_FEATURE_UNSUPPORTED;
}

#endif
