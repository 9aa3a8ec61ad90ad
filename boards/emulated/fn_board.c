/* firmnet emulated boards: SysTick tick counter, stack high-water mark (fn_board.h), and
 * the end of the program reported to QEMU by semihosting. */
#include "fn_board.h"

#include "fn_semihost.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_RELOAD 0x00FFFFFFu

/* Painted by the startup code (startup_cortex_m.c), from __stack_limit up to near the SP. */
#define FN_STACK_PAINT 0xC5C5C5C5u
extern uint32_t __stack_limit[];
extern uint32_t __stack_top[];

/* Status of the faults (main's own statuses are small). */
#define FN_EXIT_FAULT 120

static volatile uint32_t fn_systick_wraps;

/* The startup code (startup_cortex_m.c) calls these; they replace its weak defaults, which
 * on a real board wait for a debugger. */
void fn_board_exit(int status)
{
    fn_sh_exit(status);
}

void fn_board_fault(const char *what)
{
    fn_sh_puts(what);
    fn_sh_exit(FN_EXIT_FAULT);
}

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
    while ((uintptr_t)p < (uintptr_t)__stack_top && *p == FN_STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}
