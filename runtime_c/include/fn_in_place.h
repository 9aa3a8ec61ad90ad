/* firmnet runtime: moving a layer's output up into place after an in-place kernel.
 *
 * A kernel that may overwrite its input (firmnet/in_place.py) is given an output pointer
 * `shift` bytes below the tensor's planned place, so that every input byte it still has to
 * read lies above every output byte it writes; the generated code then moves the n output
 * bytes up by `shift` with fn_move_up. The planner makes shift a multiple of 16 and both
 * places 16-byte aligned in the arena.
 *
 * Overlapping move to a higher address: from the top down, 16 bytes per step through four
 * 4-byte words (memcpy of a word: no alignment or aliasing assumption; compilers emit single
 * loads and stores), the bytes above the last multiple of 16 first. Every chunk is read
 * into locals before it is written, and shift >= 16 keeps a chunk's destination clear of
 * the chunks still to be read. */
#ifndef FN_IN_PLACE_H
#define FN_IN_PLACE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void fn_move_up(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i = n;
    while (i % 16 != 0) {
        --i;
        dst[i] = src[i];
    }
    while (i >= 16) {
        uint32_t w0, w1, w2, w3;
        i -= 16;
        memcpy(&w0, src + i, 4);
        memcpy(&w1, src + i + 4, 4);
        memcpy(&w2, src + i + 8, 4);
        memcpy(&w3, src + i + 12, 4);
        memcpy(dst + i, &w0, 4);
        memcpy(dst + i + 4, &w1, 4);
        memcpy(dst + i + 8, &w2, 4);
        memcpy(dst + i + 12, &w3, 4);
    }
}

#endif
