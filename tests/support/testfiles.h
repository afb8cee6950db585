/*
 * Files for tests: read a whole file, and a certificate of tests/certs as text ready
 * to paste into a JSON policy string.
 */
#ifndef WISP_TEST_TESTFILES_H
#define WISP_TEST_TESTFILES_H

#include <stddef.h>

/** The whole file, NUL-terminated, from malloc (free it); NULL if it cannot be read.
 *  len may be NULL. */
char *test_read_file(const char *path, size_t *len);

/** tests/certs/NAME with newlines written as \n and CRs dropped, for a JSON string;
 *  from malloc; NULL (and a line on stderr) if the file cannot be read. */
char *test_cert_json(const char *name);

#endif
