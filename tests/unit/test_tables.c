/* Unit tests for the boot GDT and the long-mode identity page tables: walk
 * them like the MMU would and check every GiB of RAM and the first 4 GiB. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "x86/x86.h"

#include <string.h>

#define GiB (1ull << 30)

/* Translates @va through the tables in @m; returns ~0 if not mapped. */
static uint64_t walk(struct vm_mem *m, uint64_t va)
{
	uint64_t *pml4 = mem_ptr(m, BOOT_PML4_ADDR, 4096);
	uint64_t e = pml4[(va >> 39) & 511], *pdpt, *pd;

	if (!(e & 1))
		return ~0ull;
	pdpt = mem_ptr(m, e & ~0xfffull, 4096);
	e = pdpt[(va >> 30) & 511];
	if (!(e & 1))
		return ~0ull;
	pd = mem_ptr(m, e & ~0xfffull, 4096);
	assert_non_null(pd);
	e = pd[(va >> 21) & 511];
	if (!(e & 1) || !(e & (1 << 7)))
		return ~0ull;
	return (e & ~0x1fffffull) + (va & 0x1fffff);
}

static void test_long_tables_small(void **state)
{
	struct vm_mem m;
	uint64_t gpa, len;

	(void)state;
	assert_int_equal(mem_init(&m, 64 << 20), 0);
	assert_int_equal(boot_tables_write(&m, CPU_MODE_LONG), 0);
	boot_high_tables(&m, &gpa, &len);
	assert_int_equal(len, 0);
	for (uint64_t va = 0; va < 4 * GiB; va += 0x1fff000)
		assert_int_equal(walk(&m, va), va);
	assert_int_equal(walk(&m, 4 * GiB - 1), 4 * GiB - 1);
	assert_int_equal(walk(&m, 4 * GiB), ~0ull);
	mem_destroy(&m);
}

static void test_long_tables_large(void **state)
{
	struct vm_mem m;
	uint64_t gpa, len;

	(void)state;
	/* 6.5 GiB: 3 below the hole, 3.5 above, so 4 high PDs. */
	assert_int_equal(mem_init(&m, 6 * GiB + GiB / 2), 0);
	assert_int_equal(boot_tables_write(&m, CPU_MODE_LONG), 0);
	boot_high_tables(&m, &gpa, &len);
	assert_int_equal(len, 4 * 4096);
	assert_int_equal(gpa + len, mem_end(&m));
	for (uint64_t va = 0; va < mem_end(&m); va += 0x3ff000)
		assert_int_equal(walk(&m, va), va);
	assert_int_equal(walk(&m, mem_end(&m) - 1), mem_end(&m) - 1);
	mem_destroy(&m);
}

static void test_gdt(void **state)
{
	struct vm_mem m;
	uint64_t *gdt;

	(void)state;
	assert_int_equal(mem_init(&m, 2 << 20), 0);
	assert_int_equal(boot_tables_write(&m, CPU_MODE_PROTECTED), 0);
	gdt = mem_ptr(&m, BOOT_GDT_ADDR, BOOT_GDT_ENTRIES * 8);
	assert_int_equal(gdt[0], 0);
	/* 64-bit code: L set, D clear; 32-bit code: D set; data: writable. */
	assert_true(gdt[BOOT_CS64 / 8] & (1ull << 53));
	assert_false(gdt[BOOT_CS64 / 8] & (1ull << 54));
	assert_true(gdt[BOOT_CS32 / 8] & (1ull << 54));
	assert_int_equal((gdt[BOOT_DS / 8] >> 40) & 0xff, 0x93);
	assert_int_equal((gdt[BOOT_CS32 / 8] >> 40) & 0xff, 0x9b);
	/* Protected mode writes no page tables. */
	assert_int_equal(*(uint64_t *)mem_ptr(&m, BOOT_PML4_ADDR, 8), 0);
	mem_destroy(&m);
}

static void test_stack_tops(void **state)
{
	struct vm_mem m;

	(void)state;
	assert_int_equal(mem_init(&m, 4 * GiB), 0);
	assert_int_equal(boot_stack_top(&m, 0), 3 * GiB);
	assert_int_equal(boot_stack_top(&m, 3), 3 * GiB - 3 * BOOT_STACK_SIZE);
	mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_tables_small),
		cmocka_unit_test(test_long_tables_large),
		cmocka_unit_test(test_gdt),
		cmocka_unit_test(test_stack_tops),
	};

	return cmocka_run_group_tests_name("tables", tests, NULL, NULL);
}
