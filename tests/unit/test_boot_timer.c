/* Unit tests for Firecracker's boot timer (dev/boot_timer.c): reads return
 * 0, a one-byte write of 123 at offset 0 logs Firecracker's line at Info
 * (every time), any other write logs nothing; and it answers on the MMIO
 * bus where it is registered. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bus.h"
#include "dev/boot_timer.h"
#include "err.h"
#include "host/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char log_path[] = "/tmp/minivmm-bt-XXXXXX";

/* The log file's text so far (static buffer). */
static const char *log_text(void)
{
	static char buf[4096];
	FILE *f = fopen(log_path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static unsigned count_lines(const char *text)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, "Guest-boot-time")); p++)
		n++;
	return n;
}

static int setup(void **state)
{
	int fd = mkstemp(log_path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	log_set_level(LOG_INFO);
	return log_open(log_path, true, false);
}

static int teardown(void **state)
{
	(void)state;
	log_close();
	unlink(log_path);
	return 0;
}

static void write1(struct boot_timer *t, uint64_t off, uint8_t v)
{
	boot_timer_io(t, off, &v, 1, true);
}

static void test_reads_zero(void **state)
{
	struct boot_timer t = {time_now_ns(), boot_timer_cpu_now_ns()};
	uint8_t buf[8];

	(void)state;
	for (uint32_t len = 1; len <= 8; len *= 2) {
		memset(buf, 0xAA, sizeof(buf));
		boot_timer_io(&t, 0, buf, len, false);
		for (uint32_t i = 0; i < len; i++)
			assert_int_equal(buf[i], 0);
		assert_int_equal(buf[len < 8 ? len : 7], len < 8 ? 0xAA : 0);
	}
	memset(buf, 0xAA, sizeof(buf));
	boot_timer_io(&t, 0x10, buf, 4, false);
	assert_int_equal(buf[0] | buf[1] | buf[2] | buf[3], 0);
	assert_int_equal(count_lines(log_text()), 0);
}

static void test_magic_logs(void **state)
{
	/* Started 5 ms ago. */
	struct boot_timer t = {time_now_ns() - 5000000,
			       boot_timer_cpu_now_ns()};
	unsigned long long us, ms, cpu_us, cpu_ms;
	const char *text, *p;
	uint8_t two[2] = {BOOT_TIMER_MAGIC, 0};
	uint32_t four = BOOT_TIMER_MAGIC;

	(void)state;
	/* Ignored: another value, another offset, a wider write. */
	write1(&t, 0, 7);
	write1(&t, 0, 0);
	write1(&t, 1, BOOT_TIMER_MAGIC);
	write1(&t, 4, BOOT_TIMER_MAGIC);
	boot_timer_io(&t, 0, two, 2, true);
	boot_timer_io(&t, 0, (uint8_t *)&four, 4, true);
	assert_int_equal(count_lines(log_text()), 0);

	write1(&t, 0, BOOT_TIMER_MAGIC);
	text = log_text();
	assert_int_equal(count_lines(text), 1);
	/* Firecracker's level and text, at Info. */
	assert_non_null(strstr(text, ":INFO] Guest-boot-time = "));
	p = strstr(text, "Guest-boot-time");
	assert_int_equal(
		sscanf(p,
		       "Guest-boot-time = %llu us %llu ms, %llu CPU us "
		       "%llu CPU ms",
		       &us, &ms, &cpu_us, &cpu_ms),
		4);
	assert_true(us >= 5000 && us < 60 * 1000000ull);
	assert_int_equal(ms, us / 1000);
	assert_true(cpu_us < us);
	assert_int_equal(cpu_ms, cpu_us / 1000);
	/* {:>6}: the microseconds right-aligned in 6 columns. */
	assert_true(p[18] == ' ' || us >= 100000);
	assert_non_null(strstr(p, " CPU ms\n"));

	/* Every such write logs, as Firecracker's does. */
	write1(&t, 0, BOOT_TIMER_MAGIC);
	assert_int_equal(count_lines(log_text()), 2);

	/* Below Info: not shown. */
	log_set_level(LOG_WARNING);
	write1(&t, 0, BOOT_TIMER_MAGIC);
	log_set_level(LOG_INFO);
	assert_int_equal(count_lines(log_text()), 2);
}

static void test_on_the_bus(void **state)
{
	struct boot_timer t = {time_now_ns(), boot_timer_cpu_now_ns()};
	uint8_t v = BOOT_TIMER_MAGIC, r[4] = {1, 2, 3, 4};
	unsigned before = count_lines(log_text());
	struct bus b;

	(void)state;
	bus_init(&b, "mmio");
	assert_int_equal(boot_timer_register(&t, &b, 0xD0000000ull), 0);
	assert_int_equal(bus_dispatch(&b, 0xD0000000ull, r, 4, false), 0);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	/* The whole 4 KiB window is its. */
	assert_int_equal(bus_dispatch(&b, 0xD0000FFCull, r, 4, false), 0);
	assert_null(bus_find(&b, 0xD0001000ull, 1));
	assert_int_equal(bus_dispatch(&b, 0xD0000000ull, &v, 1, true), 0);
	assert_int_equal(count_lines(log_text()), before + 1);
	bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_zero),
		cmocka_unit_test(test_magic_logs),
		cmocka_unit_test(test_on_the_bus),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
