/* firmnet runtime: types shared by every kernel.
 *
 * Kernels trust their arguments: the Python compiler checks every constraint
 * written in a kernel's header before it emits a call, so kernels validate only
 * cheap invariants once, before their hot loop, and return FN_ERR_ARG if violated. */
#ifndef FN_COMMON_H
#define FN_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    FN_OK = 0,
    FN_ERR_ARG = 1
} fn_status;

/* IEEE-754 infinity as a constant expression, without <math.h>: used for
 * 'no clamp' activation bounds in generated parameter tables. */
#define FN_INFINITY ((float)(1e300 * 1e300))

/* Highest tensor rank the layout kernels (transpose, pad, broadcast) accept. */
#define FN_MAX_DIMS 6

#endif
