/*
 * wisp: secure streams for embedded systems. The umbrella header: include this.
 */
#ifndef WISP_H
#define WISP_H

#include "wisp/config.h"
#include "wisp/error.h"
#include "wisp/plat.h"
#include "wisp/core.h"
#include "wisp/policy.h"
#include "wisp/stream.h"

#endif /* WISP_H */
