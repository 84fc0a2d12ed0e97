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
};

/* Loads the image named by @o for a VM of @nr_vcpus vCPUs. */
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
/* An ELF executable: PT_LOAD segments at their physical addresses; ELF32 is
 * entered in protected mode, ELF64 in long mode, at e_entry. */
int elf_load(struct vm_mem *m, unsigned nr_vcpus, const uint8_t *buf,
	     size_t len, struct boot_entry *e);

#endif
