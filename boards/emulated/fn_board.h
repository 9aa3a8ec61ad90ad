/* firmnet emulated boards: instruction counting with SysTick, stack high-water mark.
 *
 * QEMU runs with -icount shift=0: every guest instruction advances the virtual
 * clock by exactly 1 ns, so a SysTick clocked by the CPU clock (FIRMNET_SYSCLK_HZ)
 * ticks once every 1e9 / FIRMNET_SYSCLK_HZ instructions (40 on the 25 MHz MPS2
 * boards). Counts are exact up to one tick and identical from run to run. */
#ifndef FN_BOARD_H
#define FN_BOARD_H

#include <stdint.h>

/* Starts SysTick from the CPU clock, reload 2^24 - 1, counting its wraps. */
void fn_timer_start(void);
/* SysTick ticks since fn_timer_start (64 bits: wraps included). */
uint64_t fn_timer_ticks(void);
/* Bytes of stack used so far (the startup code paints the stack before main). */
uint32_t fn_stack_used(void);
/* End the emulation with main's status / a fault's message (called by the startup code). */
void fn_board_exit(int status);
void fn_board_fault(const char *what);

#endif
