/* firmnet runtime, internal: whether the M-profile Vector Extension (Helium, MVE) integer
 * instructions are available (Armv8.1-M with MVE: Cortex-M55, M85), through the ACLE
 * intrinsics of <arm_mve.h>. FN_MVE is 1 where they are and 0 elsewhere; the MVE variants
 * (fn_s8_mve.h) keep a portable path that gives the same bytes. */
#ifndef FN_MVE_H
#define FN_MVE_H

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define FN_MVE 1
#else
#define FN_MVE 0
#endif

#endif
