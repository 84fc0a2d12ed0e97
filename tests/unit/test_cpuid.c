/* Unit tests for the CPUID topology: every leaf that describes it agrees on
 * N cores in one socket and on each vCPU's own APIC id. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "x86/x86.h"

#include <stdlib.h>

static struct kvm_cpuid2 *table(void)
{
	static const struct kvm_cpuid_entry2 leaves[] = {
		{.function = 1, .ebx = 0x00000800, .edx = 1u << 28},
		{.function = 4, .index = 0, .eax = 0x1c004121}, /* L1d */
		{.function = 4, .index = 3, .eax = 0x1c03c163}, /* L3 */
		{.function = 4, .index = 4, .eax = 0},		/* end */
		{.function = 0xb, .index = 0},
		{.function = 0xb, .index = 1},
		{.function = 0xb, .index = 2},
		{.function = 0x80000008, .ecx = 0x0000f00f},
		{.function = 0x8000001e, .eax = 7, .ebx = 0x100},
	};
	size_t n = sizeof(leaves) / sizeof(leaves[0]);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(leaves[0]));

	c->nent = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		c->entries[i] = leaves[i];
	return c;
}

static void test_topology(void **state)
{
	(void)state;
	for (unsigned nr = 1; nr <= 6; nr++) {
		for (unsigned id = 0; id < nr; id++) {
			struct kvm_cpuid2 *c = table();
			struct kvm_cpuid_entry2 *e = c->entries;

			cpuid_apply_topology(c, id, nr);
			assert_int_equal(e[0].ebx >> 24, id);
			assert_int_equal((e[0].ebx >> 16) & 0xff, nr);
			assert_true(e[0].ecx & (1u << 31)); /* hypervisor */
			assert_int_equal(!!(e[0].edx & (1u << 28)), nr > 1);
			/* Cores per package - 1, a power of two minus one. */
			assert_true(((e[1].eax >> 26) + 1) >= nr);
			assert_int_equal((e[1].eax >> 14) & 0xfff, 0);
			assert_int_equal((e[2].eax >> 14) & 0xfff, nr - 1);
			assert_int_equal(e[3].eax, 0);
			assert_int_equal(e[4].edx, id);
			assert_int_equal(e[4].ebx, 1);
			assert_int_equal(e[5].edx, id);
			assert_int_equal(e[5].ebx, nr);
			assert_true((1u << e[5].eax) >= nr);
			assert_int_equal(e[6].ebx, 0);
			assert_int_equal(e[7].ecx & 0xff, nr - 1);
			assert_int_equal(e[8].eax, id);
			free(c);
		}
	}
}

static void test_tsc_deadline(void **state)
{
	struct kvm_cpuid2 *c = table();

	(void)state;
	cpuid_enable_tsc_deadline(c);
	assert_true(c->entries[0].ecx & (1u << 24));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_tsc_deadline),
	};

	return cmocka_run_group_tests_name("cpuid", tests, NULL, NULL);
}
