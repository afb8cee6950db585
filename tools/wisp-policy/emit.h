/*
 * wisp-policy: writing a policy model as const C (the static policy).
 */
#ifndef WISP_POLICY_TOOL_EMIT_H
#define WISP_POLICY_TOOL_EMIT_H

#include <stdio.h>

#include <wisp/policy.h>

/**
 * Write p as C: the definitions to c, the declaration `extern const wisp_policy_t
 * name;` to h. input names the JSON file in the "generated" comments; header is the
 * file name c includes to get the declaration.
 * \return 0, or -1 if a write failed (errno tells why).
 */
int emit_policy(FILE *c, FILE *h, const wisp_policy_t *p, const char *name, const char *input,
                const char *header);

#endif
