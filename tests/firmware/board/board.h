/* The test board (QEMU mps2-an386): what the start code tells the image. */
#ifndef WISP_FW_BOARD_H
#define WISP_FW_BOARD_H

#include <stddef.h>

/** Bytes of the main stack ever used since reset (the painted region's high-water). */
size_t board_stack_high_water(void);
/** Size of the main stack region. */
size_t board_stack_size(void);

#endif
