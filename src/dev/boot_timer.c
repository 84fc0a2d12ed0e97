/* The boot timer: one MMIO byte the guest writes 123 to when its boot is
 * done (Firecracker's src/vmm/src/devices/pseudo/boot_timer.rs, the same
 * rules and the same log line). */
#include "boot_timer.h"
#include "../bus.h"
#include "../err.h"
#include "../host/log.h"

#include <string.h>
#include <time.h>

uint64_t boot_timer_cpu_now_ns(void)
{
	struct timespec ts;

	/* Not in the vDSO: a real clock_gettime, which every thread's
	 * seccomp filter allows (host/sandbox.c, rules_base). */
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write)
{
	const struct boot_timer *t = opaque;
	uint64_t us, cpu_us;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/* Only a byte at offset 0, as Firecracker. */
	if (len != 1 || offset != 0 || data[0] != BOOT_TIMER_MAGIC)
		return;
	us = (time_now_ns() - t->start_ns) / 1000;
	cpu_us = (boot_timer_cpu_now_ns() - t->start_cpu_ns) / 1000;
	log_write(
		LOG_INFO,
		"Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		(unsigned long long)us, (unsigned long long)(us / 1000),
		(unsigned long long)cpu_us,
		(unsigned long long)(cpu_us / 1000));
}

int boot_timer_register(struct boot_timer *t, struct bus *mmio, uint64_t base)
{
	return bus_add(mmio, base, BOOT_TIMER_SIZE, "boot-timer", boot_timer_io,
		       t);
}
