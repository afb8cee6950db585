/*
 * Prints WISP_POLICY_STREAM_KEYS (include/wisp/policy.h) one row per line,
 * "key kind roles min max dflt", with every value as the compiler sees it, for
 * check-schema-keys.py to hold the JSON Schema to the same keys, types and ranges.
 */
#include <stdio.h>

#include <wisp/policy.h>

#define ROW(key, kind, roles, min, max, dflt)                                                      \
    printf("%s %s %s %lu %lu %lu\n", #key, #kind, #roles, (unsigned long)(min),                    \
           (unsigned long)(max), (unsigned long)(dflt));

int main(void)
{
    WISP_POLICY_STREAM_KEYS(ROW)
    return ferror(stdout) ? 1 : 0;
}
