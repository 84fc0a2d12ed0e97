/* Unit tests for the CMOS RTC on a fake clock: BCD and binary, 12- and
 * 24-hour formats, the guest setting the time, CMOS memory and garbage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dev/legacy.h"

#include <stdlib.h>
#include <string.h>

static time_t fake_now;

static time_t fake_clock(void)
{
	return fake_now;
}

static void set_fake(int year, int mon, int mday, int h, int m, int s)
{
	struct tm tm = {
		.tm_year = year - 1900,
		.tm_mon = mon - 1,
		.tm_mday = mday,
		.tm_hour = h,
		.tm_min = m,
		.tm_sec = s,
	};

	fake_now = timegm(&tm);
}

static int setup(void **state)
{
	struct rtc *r;

	/* A leap day, a Thursday, 13:45:56 UTC. */
	set_fake(2024, 2, 29, 13, 45, 56);
	assert_int_equal(rtc_create(&r, fake_clock), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	rtc_destroy(*state);
	return 0;
}

static uint8_t rd(struct rtc *r, uint8_t index)
{
	uint8_t v = index;

	rtc_io(r, 0, &v, 1, true);
	rtc_io(r, 1, &v, 1, false);
	return v;
}

static void wr(struct rtc *r, uint8_t index, uint8_t val)
{
	rtc_io(r, 0, &index, 1, true);
	rtc_io(r, 1, &val, 1, true);
}

static void test_bcd_default(void **state)
{
	struct rtc *r = *state;

	assert_int_equal(rd(r, 0x0b), 0x02);
	assert_int_equal(rd(r, 0x00), 0x56);
	assert_int_equal(rd(r, 0x02), 0x45);
	assert_int_equal(rd(r, 0x04), 0x13);
	assert_int_equal(rd(r, 0x06), 0x05); /* Sunday is 1 */
	assert_int_equal(rd(r, 0x07), 0x29);
	assert_int_equal(rd(r, 0x08), 0x02);
	assert_int_equal(rd(r, 0x09), 0x24);
	assert_int_equal(rd(r, 0x32), 0x20);
	assert_int_equal(rd(r, 0x0a), 0x26); /* UIP clear */
	assert_int_equal(rd(r, 0x0c), 0x00);
	assert_int_equal(rd(r, 0x0d), 0x80); /* battery good */
}

static void test_binary(void **state)
{
	struct rtc *r = *state;

	wr(r, 0x0b, 0x06);
	assert_int_equal(rd(r, 0x0b), 0x06);
	assert_int_equal(rd(r, 0x00), 56);
	assert_int_equal(rd(r, 0x02), 45);
	assert_int_equal(rd(r, 0x04), 13);
	assert_int_equal(rd(r, 0x07), 29);
	assert_int_equal(rd(r, 0x08), 2);
	assert_int_equal(rd(r, 0x09), 24);
	assert_int_equal(rd(r, 0x32), 20);
	/* Switching formats doesn't move the clock. */
	wr(r, 0x0b, 0x02);
	assert_int_equal(rd(r, 0x00), 0x56);
	assert_int_equal(rd(r, 0x04), 0x13);
}

static void test_12_hour(void **state)
{
	struct rtc *r = *state;

	wr(r, 0x0b, 0x00);
	assert_int_equal(rd(r, 0x04), 0x81); /* 1 PM */
	wr(r, 0x0b, 0x04);
	assert_int_equal(rd(r, 0x04), 0x81);
	set_fake(2024, 2, 29, 0, 30, 0);
	assert_int_equal(rd(r, 0x04), 12); /* midnight is 12 AM */
	set_fake(2024, 2, 29, 12, 30, 0);
	assert_int_equal(rd(r, 0x04), 0x80 | 12);
	wr(r, 0x0b, 0x02);
	assert_int_equal(rd(r, 0x04), 0x12);
}

static void test_clock_runs(void **state)
{
	struct rtc *r = *state;

	fake_now += 5;
	assert_int_equal(rd(r, 0x00), 0x01);
	assert_int_equal(rd(r, 0x02), 0x46);
	/* Through the end of the century. */
	set_fake(2099, 12, 31, 23, 59, 59);
	fake_now++;
	assert_int_equal(rd(r, 0x09), 0x00);
	assert_int_equal(rd(r, 0x32), 0x21);
	assert_int_equal(rd(r, 0x08), 0x01);
}

/* hwclock --systohc: SET, write the fields, clear SET. */
static void test_guest_sets_time(void **state)
{
	struct rtc *r = *state;

	wr(r, 0x0b, 0x82);
	fake_now += 100; /* frozen while SET */
	assert_int_equal(rd(r, 0x00), 0x56);
	wr(r, 0x00, 0x00);
	wr(r, 0x02, 0x00);
	wr(r, 0x04, 0x08);
	wr(r, 0x07, 0x01);
	wr(r, 0x08, 0x01);
	wr(r, 0x09, 0x30);
	wr(r, 0x32, 0x20);
	wr(r, 0x0b, 0x02);
	assert_int_equal(rd(r, 0x09), 0x30);
	assert_int_equal(rd(r, 0x04), 0x08);
	fake_now += 7;
	assert_int_equal(rd(r, 0x00), 0x07);
	assert_int_equal(rd(r, 0x06), 0x03); /* 2030-01-01 is a Tuesday */

	/* A single field written while running. */
	wr(r, 0x02, 0x15);
	assert_int_equal(rd(r, 0x02), 0x15);
	assert_int_equal(rd(r, 0x04), 0x08);
	fake_now += 60;
	assert_int_equal(rd(r, 0x02), 0x16);
}

static void test_index_and_cmos(void **state)
{
	struct rtc *r = *state;
	uint8_t v = 0x80; /* NMI mask bit, index 0 */

	rtc_io(r, 0, &v, 1, true);
	rtc_io(r, 1, &v, 1, false);
	assert_int_equal(v, 0x56);
	rtc_io(r, 0, &v, 1, false);
	assert_int_equal(v, 0xff);
	wr(r, 0x40, 0xab);
	wr(r, 0x7f, 0xcd);
	assert_int_equal(rd(r, 0x40), 0xab);
	assert_int_equal(rd(r, 0xff), 0xcd); /* index wraps at 128 */
	assert_int_equal(rd(r, 0x30), 0x00); /* memory size: zero */
	wr(r, 0x0c, 0xff);
	wr(r, 0x0d, 0x00);
	wr(r, 0x0a, 0xff);
	assert_int_equal(rd(r, 0x0c), 0x00);
	assert_int_equal(rd(r, 0x0d), 0x80);
	assert_int_equal(rd(r, 0x0a), 0x7f); /* UIP read-only */
}

static void test_garbage(void **state)
{
	struct rtc *r = *state;
	uint8_t d[4];

	for (unsigned i = 0; i < 128; i++) {
		for (unsigned v = 0; v < 256; v++) {
			wr(r, (uint8_t)i, (uint8_t)v);
			rd(r, (uint8_t)(v & 0x7f));
			wr(r, 0x0b, (uint8_t)(v ^ i));
		}
	}
	memset(d, 0, sizeof(d));
	rtc_io(r, 0, d, 4, true);
	rtc_io(r, 1, d, 4, false);
	assert_int_equal(d[3], 0xff);
	/* Still a working clock afterwards. */
	wr(r, 0x0b, 0x06);
	wr(r, 0x00, 10);
	fake_now += 1;
	assert_int_equal(rd(r, 0x00), 11);
}

static void test_host_clock(void **state)
{
	struct rtc *r;
	uint8_t c;

	(void)state;
	assert_int_equal(rtc_create(&r, NULL), 0);
	c = rd(r, 0x32);
	assert_true(c >= 0x20 && c <= 0x29);
	rtc_destroy(r);
	rtc_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bcd_default, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_12_hour, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_runs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_guest_sets_time, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_index_and_cmos, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test(test_host_clock),
	};

	return cmocka_run_group_tests_name("rtc", tests, NULL, NULL);
}
