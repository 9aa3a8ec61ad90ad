/* firmnet emulated boards: startup code for Cortex-M (ARMv7-M, ARMv8-M, ARMv8.1-M).
 *
 * The vector table goes first in flash (section .vectors, at the address the core
 * reads at reset: 0 on the MPS2/MPS3 images). Reset_Handler enables the FPU (and
 * MVE) before any C code can use it, copies .data from flash, clears .bss, paints
 * the stack for fn_stack_used(), calls main and reports its status to the emulator
 * by semihosting. Faults end the emulation with a distinct status. */
#include <stdint.h>

#include "fn_semihost.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(void);
void Reset_Handler(void);
void SysTick_Handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define FN_STACK_PAINT 0xC5C5C5C5u
/* Status codes of the faults (main's own statuses are small). */
#define FN_EXIT_FAULT 120

static void fault(const char *what)
{
    fn_sh_puts(what);
    fn_sh_exit(FN_EXIT_FAULT);
}

static void NMI_Handler(void) { fault("firmnet: NMI\n"); }
static void HardFault_Handler(void) { fault("firmnet: HardFault\n"); }
static void MemManage_Handler(void) { fault("firmnet: MemManage fault\n"); }
static void BusFault_Handler(void) { fault("firmnet: BusFault\n"); }
static void UsageFault_Handler(void) { fault("firmnet: UsageFault\n"); }
static void SecureFault_Handler(void) { fault("firmnet: SecureFault\n"); }
static void Default_Handler(void) { fault("firmnet: unexpected interrupt\n"); }

typedef void (*fn_vector)(void);

/* Initial stack pointer, then the 15 system exceptions, then 16 external interrupts
 * (none is enabled: Default_Handler would report one). */
__attribute__((section(".vectors"), used)) static const fn_vector fn_vectors[32] = {
    (fn_vector)(uintptr_t)__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,
    0, 0, 0,
    Default_Handler,    /* SVCall */
    Default_Handler,    /* DebugMonitor */
    0,
    Default_Handler,    /* PendSV */
    SysTick_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
};

/* No vectorised loops here: the FPU/MVE is off until CPACR is written. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns", "no-tree-vectorize")))
void Reset_Handler(void)
{
    volatile uint32_t *dst;
    const uint32_t *src;
    uint32_t sp;

    SCB_CPACR |= 0xFu << 20;                       /* CP10, CP11: full access (FPU, MVE) */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    SCB_VTOR = (uint32_t)(uintptr_t)fn_vectors;

    for (src = __data_load, dst = __data_start; dst < __data_end; ) {
        *dst++ = *src++;
    }
    for (dst = __bss_start; dst < __bss_end; ) {
        *dst++ = 0;
    }
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (dst = __stack_limit; (uintptr_t)dst < sp - 64u; ) {
        *dst++ = FN_STACK_PAINT;
    }
    fn_sh_exit(main());
}
