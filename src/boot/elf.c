/* ELF executables: every header field is checked against the file and every
 * segment against guest memory before a byte is copied.  ELF32 starts in
 * flat protected mode, ELF64 in long mode. */
#include "boot.h"
#include "../err.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

bool elf_probe(const struct boot_src *src)
{
	uint8_t magic[SELFMAG];

	return boot_src_read(src, 0, magic, SELFMAG) == 0 &&
	       memcmp(magic, ELFMAG, SELFMAG) == 0;
}

int elf_parse(const struct boot_src *src, struct elf_info *info)
{
	uint16_t type, machine, phentsize;
	uint64_t len = src->len;
	uint8_t ident[EI_NIDENT];
	int ret;

	if (len < EI_NIDENT || boot_src_read(src, 0, ident, EI_NIDENT) ||
	    memcmp(ident, ELFMAG, SELFMAG))
		return err_set(-ENOEXEC, "not an ELF file");
	if (ident[EI_DATA] != ELFDATA2LSB)
		return err_set(-ENOEXEC, "ELF is not little-endian");
	if (ident[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr h;

		if (len < sizeof(h))
			return err_set(-ENOEXEC, "truncated ELF header");
		ret = boot_src_read(src, 0, &h, sizeof(h));
		if (ret)
			return ret;
		info->is64 = true;
		info->entry = h.e_entry;
		info->phoff = h.e_phoff;
		info->phnum = h.e_phnum;
		type = h.e_type;
		machine = h.e_machine;
		phentsize = h.e_phentsize;
		if (machine != EM_X86_64)
			return err_set(-ENOEXEC,
				       "ELF64 for machine %u, not x86-64",
				       machine);
		if (phentsize != sizeof(Elf64_Phdr))
			return err_set(-ENOEXEC,
				       "bad ELF program header size %u",
				       phentsize);
	} else if (ident[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr h;

		if (len < sizeof(h))
			return err_set(-ENOEXEC, "truncated ELF header");
		ret = boot_src_read(src, 0, &h, sizeof(h));
		if (ret)
			return ret;
		info->is64 = false;
		info->entry = h.e_entry;
		info->phoff = h.e_phoff;
		info->phnum = h.e_phnum;
		type = h.e_type;
		machine = h.e_machine;
		phentsize = h.e_phentsize;
		if (machine != EM_386)
			return err_set(-ENOEXEC,
				       "ELF32 for machine %u, not i386",
				       machine);
		if (phentsize != sizeof(Elf32_Phdr))
			return err_set(-ENOEXEC,
				       "bad ELF program header size %u",
				       phentsize);
	} else {
		return err_set(-ENOEXEC, "unknown ELF class %u",
			       ident[EI_CLASS]);
	}
	if (type != ET_EXEC)
		return err_set(
			-ENOEXEC,
			"ELF type %u is not an executable: link with -static -no-pie",
			type);
	if (!info->phnum)
		return err_set(-ENOEXEC, "ELF has no program headers");
	if (info->phoff > len ||
	    (uint64_t)info->phnum * phentsize > len - info->phoff)
		return err_set(
			-ENOEXEC,
			"truncated ELF: program headers end past the end of the file");
	return 0;
}

int elf_read(const struct boot_src *src, struct elf_file *f)
{
	size_t entsize, tab;
	uint8_t *raw;
	int ret;

	*f = (struct elf_file){0};
	ret = elf_parse(src, &f->info);
	if (ret)
		return ret;
	/* The whole program header table in one read: what is checked below
	 * and by the loaders is this copy, whatever the file says later. */
	entsize = f->info.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	tab = (size_t)f->info.phnum * entsize;
	raw = malloc(tab);
	f->seg = calloc(f->info.phnum, sizeof(*f->seg));
	if (!raw || !f->seg) {
		ret = err_set(-ENOMEM,
			      "out of memory for %u ELF program headers",
			      f->info.phnum);
		goto out;
	}
	ret = boot_src_read(src, f->info.phoff, raw, tab);
	if (ret)
		goto out;
	for (unsigned i = 0; i < f->info.phnum; i++) {
		struct elf_segment *s = &f->seg[i];

		if (f->info.is64) {
			Elf64_Phdr p;

			memcpy(&p, raw + i * entsize, sizeof(p));
			*s = (struct elf_segment){p.p_type,   p.p_offset,
						  p.p_vaddr,  p.p_paddr,
						  p.p_filesz, p.p_memsz,
						  p.p_align};
		} else {
			Elf32_Phdr p;

			memcpy(&p, raw + i * entsize, sizeof(p));
			*s = (struct elf_segment){p.p_type,   p.p_offset,
						  p.p_vaddr,  p.p_paddr,
						  p.p_filesz, p.p_memsz,
						  p.p_align};
		}
	}
out:
	free(raw);
	if (ret)
		elf_release(f);
	return ret;
}

void elf_release(struct elf_file *f)
{
	free(f->seg);
	f->seg = NULL;
}

int elf_check_file(const struct boot_src *src)
{
	struct elf_file f;
	int ret = elf_read(src, &f);

	for (unsigned i = 0; !ret && i < f.info.phnum; i++) {
		const struct elf_segment *s = &f.seg[i];

		if (s->type == PT_NULL)
			continue;
		if (s->offset > src->len || s->filesz > src->len - s->offset)
			ret = err_set(
				-ENOEXEC,
				"truncated ELF: segment %u ends past the end of the file",
				i);
	}
	elf_release(&f);
	return ret;
}

int elf_load_segments(struct vm_mem *m, const struct boot_src *src,
		      const struct elf_file *f, elf_segment_check_fn *check,
		      void *ctx, uint64_t *end)
{
	uint64_t len = src->len;
	unsigned loads = 0;
	int ret;

	*end = 0;
	/* Check every segment before copying any. */
	for (unsigned i = 0; i < f->info.phnum; i++) {
		const struct elf_segment *s = &f->seg[i];

		if (s->type != PT_LOAD)
			continue;
		if (s->filesz > s->memsz)
			return err_set(
				-ENOEXEC,
				"ELF segment %u has more file bytes than memory bytes",
				i);
		if (s->offset > len || s->filesz > len - s->offset)
			return err_set(
				-ENOEXEC,
				"truncated ELF: segment %u ends past the end of the file",
				i);
		if (!mem_ptr(m, s->paddr, s->memsz))
			return err_set(
				-ERANGE,
				"ELF segment %u (0x%" PRIx64 "+0x%" PRIx64
				") lies outside guest memory (0x0-0x%" PRIx64
				"): raise --mem or relink",
				i, s->paddr, s->memsz, mem_end(m) - 1);
		ret = check ? check(m, s, i, ctx) : 0;
		if (ret)
			return ret;
		if (s->paddr + s->memsz > *end)
			*end = s->paddr + s->memsz;
		loads++;
	}
	if (!loads)
		return err_set(-ENOEXEC, "ELF has no loadable segment");
	/* The same checked copies: nothing is read from the file but the
	 * segments' bytes, and a file that shrank since is a read error. */
	for (unsigned i = 0; i < f->info.phnum; i++) {
		const struct elf_segment *s = &f->seg[i];
		uint8_t *dst;

		if (s->type != PT_LOAD)
			continue;
		ret = boot_src_to_guest(src, s->offset, s->filesz, m, s->paddr);
		if (ret)
			return ret;
		dst = mem_ptr(m, s->paddr, s->memsz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}

struct elf_guest {
	enum cpu_mode mode;
	unsigned nr_vcpus;
};

/* A plain ELF guest must leave minivmm's boot tables and stacks alone. */
static int elf_guest_check(const struct vm_mem *m, const struct elf_segment *s,
			   unsigned i, void *ctx)
{
	const struct elf_guest *g = ctx;

	(void)i;
	return boot_check_reserved(m, g->mode, g->nr_vcpus, s->paddr, s->memsz,
				   "an ELF segment");
}

int elf_load(struct vm_mem *m, unsigned nr_vcpus, const struct boot_src *src,
	     struct boot_entry *e)
{
	struct elf_guest g = {.nr_vcpus = nr_vcpus};
	struct elf_file f;
	uint64_t end;
	int ret;

	ret = elf_read(src, &f);
	if (ret)
		return ret;
	g.mode = f.info.is64 ? CPU_MODE_LONG : CPU_MODE_PROTECTED;
	ret = elf_load_segments(m, src, &f, elf_guest_check, &g, &end);
	if (ret)
		goto out;
	if (!mem_ptr(m, f.info.entry, 1)) {
		ret = err_set(-ERANGE,
			      "ELF entry point 0x%" PRIx64
			      " is outside guest memory",
			      f.info.entry);
		goto out;
	}
	*e = (struct boot_entry){
		.mode = g.mode,
		.rip = f.info.entry,
		.per_cpu_stack = true,
	};
out:
	elf_release(&f);
	return ret;
}
