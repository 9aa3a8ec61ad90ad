/* firmnet Cortex-M boards: startup code shared by the emulated boards (QEMU) and the real
 * ones (ARMv6-M, ARMv7-M, ARMv8-M, ARMv8.1-M).
 *
 * The vector table goes first in flash (section .vectors: address 0 on the MPS2/MPS3
 * images and the nRF52840, 0x08000000 on STM32, 0x10000100 after the RP2040's boot2).
 * Reset_Handler enables the FPU (and MVE) when the code is built for one, points VTOR at
 * the table, copies .data from flash, clears .bss, paints the stack (so that a debugger or
 * fn_stack_used() can find its high-water mark) and calls main. When main returns, its
 * status goes to fn_board_exit(); a fault or an unexpected interrupt goes to
 * fn_board_fault(). Both are weak: the emulated boards report to QEMU by semihosting
 * (fn_board.c); on a real board the defaults below record the status (fn_board_done,
 * fn_board_status) or the fault (fn_board_fault_reason) for a debugger to read, and wait.
 * Every exception handler is a weak symbol too, for firmware that adds its own.
 *
 * No clock, cache or peripheral set-up: the core runs at its reset clock. */
#include <stdint.h>

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(void);
void Reset_Handler(void);
void fn_board_exit(int status);
void fn_board_fault(const char *what);
void fn_default_handler(void);
static void fn_nmi(void);
static void fn_hard_fault(void);
static void fn_mem_manage(void);
static void fn_bus_fault(void);
static void fn_usage_fault(void);
static void fn_secure_fault(void);
void NMI_Handler(void) __attribute__((weak, alias("fn_nmi")));
void HardFault_Handler(void) __attribute__((weak, alias("fn_hard_fault")));
void MemManage_Handler(void) __attribute__((weak, alias("fn_mem_manage")));
void BusFault_Handler(void) __attribute__((weak, alias("fn_bus_fault")));
void UsageFault_Handler(void) __attribute__((weak, alias("fn_usage_fault")));
void SecureFault_Handler(void) __attribute__((weak, alias("fn_secure_fault")));
void SVC_Handler(void) __attribute__((weak, alias("fn_default_handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("fn_default_handler")));
void PendSV_Handler(void) __attribute__((weak, alias("fn_default_handler")));
void SysTick_Handler(void) __attribute__((weak, alias("fn_default_handler")));

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define FN_STACK_PAINT 0xC5C5C5C5u

/* Real boards: fn_board_done becomes 1 when main has returned, with its status in
 * fn_board_status; fn_board_fault_reason says what stopped the program if a fault did. */
volatile uint32_t fn_board_done;
volatile int32_t fn_board_status;
const char *volatile fn_board_fault_reason;

__attribute__((weak)) void fn_board_exit(int status)
{
    fn_board_status = status;
    fn_board_done = 1;
    for (;;) {
    }
}

__attribute__((weak)) void fn_board_fault(const char *what)
{
    fn_board_fault_reason = what;
    for (;;) {
    }
}

static void fault(const char *what)
{
    fn_board_fault(what);
    for (;;) {
    }
}

static void fn_nmi(void) { fault("firmnet: NMI\n"); }
static void fn_hard_fault(void) { fault("firmnet: HardFault\n"); }
static void fn_mem_manage(void) { fault("firmnet: MemManage fault\n"); }
static void fn_bus_fault(void) { fault("firmnet: BusFault\n"); }
static void fn_usage_fault(void) { fault("firmnet: UsageFault\n"); }
static void fn_secure_fault(void) { fault("firmnet: SecureFault\n"); }
void fn_default_handler(void) { fault("firmnet: unexpected interrupt\n"); }

typedef void (*fn_vector)(void);

/* Initial stack pointer, then the 15 system exceptions (entries 4-7 and 12 are reserved
 * on ARMv6-M: never taken there), then 16 external interrupts (none is enabled). */
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
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    fn_default_handler, fn_default_handler, fn_default_handler, fn_default_handler,
    fn_default_handler, fn_default_handler, fn_default_handler, fn_default_handler,
    fn_default_handler, fn_default_handler, fn_default_handler, fn_default_handler,
    fn_default_handler, fn_default_handler, fn_default_handler, fn_default_handler,
};

/* No vectorised loops here: the FPU/MVE is off until CPACR is written. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns", "no-tree-vectorize")))
void Reset_Handler(void)
{
    volatile uint32_t *dst;
    const uint32_t *src;
    uint32_t sp;

#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= 0xFu << 20;                       /* CP10, CP11: full access (FPU, MVE) */
#endif
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    SCB_VTOR = (uint32_t)(uintptr_t)fn_vectors;

    /* The linker symbols are distinct objects to C: compare addresses, not pointers. */
    for (src = __data_load, dst = __data_start; (uintptr_t)dst < (uintptr_t)__data_end; ) {
        *dst++ = *src++;
    }
    for (dst = __bss_start; (uintptr_t)dst < (uintptr_t)__bss_end; ) {
        *dst++ = 0;
    }
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (dst = __stack_limit; (uintptr_t)dst < sp - 64u; ) {
        *dst++ = FN_STACK_PAINT;
    }
    fn_board_exit(main());
    for (;;) {
    }
}
