/* Unit tests for the checked guest-memory accessor and the layout around
 * the MMIO hole. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mem.h"

#include <errno.h>
#include <stdint.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Layout only: a fake host base lets us check pointers without mapping. */
static uint8_t *const fake_host = (uint8_t *)0x100000000000ull;

static void test_layout_small(void **state)
{
	struct vm_mem m;

	(void)state;
	assert_int_equal(mem_layout(&m, 256 * MiB, fake_host), 0);
	assert_int_equal(m.nr_regions, 1);
	assert_int_equal(m.regions[0].gpa, 0);
	assert_int_equal(m.regions[0].size, 256 * MiB);
	assert_int_equal(mem_end(&m), 256 * MiB);
	/* Exactly 3 GiB still fits below the hole. */
	assert_int_equal(mem_layout(&m, 3 * GiB, fake_host), 0);
	assert_int_equal(m.nr_regions, 1);
}

static void test_layout_split(void **state)
{
	struct vm_mem m;

	(void)state;
	assert_int_equal(mem_layout(&m, 3584 * MiB, fake_host), 0);
	assert_int_equal(m.nr_regions, 2);
	assert_int_equal(m.regions[0].size, 3 * GiB);
	assert_int_equal(m.regions[1].gpa, 4 * GiB);
	assert_int_equal(m.regions[1].size, 512 * MiB);
	assert_ptr_equal(m.regions[1].host, fake_host + 3 * GiB);
	assert_int_equal(mem_end(&m), 4 * GiB + 512 * MiB);
}

static void test_layout_rejects(void **state)
{
	struct vm_mem m;

	(void)state;
	assert_int_equal(mem_layout(&m, 0, fake_host), -EINVAL);
	assert_int_equal(mem_layout(&m, 4095, fake_host), -EINVAL);
	assert_int_equal(mem_layout(&m, MEM_MIN_SIZE - 4096, fake_host),
			 -EINVAL);
	assert_int_equal(mem_layout(&m, MEM_MIN_SIZE + 1, fake_host), -EINVAL);
	assert_int_equal(mem_layout(&m, 1ull << 50, fake_host), -E2BIG);
}

static void test_ptr_boundaries(void **state)
{
	struct vm_mem m;

	(void)state;
	mem_layout(&m, 16 * MiB, fake_host);
	assert_ptr_equal(mem_ptr(&m, 0, 1), fake_host);
	assert_ptr_equal(mem_ptr(&m, 0, 16 * MiB), fake_host);
	assert_null(mem_ptr(&m, 0, 16 * MiB + 1));
	assert_ptr_equal(mem_ptr(&m, 16 * MiB - 1, 1),
			 fake_host + 16 * MiB - 1);
	assert_null(mem_ptr(&m, 16 * MiB - 1, 2));
	assert_null(mem_ptr(&m, 16 * MiB, 1));
	/* A zero-length access may point at the end, not past it. */
	assert_ptr_equal(mem_ptr(&m, 16 * MiB, 0), fake_host + 16 * MiB);
	assert_null(mem_ptr(&m, 16 * MiB + 1, 0));
}

static void test_ptr_overflow(void **state)
{
	struct vm_mem m;

	(void)state;
	mem_layout(&m, 16 * MiB, fake_host);
	assert_null(mem_ptr(&m, 4096, UINT64_MAX));
	assert_null(mem_ptr(&m, UINT64_MAX, 1));
	assert_null(mem_ptr(&m, UINT64_MAX, 2));
	assert_null(mem_ptr(&m, UINT64_MAX - 4095, 4096));
	assert_null(mem_ptr(&m, 1, UINT64_MAX));
	assert_null(mem_ptr(&m, 16 * MiB - 1, UINT64_MAX - 16 * MiB + 2));
}

static void test_ptr_hole(void **state)
{
	struct vm_mem m;

	(void)state;
	mem_layout(&m, 4 * GiB, fake_host);
	assert_int_equal(m.nr_regions, 2);
	assert_non_null(mem_ptr(&m, 3 * GiB - 4096, 4096));
	/* Nothing may straddle the hole or land in it. */
	assert_null(mem_ptr(&m, 3 * GiB - 4096, 8192));
	assert_null(mem_ptr(&m, 3 * GiB, 1));
	assert_null(mem_ptr(&m, 0xfee00000, 4));
	assert_null(mem_ptr(&m, 4 * GiB - 1, 2));
	assert_ptr_equal(mem_ptr(&m, 4 * GiB, 1), fake_host + 3 * GiB);
	assert_ptr_equal(mem_ptr(&m, 5 * GiB - 1, 1), fake_host + 4 * GiB - 1);
	assert_null(mem_ptr(&m, 5 * GiB, 1));
	assert_null(mem_ptr(&m, 0, 4 * GiB));
}

static void test_init_real_mapping(void **state)
{
	struct vm_mem m;
	uint8_t *p;

	(void)state;
	assert_int_equal(mem_init(&m, 2 * MiB), 0);
	/* 2 MiB aligned, so huge pages can back it. */
	assert_int_equal((uintptr_t)m.host % MEM_HOST_ALIGN, 0);
	mem_advise_hugepages(&m);
	p = mem_ptr(&m, 2 * MiB - 1, 1);
	assert_non_null(p);
	*p = 0xab; /* really mapped and writable */
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 2 * MiB - 1, 1), 0xab);
	assert_true(mem_resident(&m) >= 4096);
	mem_destroy(&m);
	/* Far more than any host has. */
	assert_int_equal(mem_init(&m, 1ull << 45), -ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_small),
		cmocka_unit_test(test_layout_split),
		cmocka_unit_test(test_layout_rejects),
		cmocka_unit_test(test_ptr_boundaries),
		cmocka_unit_test(test_ptr_overflow),
		cmocka_unit_test(test_ptr_hole),
		cmocka_unit_test(test_init_real_mapping),
	};

	return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
