/* Guest RAM: the host mapping, its layout around the MMIO hole, and the one
 * checked accessor that turns guest physical ranges into host pointers. */
#include "mem.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mman.h> /* MAP_HUGE_2MB */
#include <sys/mman.h>
#include <unistd.h>

int mem_layout(struct vm_mem *m, uint64_t size, uint8_t *host)
{
	memset(m, 0, sizeof(*m));
	if (size < MEM_MIN_SIZE || size % 4096)
		return err_set(
			-EINVAL,
			"guest memory must be a multiple of 4 KiB and at least 1 MiB");
	/* Keep the end below 2^46 so page tables and KVM slots stay simple. */
	if (size > (1ull << 46) - MEM_HOLE_END)
		return err_set(
			-E2BIG,
			"guest memory of %llu GiB is more than minivmm supports (64 TiB)",
			(unsigned long long)(size >> 30));
	m->host = host;
	m->size = size;
	m->regions[0].gpa = 0;
	m->regions[0].host = host;
	if (size <= MEM_HOLE_START) {
		m->regions[0].size = size;
		m->nr_regions = 1;
		return 0;
	}
	m->regions[0].size = MEM_HOLE_START;
	m->regions[1].gpa = MEM_HOLE_END;
	m->regions[1].size = size - MEM_HOLE_START;
	m->regions[1].host = host ? host + MEM_HOLE_START : NULL;
	m->nr_regions = 2;
	return 0;
}

/* An anonymous mapping of @size bytes that starts on a 2 MiB boundary, so
 * that the host can back guest RAM with transparent huge pages and KVM can
 * map it with 2 MiB pages (guest-physical 2 MiB boundaries then fall on
 * host 2 MiB boundaries).  NULL with errno set on failure. */
static uint8_t *mem_map_aligned(uint64_t size)
{
	uint64_t len = size + MEM_HOST_ALIGN;
	uint8_t *raw, *host;
	uintptr_t head;

	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	head = -(uintptr_t)raw & (MEM_HOST_ALIGN - 1);
	host = raw + head;
	if (head)
		munmap(raw, head);
	if (MEM_HOST_ALIGN - head)
		munmap(host + size, MEM_HOST_ALIGN - head);
	return host;
}

int mem_init(struct vm_mem *m, uint64_t size)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long page_size = sysconf(_SC_PAGESIZE);
	uint64_t host_ram = (uint64_t)pages * (uint64_t)page_size;
	void *host;
	int ret;

	ret = mem_layout(m, size, NULL);
	if (ret)
		return ret;
	if (pages > 0 && page_size > 0 && size > host_ram)
		return err_set(
			-ENOMEM,
			"--mem %llu MiB is more than this host's %llu MiB of RAM; choose a smaller --mem",
			(unsigned long long)(size >> 20),
			(unsigned long long)(host_ram >> 20));
	host = mem_map_aligned(size);
	if (!host)
		return err_set(
			-errno,
			"cannot map %llu MiB of guest memory: %s; choose a smaller --mem",
			(unsigned long long)(size >> 20), strerror(errno));
	madvise(host, size, MADV_DONTDUMP);
	return mem_layout(m, size, host);
}

int mem_init_hugetlb(struct vm_mem *m, uint64_t size)
{
	uint64_t pages = size >> 21;
	void *host;
	int ret;

	if (size & (MEM_HOST_ALIGN - 1))
		return err_set(
			-EINVAL,
			"huge_pages 2M: the memory size (%llu KiB) must be a multiple of 2 MiB",
			(unsigned long long)(size >> 10));
	ret = mem_layout(m, size, NULL);
	if (ret)
		return ret;
	/* Without MAP_NORESERVE: the pages are reserved by the mmap, so a
	 * short pool fails here. */
	host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
		    -1, 0);
	if (host == MAP_FAILED)
		return err_set(
			-errno,
			"huge_pages 2M: cannot map %llu MiB of 2 MiB huge pages: %s; reserve them first (echo %llu > /proc/sys/vm/nr_hugepages, or more if others use them)",
			(unsigned long long)(size >> 20), strerror(errno),
			(unsigned long long)pages);
	madvise(host, size, MADV_DONTDUMP);
	return mem_layout(m, size, host);
}

void mem_advise_hugepages(const struct vm_mem *m)
{
	/* A hint: hosts without transparent huge pages ignore it. */
	if (m->host)
		madvise(m->host, m->size, MADV_HUGEPAGE);
}

void mem_destroy(struct vm_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	memset(m, 0, sizeof(*m));
}

void *mem_ptr(const struct vm_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct mem_region *r = &m->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off > r->size || (off == r->size && len))
			continue;
		/* off <= size, so size - off cannot underflow. */
		if (len > r->size - off)
			return NULL;
		return r->host + off;
	}
	return NULL;
}

uint64_t mem_end(const struct vm_mem *m)
{
	const struct mem_region *r = &m->regions[m->nr_regions - 1];

	return r->gpa + r->size;
}

uint64_t mem_resident(const struct vm_mem *m)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t resident = 0;
	unsigned char vec[4096];

	if (!m->host || page <= 0)
		return 0;
	for (uint64_t off = 0; off < m->size;) {
		uint64_t chunk = m->size - off;
		uint64_t max = sizeof(vec) * (uint64_t)page;

		if (chunk > max)
			chunk = max;
		if (mincore(m->host + off, chunk, vec) == 0) {
			for (uint64_t i = 0; i < chunk / (uint64_t)page; i++)
				resident += vec[i] & 1;
		}
		off += chunk;
	}
	return resident * (uint64_t)page;
}
