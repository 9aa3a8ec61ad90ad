/* firmnet emulated boards: SysTick tick counter and stack high-water mark (fn_board.h). */
#include "fn_board.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_RELOAD 0x00FFFFFFu

/* Painted by the startup code (startup_cortex_m.c), from __stack_limit up to near the SP. */
#define FN_STACK_PAINT 0xC5C5C5C5u
extern uint32_t __stack_limit[];
extern uint32_t __stack_top[];

static volatile uint32_t fn_systick_wraps;

void SysTick_Handler(void)
{
    fn_systick_wraps++;
}

void fn_timer_start(void)
{
    SYST_CSR = 0;
    fn_systick_wraps = 0;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0;              /* any write clears the counter: it reloads on the next tick */
    SYST_CSR = 7;              /* CLKSOURCE = CPU clock, TICKINT, ENABLE */
    while (SYST_CVR == 0) {    /* wait for that reload, so that counts start from 2^24 - 1 */
    }
    fn_systick_wraps = 0;
}

uint64_t fn_timer_ticks(void)
{
    uint32_t wraps, value;
    do {
        wraps = fn_systick_wraps;
        value = SYST_CVR;
    } while (wraps != fn_systick_wraps);
    return ((uint64_t)wraps << 24) + (SYST_RELOAD - value);
}

uint32_t fn_stack_used(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == FN_STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}
