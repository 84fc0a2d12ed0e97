/* PVH boot of ELF kernels (Linux with CONFIG_PVH, and others): find the
 * XEN_ELFNOTE_PHYS32_ENTRY note, load the PT_LOAD segments, hand over an
 * hvm_start_info in EBX and enter in flat 32-bit protected mode. */
#include "linux.h"
#include "../err.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LINUX_KERNEL_VADDR 0xffffffff80000000ull /* __START_KERNEL_map */
#define LINUX32_KERNEL_VADDR 0xC0000000ull	 /* i386 PAGE_OFFSET */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static bool note_name_is(const uint8_t *name, uint32_t namesz, const char *want)
{
	size_t n = strlen(want);

	/* namesz counts the NUL; tolerate producers that leave it out. */
	if (namesz == n + 1)
		return name[n] == '\0' && memcmp(name, want, n) == 0;
	return namesz == n && memcmp(name, want, n) == 0;
}

/* Finds the first note named @name (of type @type unless @any_type) in the
 * first PVH_NOTES_MAX bytes of each PT_NOTE segment; copies up to
 * sizeof(*desc) bytes of its descriptor to @desc and its size to *@descsz,
 * all checked to lie inside the segment and the file. */
static bool elf_find_note(const struct boot_src *src, const struct elf_file *f,
			  const char *name, bool any_type, uint32_t type,
			  uint8_t (*desc)[8], uint32_t *descsz)
{
	static const uint64_t max = PVH_NOTES_MAX;
	uint8_t *seg = malloc(max);
	bool found = false;

	if (!seg)
		return false;
	for (unsigned i = 0; !found && i < f->info.phnum; i++) {
		const struct elf_segment *p = &f->seg[i];
		uint64_t pos = 0, align, size;

		if (p->type != PT_NOTE)
			continue;
		size = p->filesz < max ? p->filesz : max;
		if (boot_src_read(src, p->offset, seg, size))
			continue;
		/* Notes are padded to 4 bytes, or 8 in 8-aligned segments. */
		align = p->align == 8 ? 8 : 4;
		while (size - pos >= 12) {
			uint32_t nsz = get_le32(seg + pos);
			uint32_t dsz = get_le32(seg + pos + 4);
			uint32_t ntype = get_le32(seg + pos + 8);
			uint64_t npad = ((uint64_t)nsz + align - 1) &
					~(align - 1);
			uint64_t dpad = ((uint64_t)dsz + align - 1) &
					~(align - 1);
			const uint8_t *n;

			pos += 12;
			if (npad > size - pos)
				break;
			n = seg + pos;
			pos += npad;
			if (dsz > size - pos)
				break;
			if (note_name_is(n, nsz, name) &&
			    (any_type || ntype == type)) {
				memset(*desc, 0, sizeof(*desc));
				memcpy(*desc, seg + pos,
				       dsz < sizeof(*desc) ? dsz
							   : sizeof(*desc));
				*descsz = dsz;
				found = true;
				break;
			}
			if (dpad > size - pos)
				break;
			pos += dpad;
		}
	}
	free(seg);
	return found;
}

/* pvh_find_entry on program headers already read. */
static bool pvh_entry_of(const struct boot_src *elf, const struct elf_file *f,
			 uint32_t *entry)
{
	uint8_t desc[8];
	uint32_t dsz;

	if (!elf_find_note(elf, f, "Xen", false, PVH_ELFNOTE_PHYS32_ENTRY,
			   &desc, &dsz))
		return false;
	/* A 4- or 8-byte number; either way a 32-bit physical address. */
	if (dsz != 4 && dsz != 8)
		return false;
	if (dsz == 8 && get_le32(desc + 4))
		return false;
	*entry = get_le32(desc);
	return true;
}

bool pvh_find_entry(const struct boot_src *elf, uint32_t *entry)
{
	struct elf_file f;
	bool found;

	if (elf_read(elf, &f))
		return false;
	found = pvh_entry_of(elf, &f, entry);
	elf_release(&f);
	return found;
}

static bool elf_file_is_linux(const struct boot_src *elf,
			      const struct elf_file *f)
{
	uint8_t desc[8];
	uint32_t dsz;

	/* vmlinux carries "Linux" notes (build salt, LTO info). */
	if (elf_find_note(elf, f, "Linux", true, 0, &desc, &dsz))
		return true;
	if (f->info.is64 && f->info.entry >= LINUX_KERNEL_VADDR)
		return true;
	/* Linked in the kernel's high mapping, loaded low. */
	for (unsigned i = 0; i < f->info.phnum; i++) {
		const struct elf_segment *p = &f->seg[i];

		if (p->type != PT_LOAD || p->vaddr == p->paddr)
			continue;
		if (p->vaddr >=
		    (f->info.is64 ? LINUX_KERNEL_VADDR : LINUX32_KERNEL_VADDR))
			return true;
	}
	return false;
}

bool elf_is_linux(const struct boot_src *elf)
{
	struct elf_file f;
	bool is_linux;

	if (elf_read(elf, &f))
		return false;
	is_linux = elf_file_is_linux(elf, &f);
	elf_release(&f);
	return is_linux;
}

/* PVH kernels go above the boot structures and below the MMIO hole. */
static int pvh_segment_check(const struct vm_mem *m,
			     const struct elf_segment *s, unsigned i, void *ctx)
{
	uint64_t low_end = m->regions[0].size;

	(void)ctx;
	if (s->paddr < LINUX_KERNEL_MIN_ADDR)
		return err_set(
			-EINVAL,
			"ELF segment %u at 0x%" PRIx64
			" lies below 1 MiB, where minivmm puts the PVH boot structures: link the kernel at 1 MiB or above",
			i, s->paddr);
	if (s->paddr + s->memsz > low_end)
		return err_set(-ENOMEM,
			       "ELF segment %u (0x%" PRIx64 "+0x%" PRIx64
			       ") does not fit in RAM below 0x%" PRIx64
			       ": raise --mem",
			       i, s->paddr, s->memsz, low_end);
	return 0;
}

int pvh_load(struct vm_mem *m, const struct platform_desc *pd,
	     const struct boot_src *elf, const struct boot_src *initrd,
	     const char *cmdline, struct boot_entry *e)
{
	struct e820_entry map[PVH_MEMMAP_MAX];
	struct hvm_memmap_table_entry *mm;
	struct hvm_modlist_entry *mod;
	struct hvm_start_info *si;
	struct elf_file f;
	uint64_t kernel_end = 0, initrd_addr = 0, rsdp = 0, mp = 0;
	uint64_t initrd_len = initrd ? initrd->len : 0;
	uint32_t entry;
	unsigned n;
	int ret;

	/* One copy of the program headers for the note and the load. */
	ret = elf_read(elf, &f);
	if (ret)
		return ret;
	if (!pvh_entry_of(elf, &f, &entry))
		ret = err_set(
			-ENOEXEC,
			"no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): build Linux with CONFIG_PVH=y, or boot its bzImage");
	else
		ret = elf_load_segments(m, elf, &f, pvh_segment_check, NULL,
					&kernel_end);
	elf_release(&f);
	if (ret)
		return ret;
	if (!mem_ptr(m, entry, 1))
		return err_set(-ERANGE,
			       "the PVH entry point 0x%" PRIx32
			       " is outside guest memory",
			       entry);
	ret = linux_write_cmdline(m, cmdline, PVH_CMDLINE_MAX - 1,
				  "x86 Linux's COMMAND_LINE_SIZE");
	if (ret)
		return ret;
	if (initrd_len) {
		ret = linux_place_initrd(m, initrd, kernel_end,
					 m->regions[0].size, &initrd_addr);
		if (ret)
			return ret;
	}
	ret = e820_build(m, map, PVH_MEMMAP_MAX, &n);
	if (!ret)
		ret = mptable_write(m, pd, &mp);
	if (!ret)
		ret = acpi_write(m, pd, &rsdp);
	if (ret)
		return ret;

	si = mem_ptr(m, PVH_START_INFO_ADDR, sizeof(*si));
	mod = mem_ptr(m, PVH_MODLIST_ADDR, sizeof(*mod));
	mm = mem_ptr(m, PVH_MEMMAP_ADDR, (uint64_t)n * sizeof(*mm));
	if (!si || !mod || !mm)
		return err_set(
			-ENOMEM,
			"guest memory is too small for the PVH start info");
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){
			.addr = map[i].addr,
			.size = map[i].size,
			.type = map[i].type,
		};
	*mod = (struct hvm_modlist_entry){
		.paddr = initrd_addr,
		.size = initrd_len,
	};
	*si = (struct hvm_start_info){
		.magic = PVH_START_MAGIC,
		.version = 1,
		.nr_modules = initrd_len ? 1 : 0,
		.modlist_paddr = initrd_len ? PVH_MODLIST_ADDR : 0,
		.cmdline_paddr = LINUX_CMDLINE_ADDR,
		.rsdp_paddr = rsdp,
		.memmap_paddr = PVH_MEMMAP_ADDR,
		.memmap_entries = n,
	};
	*e = (struct boot_entry){
		.mode = CPU_MODE_PROTECTED,
		.rip = entry,
		.rbx = PVH_START_INFO_ADDR,
		.per_cpu_stack = false,
	};
	return 0;
}
