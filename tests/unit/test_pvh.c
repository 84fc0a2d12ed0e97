/* Unit tests for PVH boot: finding the XEN_ELFNOTE_PHYS32_ENTRY note in
 * synthetic ELF32/ELF64 files (and not being fooled by broken ones), telling
 * a Linux vmlinux apart, and the hvm_start_info pvh_load hands over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "boot/linux.h"
#include "err.h"
#include "file_race.h"
#include "mem.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1ull << 20)
#define NOTES_OFF 0x100
#define DATA_OFF 0x200
#define DATA_LEN 0x100
#define BSS_LEN 0x3000
#define IMG_LEN (DATA_OFF + DATA_LEN)
#define ENTRY 0x200010u

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

struct elf_opts {
	bool is32;
	bool gnu_note; /* a note to skip first */
	bool xen_note;
	uint32_t xen_type;
	uint32_t desc_size; /* 4 or 8 */
	uint64_t desc;
	bool linux_note;
	uint64_t paddr, vaddr;
	int notes_adjust; /* added to the PT_NOTE size */
};

static const struct elf_opts pvh64 = {
	.gnu_note = true,
	.xen_note = true,
	.xen_type = 18,
	.desc_size = 8,
	.desc = ENTRY,
	.paddr = 0x200000,
	.vaddr = 0x200000,
};

static size_t put_note(uint8_t *p, const char *name, uint32_t type,
		       const void *desc, uint32_t dsz)
{
	uint32_t nsz = (uint32_t)strlen(name) + 1;
	size_t off = 12;

	memcpy(p, &nsz, 4);
	memcpy(p + 4, &dsz, 4);
	memcpy(p + 8, &type, 4);
	memcpy(p + off, name, nsz);
	off += (nsz + 3) & ~3u;
	memcpy(p + off, desc, dsz);
	off += (dsz + 3) & ~3u;
	return off;
}

/* An image with one PT_LOAD (data + bss) and one PT_NOTE. */
static void build_elf(uint8_t *b, const struct elf_opts *o)
{
	uint8_t *n = b + NOTES_OFF;
	size_t notes = 0;

	memset(b, 0, IMG_LEN);
	if (o->gnu_note) {
		uint8_t id[20] = {1, 2, 3};

		notes += put_note(n + notes, "GNU", 3, id, sizeof(id));
	}
	if (o->linux_note) {
		uint32_t salt = 0;

		notes += put_note(n + notes, "Linux", 0x100, &salt, 4);
	}
	if (o->xen_note)
		notes += put_note(n + notes, "Xen", o->xen_type, &o->desc,
				  o->desc_size);
	notes += (size_t)(ptrdiff_t)o->notes_adjust;
	for (unsigned i = 0; i < DATA_LEN; i++)
		b[DATA_OFF + i] = (uint8_t)(i + 1);

	memcpy(b, ELFMAG, SELFMAG);
	b[EI_DATA] = ELFDATA2LSB;
	b[EI_VERSION] = EV_CURRENT;
	if (o->is32) {
		Elf32_Ehdr h = {.e_type = ET_EXEC,
				.e_machine = EM_386,
				.e_entry = (uint32_t)o->vaddr,
				.e_phoff = sizeof(h),
				.e_ehsize = sizeof(h),
				.e_phentsize = sizeof(Elf32_Phdr),
				.e_phnum = 2};
		Elf32_Phdr p[2] = {
			{.p_type = PT_LOAD,
			 .p_offset = DATA_OFF,
			 .p_vaddr = (uint32_t)o->vaddr,
			 .p_paddr = (uint32_t)o->paddr,
			 .p_filesz = DATA_LEN,
			 .p_memsz = DATA_LEN + BSS_LEN,
			 .p_align = 4096},
			{.p_type = PT_NOTE,
			 .p_offset = NOTES_OFF,
			 .p_filesz = (uint32_t)notes,
			 .p_align = 4},
		};

		b[EI_CLASS] = ELFCLASS32;
		memcpy(b + EI_NIDENT, (uint8_t *)&h + EI_NIDENT,
		       sizeof(h) - EI_NIDENT);
		memcpy(b + sizeof(h), p, sizeof(p));
	} else {
		Elf64_Ehdr h = {.e_type = ET_EXEC,
				.e_machine = EM_X86_64,
				.e_entry = o->vaddr,
				.e_phoff = sizeof(h),
				.e_ehsize = sizeof(h),
				.e_phentsize = sizeof(Elf64_Phdr),
				.e_phnum = 2};
		Elf64_Phdr p[2] = {
			{.p_type = PT_LOAD,
			 .p_offset = DATA_OFF,
			 .p_vaddr = o->vaddr,
			 .p_paddr = o->paddr,
			 .p_filesz = DATA_LEN,
			 .p_memsz = DATA_LEN + BSS_LEN,
			 .p_align = 4096},
			{.p_type = PT_NOTE,
			 .p_offset = NOTES_OFF,
			 .p_filesz = notes,
			 .p_align = 4},
		};

		b[EI_CLASS] = ELFCLASS64;
		memcpy(b + EI_NIDENT, (uint8_t *)&h + EI_NIDENT,
		       sizeof(h) - EI_NIDENT);
		memcpy(b + sizeof(h), p, sizeof(p));
	}
}

static void test_find_entry64(void **state)
{
	uint8_t b[IMG_LEN];
	struct elf_opts o = pvh64;
	uint32_t entry = 0;

	(void)state;
	build_elf(b, &o);
	assert_true(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	assert_int_equal(entry, ENTRY);
	/* The 4-byte form of the note. */
	o.desc_size = 4;
	build_elf(b, &o);
	entry = 0;
	assert_true(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	assert_int_equal(entry, ENTRY);
}

static void test_find_entry32(void **state)
{
	uint8_t b[IMG_LEN];
	struct elf_opts o = pvh64;
	uint32_t entry = 0;

	(void)state;
	o.is32 = true;
	o.desc_size = 4;
	build_elf(b, &o);
	assert_true(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	assert_int_equal(entry, ENTRY);
}

static void test_entry_absent(void **state)
{
	uint8_t b[IMG_LEN];
	struct elf_opts o = pvh64;
	uint32_t entry;

	(void)state;
	o.xen_note = false;
	build_elf(b, &o);
	assert_false(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	/* Another Xen note type is not the entry. */
	o = pvh64;
	o.xen_type = 1;
	build_elf(b, &o);
	assert_false(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	/* An entry that does not fit in 32 bits. */
	o = pvh64;
	o.desc = 0x100000000ull | ENTRY;
	build_elf(b, &o);
	assert_false(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	/* Not ELF at all. */
	memset(b, 0, sizeof(b));
	assert_false(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
}

static void test_entry_malformed(void **state)
{
	uint8_t b[IMG_LEN];
	struct elf_opts o = pvh64;
	uint32_t entry, huge = 0xFFFFFFF0u;

	(void)state;
	/* The PT_NOTE ends before the Xen note's descriptor. */
	o.notes_adjust = -6;
	build_elf(b, &o);
	assert_false(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	/* A name size that would wrap a 32-bit sum. */
	o = pvh64;
	o.gnu_note = false;
	build_elf(b, &o);
	memcpy(b + NOTES_OFF, &huge, 4);
	assert_false(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	/* A descriptor size past the segment. */
	build_elf(b, &o);
	memcpy(b + NOTES_OFF + 4, &huge, 4);
	assert_false(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	/* The PT_NOTE segment runs past the end of the file. */
	o = pvh64;
	o.notes_adjust = 0x1000;
	build_elf(b, &o);
	assert_false(pvh_find_entry(BOOT_SRC_MEM(b, sizeof(b)), &entry));
	/* Program headers past the end of the file. */
	build_elf(b, &pvh64);
	for (size_t len = 0; len < NOTES_OFF; len += 7)
		assert_false(pvh_find_entry(BOOT_SRC_MEM(b, len), &entry));
}

static void test_elf_is_linux(void **state)
{
	uint8_t b[IMG_LEN];
	struct elf_opts o = pvh64;

	(void)state;
	build_elf(b, &o);
	assert_false(elf_is_linux(BOOT_SRC_MEM(b, sizeof(b))));
	o.linux_note = true;
	build_elf(b, &o);
	assert_true(elf_is_linux(BOOT_SRC_MEM(b, sizeof(b))));
	/* No notes at all, but linked in the kernel's high mapping. */
	o = pvh64;
	o.gnu_note = o.xen_note = false;
	o.vaddr = 0xffffffff81000000ull;
	o.paddr = 0x1000000;
	build_elf(b, &o);
	assert_true(elf_is_linux(BOOT_SRC_MEM(b, sizeof(b))));
	o.is32 = true;
	o.vaddr = 0xC1000000;
	build_elf(b, &o);
	assert_true(elf_is_linux(BOOT_SRC_MEM(b, sizeof(b))));
}

struct fixture {
	struct vm_mem m;
	uint8_t elf[IMG_LEN];
	struct boot_entry e;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || mem_init(&f->m, 64 * MiB))
		return -1;
	build_elf(f->elf, &pvh64);
	err_clear();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mem_destroy(&f->m);
	free(f);
	return 0;
}

static void test_load(void **state)
{
	struct fixture *f = *state;
	static const char cmd[] = "console=hvc0";
	struct hvm_start_info *si;
	struct hvm_modlist_entry *mod;
	struct hvm_memmap_table_entry *mm;
	struct platform_desc pd = {.nr_vcpus = 2};
	uint8_t initrd[5000], *p;
	unsigned slot;

	memset(initrd, 0xA5, sizeof(initrd));
	assert_int_equal(platform_add_virtio(&pd, &slot), 0);
	/* Dirty the bss area: the loader must zero it. */
	memset(mem_ptr(&f->m, 0x200000, DATA_LEN + BSS_LEN), 0xFF,
	       DATA_LEN + BSS_LEN);
	assert_int_equal(pvh_load(&f->m, &pd, BOOT_SRC_MEM(f->elf, IMG_LEN),
				  BOOT_SRC_MEM(initrd, sizeof(initrd)), cmd,
				  &f->e),
			 0);
	assert_int_equal(f->e.mode, CPU_MODE_PROTECTED);
	assert_int_equal(f->e.rip, ENTRY);
	assert_int_equal(f->e.rbx, PVH_START_INFO_ADDR);
	assert_false(f->e.per_cpu_stack);

	p = mem_ptr(&f->m, 0x200000, DATA_LEN + BSS_LEN);
	assert_memory_equal(p, f->elf + DATA_OFF, DATA_LEN);
	for (unsigned i = DATA_LEN; i < DATA_LEN + BSS_LEN; i++)
		assert_int_equal(p[i], 0);

	si = mem_ptr(&f->m, PVH_START_INFO_ADDR, sizeof(*si));
	assert_int_equal(si->magic, 0x336ec578);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->flags, 0);
	assert_int_equal(si->cmdline_paddr, LINUX_CMDLINE_ADDR);
	assert_string_equal((char *)mem_ptr(&f->m, si->cmdline_paddr, 1), cmd);
	assert_memory_equal(mem_ptr(&f->m, si->rsdp_paddr, 8), "RSD PTR ", 8);
	assert_int_equal(acpi_virtio_count(&f->m), 1);

	assert_int_equal(si->nr_modules, 1);
	assert_int_equal(si->modlist_paddr, PVH_MODLIST_ADDR);
	mod = mem_ptr(&f->m, si->modlist_paddr, sizeof(*mod));
	assert_int_equal(mod->size, sizeof(initrd));
	assert_int_equal(mod->paddr % 4096, 0);
	assert_int_equal(mod->paddr, (64 * MiB - sizeof(initrd)) & ~0xFFFull);
	assert_memory_equal(mem_ptr(&f->m, mod->paddr, sizeof(initrd)), initrd,
			    sizeof(initrd));

	assert_int_equal(si->memmap_paddr, PVH_MEMMAP_ADDR);
	assert_int_equal(si->memmap_entries, 3);
	mm = mem_ptr(&f->m, si->memmap_paddr, 3 * sizeof(*mm));
	assert_int_equal(mm[0].addr, 0);
	assert_int_equal(mm[0].size, 0x9FC00);
	assert_int_equal(mm[0].type, 1);
	assert_int_equal(mm[1].type, 2);
	assert_int_equal(mm[2].addr, 0x100000);
	assert_int_equal(mm[2].size, 63 * MiB);
	assert_int_equal(mm[2].reserved, 0);
}

static void test_load_no_initrd(void **state)
{
	struct fixture *f = *state;
	struct hvm_start_info *si;

	assert_int_equal(pvh_load(&f->m, PD(1), BOOT_SRC_MEM(f->elf, IMG_LEN),
				  NULL, NULL, &f->e),
			 0);
	si = mem_ptr(&f->m, PVH_START_INFO_ADDR, sizeof(*si));
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->modlist_paddr, 0);
	assert_string_equal((char *)mem_ptr(&f->m, si->cmdline_paddr, 1), "");
}

static void expect_fail(struct fixture *f, size_t initrd_len, int err,
			const char *what)
{
	uint8_t *initrd = initrd_len ? calloc(1, initrd_len) : NULL;

	err_clear();
	assert_int_equal(pvh_load(&f->m, PD(1), BOOT_SRC_MEM(f->elf, IMG_LEN),
				  BOOT_SRC_MEM(initrd, initrd_len), NULL,
				  &f->e),
			 err);
	free(initrd);
	if (!strstr(err_msg(), what))
		fail_msg("message \"%s\" lacks \"%s\"", err_msg(), what);
}

static void test_load_refuses(void **state)
{
	struct fixture *f = *state;
	struct elf_opts o = pvh64;

	o.xen_note = false;
	build_elf(f->elf, &o);
	expect_fail(f, 0, -ENOEXEC, "CONFIG_PVH");

	o = pvh64;
	o.paddr = 0x10000; /* on top of minivmm's boot structures */
	build_elf(f->elf, &o);
	expect_fail(f, 0, -EINVAL, "below 1 MiB");

	/* Outside RAM: the same error as for any ELF (elf_load_segments). */
	o.paddr = 64 * MiB - 0x1000; /* bss runs past the end of RAM */
	build_elf(f->elf, &o);
	expect_fail(f, 0, -ERANGE, "raise --mem");

	o.paddr = 0xFFFFFFFFFFFFF000ull; /* wraps around */
	build_elf(f->elf, &o);
	expect_fail(f, 0, -ERANGE, "raise --mem");

	build_elf(f->elf, &pvh64);
	expect_fail(f, 63 * MiB, -ENOMEM, "initrd");

	build_elf(f->elf, &pvh64);
	f->elf[EI_CLASS] = 7;
	expect_fail(f, 0, -ENOEXEC, "ELF");
}

static void test_load_truncated_segment(void **state)
{
	struct fixture *f = *state;

	err_clear();
	assert_int_equal(pvh_load(&f->m, PD(1),
				  BOOT_SRC_MEM(f->elf, IMG_LEN - 1), NULL, NULL,
				  &f->e),
			 -ENOEXEC);
	assert_non_null(strstr(err_msg(), "truncated"));
}

/* The note and the load use one read of the program headers: a PT_LOAD
 * rewritten after it (moved below 1 MiB, more file than memory bytes)
 * loads as it was checked; an initrd cut short is a read error. */
static void test_load_headers_read_once(void **state)
{
	struct fixture *f = *state;
	Elf64_Phdr evil;
	struct boot_src src, initrd;
	uint8_t rd[8192];

	memcpy(&evil, f->elf + sizeof(Elf64_Ehdr), sizeof(evil));
	evil.p_paddr = 0x1000;
	evil.p_filesz = UINT64_MAX - 7;
	evil.p_memsz = 1;
	file_race_open(&src, f->elf, IMG_LEN, sizeof(Elf64_Ehdr),
		       2 * sizeof(Elf64_Phdr));
	race.after_first = file_race_rewrite;
	race.rewrite = &evil;
	race.rewrite_len = sizeof(evil);
	race.rewrite_off = sizeof(Elf64_Ehdr);
	assert_int_equal(pvh_load(&f->m, PD(1), &src, NULL, NULL, &f->e), 0);
	assert_int_equal(race.reads, 1);
	assert_memory_equal(mem_ptr(&f->m, 0x200000, DATA_LEN),
			    f->elf + DATA_OFF, DATA_LEN);
	file_race_close(&src);

	memset(rd, 0x5a, sizeof(rd));
	file_race_open(&initrd, rd, sizeof(rd), 0, 0);
	assert_int_equal(truncate(race.path, 4096), 0);
	assert_int_equal(pvh_load(&f->m, PD(1), BOOT_SRC_MEM(f->elf, IMG_LEN),
				  &initrd, NULL, &f->e),
			 -EIO);
	assert_non_null(strstr(err_msg(), "shrank"));
	file_race_close(&initrd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_entry64),
		cmocka_unit_test(test_find_entry32),
		cmocka_unit_test(test_entry_absent),
		cmocka_unit_test(test_entry_malformed),
		cmocka_unit_test(test_elf_is_linux),
		T(test_load),
		T(test_load_no_initrd),
		T(test_load_refuses),
		T(test_load_truncated_segment),
		T(test_load_headers_read_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
