/*
 * Writes a loaded policy model as const C initialisers: the static policy.
 *
 * The output is the model itself, field by field, with designated initialisers so
 * that it reads like the header and survives field reordering. Everything is
 * symbolic (WISP_METHOD_POST, WISP_CERT_X509, WISP_POLICY_FOREVER), certificates
 * are byte arrays, and references between objects are addresses of array
 * elements, so the C compiler lays out the same tree the loader builds on the heap.
 * Helper arrays are static and prefixed with the policy name, so several policies
 * can be linked into one program. The fields of streams, retries and trust stores
 * are written by walking the key tables of policy.h (WISP_POLICY_STREAM_KEYS and
 * friends), so a new key needs no code here unless it is a new kind.
 *
 * One number is deliberately not symbolic: the layout stamp is written as the
 * literal WISP_POLICY_LAYOUT this tool was built with, so that a library built
 * with another layout recognises the file as foreign (see policy.h).
 */
#include <string.h>

#include "emit.h"

typedef struct out {
    FILE *f;
    const char *name; /* the policy's C name, prefix of every helper array */
    const wisp_policy_t *p;
} out_t;

/* A C string literal. Bytes outside printable ASCII, and a '?' after a '?' (which
 * could start a trigraph), become three-digit octal escapes: those never swallow a
 * following digit. */
static void str(out_t *o, const char *s)
{
    const unsigned char *c;

    if (!s) {
        fputs("NULL", o->f);
        return;
    }
    fputc('"', o->f);
    for (c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(o->f, "\\%c", *c);
        else if (*c < 0x20 || *c >= 0x7f ||
                 (*c == '?' && c > (const unsigned char *)s && c[-1] == '?'))
            fprintf(o->f, "\\%03o", *c);
        else
            fputc(*c, o->f);
    }
    fputc('"', o->f);
}

static void field_str(out_t *o, const char *field, const char *s)
{
    fprintf(o->f, "        .%s = ", field);
    str(o, s);
    fputs(",\n", o->f);
}

static void field_uint(out_t *o, const char *field, unsigned long v)
{
    fprintf(o->f, "        .%s = %lu,\n", field, v);
}

/* A pointer into one of the policy's arrays, as &NAME_array[i], or NULL. */
static void field_ref(out_t *o, const char *field, const char *array, const void *base,
                      const void *elem, size_t size)
{
    fprintf(o->f, "        .%s = ", field);
    if (elem)
        fprintf(o->f, "&%s_%s[%lu],\n", o->name, array,
                (unsigned long)(((const char *)elem - (const char *)base) / size));
    else
        fputs("NULL,\n", o->f);
}

/* .field = NAME_array_i, or NULL when the array is empty. */
static void field_array(out_t *o, const char *field, const char *array, size_t i, size_t n)
{
    if (n)
        fprintf(o->f, "        .%s = %s_%s_%lu,\n", field, o->name, array, (unsigned long)i);
    else
        fprintf(o->f, "        .%s = NULL,\n", field);
}

static const char *cert_kind(wisp_cert_kind_t k)
{
    return k == WISP_CERT_X509 ? "WISP_CERT_X509" : "WISP_CERT_KEY";
}

static void certs(out_t *o)
{
    const wisp_policy_t *p = o->p;
    size_t i, k;

    for (i = 0; i < p->cert_count; i++) {
        const wisp_policy_cert_t *c = &p->certs[i];

        fprintf(o->f, "/* %s: %s, %lu bytes of DER */\n", c->name,
                c->kind == WISP_CERT_X509 ? "X.509 certificate" : "private key",
                (unsigned long)c->len);
        fprintf(o->f, "static const uint8_t %s_der_%lu[] = {", o->name, (unsigned long)i);
        for (k = 0; k < c->len; k++)
            fprintf(o->f, "%s0x%02x,", k % 12 ? " " : "\n    ", c->der[k]);
        fputs("\n};\n\n", o->f);
    }
    if (!p->cert_count)
        return;
    fprintf(o->f, "static const wisp_policy_cert_t %s_certs[] = {\n", o->name);
    for (i = 0; i < p->cert_count; i++) {
        fputs("    {\n", o->f);
        field_str(o, "name", p->certs[i].name);
        fprintf(o->f, "        .kind = %s,\n", cert_kind(p->certs[i].kind));
        fprintf(o->f, "        .der = %s_der_%lu,\n", o->name, (unsigned long)i);
        fprintf(o->f, "        .len = sizeof(%s_der_%lu),\n", o->name, (unsigned long)i);
        fputs("    },\n", o->f);
    }
    fputs("};\n\n", o->f);
}

/* One line (or two) per retry key, by its kind in WISP_POLICY_RETRY_KEYS. */
#define EMIT_R_DELAYS(f)                                                                           \
    field_array(o, #f, "backoff", i, r->backoff_count);                                            \
    field_uint(o, "backoff_count", r->backoff_count)
#define EMIT_R_UINT(f) field_uint(o, #f, r->f)
#define EMIT_R_CONCEAL(k)                                                                          \
    if (r->k == WISP_POLICY_FOREVER)                                                               \
        fputs("        ." #k " = WISP_POLICY_FOREVER,\n", o->f);                                   \
    else                                                                                           \
        field_uint(o, #k, r->k)
#define EMIT_RETRY_ROW(key, kind, min, max, dflt)                                                  \
    {                                                                                              \
        EMIT_R_##kind(key);                                                                        \
    }

static void retries(out_t *o)
{
    const wisp_policy_t *p = o->p;
    size_t i, k;

    for (i = 0; i < p->retry_count; i++) {
        const wisp_policy_retry_t *r = &p->retries[i];

        fprintf(o->f, "static const uint32_t %s_backoff_%lu[] = {", o->name, (unsigned long)i);
        for (k = 0; k < r->backoff_count; k++)
            fprintf(o->f, "%s%lu", k ? ", " : "", (unsigned long)r->backoff_ms[k]);
        fputs("};\n", o->f);
    }
    if (!p->retry_count)
        return;
    fprintf(o->f, "\nstatic const wisp_policy_retry_t %s_retries[] = {\n", o->name);
    for (i = 0; i < p->retry_count; i++) {
        const wisp_policy_retry_t *r = &p->retries[i];

        fputs("    {\n", o->f);
        field_str(o, "name", r->name);
        WISP_POLICY_RETRY_KEYS(EMIT_RETRY_ROW)
        fputs("    },\n", o->f);
    }
    fputs("};\n\n", o->f);
}

/* One line (or two) per trust store key, by its kind in WISP_POLICY_TRUST_STORE_KEYS. */
#define EMIT_T_CERTS(f)                                                                            \
    field_array(o, #f, "trust_certs", i, t->cert_count);                                           \
    field_uint(o, "cert_count", t->cert_count)
#define EMIT_T_UINT(f) field_uint(o, #f, t->f)
#define EMIT_TRUST_ROW(key, kind, min, max, dflt)                                                  \
    {                                                                                              \
        EMIT_T_##kind(key);                                                                        \
    }

static void trust_stores(out_t *o)
{
    const wisp_policy_t *p = o->p;
    size_t i, k;

    for (i = 0; i < p->trust_store_count; i++) {
        const wisp_policy_trust_store_t *t = &p->trust_stores[i];

        if (!t->cert_count)
            continue;
        fprintf(o->f, "static const wisp_policy_cert_t *const %s_trust_certs_%lu[] = {", o->name,
                (unsigned long)i);
        for (k = 0; k < t->cert_count; k++)
            fprintf(o->f, "%s&%s_certs[%lu]", k ? ", " : "", o->name,
                    (unsigned long)(t->certs[k] - p->certs));
        fputs("};\n", o->f);
    }
    if (!p->trust_store_count)
        return;
    fprintf(o->f, "\nstatic const wisp_policy_trust_store_t %s_trust_stores[] = {\n", o->name);
    for (i = 0; i < p->trust_store_count; i++) {
        const wisp_policy_trust_store_t *t = &p->trust_stores[i];

        fputs("    {\n", o->f);
        field_str(o, "name", t->name);
        WISP_POLICY_TRUST_STORE_KEYS(EMIT_TRUST_ROW)
        field_uint(o, "system", t->system); /* not a key: the reserved store */
        fputs("    },\n", o->f);
    }
    fputs("};\n\n", o->f);
}

static void stream_arrays(out_t *o, size_t i)
{
    const wisp_policy_stream_t *s = &o->p->streams[i];
    size_t k;

    if (s->header_count) {
        fprintf(o->f, "static const wisp_policy_header_t %s_headers_%lu[] = {\n", o->name,
                (unsigned long)i);
        for (k = 0; k < s->header_count; k++) {
            fputs("    {.name = ", o->f);
            str(o, s->headers[k].name);
            fputs(", .value = ", o->f);
            str(o, s->headers[k].value);
            fputs("},\n", o->f);
        }
        fputs("};\n", o->f);
    }
    if (s->metadata_count) {
        fprintf(o->f, "static const wisp_policy_meta_t %s_metadata_%lu[] = {\n", o->name,
                (unsigned long)i);
        for (k = 0; k < s->metadata_count; k++) {
            fputs("    {.name = ", o->f);
            str(o, s->metadata[k].name);
            fputs(", .header = ", o->f);
            str(o, s->metadata[k].header);
            fputs("},\n", o->f);
        }
        fputs("};\n", o->f);
    }
}

/* An enum field by its symbolic name (protocol and method are the enum keys). */
static void field_enum(out_t *o, const char *field, const wisp_policy_stream_t *s)
{
    const char *method = wisp_policy_method_name(s->method);

    if (!strcmp(field, "protocol") && s->protocol == WISP_PROTO_H1)
        fputs("        .protocol = WISP_PROTO_H1,\n", o->f);
    else if (!strcmp(field, "method") && method)
        fprintf(o->f, "        .method = WISP_METHOD_%s,\n", method);
}

/* One line (or two) per stream key, by its kind in WISP_POLICY_STREAM_KEYS. */
#define EMIT_BOOL(f) field_uint(o, #f, s->f)
#define EMIT_UINT(f) field_uint(o, #f, s->f)
#define EMIT_ENUM(f) field_enum(o, #f, s)
#define EMIT_HOST(f) field_str(o, #f, s->f)
#define EMIT_URL(f) field_str(o, #f, s->f)
#define EMIT_TRUST(f)                                                                              \
    field_ref(o, #f, "trust_stores", p->trust_stores, s->f, sizeof(*p->trust_stores))
#define EMIT_CERT(f) field_ref(o, #f, "certs", p->certs, s->f, sizeof(*p->certs))
#define EMIT_KEY(f) field_ref(o, #f, "certs", p->certs, s->f, sizeof(*p->certs))
#define EMIT_RETRY(f) field_ref(o, #f, "retries", p->retries, s->f, sizeof(*p->retries))
#define EMIT_HEADERS(f)                                                                            \
    field_array(o, "headers", "headers", i, s->header_count);                                      \
    field_uint(o, "header_count", s->header_count)
#define EMIT_METADATA(f)                                                                           \
    field_array(o, "metadata", "metadata", i, s->metadata_count);                                  \
    field_uint(o, "metadata_count", s->metadata_count)
#define EMIT_STATUS(f)                                                                             \
    field_uint(o, #f "_min", s->f##_min);                                                          \
    field_uint(o, #f "_max", s->f##_max)
#define ROLE_CLIENT 1
#define ROLE_SERVER 2
#define ROLE_BOTH 3
#define EMIT_ROW(key, kind, roles, min, max, dflt)                                                 \
    if (ROLE_##roles & role) {                                                                     \
        EMIT_##kind(key);                                                                          \
    }

/* One stream. Fields of the other role are zero in the model and left out here. */
static void stream(out_t *o, size_t i)
{
    const wisp_policy_t *p = o->p;
    const wisp_policy_stream_t *s = &p->streams[i];
    int role = s->server ? ROLE_SERVER : ROLE_CLIENT;

    fputs("    {\n", o->f);
    field_str(o, "name", s->name);
    WISP_POLICY_STREAM_KEYS(EMIT_ROW)
    fputs("    },\n", o->f);
}

static void streams(out_t *o)
{
    size_t i;

    for (i = 0; i < o->p->stream_count; i++)
        stream_arrays(o, i);
    if (!o->p->stream_count)
        return;
    fprintf(o->f, "\nstatic const wisp_policy_stream_t %s_streams[] = {\n", o->name);
    for (i = 0; i < o->p->stream_count; i++)
        stream(o, i);
    fputs("};\n\n", o->f);
}

/* .field = NAME_array, .count_field = n (NULL and 0 when empty). */
static void top_array(out_t *o, const char *field, const char *count_field, size_t n)
{
    if (n)
        fprintf(o->f, "    .%s = %s_%s,\n", field, o->name, field);
    else
        fprintf(o->f, "    .%s = NULL,\n", field);
    fprintf(o->f, "    .%s = %lu,\n", count_field, (unsigned long)n);
}

/* The "generated from" comment: the input path, with any end-of-comment broken. */
static void banner(FILE *f, const char *input)
{
    const char *s;

    fputs("/* Generated by wisp-policy compile. Do not edit: change the JSON policy\n"
          " * instead; the build regenerates this file. Input:\n * ",
          f);
    for (s = input; *s; s++) {
        fputc(*s, f);
        if (s[0] == '*' && s[1] == '/')
            fputc(' ', f);
    }
    fputs("\n */\n", f);
}

int emit_policy(FILE *c, FILE *h, const wisp_policy_t *p, const char *name, const char *input,
                const char *header)
{
    out_t o = {c, name, p};

    banner(h, input);
    fprintf(h,
            "#ifndef WISP_STATIC_POLICY_%s_H\n#define WISP_STATIC_POLICY_%s_H\n\n"
            "#include <wisp/policy.h>\n\n"
            "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
            "extern const wisp_policy_t %s;\n\n"
            "#ifdef __cplusplus\n}\n#endif\n\n#endif\n",
            name, name, name);
    banner(c, input);
    fprintf(c, "#include \"%s\"\n\n", header);
    certs(&o);
    retries(&o);
    trust_stores(&o);
    streams(&o);
    /* The stamp is the number this tool was built with, written as a literal: the
     * macro would take the value of whatever header the file is compiled against,
     * which is exactly what the stamp must not do. */
    fprintf(c,
            "const wisp_policy_t %s = {\n"
            "    .layout = %lu, /* WISP_POLICY_LAYOUT of the wisp-policy that wrote this */\n"
            "    .schema = %lu,\n    .release = ",
            name, (unsigned long)WISP_POLICY_LAYOUT, (unsigned long)p->schema);
    str(&o, p->release);
    fputs(",\n", c);
    top_array(&o, "retries", "retry_count", p->retry_count);
    top_array(&o, "certs", "cert_count", p->cert_count);
    top_array(&o, "trust_stores", "trust_store_count", p->trust_store_count);
    top_array(&o, "streams", "stream_count", p->stream_count);
    fputs("    .allocated = 0,\n};\n", c);
    return ferror(c) || ferror(h) ? -1 : 0;
}
