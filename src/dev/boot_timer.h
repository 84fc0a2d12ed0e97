/* Firecracker's boot timer (--boot-timer): a pseudo device the guest's init
 * writes the byte 123 to when it has booted; minivmm then logs, at Info,
 * how long that took since minivmm started, in wall time and in the
 * process's CPU time, in Firecracker's words:
 *   Guest-boot-time =   1234 us 1 ms,    567 CPU us 0 CPU ms
 * It takes the first 4 KiB of the MMIO device area (PLATFORM_BOOT_TIMER_BASE,
 * virtio slot 0's address otherwise; the virtio devices then start one slot
 * later, see x86/platform.h). */
#ifndef MINIVMM_DEV_BOOT_TIMER_H
#define MINIVMM_DEV_BOOT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_TIMER_MAGIC 123 /* Firecracker's "guest boot complete" */
#define BOOT_TIMER_SIZE 0x1000u

struct bus;

struct boot_timer {
	uint64_t start_ns;     /* CLOCK_MONOTONIC when minivmm started */
	uint64_t start_cpu_ns; /* CLOCK_PROCESS_CPUTIME_ID then */
};

/* The process CPU time so far, in ns (CLOCK_PROCESS_CPUTIME_ID). */
uint64_t boot_timer_cpu_now_ns(void);
/* The MMIO handler: reads return 0; a one-byte write of BOOT_TIMER_MAGIC at
 * offset 0 logs the line, every time (as Firecracker does); anything else
 * is ignored.  Runs on a vCPU thread. */
void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write);
/* Maps @t at @base on @mmio; @t's start times are the caller's. */
int boot_timer_register(struct boot_timer *t, struct bus *mmio, uint64_t base);

#endif
