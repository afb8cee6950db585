#include <stdio.h>
#include <stdlib.h>

#include "testfiles.h"

char *test_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!fp)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf) {
            buf[n] = '\0';
            if (len)
                *len = (size_t)n;
        }
    }
    fclose(fp);
    return buf;
}

char *test_cert_json(const char *name)
{
    char path[512], *text, *out, *o;
    const char *p;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/%s", WISP_TEST_CERTS, name);
    text = test_read_file(path, &len);
    out = text ? malloc(len * 2 + 1) : NULL;
    if (!out) {
        fprintf(stderr, "cannot read %s\n", path);
        free(text);
        return NULL;
    }
    for (p = text, o = out; *p; p++) {
        if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (*p != '\r') {
            *o++ = *p;
        }
    }
    *o = '\0';
    free(text);
    return out;
}
