/* PVH boot of ELF kernels (Linux with CONFIG_PVH, and others): find the
 * XEN_ELFNOTE_PHYS32_ENTRY note, load the PT_LOAD segments, hand over an
 * hvm_start_info in EBX and enter in flat 32-bit protected mode. */
#include "linux.h"
#include "../err.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define LINUX_KERNEL_VADDR 0xffffffff80000000ull /* __START_KERNEL_map */
#define LINUX32_KERNEL_VADDR 0xC0000000ull	 /* i386 PAGE_OFFSET */

/* The fields minivmm uses, the same for both classes. */
struct pvh_elf {
	bool is64;
	uint16_t machine;
	uint16_t type;
	uint64_t entry;
	uint64_t phoff;
	uint16_t phnum;
};

struct pvh_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* NULL if the header and the program header table lie inside the file,
 * else why not. */
static const char *pvh_read_elf(const uint8_t *buf, size_t len,
				struct pvh_elf *info)
{
	uint16_t phentsize;

	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG))
		return "not an ELF file";
	if (buf[EI_DATA] != ELFDATA2LSB)
		return "the ELF file is not little-endian";
	if (buf[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr h;

		if (len < sizeof(h))
			return "truncated ELF header";
		memcpy(&h, buf, sizeof(h));
		*info = (struct pvh_elf){
			.is64 = true,
			.machine = h.e_machine,
			.type = h.e_type,
			.entry = h.e_entry,
			.phoff = h.e_phoff,
			.phnum = h.e_phnum,
		};
		phentsize = h.e_phentsize;
		if (phentsize != sizeof(Elf64_Phdr))
			return "bad ELF program header size";
	} else if (buf[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr h;

		if (len < sizeof(h))
			return "truncated ELF header";
		memcpy(&h, buf, sizeof(h));
		*info = (struct pvh_elf){
			.is64 = false,
			.machine = h.e_machine,
			.type = h.e_type,
			.entry = h.e_entry,
			.phoff = h.e_phoff,
			.phnum = h.e_phnum,
		};
		phentsize = h.e_phentsize;
		if (phentsize != sizeof(Elf32_Phdr))
			return "bad ELF program header size";
	} else {
		return "unknown ELF class";
	}
	/* phnum * phentsize fits in 32 bits: no overflow. */
	if (info->phoff > len ||
	    (uint64_t)info->phnum * phentsize > len - info->phoff)
		return "truncated ELF: program headers end past the end of the file";
	return NULL;
}

static void pvh_read_phdr(const uint8_t *buf, const struct pvh_elf *info,
			  unsigned i, struct pvh_phdr *p)
{
	if (info->is64) {
		Elf64_Phdr h;

		memcpy(&h, buf + info->phoff + (uint64_t)i * sizeof(h),
		       sizeof(h));
		*p = (struct pvh_phdr){
			.type = h.p_type,
			.offset = h.p_offset,
			.vaddr = h.p_vaddr,
			.paddr = h.p_paddr,
			.filesz = h.p_filesz,
			.memsz = h.p_memsz,
			.align = h.p_align,
		};
	} else {
		Elf32_Phdr h;

		memcpy(&h, buf + info->phoff + (uint64_t)i * sizeof(h),
		       sizeof(h));
		*p = (struct pvh_phdr){
			.type = h.p_type,
			.offset = h.p_offset,
			.vaddr = h.p_vaddr,
			.paddr = h.p_paddr,
			.filesz = h.p_filesz,
			.memsz = h.p_memsz,
			.align = h.p_align,
		};
	}
}

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
 * PT_NOTE segments; *@desc points into @buf, *@descsz bytes, all checked to
 * lie inside the segment and the file. */
static bool elf_find_note(const uint8_t *buf, size_t len,
			  const struct pvh_elf *info, const char *name,
			  bool any_type, uint32_t type, const uint8_t **desc,
			  uint32_t *descsz)
{
	for (unsigned i = 0; i < info->phnum; i++) {
		struct pvh_phdr p;
		const uint8_t *seg;
		uint64_t pos = 0, align;

		pvh_read_phdr(buf, info, i, &p);
		if (p.type != PT_NOTE)
			continue;
		if (p.offset > len || p.filesz > len - p.offset)
			continue;
		seg = buf + p.offset;
		/* Notes are padded to 4 bytes, or 8 in 8-aligned segments. */
		align = p.align == 8 ? 8 : 4;
		while (p.filesz - pos >= 12) {
			uint32_t nsz = get_le32(seg + pos);
			uint32_t dsz = get_le32(seg + pos + 4);
			uint32_t ntype = get_le32(seg + pos + 8);
			uint64_t npad = ((uint64_t)nsz + align - 1) &
					~(align - 1);
			uint64_t dpad = ((uint64_t)dsz + align - 1) &
					~(align - 1);
			const uint8_t *n;

			pos += 12;
			if (npad > p.filesz - pos)
				break;
			n = seg + pos;
			pos += npad;
			if (dsz > p.filesz - pos)
				break;
			if (note_name_is(n, nsz, name) &&
			    (any_type || ntype == type)) {
				*desc = seg + pos;
				*descsz = dsz;
				return true;
			}
			if (dpad > p.filesz - pos)
				break;
			pos += dpad;
		}
	}
	return false;
}

bool pvh_find_entry(const uint8_t *elf, size_t len, uint32_t *entry)
{
	struct pvh_elf info;
	const uint8_t *desc;
	uint32_t dsz;

	if (pvh_read_elf(elf, len, &info))
		return false;
	if (!elf_find_note(elf, len, &info, "Xen", false,
			   PVH_ELFNOTE_PHYS32_ENTRY, &desc, &dsz))
		return false;
	/* A 4- or 8-byte number; either way a 32-bit physical address. */
	if (dsz != 4 && dsz != 8)
		return false;
	if (dsz == 8 && get_le32(desc + 4))
		return false;
	*entry = get_le32(desc);
	return true;
}

bool elf_is_linux(const uint8_t *elf, size_t len)
{
	struct pvh_elf info;
	const uint8_t *desc;
	uint32_t dsz;

	if (pvh_read_elf(elf, len, &info))
		return false;
	/* vmlinux carries "Linux" notes (build salt, LTO info). */
	if (elf_find_note(elf, len, &info, "Linux", true, 0, &desc, &dsz))
		return true;
	if (info.is64 && info.entry >= LINUX_KERNEL_VADDR)
		return true;
	/* Linked in the kernel's high mapping, loaded low. */
	for (unsigned i = 0; i < info.phnum; i++) {
		struct pvh_phdr p;

		pvh_read_phdr(elf, &info, i, &p);
		if (p.type != PT_LOAD || p.vaddr == p.paddr)
			continue;
		if (p.vaddr >=
		    (info.is64 ? LINUX_KERNEL_VADDR : LINUX32_KERNEL_VADDR))
			return true;
	}
	return false;
}

/* Checks every PT_LOAD segment, then copies them; *@end gets the end of
 * the highest one. */
static int pvh_load_segments(struct vm_mem *m, const uint8_t *elf, size_t len,
			     const struct pvh_elf *info, uint64_t *end)
{
	uint64_t low_end = m->regions[0].size;
	unsigned loads = 0;

	*end = 0;
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < info->phnum; i++) {
			struct pvh_phdr s;
			uint64_t seg_end;
			uint8_t *dst;

			pvh_read_phdr(elf, info, i, &s);
			if (s.type != PT_LOAD)
				continue;
			if (pass == 1) {
				dst = mem_ptr(m, s.paddr, s.memsz);
				memcpy(dst, elf + s.offset, s.filesz);
				memset(dst + s.filesz, 0, s.memsz - s.filesz);
				continue;
			}
			if (s.filesz > s.memsz)
				return err_set(
					-ENOEXEC,
					"ELF segment %u has more file bytes than memory bytes",
					i);
			if (s.offset > len || s.filesz > len - s.offset)
				return err_set(
					-ENOEXEC,
					"truncated ELF: segment %u ends past the end of the file",
					i);
			if (s.paddr < LINUX_KERNEL_MIN_ADDR)
				return err_set(
					-EINVAL,
					"ELF segment %u at 0x%" PRIx64
					" lies below 1 MiB, where minivmm puts the PVH boot structures: link the kernel at 1 MiB or above",
					i, s.paddr);
			if (__builtin_add_overflow(s.paddr, s.memsz,
						   &seg_end) ||
			    seg_end > low_end || !mem_ptr(m, s.paddr, s.memsz))
				return err_set(
					-ENOMEM,
					"ELF segment %u (0x%" PRIx64
					"+0x%" PRIx64
					") does not fit in RAM below 0x%" PRIx64
					": raise --mem",
					i, s.paddr, s.memsz, low_end);
			if (seg_end > *end)
				*end = seg_end;
			loads++;
		}
		if (!loads)
			return err_set(-ENOEXEC, "ELF has no loadable segment");
	}
	return 0;
}

int pvh_load(struct vm_mem *m, unsigned nr_vcpus, const uint8_t *elf,
	     size_t len, const uint8_t *initrd, size_t initrd_len,
	     const char *cmdline, struct boot_entry *e)
{
	struct e820_entry map[PVH_MEMMAP_MAX];
	struct hvm_memmap_table_entry *mm;
	struct hvm_modlist_entry *mod;
	struct hvm_start_info *si;
	struct pvh_elf info;
	uint64_t kernel_end = 0, initrd_addr = 0, rsdp = 0, mp = 0;
	const char *why;
	uint32_t entry;
	unsigned n;
	int ret;

	why = pvh_read_elf(elf, len, &info);
	if (why)
		return err_set(-ENOEXEC, "%s", why);
	if (info.type != ET_EXEC)
		return err_set(-ENOEXEC, "ELF type %u is not an executable",
			       info.type);
	if (info.machine != (info.is64 ? EM_X86_64 : EM_386))
		return err_set(-ENOEXEC, "ELF for machine %u, not x86",
			       info.machine);
	if (!pvh_find_entry(elf, len, &entry))
		return err_set(
			-ENOEXEC,
			"no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): build Linux with CONFIG_PVH=y, or boot its bzImage");
	ret = pvh_load_segments(m, elf, len, &info, &kernel_end);
	if (ret)
		return ret;
	if (!mem_ptr(m, entry, 1))
		return err_set(-ERANGE,
			       "the PVH entry point 0x%" PRIx32
			       " is outside guest memory",
			       entry);
	ret = linux_write_cmdline(m, cmdline, LINUX_CMDLINE_MAX - 1,
				  "minivmm's command line area");
	if (ret)
		return ret;
	if (initrd_len) {
		ret = linux_place_initrd(m, initrd, initrd_len, kernel_end,
					 m->regions[0].size, &initrd_addr);
		if (ret)
			return ret;
	}
	ret = e820_build(m, map, PVH_MEMMAP_MAX, &n);
	if (!ret)
		ret = mptable_write(m, nr_vcpus, &mp);
	if (!ret)
		ret = acpi_write(m, nr_vcpus, &rsdp);
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
