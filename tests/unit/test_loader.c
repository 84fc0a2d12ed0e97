/* Unit tests for the raw and ELF loaders: what lands where in guest memory,
 * how the vCPUs start, and each malformed or misplaced image refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "boot/boot.h"
#include "err.h"
#include "file_race.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_SIZE (16ull << 20)

struct elf64_image {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	uint8_t code[64];
};

struct elf32_image {
	Elf32_Ehdr eh;
	Elf32_Phdr ph[1];
	uint8_t code[16];
};

static struct vm_mem mem;

static int setup(void **state)
{
	(void)state;
	return mem_init(&mem, MEM_SIZE);
}

static int teardown(void **state)
{
	(void)state;
	mem_destroy(&mem);
	return 0;
}

static void elf64_make(struct elf64_image *img, uint64_t paddr)
{
	memset(img, 0, sizeof(*img));
	memcpy(img->eh.e_ident, ELFMAG, SELFMAG);
	img->eh.e_ident[EI_CLASS] = ELFCLASS64;
	img->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img->eh.e_ident[EI_VERSION] = EV_CURRENT;
	img->eh.e_type = ET_EXEC;
	img->eh.e_machine = EM_X86_64;
	img->eh.e_version = EV_CURRENT;
	img->eh.e_entry = paddr + 4;
	img->eh.e_phoff = offsetof(struct elf64_image, ph);
	img->eh.e_ehsize = sizeof(Elf64_Ehdr);
	img->eh.e_phentsize = sizeof(Elf64_Phdr);
	img->eh.e_phnum = 2;
	img->ph[0].p_type = PT_LOAD;
	img->ph[0].p_offset = offsetof(struct elf64_image, code);
	img->ph[0].p_paddr = paddr;
	img->ph[0].p_vaddr = paddr;
	img->ph[0].p_filesz = sizeof(img->code);
	img->ph[0].p_memsz = sizeof(img->code) + 4096; /* with a .bss */
	img->ph[1].p_type = PT_NOTE;		       /* ignored */
	memset(img->code, 0x90, sizeof(img->code));
}

static void elf32_make(struct elf32_image *img, uint32_t paddr)
{
	memset(img, 0, sizeof(*img));
	memcpy(img->eh.e_ident, ELFMAG, SELFMAG);
	img->eh.e_ident[EI_CLASS] = ELFCLASS32;
	img->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img->eh.e_type = ET_EXEC;
	img->eh.e_machine = EM_386;
	img->eh.e_entry = paddr;
	img->eh.e_phoff = offsetof(struct elf32_image, ph);
	img->eh.e_phentsize = sizeof(Elf32_Phdr);
	img->eh.e_phnum = 1;
	img->ph[0].p_type = PT_LOAD;
	img->ph[0].p_offset = offsetof(struct elf32_image, code);
	img->ph[0].p_paddr = paddr;
	img->ph[0].p_filesz = sizeof(img->code);
	img->ph[0].p_memsz = sizeof(img->code);
	memset(img->code, 0xf4, sizeof(img->code));
}

static void test_elf64_loads(void **state)
{
	struct elf64_image img;
	struct boot_entry e;
	uint8_t *p;

	(void)state;
	elf64_make(&img, 0x100000);
	memset(mem_ptr(&mem, 0x100000 + sizeof(img.code), 4096), 0xcc, 4096);
	assert_true(elf_probe(BOOT_SRC_MEM((uint8_t *)&img, sizeof(img))));
	assert_int_equal(elf_load(&mem, 1,
				  BOOT_SRC_MEM((uint8_t *)&img, sizeof(img)),
				  &e),
			 0);
	assert_int_equal(e.mode, CPU_MODE_LONG);
	assert_int_equal(e.rip, 0x100004);
	assert_true(e.per_cpu_stack);
	p = mem_ptr(&mem, 0x100000, sizeof(img.code) + 4096);
	assert_int_equal(p[0], 0x90);
	assert_int_equal(p[sizeof(img.code) - 1], 0x90);
	/* The .bss part is zeroed. */
	assert_int_equal(p[sizeof(img.code)], 0);
	assert_int_equal(p[sizeof(img.code) + 4095], 0);
}

static void test_elf32_loads(void **state)
{
	struct elf32_image img;
	struct boot_entry e;

	(void)state;
	elf32_make(&img, 0x200000);
	assert_int_equal(elf_load(&mem, 2,
				  BOOT_SRC_MEM((uint8_t *)&img, sizeof(img)),
				  &e),
			 0);
	assert_int_equal(e.mode, CPU_MODE_PROTECTED);
	assert_int_equal(e.rip, 0x200000);
	assert_int_equal(*(uint8_t *)mem_ptr(&mem, 0x200000, 1), 0xf4);
}

static void expect_elf_error(const void *img, size_t len, int err,
			     const char *needle)
{
	struct boot_entry e;

	assert_int_equal(elf_load(&mem, 1, BOOT_SRC_MEM(img, len), &e), err);
	if (!strstr(err_msg(), needle))
		fail_msg("message '%s' lacks '%s'", err_msg(), needle);
}

static void test_elf_malformed(void **state)
{
	struct elf64_image img, bad;

	(void)state;
	elf64_make(&img, 0x100000);
	/* Truncated anywhere before the end of the segment data. */
	for (size_t len = 0; len < sizeof(img); len++) {
		struct boot_entry e;

		assert_true(elf_load(&mem, 1,
				     BOOT_SRC_MEM((uint8_t *)&img, len),
				     &e) < 0);
	}
	expect_elf_error(&img, 20, -ENOEXEC, "truncated ELF header");
	expect_elf_error(&img, sizeof(img.eh) + 10, -ENOEXEC,
			 "program headers end past");

	bad = img;
	bad.eh.e_ident[EI_CLASS] = 7;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "ELF class");
	bad = img;
	bad.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "little-endian");
	bad = img;
	bad.eh.e_machine = EM_AARCH64;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "not x86-64");
	bad = img;
	bad.eh.e_type = ET_DYN;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "-no-pie");
	bad = img;
	bad.eh.e_phentsize = 10;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "program header size");
	bad = img;
	bad.eh.e_phnum = 0;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "no program headers");
	bad = img;
	bad.eh.e_phoff = UINT64_MAX - 8;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC,
			 "program headers end past");
	bad = img;
	bad.eh.e_phnum = 0xffff;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC,
			 "program headers end past");
	bad = img;
	bad.ph[0].p_offset = UINT64_MAX - 4;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "segment 0 ends past");
	bad = img;
	bad.ph[0].p_filesz = 4096;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "segment 0 ends past");
	bad = img;
	bad.ph[0].p_filesz = bad.ph[0].p_memsz + 1;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "more file bytes");
	bad = img;
	bad.ph[0].p_type = PT_NULL;
	expect_elf_error(&bad, sizeof(bad), -ENOEXEC, "no loadable segment");
}

static void test_elf_outside_memory(void **state)
{
	struct elf64_image img;

	(void)state;
	elf64_make(&img, MEM_SIZE - 16);
	expect_elf_error(&img, sizeof(img), -ERANGE, "outside guest memory");
	elf64_make(&img, 0xfffffffffffff000ull);
	expect_elf_error(&img, sizeof(img), -ERANGE, "outside guest memory");
	elf64_make(&img, 0x100000);
	img.ph[0].p_memsz = UINT64_MAX;
	expect_elf_error(&img, sizeof(img), -ERANGE, "outside guest memory");
	elf64_make(&img, 0x100000);
	img.eh.e_entry = MEM_SIZE;
	expect_elf_error(&img, sizeof(img), -ERANGE, "entry point");
	/* Over minivmm's own page tables. */
	elf64_make(&img, 0x1000);
	expect_elf_error(&img, sizeof(img), -EINVAL, "boot tables");
	/* Over the vCPU stacks at the top of RAM. */
	elf64_make(&img, MEM_SIZE - 0x2000);
	img.ph[0].p_memsz = 0x100;
	expect_elf_error(&img, sizeof(img), -EINVAL, "vCPU stacks");
}

static void test_raw_load(void **state)
{
	uint8_t code[] = {0xf4, 0xeb, 0xfe};
	struct boot_entry e;

	(void)state;
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  0x10000, 0x10000, CPU_MODE_REAL, &e),
			 0);
	assert_int_equal(e.mode, CPU_MODE_REAL);
	assert_int_equal(e.rip, 0x10000);
	assert_memory_equal(mem_ptr(&mem, 0x10000, 3), code, 3);
	/* Real mode may use the low pages; protected and long mode may not. */
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  0x1000, 0x1000, CPU_MODE_REAL, &e),
			 0);
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  0x1000, 0x1000, CPU_MODE_LONG, &e),
			 -EINVAL);
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  0x500, 0x500, CPU_MODE_PROTECTED, &e),
			 -EINVAL);
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  0x1000, 0x1000, CPU_MODE_PROTECTED, &e),
			 0);
}

static void test_raw_errors(void **state)
{
	uint8_t code[16] = {0};
	struct boot_entry e;

	(void)state;
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  MEM_SIZE - 8, MEM_SIZE - 8, CPU_MODE_LONG,
				  &e),
			 -ERANGE);
	assert_non_null(strstr(err_msg(), "--load-addr"));
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  UINT64_MAX - 4, 0x10000, CPU_MODE_LONG, &e),
			 -ERANGE);
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  0x10000, MEM_SIZE, CPU_MODE_LONG, &e),
			 -ERANGE);
	assert_non_null(strstr(err_msg(), "--entry"));
	assert_int_equal(raw_load(&mem, 1, BOOT_SRC_MEM(code, sizeof(code)),
				  0x200000, 0x200000, CPU_MODE_REAL, &e),
			 -ERANGE);
	assert_non_null(strstr(err_msg(), "below 1 MiB"));
	/* 1024 stacks of 16 KiB do not fit in 16 MiB with the tables. */
	assert_int_equal(raw_load(&mem, 1024, BOOT_SRC_MEM(code, sizeof(code)),
				  0x10000, 0x10000, CPU_MODE_LONG, &e),
			 -ENOMEM);
}

static void test_src_open_and_read(void **state)
{
	char path[] = "/tmp/minivmm-test-XXXXXX";
	struct boot_src src;
	uint8_t buf[10];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(boot_src_open(&src, path, 100), -EINVAL);
	assert_non_null(strstr(err_msg(), "is empty"));
	assert_int_equal(src.fd, -1);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	assert_int_equal(boot_src_open(&src, path, 9), -EFBIG);
	assert_non_null(strstr(err_msg(), "raise --mem"));
	assert_int_equal(boot_src_open(&src, path, 10), 0);
	assert_int_equal(src.len, 10);
	assert_int_equal(boot_src_read(&src, 0, buf, 10), 0);
	assert_memory_equal(buf, "0123456789", 10);
	assert_int_equal(boot_src_read(&src, 7, buf, 3), 0);
	assert_memory_equal(buf, "789", 3);
	/* Past the end, or wrapping around: refused, nothing read. */
	assert_int_equal(boot_src_read(&src, 8, buf, 3), -ENOEXEC);
	assert_non_null(strstr(err_msg(), "truncated"));
	assert_int_equal(boot_src_read(&src, 11, buf, 0), -ENOEXEC);
	assert_int_equal(boot_src_read(&src, UINT64_MAX, buf, 2), -ENOEXEC);
	/* A file that shrinks after it was opened: an error, not a crash. */
	assert_int_equal(ftruncate(fd, 4), 0);
	assert_int_equal(boot_src_read(&src, 0, buf, 10), -EIO);
	assert_non_null(strstr(err_msg(), "shrank"));
	/* Into guest memory: only where there is RAM. */
	assert_int_equal(boot_src_to_guest(&src, 0, 4, &mem, 0x10000), 0);
	assert_memory_equal(mem_ptr(&mem, 0x10000, 4), "0123", 4);
	assert_int_equal(boot_src_to_guest(&src, 0, 4, &mem, MEM_SIZE - 2),
			 -ERANGE);
	boot_src_close(&src);
	assert_int_equal(src.fd, -1);
	close(fd);
	unlink(path);
	assert_int_equal(boot_src_open(&src, path, 10), -ENOENT);
	assert_non_null(strstr(err_msg(), "cannot open"));
	assert_int_equal(boot_src_open(&src, "/tmp", 10), -EINVAL);
	assert_non_null(strstr(err_msg(), "not a regular file"));
}

/* The program headers are read once: a file rewritten after that read
 * (segment moved outside RAM, more file bytes than memory bytes) loads as
 * it was checked.  Reading them again for the copy crashed minivmm. */
static void test_elf_headers_read_once(void **state)
{
	struct elf64_image img, evil;
	struct boot_src src;
	struct boot_entry e;
	uint8_t *p;

	(void)state;
	elf64_make(&img, 0x100000);
	evil = img;
	evil.ph[0].p_paddr = 0xfffffffffff00000ull;
	evil.ph[0].p_filesz = UINT64_MAX / 2;
	evil.ph[0].p_memsz = 1;
	file_race_open(&src, &img, sizeof(img), img.eh.e_phoff, sizeof(img.ph));
	race.after_first = file_race_rewrite;
	race.rewrite = &evil.ph;
	race.rewrite_len = sizeof(evil.ph);
	race.rewrite_off = img.eh.e_phoff;
	memset(mem_ptr(&mem, 0x100000, sizeof(img.code)), 0, sizeof(img.code));
	assert_int_equal(elf_load(&mem, 1, &src, &e), 0);
	assert_int_equal(race.reads, 1);
	p = mem_ptr(&mem, 0x100000, sizeof(img.code));
	assert_int_equal(p[0], 0x90);
	assert_int_equal(p[sizeof(img.code) - 1], 0x90);
	/* The next load (a guest reboot) checks the new headers. */
	race.len = 0;
	assert_int_equal(elf_load(&mem, 1, &src, &e), -ENOEXEC);
	assert_non_null(strstr(err_msg(), "more file bytes"));
	file_race_close(&src);
}

/* A file cut short between the checks and the copy: a read error. */
static void test_elf_file_shrinks_while_loading(void **state)
{
	struct elf64_image img;
	struct boot_src src;
	struct boot_entry e;

	(void)state;
	elf64_make(&img, 0x100000);
	file_race_open(&src, &img, sizeof(img), img.eh.e_phoff, sizeof(img.ph));
	race.after_first = file_race_truncate;
	race.truncate_to = offsetof(struct elf64_image, code) + 1;
	assert_int_equal(elf_load(&mem, 1, &src, &e), -EIO);
	assert_non_null(strstr(err_msg(), "shrank"));
	file_race_close(&src);
}

/* A raw image cut short after it was opened (its length was fixed then). */
static void test_raw_file_shrinks(void **state)
{
	uint8_t code[8192];
	struct boot_src src;
	struct boot_entry e;

	(void)state;
	memset(code, 0xf4, sizeof(code));
	file_race_open(&src, code, sizeof(code), 0, 0);
	assert_int_equal(truncate(race.path, 100), 0);
	assert_int_equal(raw_load(&mem, 1, &src, 0x10000, 0x10000,
				  CPU_MODE_REAL, &e),
			 -EIO);
	assert_non_null(strstr(err_msg(), "shrank"));
	file_race_close(&src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf64_loads),
		cmocka_unit_test(test_elf32_loads),
		cmocka_unit_test(test_elf_malformed),
		cmocka_unit_test(test_elf_outside_memory),
		cmocka_unit_test(test_raw_load),
		cmocka_unit_test(test_raw_errors),
		cmocka_unit_test(test_src_open_and_read),
		cmocka_unit_test(test_elf_headers_read_once),
		cmocka_unit_test(test_elf_file_shrinks_while_loading),
		cmocka_unit_test(test_raw_file_shrinks),
	};

	return cmocka_run_group_tests_name("loader", tests, setup, teardown);
}
