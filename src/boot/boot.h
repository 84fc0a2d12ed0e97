/* Boot loaders: read the guest image and put it into guest memory, then say
 * how the vCPUs start (struct boot_entry).  One file per format. */
#ifndef MINIVMM_BOOT_H
#define MINIVMM_BOOT_H

#include "../mem.h"
#include "../x86/x86.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAW_DEFAULT_LOAD_ADDR 0x10000ull

struct boot_options {
	const char *raw_path;	 /* --raw */
	const char *kernel_path; /* --kernel */
	enum cpu_mode mode;	 /* --mode, raw images only */
	uint64_t load_addr;	 /* --load-addr, raw images only */
	uint64_t entry;		 /* --entry, raw images only */
	bool entry_set;
	const char *initrd_path; /* --initrd, Linux only */
	const char *cmdline;	 /* --cmdline, Linux only */
};

enum boot_kind {
	BOOT_RAW,     /* --raw: a flat binary */
	BOOT_ELF,     /* an ELF executable */
	BOOT_BZIMAGE, /* a Linux bzImage */
	BOOT_PVH,     /* an ELF kernel with a PVH entry note */
};

/* The guest image (and initrd) read into host memory, and what it is.  Kept
 * for the life of minivmm, so a guest reboot reloads without reading. */
struct boot_image {
	const struct boot_options *opt;
	enum boot_kind kind;
	const char *path;
	uint8_t *data;
	size_t len;
	uint8_t *initrd;
	size_t initrd_len;
};

/* Reads the files named by @o (each at most @max bytes) and classifies the
 * image; refuses what cannot be booted with a clear message. */
int boot_image_open(struct boot_image *img, const struct boot_options *o,
		    uint64_t max);
void boot_image_close(struct boot_image *img);
/* Whether the image is a Linux kernel, which needs the PC platform. */
bool boot_image_is_linux(const struct boot_image *img);
/* Puts the image into @m for @nr_vcpus vCPUs and says how they start. */
int boot_image_load(const struct boot_image *img, struct vm_mem *m,
		    unsigned nr_vcpus, struct boot_entry *e);

/* boot_image_open + boot_image_load + boot_image_close, for one-shot use. */
int boot_load(struct vm_mem *m, unsigned nr_vcpus, const struct boot_options *o,
	      struct boot_entry *e);

/* Reads a whole regular file of at most @max bytes (caller frees). */
int boot_read_file(const char *path, uint64_t max, uint8_t **buf, size_t *len);

/* -EINVAL with a message if [gpa, gpa + len) overlaps what minivmm itself
 * puts into guest memory for @mode (tables, vCPU stacks). */
int boot_check_reserved(const struct vm_mem *m, enum cpu_mode mode,
			unsigned nr_vcpus, uint64_t gpa, uint64_t len,
			const char *what);

/* A flat binary at @load_addr, entered at @entry in @mode. */
int raw_load(struct vm_mem *m, unsigned nr_vcpus, const uint8_t *buf,
	     size_t len, uint64_t load_addr, uint64_t entry, enum cpu_mode mode,
	     struct boot_entry *e);

bool elf_probe(const uint8_t *buf, size_t len);

/* The ELF fields minivmm uses, the same for both classes. */
struct elf_info {
	bool is64;
	uint64_t entry;
	uint64_t phoff;
	uint16_t phnum;
};

struct elf_segment {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* Checks an x86 ELF executable's header and that its program header table
 * lies inside the file; -ENOEXEC with a message otherwise. */
int elf_parse(const uint8_t *buf, size_t len, struct elf_info *info);
/* elf_parse, and every segment's bytes inside the file (a truncated
 * kernel is "truncated", not "no PVH note"). */
int elf_check_file(const uint8_t *buf, size_t len);
/* Program header @i (< info->phnum) of a parsed file. */
void elf_segment(const uint8_t *buf, const struct elf_info *info, unsigned i,
		 struct elf_segment *s);
/* A loader's own rule for where segment @i may go (0 or -errno). */
typedef int elf_segment_check_fn(const struct vm_mem *m,
				 const struct elf_segment *s, unsigned i,
				 void *ctx);
/* Checks every PT_LOAD segment against the file, guest memory and @check,
 * then copies them all (zeroing each one's .bss); *@end gets the end of
 * the highest.  Nothing is copied unless all pass. */
int elf_load_segments(struct vm_mem *m, const uint8_t *buf, size_t len,
		      const struct elf_info *info, elf_segment_check_fn *check,
		      void *ctx, uint64_t *end);
/* An ELF executable: PT_LOAD segments at their physical addresses; ELF32 is
 * entered in protected mode, ELF64 in long mode, at e_entry. */
int elf_load(struct vm_mem *m, unsigned nr_vcpus, const uint8_t *buf,
	     size_t len, struct boot_entry *e);

#endif
