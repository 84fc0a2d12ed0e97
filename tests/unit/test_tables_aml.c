/* Unit tests for the AML emitter (x86/aml.c) and the DSDT it writes: every
 * encoding against ACPI 6.x section 20.2, the bounds, and the DSDT for one
 * and three virtio devices byte for byte against what iasl (ACPICA
 * 20200925) compiles from the same ASL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mem.h"
#include "x86/aml.h"
#include "x86/platform.h"

#include <stdint.h>
#include <string.h>

#define MiB (1ull << 20)

/* Emits with @fn into a buffer and checks the bytes, then again with no
 * buffer: measuring must give the same length. */
#define EXPECT_AML(fn, ...)                                   \
	do {                                                  \
		static const uint8_t want[] = {__VA_ARGS__};  \
		uint8_t buf[64];                              \
		struct aml a;                                 \
                                                              \
		aml_init(&a, buf, sizeof(buf));               \
		fn;                                           \
		assert_false(a.overflow);                     \
		assert_int_equal(a.len, sizeof(want));        \
		assert_memory_equal(buf, want, sizeof(want)); \
		aml_init(&a, NULL, 0);                        \
		fn;                                           \
		assert_false(a.overflow);                     \
		assert_int_equal(a.len, sizeof(want));        \
	} while (0)

static void test_integer(void **state)
{
	(void)state;
	EXPECT_AML(aml_integer(&a, 0), 0x00);
	EXPECT_AML(aml_integer(&a, 1), 0x01);
	EXPECT_AML(aml_integer(&a, 2), 0x0A, 0x02);
	EXPECT_AML(aml_integer(&a, 0xFF), 0x0A, 0xFF);
	EXPECT_AML(aml_integer(&a, 0x100), 0x0B, 0x00, 0x01);
	EXPECT_AML(aml_integer(&a, 0xD0000000), 0x0C, 0x00, 0x00, 0x00, 0xD0);
	EXPECT_AML(aml_integer(&a, 0x123456789ull), 0x0E, 0x89, 0x67, 0x45,
		   0x23, 0x01, 0x00, 0x00, 0x00);
}

static void test_names_and_strings(void **state)
{
	(void)state;
	EXPECT_AML(aml_name(&a, "_HID"), 0x08, '_', 'H', 'I', 'D');
	EXPECT_AML(aml_name_string(&a, "\\_SB"), 0x5C, '_', 'S', 'B', '_');
	EXPECT_AML(aml_string(&a, "LNRO0005"), 0x0D, 'L', 'N', 'R', 'O', '0',
		   '0', '0', '5', 0x00);
	EXPECT_AML(aml_string(&a, ""), 0x0D, 0x00);
}

/* PkgLength counts itself: one byte up to 63, then 2, 3 and 4 bytes with
 * the byte count in bits 7-6 of the first and its low nibble in bits 3-0
 * (20.2.4). */
static void test_pkg_length(void **state)
{
	(void)state;
	EXPECT_AML(aml_pkg_length(&a, 0), 0x01);
	EXPECT_AML(aml_pkg_length(&a, 62), 0x3F);
	EXPECT_AML(aml_pkg_length(&a, 63), 0x41, 0x04);		 /* 65 */
	EXPECT_AML(aml_pkg_length(&a, 0xFFD), 0x4F, 0xFF);	 /* 0xFFF */
	EXPECT_AML(aml_pkg_length(&a, 0xFFE), 0x81, 0x00, 0x01); /* 0x1001 */
	EXPECT_AML(aml_pkg_length(&a, 0xFFFFC), 0x8F, 0xFF, 0xFF);
	EXPECT_AML(aml_pkg_length(&a, 0xFFFFD), 0xC1, 0x00, 0x00, 0x01);
	EXPECT_AML(aml_pkg_length(&a, AML_PKG_MAX - 4), 0xCF, 0xFF, 0xFF, 0xFF);
}

static void test_pkg_length_too_long(void **state)
{
	struct aml a;

	(void)state;
	aml_init(&a, NULL, 0);
	aml_pkg_length(&a, AML_PKG_MAX - 3);
	assert_true(a.overflow);
}

/* A package closed by aml_pkg_end: the body moves down behind the
 * shortest PkgLength, whatever its size. */
static void check_pkg(size_t body)
{
	static uint8_t buf[0x110000];
	size_t mark, n = body + 1 <= 0x3F ? 1 : body + 2 <= 0xFFF ? 2 : 3;
	struct aml a, m;

	for (int pass = 0; pass < 2; pass++) {
		struct aml *e = pass ? &m : &a;

		aml_init(e, pass ? NULL : buf, pass ? 0 : sizeof(buf));
		aml_byte(e, AML_SCOPE_OP);
		mark = aml_pkg_begin(e);
		for (size_t i = 0; i < body; i++)
			aml_byte(e, (uint8_t)(i * 7 + 1));
		aml_pkg_end(e, mark);
		aml_byte(e, 0xEE); /* what follows the package */
		assert_false(e->overflow);
		assert_int_equal(e->len, 1 + n + body + 1);
		assert_int_equal(e->peak, 1 + 4 + body);
	}
	if (n == 1)
		assert_int_equal(buf[1], body + 1);
	else
		assert_int_equal(buf[1], (n - 1) << 6 | ((body + n) & 0xF));
	for (size_t i = 0; i < body; i++)
		assert_int_equal(buf[1 + n + i], (uint8_t)(i * 7 + 1));
	assert_int_equal(buf[1 + n + body], 0xEE);
}

static void test_pkg_begin_end(void **state)
{
	(void)state;
	check_pkg(0);
	check_pkg(62);
	check_pkg(63);
	check_pkg(0xFFD);
	check_pkg(0xFFE);
	check_pkg(0x10000);
}

/* A full buffer: nothing written past it, overflow set, len still counts. */
static void test_bounds(void **state)
{
	uint8_t buf[8];
	struct aml a;
	size_t mark;

	(void)state;
	memset(buf, 0xAA, sizeof(buf));
	aml_init(&a, buf, 4);
	aml_string(&a, "LNRO0005");
	assert_true(a.overflow);
	assert_int_equal(a.len, 10);
	assert_int_equal(buf[0], 0x0D); /* StringPrefix fitted */
	for (size_t i = 4; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xAA);

	memset(buf, 0xAA, sizeof(buf));
	aml_init(&a, buf, 4);
	aml_bytes(&a, "\x01\x02\x03\x04", 4);
	assert_false(a.overflow);
	aml_byte(&a, 0x05);
	assert_true(a.overflow);
	assert_int_equal(buf[4], 0xAA);
	assert_int_equal(a.len, 5);

	/* A package that no longer fits: its length is still counted, and
	 * nothing moves past the buffer. */
	memset(buf, 0xAA, sizeof(buf));
	aml_init(&a, buf, 6);
	mark = aml_pkg_begin(&a);
	aml_bytes(&a, "\x01\x02\x03", 3);
	assert_true(a.overflow);
	aml_pkg_end(&a, mark);
	assert_int_equal(a.len, 4);
	assert_int_equal(buf[6], 0xAA);
	assert_int_equal(buf[7], 0xAA);
}

static void test_resources(void **state)
{
	(void)state;
	/* Memory32Fixed (ReadWrite, 0xD0001000, 0x1000) */
	EXPECT_AML(aml_res_memory32_fixed(&a, true, 0xD0001000, 0x1000), 0x86,
		   0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xD0, 0x00, 0x10, 0x00,
		   0x00);
	/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 23 } */
	EXPECT_AML(aml_res_interrupt(
			   &a, AML_RES_IRQ_CONSUMER | AML_RES_IRQ_EDGE, 23),
		   0x89, 0x06, 0x00, 0x03, 0x01, 0x17, 0x00, 0x00, 0x00);
	EXPECT_AML(aml_res_end(&a), 0x79, 0x00);
	/* Buffer () { 1, 2, 3 } */
	EXPECT_AML(aml_buffer(&a, (const uint8_t *)"\x01\x02\x03", 3), 0x11,
		   0x06, 0x0A, 0x03, 0x01, 0x02, 0x03);
}

/*
 * iasl -p dsdt dsdt.asl, for this ASL, gives the AML below (after its
 * 36-byte header, whose creator fields differ):
 *
 *   DefinitionBlock ("", "DSDT", 2, "MINIVM", "MINIVMM ", 1)
 *   {
 *       Name (_S5, Package () { 5, 5, 0, 0 })
 *       Scope (\_SB)
 *       {
 *           Device (VR00)
 *           {
 *               Name (_HID, "LNRO0005")
 *               Name (_UID, 0)
 *               Name (_CRS, ResourceTemplate ()
 *               {
 *                   Memory32Fixed (ReadWrite, 0xD0000000, 0x1000)
 *                   Interrupt (ResourceConsumer, Edge, ActiveHigh,
 *                              Exclusive) { 5 }
 *               })
 *           }
 *       }
 *   }
 *
 * iasl_three adds VR01 (_UID 1, 0xD0001000, GSI 6) and VR02 (_UID 2,
 * 0xD0002000, GSI 7) after VR00, the same way.
 */
/* clang-format off */
static const uint8_t iasl_one[] = {
	0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05,
	0x00, 0x00, 0x10, 0x42, 0x04, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x3a,
	0x56, 0x52, 0x30, 0x30, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c, 0x4e,
	0x52, 0x4f, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44,
	0x00, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17, 0x86, 0x09,
	0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00, 0x89, 0x06,
	0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00,
};

static const uint8_t iasl_three[] = {
	0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05,
	0x00, 0x00, 0x10, 0x4b, 0x0b, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x3a,
	0x56, 0x52, 0x30, 0x30, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c, 0x4e,
	0x52, 0x4f, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44,
	0x00, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17, 0x86, 0x09,
	0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00, 0x89, 0x06,
	0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00, 0x5b, 0x82, 0x3a,
	0x56, 0x52, 0x30, 0x31, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c, 0x4e,
	0x52, 0x4f, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44,
	0x01, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17, 0x86, 0x09,
	0x00, 0x01, 0x00, 0x10, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00, 0x89, 0x06,
	0x00, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00, 0x79, 0x00, 0x5b, 0x82, 0x3b,
	0x56, 0x52, 0x30, 0x32, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c, 0x4e,
	0x52, 0x4f, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44,
	0x0a, 0x02, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17, 0x86,
	0x09, 0x00, 0x01, 0x00, 0x20, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00, 0x89,
	0x06, 0x00, 0x03, 0x01, 0x07, 0x00, 0x00, 0x00, 0x79, 0x00,
};
/* clang-format on */

static uint64_t rd64(const struct vm_mem *m, uint64_t gpa)
{
	uint64_t v;

	assert_non_null(mem_ptr(m, gpa, 8));
	memcpy(&v, mem_ptr(m, gpa, 8), 8);
	return v;
}

/* acpi_write's DSDT for @n virtio devices equals @want after the header. */
static void check_dsdt_bytes(unsigned n, const uint8_t *want, size_t len)
{
	struct platform_desc pd = {.nr_vcpus = 2};
	uint64_t rsdp, xsdt, fadt, dsdt;
	struct vm_mem m;
	uint32_t dsdt_len;
	unsigned slot;
	uint8_t *p;

	for (unsigned i = 0; i < n; i++)
		assert_int_equal(platform_add_virtio(&pd, &slot), 0);
	assert_int_equal(mem_init(&m, 16 * MiB), 0);
	assert_int_equal(acpi_write(&m, &pd, &rsdp), 0);
	xsdt = rd64(&m, rsdp + 24);
	fadt = rd64(&m, xsdt + 36); /* the XSDT's first entry */
	assert_memory_equal(mem_ptr(&m, fadt, 4), "FACP", 4);
	dsdt = rd64(&m, fadt + 140); /* X_DSDT */
	p = mem_ptr(&m, dsdt, 36);
	assert_non_null(p);
	assert_memory_equal(p, "DSDT", 4);
	memcpy(&dsdt_len, p + 4, 4);
	assert_int_equal(dsdt_len, 36 + len);
	p = mem_ptr(&m, dsdt, dsdt_len);
	assert_non_null(p);
	assert_int_equal(platform_checksum(p, dsdt_len), 0);
	assert_memory_equal(p + 36, want, len);
	mem_destroy(&m);
}

static void test_dsdt_matches_iasl(void **state)
{
	(void)state;
	check_dsdt_bytes(1, iasl_one, sizeof(iasl_one));
	check_dsdt_bytes(3, iasl_three, sizeof(iasl_three));
	/* No devices: \_S5 alone, as iasl_one starts. */
	check_dsdt_bytes(0, iasl_one, 14);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integer),
		cmocka_unit_test(test_names_and_strings),
		cmocka_unit_test(test_pkg_length),
		cmocka_unit_test(test_pkg_length_too_long),
		cmocka_unit_test(test_pkg_begin_end),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_dsdt_matches_iasl),
	};

	return cmocka_run_group_tests_name("aml", tests, NULL, NULL);
}
