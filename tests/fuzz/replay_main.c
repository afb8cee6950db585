/*
 * Corpus replay for fuzz targets built without libFuzzer.
 *
 * A fuzz target (tests/fuzz/fuzz_<target>.c) defines only LLVMFuzzerTestOneInput.
 * Linked with this file instead of libFuzzer, it becomes a program that runs every
 * file named on the command line, and every regular file in every directory named,
 * through the target once: ctest replays the seed corpus (and any crash reproducer
 * added to it) on every build, sanitizers included.
 *
 *   fuzz_policy tests/fuzz/corpus/policy [more files or directories...]
 *
 * Exit status: 0 when every input ran, 1 when an input could not be read or no
 * input was found at all (a wrong corpus path must not pass silently). A target that
 * finds a bug aborts, as it would under libFuzzer.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f) {
        perror(path);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap ? cap * 2 : 4096);

            if (!nb) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
            cap = cap ? cap * 2 : 4096;
        }
        n = fread(buf + len, 1, cap - len, f);
        if (!n)
            break;
        len += n;
    }
    fclose(f);
    /* A copy of exactly len bytes, so ASan sees reads past the input. */
    {
        uint8_t *exact = malloc(len ? len : 1);

        if (!exact) {
            free(buf);
            return -1;
        }
        memcpy(exact, buf, len);
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    return 0;
}

static int run_path(const char *path, unsigned *count)
{
    char child[4096];
    struct dirent *d;
    struct stat st;
    DIR *dir;
    int bad = 0;

    if (stat(path, &st)) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    dir = opendir(path);
    if (!dir) {
        perror(path);
        return -1;
    }
    while ((d = readdir(dir))) {
        snprintf(child, sizeof(child), "%s/%s", path, d->d_name);
        if (d->d_name[0] == '.' || stat(child, &st) || !S_ISREG(st.st_mode))
            continue;
        (*count)++;
        if (run_file(child))
            bad = -1;
    }
    closedir(dir);
    return bad;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    int i, bad = 0;

    for (i = 1; i < argc; i++)
        if (run_path(argv[i], &count))
            bad = 1;
    if (!count) {
        fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 1;
    }
    printf("%s: %u inputs replayed\n", argv[0], count);
    return bad;
}
