/*
 * wisp-floor: what mbedTLS alone costs, for the side-by-side figures of issue 13 §2
 * (bench/handshake.sh, bench/syscalls.sh). Two modes:
 *
 *   wisp-floor handshake GROUP N CA.pem LEAF.pem LEAF.key [threaded]
 *   wisp-floor requests PORT CA.pem N PATH
 *
 * handshake: the crypto floor of one full TLS 1.2 client handshake ("client CPU per
 * full handshake <= 1.05x the mbedTLS crypto floor"), with mbedTLS's primitives and
 * nothing else. GROUP is x25519 or p256, the ECDHE group the handshake negotiates.
 * One iteration is what any client must compute for an ECDHE-ECDSA handshake, on
 * keys as fresh as a handshake has them:
 *   1. the trust anchor's and the server's public keys parsed from their DER
 *      SubjectPublicKeyInfo (group load, point decoding, on-curve check);
 *   2. ECDHE: an ephemeral key pair on GROUP, then the shared secret with the
 *      server's ephemeral point (coordinates blinded with the DRBG, as TLS does);
 *   3. two ECDSA verifications with SHA-256: the leaf's signature by the CA (over the
 *      leaf's TBSCertificate) and a ServerKeyExchange-sized signature by the leaf.
 * What a handshake does beyond this (X.509 parsing and path checks, the transcript
 * hash, the PRF, record protection, sockets, wisp itself) is the overhead the ratio
 * measures. Set up outside the timed loop: a CTR_DRBG seeded once (as a wisp context
 * has one), the certificates parsed, the SKE signature made with the leaf key, the
 * server's ephemeral point generated. With "threaded", one thread is started and
 * joined before the loop: the process is then as a wisp process is after its first
 * name lookup (the POSIX resolver's thread), and glibc's malloc takes its locked
 * arena path for good; mbedTLS's bignums call calloc and free for every limb array,
 * so this costs the floor itself a few percent (bench/RESULTS.md, "Handshake").
 *
 * requests: a bare mbedTLS client, as a developer would write one without a library:
 * a non-blocking socket to 127.0.0.1:PORT with TCP_NODELAY, poll(2) for readiness,
 * mbedTLS over plain send/recv callbacks, one handshake, then N GETs of PATH one
 * after another on the connection (write the request, read until the response's
 * Content-Length body is in). The suite is wisp's first choice, ECDHE-ECDSA with
 * AES-128-GCM (mbedTLS's default order would put AES-256 first), so the records cost
 * the same on both sides. cpu_us covers the N requests only, not the handshake.
 *
 * Both print "key value" lines: cpu_us (process CPU of the timed part, user +
 * system), per_iter_us, failed. Exit 0 only when nothing failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#if MBEDTLS_VERSION_MAJOR >= 3
#define PK_SIGN(pk, h, sig, cap, len, rng, prng)                                                   \
    mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, h, 32, sig, cap, len, rng, prng)
#define PK_PARSE_KEYFILE(pk, path, rng, prng) mbedtls_pk_parse_keyfile(pk, path, NULL, rng, prng)
#define CRT_SIG(c) (&(c)->MBEDTLS_PRIVATE(sig))
#define CRT_TBS(c) (&(c)->tbs)
#if defined(MBEDTLS_USE_PSA_CRYPTO) || defined(MBEDTLS_SSL_PROTO_TLS1_3)
#include <psa/crypto.h>
#define PSA_INIT() psa_crypto_init()
#endif
#else
#define PK_SIGN(pk, h, sig, cap, len, rng, prng)                                                   \
    ((void)(cap), mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, h, 32, sig, len, rng, prng))
#define PK_PARSE_KEYFILE(pk, path, rng, prng)                                                      \
    ((void)(rng), mbedtls_pk_parse_keyfile(pk, path, NULL))
#define CRT_SIG(c) (&(c)->sig)
#define CRT_TBS(c) (&(c)->tbs)
#endif

#ifndef PSA_INIT
#define PSA_INIT() 0
#endif

typedef struct spki {
    unsigned char der[256];
    size_t len;
} spki_t;

/* The DER SubjectPublicKeyInfo of a parsed certificate's key. */
static int spki_of(mbedtls_x509_crt *crt, spki_t *out)
{
    unsigned char buf[sizeof(out->der)];
    int n = mbedtls_pk_write_pubkey_der(&crt->pk, buf, sizeof(buf));

    if (n <= 0)
        return -1;
    memcpy(out->der, buf + sizeof(buf) - (size_t)n, (size_t)n);
    out->len = (size_t)n;
    return 0;
}

static int verify(const spki_t *key, const unsigned char *data, size_t len,
                  const unsigned char *sig, size_t sig_len)
{
    unsigned char hash[32];
    mbedtls_pk_context pk;
    int ret;

    mbedtls_pk_init(&pk);
    ret = mbedtls_pk_parse_public_key(&pk, key->der, key->len);
    if (!ret)
        ret = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data, len, hash);
    if (!ret)
        ret = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len);
    mbedtls_pk_free(&pk);
    return ret;
}

/* ECDHE on a fresh group: our key pair, then the secret with the peer's point. */
static int ecdhe(mbedtls_ecp_group_id gid, const mbedtls_ecp_point *peer,
                 mbedtls_ctr_drbg_context *drbg)
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d, z;
    mbedtls_ecp_point q;
    int ret;

    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&z);
    mbedtls_ecp_point_init(&q);
    ret = mbedtls_ecp_group_load(&grp, gid);
    if (!ret)
        ret = mbedtls_ecdh_gen_public(&grp, &d, &q, mbedtls_ctr_drbg_random, drbg);
    if (!ret)
        ret = mbedtls_ecdh_compute_shared(&grp, &z, peer, &d, mbedtls_ctr_drbg_random, drbg);
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&z);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    return ret;
}

static long cpu_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (long)t.tv_sec * 1000000L + t.tv_nsec / 1000;
}

static void *no_work(void *arg)
{
    return arg;
}

/* One thread started and joined: glibc's malloc is multi-threaded from here on. */
static int start_a_thread(void)
{
    pthread_t t;

    return pthread_create(&t, NULL, no_work, NULL) || pthread_join(t, NULL);
}

static int mode_handshake(int argc, char **argv)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca, leaf;
    mbedtls_pk_context leaf_key;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point peer;
    mbedtls_mpi peer_d;
    mbedtls_ecp_group_id gid;
    spki_t ca_spki, leaf_spki;
    unsigned char ske[160], ske_hash[32], ske_sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t ske_sig_len = 0;
    long n, i, t0, t1, bad = 0;
    int ret;

    if (argc < 6 || argc > 7 || (n = atol(argv[2])) < 1 ||
        (argc == 7 && strcmp(argv[6], "threaded"))) {
        fprintf(stderr, "usage: wisp-floor handshake x25519|p256 N CA.pem LEAF.pem LEAF.key "
                        "[threaded]\n");
        return 2;
    }
    if (argc == 7 && start_a_thread()) {
        fprintf(stderr, "wisp-floor: pthread_create failed\n");
        return 1;
    }
    if (!strcmp(argv[1], "x25519"))
        gid = MBEDTLS_ECP_DP_CURVE25519;
    else if (!strcmp(argv[1], "p256"))
        gid = MBEDTLS_ECP_DP_SECP256R1;
    else {
        fprintf(stderr, "wisp-floor: unknown group %s\n", argv[1]);
        return 2;
    }

    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&leaf);
    mbedtls_pk_init(&leaf_key);
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&peer);
    mbedtls_mpi_init(&peer_d);
    memset(ske, 0x5a, sizeof(ske)); /* client + server random and the ECDH params */
    ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                (const unsigned char *)"wisp-floor", 10);
    if (!ret && (ret = mbedtls_x509_crt_parse_file(&ca, argv[3])) != 0)
        fprintf(stderr, "wisp-floor: %s: -0x%04x\n", argv[3], (unsigned)-ret);
    if (!ret && (ret = mbedtls_x509_crt_parse_file(&leaf, argv[4])) != 0)
        fprintf(stderr, "wisp-floor: %s: -0x%04x\n", argv[4], (unsigned)-ret);
    if (!ret && (ret = PK_PARSE_KEYFILE(&leaf_key, argv[5], mbedtls_ctr_drbg_random, &drbg)) != 0)
        fprintf(stderr, "wisp-floor: %s: -0x%04x\n", argv[5], (unsigned)-ret);
    if (!ret)
        ret = spki_of(&ca, &ca_spki) || spki_of(&leaf, &leaf_spki);
    if (!ret)
        ret = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), ske, sizeof(ske), ske_hash);
    if (!ret)
        ret = PK_SIGN(&leaf_key, ske_hash, ske_sig, sizeof(ske_sig), &ske_sig_len,
                      mbedtls_ctr_drbg_random, &drbg);
    if (!ret)
        ret = mbedtls_ecp_group_load(&grp, gid);
    if (!ret)
        ret = mbedtls_ecdh_gen_public(&grp, &peer_d, &peer, mbedtls_ctr_drbg_random, &drbg);
    if (ret) {
        fprintf(stderr, "wisp-floor: setup failed (-0x%04x)\n", (unsigned)-ret);
        return 1;
    }

    t0 = cpu_us();
    for (i = 0; i < n; i++) {
        bad += ecdhe(gid, &peer, &drbg) != 0;
        bad += verify(&ca_spki, CRT_TBS(&leaf)->p, CRT_TBS(&leaf)->len, CRT_SIG(&leaf)->p,
                      CRT_SIG(&leaf)->len) != 0;
        bad += verify(&leaf_spki, ske, sizeof(ske), ske_sig, ske_sig_len) != 0;
    }
    t1 = cpu_us();

    printf("group %s\n", argv[1]);
    printf("iterations %ld\n", n);
    printf("failed %ld\n", bad);
    printf("cpu_us %ld\n", t1 - t0);
    printf("per_iter_us %.1f\n", (double)(t1 - t0) / (double)n);
    mbedtls_mpi_free(&peer_d);
    mbedtls_ecp_point_free(&peer);
    mbedtls_ecp_group_free(&grp);
    mbedtls_pk_free(&leaf_key);
    mbedtls_x509_crt_free(&leaf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return bad != 0;
}

/* ---- requests: a bare mbedTLS client ----------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);

    if (n >= 0)
        return (int)n;
    return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_WANT_WRITE : -1;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t n = recv(*(int *)ctx, buf, len, 0);

    if (n >= 0)
        return (int)n;
    return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_WANT_READ : -1;
}

/* Wait for what mbedTLS asked for (ret), at most 10 s. */
static int wait_for(int fd, int ret)
{
    struct pollfd p = {fd, ret == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT : POLLIN, 0};

    return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

/* One GET: the request written, the response read to the end of its body. */
static int one_get(mbedtls_ssl_context *ssl, int fd, const char *req, size_t req_len)
{
    unsigned char buf[4096];
    size_t off = 0, have = 0, need = 0, head = 0;
    int ret;

    while (off < req_len) {
        ret = mbedtls_ssl_write(ssl, (const unsigned char *)req + off, req_len - off);
        if (ret > 0)
            off += (size_t)ret;
        else if ((ret != MBEDTLS_ERR_SSL_WANT_WRITE && ret != MBEDTLS_ERR_SSL_WANT_READ) ||
                 wait_for(fd, ret))
            return -1;
    }
    for (;;) {
        ret = mbedtls_ssl_read(ssl, buf + have, sizeof(buf) - 1 - have);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            if (wait_for(fd, ret))
                return -1;
            continue;
        }
        if (ret <= 0)
            return -1;
        have += (size_t)ret;
        buf[have] = 0;
        if (!head) {
            char *end = strstr((char *)buf, "\r\n\r\n"), *cl;

            if (!end) {
                if (have == sizeof(buf) - 1)
                    return -1;
                continue;
            }
            head = (size_t)(end + 4 - (char *)buf);
            cl = strstr((char *)buf, "Content-Length: ");
            if (!cl || cl > end)
                return -1;
            need = head + (size_t)strtoul(cl + 16, NULL, 10);
        }
        if (have >= need)
            return have == need ? 0 : -1;
        if (have == sizeof(buf) - 1) { /* the body does not fit: keep counting it */
            need -= have;
            have = 0;
            head = 1;
        }
    }
}

static int mode_requests(int argc, char **argv)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt ca;
    struct sockaddr_in sa;
    static const int suites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0};
    char req[256];
    int fd = -1, one = 1, ret, req_len;
    long n, i, t0 = 0, t1 = 0, bad = 0;

    if (argc != 5 || atoi(argv[1]) <= 0 || (n = atol(argv[3])) < 1) {
        fprintf(stderr, "usage: wisp-floor requests PORT CA.pem N PATH\n");
        return 2;
    }
    req_len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", argv[4]);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    mbedtls_x509_crt_init(&ca);
    ret = PSA_INIT();
    if (!ret)
        ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                    (const unsigned char *)"wisp-floor", 10);
    if (!ret)
        ret = mbedtls_x509_crt_parse_file(&ca, argv[2]);
    if (!ret)
        ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (!ret) {
        mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
        mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
        mbedtls_ssl_conf_ciphersuites(&conf, suites);
        ret = mbedtls_ssl_setup(&ssl, &conf);
    }
    if (!ret)
        ret = mbedtls_ssl_set_hostname(&ssl, "localhost");
    if (!ret) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)atoi(argv[1]));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ret = fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
              connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
              fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    if (!ret) {
        mbedtls_ssl_set_bio(&ssl, &fd, bio_send, bio_recv, NULL);
        while ((ret = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
               ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            if (wait_for(fd, ret))
                break;
    }
    if (ret) {
        fprintf(stderr, "wisp-floor: connect or handshake failed (-0x%04x)\n", (unsigned)-ret);
        bad = 1;
    } else {
        t0 = cpu_us();
        for (i = 0; i < n && !bad; i++)
            bad += one_get(&ssl, fd, req, (size_t)req_len) != 0;
        t1 = cpu_us();
        mbedtls_ssl_close_notify(&ssl);
    }
    printf("requests %ld\n", n);
    printf("failed %ld\n", bad);
    printf("cpu_us %ld\n", t1 - t0);
    printf("per_iter_us %.1f\n", (double)(t1 - t0) / (double)n);
    if (fd >= 0)
        close(fd);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return bad != 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "handshake"))
        return mode_handshake(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "requests"))
        return mode_requests(argc - 1, argv + 1);
    fprintf(stderr, "usage: wisp-floor handshake x25519|p256 N CA.pem LEAF.pem LEAF.key "
                    "[threaded]\n"
                    "       wisp-floor requests PORT CA.pem N PATH\n");
    return 2;
}
