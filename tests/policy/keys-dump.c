/*
 * Prints the key tables of include/wisp/policy.h one row per line,
 * "table key kind roles min max dflt" (table: stream, retry or trust; roles "-" for
 * retry and trust keys), with every value as the compiler sees it, for
 * check-schema-keys.py to hold the JSON Schema to the same keys, types and ranges.
 */
#include <stdio.h>

#include <wisp/policy.h>

#define ROW(table, key, kind, roles, min, max, dflt)                                               \
    printf("%s %s %s %s %lu %lu %lu\n", table, #key, #kind, roles, (unsigned long)(min),           \
           (unsigned long)(max), (unsigned long)(dflt));
#define STREAM_ROW(key, kind, roles, min, max, dflt)                                               \
    ROW("stream", key, kind, #roles, min, max, dflt)
#define RETRY_ROW(key, kind, min, max, dflt) ROW("retry", key, kind, "-", min, max, dflt)
#define TRUST_ROW(key, kind, min, max, dflt) ROW("trust", key, kind, "-", min, max, dflt)

int main(void)
{
    WISP_POLICY_STREAM_KEYS(STREAM_ROW)
    WISP_POLICY_RETRY_KEYS(RETRY_ROW)
    WISP_POLICY_TRUST_STORE_KEYS(TRUST_ROW)
    return ferror(stdout) ? 1 : 0;
}
