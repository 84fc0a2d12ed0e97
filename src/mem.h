/* Guest physical memory: one anonymous host mapping, laid out as one region
 * below 3 GiB or, for larger guests, two regions around the 1 GiB MMIO hole
 * below 4 GiB.  mem_ptr() is the one checked accessor for guest addresses. */
#ifndef MINIVMM_MEM_H
#define MINIVMM_MEM_H

#include <stddef.h>
#include <stdint.h>

#define MEM_MIN_SIZE (1ull << 20)
#define MEM_HOLE_START 0xC0000000ull /* 3 GiB: start of the MMIO hole */
#define MEM_HOLE_END 0x100000000ull  /* 4 GiB */
#define MEM_MAX_REGIONS 2
#define MEM_HOST_ALIGN (2ull << 20) /* host mapping of guest RAM */

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct vm_mem {
	uint8_t *host; /* start of the one host mapping */
	uint64_t size; /* bytes of RAM, all regions together */
	struct mem_region regions[MEM_MAX_REGIONS];
	unsigned nr_regions;
};

/* Computes the regions for @size bytes of RAM at host address @host. */
int mem_layout(struct vm_mem *m, uint64_t size, uint8_t *host);
/* Which pages back guest RAM (Firecracker's machine-config huge_pages). */
enum mem_huge {
	MEM_HUGE_DEFAULT, /* the platform decides: THP advised for Linux */
	MEM_HUGE_THP,	  /* transparent huge pages advised, any guest */
	MEM_HUGE_2M,	  /* hugetlbfs 2 MiB pages, reserved when mapped */
};

/* Maps @size bytes of RAM (checked against the host), 2 MiB aligned, and
 * lays it out. */
int mem_init(struct vm_mem *m, uint64_t size);
/* The same from the host's pool of 2 MiB huge pages (hugetlbfs), all
 * reserved now: a pool with too few free pages is an error here, not a
 * SIGBUS in a running guest.  @size a multiple of 2 MiB. */
int mem_init_hugetlb(struct vm_mem *m, uint64_t size);
/* Asks the host to back guest RAM with transparent huge pages: fewer page
 * faults and 2 MiB KVM mappings for a guest that touches most of its RAM
 * (Linux), at the price of RSS growing in 2 MiB steps. */
void mem_advise_hugepages(const struct vm_mem *m);
/* Unmaps guest RAM. */
void mem_destroy(struct vm_mem *m);

/* Host pointer for guest physical [gpa, gpa + len), or NULL unless that whole
 * range is RAM inside one region.  Overflow-safe; len 0 asks for gpa itself
 * to be RAM or the end of a region. */
void *mem_ptr(const struct vm_mem *m, uint64_t gpa, uint64_t len);
/* Highest guest physical address of RAM, plus one. */
uint64_t mem_end(const struct vm_mem *m);
/* Bytes of guest RAM that are resident in host memory now. */
uint64_t mem_resident(const struct vm_mem *m);

#endif
