/* Unit tests for the platform tables a Linux guest reads: the e820 map, the
 * MP table and the ACPI tables, parsed back the way a guest finds them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "mem.h"
#include "x86/platform.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static uint8_t *const fake_host = (uint8_t *)0x100000000000ull;

static uint8_t rd8(const struct vm_mem *m, uint64_t gpa)
{
	uint8_t *p = mem_ptr(m, gpa, 1);

	assert_non_null(p);
	return *p;
}

static uint16_t rd16(const struct vm_mem *m, uint64_t gpa)
{
	return (uint16_t)(rd8(m, gpa) | rd8(m, gpa + 1) << 8);
}

static uint32_t rd32(const struct vm_mem *m, uint64_t gpa)
{
	return rd16(m, gpa) | (uint32_t)rd16(m, gpa + 2) << 16;
}

static uint64_t rd64(const struct vm_mem *m, uint64_t gpa)
{
	return rd32(m, gpa) | (uint64_t)rd32(m, gpa + 4) << 32;
}

static uint8_t sum(const struct vm_mem *m, uint64_t gpa, uint64_t len)
{
	uint8_t *p = mem_ptr(m, gpa, len);

	assert_non_null(p);
	return platform_checksum(p, len);
}

static bool is(const struct vm_mem *m, uint64_t gpa, const char *s)
{
	uint8_t *p = mem_ptr(m, gpa, strlen(s));

	return p && memcmp(p, s, strlen(s)) == 0;
}

static void expect_entry(const struct e820_entry *e, uint64_t addr,
			 uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_e820_small(void **state)
{
	struct e820_entry map[8];
	struct vm_mem m;
	unsigned n;

	(void)state;
	assert_int_equal(mem_layout(&m, 128 * MiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 8, &n), 0);
	assert_int_equal(n, 3);
	expect_entry(&map[0], 0, 0x9FC00, E820_RAM);
	expect_entry(&map[1], 0x9FC00, 0x100000 - 0x9FC00, E820_RESERVED);
	expect_entry(&map[2], 0x100000, 127 * MiB, E820_RAM);

	assert_int_equal(mem_layout(&m, 1 * GiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 8, &n), 0);
	assert_int_equal(n, 3);
	expect_entry(&map[2], 0x100000, 1 * GiB - 1 * MiB, E820_RAM);
}

static void test_e820_split(void **state)
{
	struct e820_entry map[8];
	struct vm_mem m;
	unsigned n;

	(void)state;
	assert_int_equal(mem_layout(&m, 3584 * MiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 8, &n), 0);
	assert_int_equal(n, 4);
	expect_entry(&map[0], 0, 0x9FC00, E820_RAM);
	expect_entry(&map[1], 0x9FC00, 0x60400, E820_RESERVED);
	expect_entry(&map[2], 1 * MiB, 3 * GiB - 1 * MiB, E820_RAM);
	expect_entry(&map[3], 4 * GiB, 512 * MiB, E820_RAM);
}

static void test_e820_minimum_and_overflow(void **state)
{
	struct e820_entry map[8];
	struct vm_mem m;
	unsigned n;

	(void)state;
	/* Exactly 1 MiB: no RAM above it, and no empty entry for it. */
	assert_int_equal(mem_layout(&m, 1 * MiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 8, &n), 0);
	assert_int_equal(n, 2);

	err_clear();
	assert_int_equal(mem_layout(&m, 3584 * MiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 3, &n), -ENOSPC);
	assert_true(strlen(err_msg()) > 0);
}

/* Finds the MP floating pointer the way Linux does: "_MP_" on a 16-byte
 * boundary in 0xF0000-0xFFFFF with a valid checksum. */
static uint64_t mp_find(const struct vm_mem *m)
{
	for (uint64_t a = 0xF0000; a < 0x100000; a += 16)
		if (is(m, a, "_MP_") && sum(m, a, 16) == 0)
			return a;
	return 0;
}

static void check_mptable(unsigned nr)
{
	struct vm_mem m;
	uint64_t addr = 0, fp, cfg, p;
	unsigned cpus = 0, ioapics = 0, entries, irq0_pin = 0xFF;
	unsigned irq_seen = 0;

	assert_int_equal(mem_init(&m, 64 * MiB), 0);
	assert_int_equal(mptable_write(&m, nr, &addr), 0);
	fp = mp_find(&m);
	assert_int_equal(fp, addr);
	assert_int_equal(rd8(&m, fp + 8), 1);  /* length: 16 bytes */
	assert_int_equal(rd8(&m, fp + 9), 4);  /* spec 1.4 */
	assert_int_equal(rd8(&m, fp + 11), 0); /* config table present */
	cfg = rd32(&m, fp + 4);
	assert_true(is(&m, cfg, "PCMP"));
	assert_int_equal(sum(&m, cfg, rd16(&m, cfg + 4)), 0);
	assert_int_equal(rd32(&m, cfg + 36), 0xFEE00000);
	entries = rd16(&m, cfg + 34);
	p = cfg + 44;
	for (unsigned i = 0; i < entries; i++) {
		uint8_t type = rd8(&m, p);

		assert_true(p < cfg + rd16(&m, cfg + 4));
		if (type == 0) {
			assert_int_equal(rd8(&m, p + 1), cpus); /* APIC id */
			assert_true(rd8(&m, p + 3) & 1);	/* enabled */
			assert_int_equal(!!(rd8(&m, p + 3) & 2), cpus == 0);
			cpus++;
			p += 20;
			continue;
		}
		if (type == 2) {
			assert_int_equal(rd8(&m, p + 1), nr);
			assert_int_equal(rd8(&m, p + 2), 0x11);
			assert_int_equal(rd32(&m, p + 4), 0xFEC00000);
			ioapics++;
		}
		if (type == 3) {
			unsigned src = rd8(&m, p + 5), pin = rd8(&m, p + 7);

			assert_int_equal(rd8(&m, p + 6), nr);
			irq_seen |= 1u << src;
			if (src == 0)
				irq0_pin = pin;
			else
				assert_int_equal(pin, src);
		}
		p += 8;
	}
	assert_int_equal(p, cfg + rd16(&m, cfg + 4));
	assert_int_equal(cpus, nr);
	assert_int_equal(ioapics, 1);
	assert_int_equal(irq0_pin, 2);
	assert_int_equal(irq_seen, 0xFFFF & ~(1u << 2));
	mem_destroy(&m);
}

static void test_mptable(void **state)
{
	(void)state;
	check_mptable(1);
	check_mptable(4);
	check_mptable(PLATFORM_MAX_VCPUS);
}

static void test_mptable_too_many(void **state)
{
	struct vm_mem m;
	uint64_t addr;

	(void)state;
	assert_int_equal(mem_init(&m, 16 * MiB), 0);
	err_clear();
	assert_int_equal(mptable_write(&m, PLATFORM_MAX_VCPUS + 1, &addr),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "--cpus"));
	assert_int_equal(acpi_write(&m, 0, &addr), -EINVAL);
	mem_destroy(&m);
}

/* The RSDP the way a guest finds it: "RSD PTR " on a 16-byte boundary in
 * 0xE0000-0xFFFFF, both checksums valid. */
static uint64_t rsdp_find(const struct vm_mem *m)
{
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
		if (is(m, a, "RSD PTR ") && sum(m, a, 20) == 0 &&
		    sum(m, a, 36) == 0)
			return a;
	return 0;
}

static void check_madt(const struct vm_mem *m, uint64_t madt, unsigned nr)
{
	uint64_t p = madt + 44, end = madt + rd32(m, madt + 4);
	unsigned cpus = 0, ioapics = 0, isos = 0, nmis = 0;

	assert_int_equal(rd32(m, madt + 36), 0xFEE00000);
	assert_int_equal(rd32(m, madt + 40), 1); /* PCAT_COMPAT */
	while (p < end) {
		uint8_t type = rd8(m, p), len = rd8(m, p + 1);

		assert_true(len >= 2);
		if (type == 0) {
			assert_int_equal(len, 8);
			assert_int_equal(rd8(m, p + 3), cpus);
			assert_int_equal(rd32(m, p + 4) & 1, 1);
			cpus++;
		} else if (type == 1) {
			assert_int_equal(rd8(m, p + 2), nr);
			assert_int_equal(rd32(m, p + 4), 0xFEC00000);
			assert_int_equal(rd32(m, p + 8), 0);
			ioapics++;
		} else if (type == 2) {
			uint8_t src = rd8(m, p + 3);

			if (src == 0)
				assert_int_equal(rd32(m, p + 4), 2);
			else if (src == 9)
				assert_int_equal(rd16(m, p + 8), 0x000D);
			else
				fail_msg("unexpected override for IRQ %u", src);
			isos++;
		} else if (type == 4) {
			assert_int_equal(rd8(m, p + 5), 1); /* LINT1 */
			nmis++;
		}
		p += len;
	}
	assert_int_equal(p, end);
	assert_int_equal(cpus, nr);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 2);
	assert_int_equal(nmis, 1);
}

static void check_fadt(const struct vm_mem *m, uint64_t fadt)
{
	uint32_t flags = rd32(m, fadt + 112);
	uint64_t dsdt = rd64(m, fadt + 140), facs = rd32(m, fadt + 36);
	/* Name (_S5, Package () { 5, 5, 0, 0 }) */
	static const uint8_t s5[] = {
		0x08, '_',  'S',  '5',	'_',  0x12, 0x08,
		0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00,
	};
	uint8_t *aml;

	assert_int_equal(rd32(m, fadt + 4), 276);
	assert_int_equal(rd8(m, fadt + 8), 6);
	assert_int_equal(rd16(m, fadt + 46), 9);     /* SCI_INT */
	assert_int_equal(rd32(m, fadt + 48), 0);     /* no SMI_CMD */
	assert_int_equal(rd32(m, fadt + 56), 0x600); /* PM1a_EVT_BLK */
	assert_int_equal(rd32(m, fadt + 64), 0x604); /* PM1a_CNT_BLK */
	assert_int_equal(rd8(m, fadt + 88), 4);
	assert_int_equal(rd8(m, fadt + 89), 2);
	assert_int_equal(rd8(m, fadt + 108), 0x32); /* RTC century */
	/* i8042 present (Linux probes it), no VGA, CMOS RTC present. */
	assert_int_equal(rd16(m, fadt + 109) & 0x26, 0x06);
	assert_int_equal(flags & (1u << 20), 0);	/* not HW-reduced */
	assert_int_equal(flags & (1u << 10), 1u << 10); /* RESET_REG_SUP */
	assert_int_equal(rd8(m, fadt + 116), 1);	/* reset reg: I/O */
	assert_int_equal(rd64(m, fadt + 120), 0xCF9);
	assert_int_equal(rd8(m, fadt + 128), 0x06);
	/* X_PM1a_EVT_BLK and X_PM1a_CNT_BLK say the same as the 32-bit ones. */
	assert_int_equal(rd8(m, fadt + 148), 1);
	assert_int_equal(rd8(m, fadt + 149), 32);
	assert_int_equal(rd64(m, fadt + 152), 0x600);
	assert_int_equal(rd8(m, fadt + 172), 1);
	assert_int_equal(rd8(m, fadt + 173), 16);
	assert_int_equal(rd64(m, fadt + 176), 0x604);
	assert_int_equal(rd32(m, fadt + 40), dsdt);

	assert_true(is(m, dsdt, "DSDT"));
	assert_int_equal(sum(m, dsdt, rd32(m, dsdt + 4)), 0);
	assert_int_equal(rd32(m, dsdt + 4), 36 + sizeof(s5));
	aml = mem_ptr(m, dsdt + 36, sizeof(s5));
	assert_non_null(aml);
	assert_memory_equal(aml, s5, sizeof(s5));

	assert_int_equal(facs % 64, 0);
	assert_true(is(m, facs, "FACS"));
	assert_int_equal(rd32(m, facs + 4), 64);
}

static void check_acpi(unsigned nr)
{
	struct vm_mem m;
	uint64_t rsdp = 0, found, xsdt, fadt = 0, madt = 0;
	unsigned n;

	assert_int_equal(mem_init(&m, 64 * MiB), 0);
	assert_int_equal(acpi_write(&m, nr, &rsdp), 0);
	found = rsdp_find(&m);
	assert_int_equal(found, rsdp);
	assert_int_equal(rsdp % 16, 0);
	assert_true(rsdp >= 0xE0000 && rsdp < 0x100000);
	assert_int_equal(rd8(&m, rsdp + 15), 2);   /* revision */
	assert_int_equal(rd32(&m, rsdp + 20), 36); /* length */
	xsdt = rd64(&m, rsdp + 24);
	assert_true(is(&m, xsdt, "XSDT"));
	assert_int_equal(sum(&m, xsdt, rd32(&m, xsdt + 4)), 0);
	n = (rd32(&m, xsdt + 4) - 36) / 8;
	assert_int_equal(n, 2);
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = rd64(&m, xsdt + 36 + 8 * i);

		/* Every table stays in the reserved BIOS area. */
		assert_true(t >= 0xE0000 && t + rd32(&m, t + 4) <= 0x100000);
		assert_int_equal(sum(&m, t, rd32(&m, t + 4)), 0);
		if (is(&m, t, "FACP"))
			fadt = t;
		if (is(&m, t, "APIC"))
			madt = t;
	}
	assert_int_not_equal(fadt, 0);
	assert_int_not_equal(madt, 0);
	check_fadt(&m, fadt);
	check_madt(&m, madt, nr);
	mem_destroy(&m);
}

static void test_acpi(void **state)
{
	(void)state;
	check_acpi(1);
	check_acpi(8);
	check_acpi(PLATFORM_MAX_VCPUS);
}

static void test_acpi_and_mptable_coexist(void **state)
{
	struct vm_mem m;
	uint64_t rsdp, mp;

	(void)state;
	assert_int_equal(mem_init(&m, 16 * MiB), 0);
	assert_int_equal(acpi_write(&m, 64, &rsdp), 0);
	assert_int_equal(mptable_write(&m, 64, &mp), 0);
	assert_int_equal(rsdp_find(&m), rsdp);
	assert_int_equal(mp_find(&m), mp);
	mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_small),
		cmocka_unit_test(test_e820_split),
		cmocka_unit_test(test_e820_minimum_and_overflow),
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_mptable_too_many),
		cmocka_unit_test(test_acpi),
		cmocka_unit_test(test_acpi_and_mptable_coexist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
