/* Unit tests for the I/O bus: registration, overlap refusal, lookup at the
 * edges of ranges, dispatch offsets, and unassigned accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bus.h"

#include <errno.h>
#include <string.h>

struct fake_dev {
	uint64_t last_offset;
	uint32_t last_len;
	bool last_write;
	unsigned calls;
};

static void fake_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct fake_dev *d = opaque;

	d->last_offset = offset;
	d->last_len = len;
	d->last_write = is_write;
	d->calls++;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void test_add_and_find(void **state)
{
	struct fake_dev a = {0}, b = {0};
	struct bus bus;

	(void)state;
	bus_init(&bus, "pio");
	assert_int_equal(bus_add(&bus, 0x3f8, 8, "a", fake_io, &a), 0);
	assert_int_equal(bus_add(&bus, 0x60, 1, "b", fake_io, &b), 0);
	assert_int_equal(bus.nr, 2);
	assert_true(bus.ranges[0].base < bus.ranges[1].base);
	assert_ptr_equal(bus_find(&bus, 0x3f8, 1)->opaque, &a);
	assert_ptr_equal(bus_find(&bus, 0x3ff, 1)->opaque, &a);
	assert_ptr_equal(bus_find(&bus, 0x3fc, 4)->opaque, &a);
	assert_null(bus_find(&bus, 0x3fd, 4)); /* crosses the end */
	assert_null(bus_find(&bus, 0x400, 1));
	assert_null(bus_find(&bus, 0x3f7, 1));
	assert_null(bus_find(&bus, 0x3f7, 2)); /* starts before */
	assert_ptr_equal(bus_find(&bus, 0x60, 1)->opaque, &b);
	assert_null(bus_find(&bus, 0x60, 0));
	bus_destroy(&bus);
}

static void test_overlap_refused(void **state)
{
	struct fake_dev a = {0};
	struct bus bus;

	(void)state;
	bus_init(&bus, "mmio");
	assert_int_equal(bus_add(&bus, 0x1000, 0x100, "a", fake_io, &a), 0);
	assert_int_equal(bus_add(&bus, 0x10ff, 1, "b", fake_io, &a), -EEXIST);
	assert_non_null(strstr(err_msg(), "overlaps a"));
	assert_int_equal(bus_add(&bus, 0xf00, 0x101, "c", fake_io, &a),
			 -EEXIST);
	assert_int_equal(bus_add(&bus, 0x0, 0x10000, "d", fake_io, &a),
			 -EEXIST);
	assert_int_equal(bus_add(&bus, 0x1080, 0x10, "e", fake_io, &a),
			 -EEXIST);
	/* Touching ranges are fine. */
	assert_int_equal(bus_add(&bus, 0xf00, 0x100, "f", fake_io, &a), 0);
	assert_int_equal(bus_add(&bus, 0x1100, 0x100, "g", fake_io, &a), 0);
	assert_int_equal(bus.nr, 3);
	bus_destroy(&bus);
}

static void test_invalid_ranges(void **state)
{
	struct fake_dev a = {0};
	struct bus bus;

	(void)state;
	bus_init(&bus, "mmio");
	assert_int_equal(bus_add(&bus, 0x1000, 0, "empty", fake_io, &a),
			 -EINVAL);
	assert_int_equal(bus_add(&bus, UINT64_MAX, 2, "wraps", fake_io, &a),
			 -EINVAL);
	assert_int_equal(bus_add(&bus, 0x1000, 1, "nofn", NULL, &a), -EINVAL);
	/* The very top of the address space is a valid one-byte range. */
	assert_int_equal(bus_add(&bus, UINT64_MAX, 1, "top", fake_io, &a), 0);
	assert_non_null(bus_find(&bus, UINT64_MAX, 1));
	assert_null(bus_find(&bus, UINT64_MAX, 2));
	bus_destroy(&bus);
}

static void test_dispatch(void **state)
{
	struct fake_dev a = {0};
	uint8_t data[8] = {1, 2, 3, 4};
	struct bus bus;

	(void)state;
	bus_init(&bus, "pio");
	bus.quiet = true;
	assert_int_equal(bus_add(&bus, 0x3f8, 8, "uart", fake_io, &a), 0);
	assert_int_equal(bus_dispatch(&bus, 0x3fb, data, 1, true), 0);
	assert_int_equal(a.last_offset, 3);
	assert_true(a.last_write);
	assert_int_equal(bus_dispatch(&bus, 0x3fa, data, 2, false), 0);
	assert_int_equal(a.last_offset, 2);
	assert_int_equal(data[0], 0x5a);
	assert_int_equal(a.calls, 2);

	/* Nothing there: reads are all ones, writes are dropped. */
	memset(data, 0, sizeof(data));
	assert_int_equal(bus_dispatch(&bus, 0x80, data, 4, false), -ENOENT);
	assert_int_equal(data[0], 0xff);
	assert_int_equal(data[3], 0xff);
	assert_int_equal(data[4], 0);
	assert_int_equal(bus_dispatch(&bus, 0x80, data, 4, true), -ENOENT);
	assert_int_equal(a.calls, 2);
	bus_destroy(&bus);
}

static void test_many_ranges_sorted(void **state)
{
	struct fake_dev a = {0};
	struct bus bus;

	(void)state;
	bus_init(&bus, "pio");
	/* Insert out of order; lookups must find each. */
	for (unsigned i = 0; i < 100; i++) {
		uint64_t base = ((i * 37) % 100) * 0x10;

		assert_int_equal(bus_add(&bus, base, 0x8, "r", fake_io, &a), 0);
	}
	for (size_t i = 1; i < bus.nr; i++)
		assert_true(bus.ranges[i - 1].base < bus.ranges[i].base);
	for (unsigned i = 0; i < 100; i++) {
		assert_non_null(bus_find(&bus, i * 0x10 + 7, 1));
		assert_null(bus_find(&bus, i * 0x10 + 8, 1));
	}
	bus_destroy(&bus);
}

static void test_stats_count(void **state)
{
	struct fake_dev a = {0};
	uint8_t data[4];
	struct bus bus;

	(void)state;
	bus_init(&bus, "pio");
	bus.stats = true;
	bus.quiet = true;
	assert_int_equal(bus_add(&bus, 0x10, 1, "a", fake_io, &a), 0);
	for (int i = 0; i < 5; i++)
		bus_dispatch(&bus, 0x10, data, 1, true);
	bus_dispatch(&bus, 0x11, data, 1, true);
	assert_int_equal(bus.ranges[0].count, 5);
	assert_int_equal(bus.unassigned_count, 1);
	bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_find),
		cmocka_unit_test(test_overlap_refused),
		cmocka_unit_test(test_invalid_ranges),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_many_ranges_sorted),
		cmocka_unit_test(test_stats_count),
	};

	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
