/* Unit tests for the bzImage loader on synthetic kernels: a header built
 * field by field, then the zero page, placement and entry checked, and each
 * way a hostile or unsuitable file is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "boot/linux.h"
#include "err.h"
#include "file_race.h"
#include "mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1ull << 20)
#define SETUP_SECTS 4
#define PM_OFF ((SETUP_SECTS + 1) * 512)
#define PM_SIZE 0x10000
#define FAKE_LEN (PM_OFF + PM_SIZE)

/* The machine a load describes: @n vCPUs, no virtio devices. */
#define PD(n) (&(const struct platform_desc){.nr_vcpus = (n)})

/* How many virtio-mmio devices the ACPI area names (their _HID). */
static unsigned acpi_virtio_count(struct vm_mem *m)
{
	uint8_t *p = mem_ptr(m, PLATFORM_ACPI_ADDR,
			     PLATFORM_ACPI_END - PLATFORM_ACPI_ADDR);
	unsigned n = 0;

	assert_non_null(p);
	for (size_t i = 0; i + 8 <= PLATFORM_ACPI_END - PLATFORM_ACPI_ADDR; i++)
		if (!memcmp(p + i, "LNRO0005", 8))
			n++;
	return n;
}

struct fixture {
	struct vm_mem m;
	uint8_t *k; /* FAKE_LEN bytes of kernel */
	struct boot_entry e;
};

static void put16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, 2);
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

/* A modern (2.15) relocatable 64-bit kernel: 16 MiB preferred, 32 MiB of
 * init_size, 2 MiB alignment. */
static void fake_kernel(uint8_t *k)
{
	memset(k, 0, FAKE_LEN);
	k[0x1F1] = SETUP_SECTS;
	put32(k, 0x1F4, PM_SIZE / 16); /* syssize */
	put16(k, 0x1FA, 0xFFFF);       /* vid_mode */
	put16(k, 0x1FE, 0xAA55);
	k[0x200] = 0xEB;
	k[0x201] = 0x26C - 0x202; /* header ends at 0x26C */
	memcpy(k + 0x202, "HdrS", 4);
	put16(k, 0x206, 0x020F);
	k[0x211] = LINUX_LOADED_HIGH;
	put32(k, 0x214, 0x100000);   /* code32_start */
	put32(k, 0x22C, 0x7FFFFFFF); /* initrd_addr_max */
	put32(k, 0x230, 0x200000);   /* kernel_alignment */
	k[0x234] = 1;		     /* relocatable */
	put16(k, 0x236, LINUX_XLF_KERNEL_64 | LINUX_XLF_CAN_BE_LOADED_ABOVE_4G);
	put32(k, 0x238, 2048);	     /* cmdline_size */
	put32(k, 0x248, 0x3C0);	     /* payload_offset */
	put32(k, 0x24C, 0x8000);     /* payload_length */
	put64(k, 0x250, 0xdeadbeef); /* setup_data: the loader's, not ours */
	put64(k, 0x258, 0x1000000);  /* pref_address */
	put32(k, 0x260, 0x2000000);  /* init_size */
	for (size_t i = PM_OFF; i < FAKE_LEN; i++)
		k[i] = (uint8_t)(i * 7);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || mem_init(&f->m, 128 * MiB))
		return -1;
	f->k = malloc(FAKE_LEN);
	if (!f->k)
		return -1;
	fake_kernel(f->k);
	err_clear();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mem_destroy(&f->m);
	free(f->k);
	free(f);
	return 0;
}

static struct boot_params *zero_page(struct fixture *f)
{
	struct boot_params *bp =
		mem_ptr(&f->m, LINUX_ZERO_PAGE_ADDR, sizeof(*bp));

	assert_non_null(bp);
	return bp;
}

static void test_load_valid(void **state)
{
	struct fixture *f = *state;
	static const char cmd[] = "console=ttyS0 root=/dev/ram0";
	uint8_t initrd[3000];
	struct platform_desc pd = {.nr_vcpus = 2};
	struct boot_params *bp;
	unsigned slot;
	uint8_t *p;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(platform_add_virtio(&pd, &slot), 0);
	assert_int_equal(platform_add_virtio(&pd, &slot), 0);
	assert_int_equal(bzimage_load(&f->m, &pd, BOOT_SRC_MEM(f->k, FAKE_LEN),
				      BOOT_SRC_MEM(initrd, sizeof(initrd)), cmd,
				      &f->e),
			 0);
	assert_int_equal(f->e.mode, CPU_MODE_LONG);
	assert_int_equal(f->e.rip, 0x1000000 + 0x200);
	assert_int_equal(f->e.rsi, LINUX_ZERO_PAGE_ADDR);
	assert_false(f->e.per_cpu_stack);

	/* The protected-mode kernel at pref_address, byte for byte. */
	p = mem_ptr(&f->m, 0x1000000, PM_SIZE);
	assert_memory_equal(p, f->k + PM_OFF, PM_SIZE);

	bp = zero_page(f);
	assert_int_equal(bp->sentinel, 0);
	assert_int_equal(bp->hdr.version, 0x020F);
	assert_int_equal(bp->hdr.setup_sects, SETUP_SECTS);
	assert_int_equal(bp->hdr.type_of_loader, 0xFF);
	assert_int_equal(bp->hdr.loadflags,
			 LINUX_LOADED_HIGH | LINUX_CAN_USE_HEAP);
	assert_int_equal(bp->hdr.heap_end_ptr, 0xFE00);
	assert_int_equal(bp->hdr.code32_start, 0x1000000);
	assert_int_equal(bp->hdr.setup_data, 0);
	assert_int_equal(bp->hdr.init_size, 0x2000000);
	assert_int_equal(bp->hdr.cmd_line_ptr, LINUX_CMDLINE_ADDR);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_string_equal((char *)mem_ptr(&f->m, LINUX_CMDLINE_ADDR, 1), cmd);

	/* The initrd page-aligned at the top of the 128 MiB. */
	assert_int_equal(bp->hdr.ramdisk_image, (128 * MiB - 3000) & ~0xFFFull);
	assert_int_equal(bp->hdr.ramdisk_size, 3000);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	p = mem_ptr(&f->m, bp->hdr.ramdisk_image, sizeof(initrd));
	assert_memory_equal(p, initrd, sizeof(initrd));

	assert_int_equal(bp->e820_entries, 3);
	assert_int_equal(bp->e820_table[0].addr, 0);
	assert_int_equal(bp->e820_table[0].size, 0x9FC00);
	assert_int_equal(bp->e820_table[1].type, E820_RESERVED);
	assert_int_equal(bp->e820_table[2].addr, 0x100000);
	assert_int_equal(bp->e820_table[2].size, 127 * MiB);
	assert_int_equal(bp->e820_table[2].type, E820_RAM);

	/* The RSDP it points at, and the MP table, are in the BIOS area. */
	assert_true(bp->acpi_rsdp_addr >= 0xE0000 &&
		    bp->acpi_rsdp_addr < 0x100000);
	assert_memory_equal(mem_ptr(&f->m, bp->acpi_rsdp_addr, 8), "RSD PTR ",
			    8);
	assert_memory_equal(mem_ptr(&f->m, PLATFORM_MPTABLE_ADDR, 4), "_MP_",
			    4);
	/* The DSDT names both virtio devices. */
	assert_int_equal(acpi_virtio_count(&f->m), 2);
}

static void test_load_no_initrd_no_cmdline(void **state)
{
	struct fixture *f = *state;
	struct boot_params *bp;

	assert_int_equal(bzimage_load(&f->m, PD(1),
				      BOOT_SRC_MEM(f->k, FAKE_LEN), NULL, NULL,
				      &f->e),
			 0);
	bp = zero_page(f);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	assert_string_equal((char *)mem_ptr(&f->m, LINUX_CMDLINE_ADDR, 1), "");
}

static void test_initrd_addr_max(void **state)
{
	struct fixture *f = *state;

	/* The initrd's last byte may be at most at 64 MiB - 1. */
	put32(f->k, 0x22C, 64 * MiB - 1);
	assert_int_equal(bzimage_load(&f->m, PD(1),
				      BOOT_SRC_MEM(f->k, FAKE_LEN),
				      BOOT_SRC_MEM(f->k, 8192), NULL, &f->e),
			 0);
	assert_int_equal(zero_page(f)->hdr.ramdisk_image, 64 * MiB - 8192);
}

static void test_unaligned_pref_is_aligned(void **state)
{
	struct fixture *f = *state;

	put64(f->k, 0x258, 0x1000000 + 0x1000);
	assert_int_equal(bzimage_load(&f->m, PD(1),
				      BOOT_SRC_MEM(f->k, FAKE_LEN), NULL, NULL,
				      &f->e),
			 0);
	assert_int_equal(f->e.rip, 0x1200000 + 0x200);
}

static void test_protocol_206_uses_32bit_entry(void **state)
{
	struct fixture *f = *state;

	/* 2.06: no xloadflags, no pref_address/init_size; the header ends
	 * after cmdline_size. */
	put16(f->k, 0x206, 0x0206);
	f->k[0x201] = 0x23C - 0x202;
	memset(f->k + 0x23C, 0, 0x26C - 0x23C);
	put16(f->k, 0x236, 0);
	assert_int_equal(bzimage_load(&f->m, PD(1),
				      BOOT_SRC_MEM(f->k, FAKE_LEN), NULL, "x",
				      &f->e),
			 0);
	assert_int_equal(f->e.mode, CPU_MODE_PROTECTED);
	assert_int_equal(f->e.rip, 0x200000); /* 1 MiB, 2 MiB-aligned */
	assert_int_equal(f->e.rsi, LINUX_ZERO_PAGE_ADDR);
	assert_int_equal(zero_page(f)->hdr.code32_start, 0x200000);
}

static void test_payload(void **state)
{
	struct fixture *f = *state;
	uint64_t off = 0, len = 0;

	assert_int_equal(
		bzimage_payload(BOOT_SRC_MEM(f->k, FAKE_LEN), &off, &len), 0);
	assert_int_equal(off, PM_OFF + 0x3C0);
	assert_int_equal(len, 0x8000);
	put32(f->k, 0x248, 0xFFFFFFF0);
	assert_int_equal(bzimage_payload(BOOT_SRC_MEM(f->k, FAKE_LEN), &off,
					 &len),
			 -ENOEXEC);
	put32(f->k, 0x248, 0x3C0);
	put32(f->k, 0x24C, PM_SIZE);
	assert_int_equal(bzimage_payload(BOOT_SRC_MEM(f->k, FAKE_LEN), &off,
					 &len),
			 -ENOEXEC);
}

/* Loads and expects @err with a message containing @what. */
static void expect_fail(struct fixture *f, size_t len, const uint8_t *initrd,
			size_t initrd_len, const char *cmdline, int err,
			const char *what)
{
	err_clear();
	assert_int_equal(bzimage_load(&f->m, PD(1), BOOT_SRC_MEM(f->k, len),
				      BOOT_SRC_MEM(initrd, initrd_len), cmdline,
				      &f->e),
			 err);
	if (!strstr(err_msg(), what))
		fail_msg("message \"%s\" lacks \"%s\"", err_msg(), what);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;

	expect_fail(f, 0x100, NULL, 0, NULL, -ENOEXEC, "truncated");
	expect_fail(f, 0x207, NULL, 0, NULL, -ENOEXEC, "truncated");
	/* The header itself runs past the end of the file. */
	expect_fail(f, 0x240, NULL, 0, NULL, -ENOEXEC, "truncated");
	/* Setup code only. */
	expect_fail(f, PM_OFF, NULL, 0, NULL, -ENOEXEC, "truncated");
	/* syssize promises more than the file has. */
	expect_fail(f, FAKE_LEN - 16, NULL, 0, NULL, -ENOEXEC, "truncated");
}

static void test_bad_magic(void **state)
{
	struct fixture *f = *state;

	f->k[0x202] = 'X';
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOEXEC, "HdrS");
	f->k[0x202] = 'H';
	put16(f->k, 0x1FE, 0x55AA);
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOEXEC, "0xAA55");
}

static void test_protocol_too_old(void **state)
{
	struct fixture *f = *state;

	put16(f->k, 0x206, 0x0205);
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOTSUP,
		    "protocol 2.05 is older than 2.06");
}

static void test_header_too_short(void **state)
{
	struct fixture *f = *state;

	/* 2.15 claims fields up to init_size; a header ending at 0x240
	 * cannot hold them. */
	f->k[0x201] = 0x240 - 0x202;
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOEXEC, "corrupt");
}

static void test_not_64bit(void **state)
{
	struct fixture *f = *state;

	put16(f->k, 0x236, 0);
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOEXEC, "64-bit");
}

static void test_zimage(void **state)
{
	struct fixture *f = *state;

	f->k[0x211] = 0;
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOEXEC, "zImage");
}

static void test_kernel_too_big(void **state)
{
	struct fixture *f = *state;

	put32(f->k, 0x260, 200 * MiB);
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOMEM, "raise --mem");
	/* A hostile pref_address must not wrap around. */
	put32(f->k, 0x260, 0x2000000);
	put64(f->k, 0x258, 0xFFFFFFFFFFF00000ull);
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOMEM, "raise --mem");
}

static void test_bad_alignment(void **state)
{
	struct fixture *f = *state;

	put32(f->k, 0x230, 0x300000);
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOEXEC, "kernel_alignment");
	put32(f->k, 0x230, 0);
	expect_fail(f, FAKE_LEN, NULL, 0, NULL, -ENOEXEC, "kernel_alignment");
}

static void test_initrd_too_big(void **state)
{
	struct fixture *f = *state;
	size_t len = 100 * MiB; /* the kernel ends at 48 MiB of 128 */
	uint8_t *big = calloc(1, len);

	assert_non_null(big);
	expect_fail(f, FAKE_LEN, big, len, NULL, -ENOMEM, "initrd");
	/* Or it fits RAM but not below initrd_addr_max. */
	put32(f->k, 0x22C, 64 * MiB - 1);
	expect_fail(f, FAKE_LEN, big, 20 * MiB, NULL, -ENOMEM, "initrd");
	free(big);
}

static void test_cmdline_too_long(void **state)
{
	struct fixture *f = *state;
	char cmd[32];

	put32(f->k, 0x238, 16);
	memset(cmd, 'a', sizeof(cmd));
	cmd[16] = '\0';
	assert_int_equal(bzimage_load(&f->m, PD(1),
				      BOOT_SRC_MEM(f->k, FAKE_LEN), NULL, cmd,
				      &f->e),
			 0);
	cmd[16] = 'a';
	cmd[17] = '\0';
	expect_fail(f, FAKE_LEN, NULL, 0, cmd, -E2BIG, "cmdline_size");
}

static void test_too_many_vcpus(void **state)
{
	struct fixture *f = *state;

	err_clear();
	assert_int_equal(bzimage_load(&f->m, PD(PLATFORM_MAX_VCPUS + 1),
				      BOOT_SRC_MEM(f->k, FAKE_LEN), NULL, NULL,
				      &f->e),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "--cpus"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* The setup header is read once: rewritten after that read (setup code
 * and kernel sizes past the end of the file), the kernel loads as it was
 * checked; cut short, it is a read error. */
static void test_header_read_once(void **state)
{
	struct fixture *f = *state;
	static const uint8_t evil[8] = {0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
	struct boot_src src;

	file_race_open(&src, f->k, FAKE_LEN, 0, 0x300);
	race.after_first = file_race_rewrite;
	race.rewrite = evil; /* setup_sects 0xff .. syssize 0xffffffff */
	race.rewrite_len = sizeof(evil);
	race.rewrite_off = 0x1F1;
	assert_int_equal(bzimage_load(&f->m, PD(1), &src, NULL, NULL, &f->e),
			 0);
	assert_int_equal(race.reads, 1);
	assert_memory_equal(mem_ptr(&f->m, 0x1000000, PM_SIZE), f->k + PM_OFF,
			    PM_SIZE);
	assert_int_equal(zero_page(f)->hdr.setup_sects, SETUP_SECTS);
	file_race_close(&src);

	file_race_open(&src, f->k, FAKE_LEN, 0, 0x300);
	race.after_first = file_race_truncate;
	race.truncate_to = PM_OFF + 16;
	assert_int_equal(bzimage_load(&f->m, PD(1), &src, NULL, NULL, &f->e),
			 -EIO);
	assert_non_null(strstr(err_msg(), "shrank"));
	file_race_close(&src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_load_valid),
		T(test_load_no_initrd_no_cmdline),
		T(test_initrd_addr_max),
		T(test_unaligned_pref_is_aligned),
		T(test_protocol_206_uses_32bit_entry),
		T(test_payload),
		T(test_truncated),
		T(test_bad_magic),
		T(test_protocol_too_old),
		T(test_header_too_short),
		T(test_not_64bit),
		T(test_zimage),
		T(test_kernel_too_big),
		T(test_bad_alignment),
		T(test_initrd_too_big),
		T(test_cmdline_too_long),
		T(test_too_many_vcpus),
		T(test_header_read_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
