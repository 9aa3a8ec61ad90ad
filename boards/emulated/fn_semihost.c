/* firmnet emulated boards: Arm semihosting (see fn_semihost.h).
 * Operation numbers and argument blocks follow Arm's "Semihosting for AArch32 and
 * AArch64" specification: r0 = operation, r1 = pointer to the argument block. */
#include "fn_semihost.h"

#include <string.h>

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_FLEN 0x0C
#define SYS_EXIT 0x18
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

static int32_t semihost_call(uint32_t op, const void *args)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = args;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

int32_t fn_sh_open(const char *path, int write)
{
    /* Mode 1 is "rb", 5 is "wb" (ISO C fopen modes, in the specification's order). */
    uint32_t args[3];
    args[0] = (uint32_t)(uintptr_t)path;
    args[1] = write ? 5u : 1u;
    args[2] = (uint32_t)strlen(path);
    return semihost_call(SYS_OPEN, args);
}

int32_t fn_sh_read(int32_t handle, void *buf, size_t n)
{
    uint32_t args[3];
    args[0] = (uint32_t)handle;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = (uint32_t)n;
    return semihost_call(SYS_READ, args);   /* the number of bytes NOT read: 0 is success */
}

int32_t fn_sh_write(int32_t handle, const void *buf, size_t n)
{
    uint32_t args[3];
    args[0] = (uint32_t)handle;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = (uint32_t)n;
    return semihost_call(SYS_WRITE, args);  /* the number of bytes NOT written */
}

int32_t fn_sh_close(int32_t handle)
{
    uint32_t args[1];
    args[0] = (uint32_t)handle;
    return semihost_call(SYS_CLOSE, args);
}

int32_t fn_sh_save(const char *path, const void *data, size_t n)
{
    int32_t handle = fn_sh_open(path, 1);
    int32_t failed;
    if (handle < 0) {
        return -1;
    }
    failed = fn_sh_write(handle, data, n) != 0;
    fn_sh_close(handle);
    return failed ? -1 : 0;
}

int32_t fn_sh_flen(int32_t handle)
{
    uint32_t args[1];
    args[0] = (uint32_t)handle;
    return semihost_call(SYS_FLEN, args);
}

void fn_sh_puts(const char *s)
{
    (void)semihost_call(SYS_WRITE0, s);
}

void fn_sh_exit(int32_t status)
{
    uint32_t args[2];
    args[0] = ADP_STOPPED_APPLICATION_EXIT;
    args[1] = (uint32_t)status;
    /* SYS_EXIT_EXTENDED carries the status; should an emulator not know it, plain
     * SYS_EXIT still stops (status 0 or 1). */
    (void)semihost_call(SYS_EXIT_EXTENDED, args);
    (void)semihost_call(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                         : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}
