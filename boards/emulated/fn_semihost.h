/* firmnet emulated boards: Arm semihosting calls (QEMU -semihosting-config enable=on).
 * Only what the example firmware needs: files in the host's working directory,
 * and the exit status. Calls trap into the emulator with BKPT 0xAB (M profile). */
#ifndef FN_SEMIHOST_H
#define FN_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Opens a host file; mode "rb" or "wb". Returns a handle >= 0, or -1. */
int32_t fn_sh_open(const char *path, int write);
/* Reads exactly n bytes; returns 0 on success. */
int32_t fn_sh_read(int32_t handle, void *buf, size_t n);
/* Writes exactly n bytes; returns 0 on success. */
int32_t fn_sh_write(int32_t handle, const void *buf, size_t n);
int32_t fn_sh_close(int32_t handle);
/* Writes n bytes to a new host file (open, write, close); returns 0 on success, -1 otherwise. */
int32_t fn_sh_save(const char *path, const void *data, size_t n);
/* Length of an open file in bytes, or -1. */
int32_t fn_sh_flen(int32_t handle);
/* Writes a string to the emulator's console (stderr of QEMU). */
void fn_sh_puts(const char *s);
/* Ends the emulation with this exit status (0: success). */
void fn_sh_exit(int32_t status) __attribute__((noreturn));

#endif
