/* Boot loaders: read the guest image and put it into guest memory, then say
 * how the vCPUs start (struct boot_entry).  One file per format. */
#ifndef MINIVMM_BOOT_H
#define MINIVMM_BOOT_H

#include "../mem.h"
#include "../x86/platform.h"
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

/* Where a loader reads an image from: an open file, read piece by piece
 * with pread (minivmm never holds a whole kernel or initrd in its own
 * memory, and a guest reboot reads them again), or a buffer (unit tests,
 * fuzzing).  len is fixed when the file is opened: a file that shrinks
 * later gives a read error, never a short image. */
struct boot_src {
	const char *path;   /* for messages */
	int fd;		    /* >= 0: read the file */
	const uint8_t *buf; /* fd < 0: the image in memory */
	uint64_t len;
};

/* A buffer as a struct boot_src *, for tests and fuzz targets. */
#define BOOT_SRC_MEM(b, l)                                     \
	(&(const struct boot_src){.path = "image",             \
				  .fd = -1,                    \
				  .buf = (const uint8_t *)(b), \
				  .len = (l)})

/* Opens @path (a non-empty regular file of at most @max bytes). */
int boot_src_open(struct boot_src *s, const char *path, uint64_t max);
void boot_src_close(struct boot_src *s);
/* Copies bytes [@off, @off + @len) of @s to @dst: -ENOEXEC ("truncated")
 * if they lie past its end, -EIO if the file cannot be read. */
int boot_src_read(const struct boot_src *s, uint64_t off, void *dst,
		  uint64_t len);
/* The same, into guest memory at @gpa (checked with mem_ptr). */
int boot_src_to_guest(const struct boot_src *s, uint64_t off, uint64_t len,
		      struct vm_mem *m, uint64_t gpa);

/* The guest image and initrd the user named, open, and what the image is.
 * Kept for the life of minivmm, so a guest reboot loads them again. */
struct boot_image {
	const struct boot_options *opt;
	enum boot_kind kind;
	struct boot_src kernel;
	struct boot_src initrd; /* fd -1 and len 0: none */
};

/* Opens the files named by @o (each at most @max bytes) and classifies the
 * image; refuses what cannot be booted with a clear message. */
int boot_image_open(struct boot_image *img, const struct boot_options *o,
		    uint64_t max);
void boot_image_close(struct boot_image *img);
/* Whether the image is a Linux kernel, which needs the PC platform. */
bool boot_image_is_linux(const struct boot_image *img);
/* Puts the image into @m for the machine @pd describes (its vCPUs; a Linux
 * kernel's firmware tables also list its virtio devices) and says how the
 * vCPUs start. */
int boot_image_load(const struct boot_image *img, struct vm_mem *m,
		    const struct platform_desc *pd, struct boot_entry *e);

/* boot_image_open + boot_image_load + boot_image_close, for one-shot use. */
int boot_load(struct vm_mem *m, const struct platform_desc *pd,
	      const struct boot_options *o, struct boot_entry *e);

/* -EINVAL with a message if [gpa, gpa + len) overlaps what minivmm itself
 * puts into guest memory for @mode (tables, vCPU stacks). */
int boot_check_reserved(const struct vm_mem *m, enum cpu_mode mode,
			unsigned nr_vcpus, uint64_t gpa, uint64_t len,
			const char *what);

/* A flat binary at @load_addr, entered at @entry in @mode. */
int raw_load(struct vm_mem *m, unsigned nr_vcpus, const struct boot_src *src,
	     uint64_t load_addr, uint64_t entry, enum cpu_mode mode,
	     struct boot_entry *e);

/* Whether @src starts with the ELF magic. */
bool elf_probe(const struct boot_src *src);

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

/* An ELF file's header and program header table, read from the file once.
 * Every check and the load itself use this copy, so a file rewritten while
 * minivmm loads it cannot change what was checked. */
struct elf_file {
	struct elf_info info;
	struct elf_segment *seg; /* info.phnum program headers */
};

/* Checks an x86 ELF executable's header and that its program header table
 * lies inside the file; -ENOEXEC with a message otherwise. */
int elf_parse(const struct boot_src *src, struct elf_info *info);
/* elf_parse, then the program header table in one read into @f (free it
 * with elf_release; on error nothing is left to free). */
int elf_read(const struct boot_src *src, struct elf_file *f);
void elf_release(struct elf_file *f);
/* elf_read, and every segment's bytes inside the file (a truncated kernel
 * is "truncated", not "no PVH note"). */
int elf_check_file(const struct boot_src *src);
/* A loader's own rule for where segment @i may go (0 or -errno). */
typedef int elf_segment_check_fn(const struct vm_mem *m,
				 const struct elf_segment *s, unsigned i,
				 void *ctx);
/* Checks every PT_LOAD segment of @f against the file's length, guest
 * memory and @check, then copies them all from @src (zeroing each one's
 * .bss); *@end gets the end of the highest.  Nothing is copied unless all
 * pass; the program headers are not read again. */
int elf_load_segments(struct vm_mem *m, const struct boot_src *src,
		      const struct elf_file *f, elf_segment_check_fn *check,
		      void *ctx, uint64_t *end);
/* An ELF executable: PT_LOAD segments at their physical addresses; ELF32 is
 * entered in protected mode, ELF64 in long mode, at e_entry. */
int elf_load(struct vm_mem *m, unsigned nr_vcpus, const struct boot_src *src,
	     struct boot_entry *e);

#endif
