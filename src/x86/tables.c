/* Boot-time GDT and identity-mapped page tables, written into guest memory
 * at the fixed addresses of x86.h. */
#include "x86.h"
#include "../err.h"

#include <errno.h>
#include <string.h>

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)

/* A flat segment descriptor: base 0, limit 4 GiB. */
static uint64_t gdt_flat(uint64_t access, uint64_t flags)
{
	return 0x000000000000ffffull | (access << 40) | (flags << 52) |
	       (0xfull << 48);
}

void boot_high_tables(const struct vm_mem *m, uint64_t *gpa, uint64_t *len)
{
	uint64_t end = mem_end(m);
	uint64_t gib = end > MEM_HOLE_END
			       ? (end - MEM_HOLE_END + (1ull << 30) - 1) >> 30
			       : 0;

	*len = gib * 4096;
	*gpa = end - *len;
}

int boot_tables_write(struct vm_mem *m, enum cpu_mode mode)
{
	uint64_t *gdt = mem_ptr(m, BOOT_GDT_ADDR, BOOT_GDT_ENTRIES * 8);
	uint64_t *pml4, *pdpt, *pd, *high;
	uint64_t end = mem_end(m), high_gpa, high_len;

	if (!gdt)
		return err_set(-ENOMEM, "guest memory too small for the GDT");
	gdt[0] = 0;
	gdt[BOOT_CS64 / 8] = gdt_flat(0x9b, 0xa); /* G, L */
	gdt[BOOT_CS32 / 8] = gdt_flat(0x9b, 0xc); /* G, D */
	gdt[BOOT_DS / 8] = gdt_flat(0x93, 0xc);
	gdt[BOOT_TSS / 8] = 0x67 |
			    (0x8bull << 40); /* busy TSS at 0, 104 bytes */
	if (mode != CPU_MODE_LONG)
		return 0;

	boot_high_tables(m, &high_gpa, &high_len);
	pml4 = mem_ptr(m, BOOT_PML4_ADDR, 4096);
	pdpt = mem_ptr(m, BOOT_PDPT_ADDR, 4096);
	pd = mem_ptr(m, BOOT_PD_ADDR, 4 * 4096);
	high = mem_ptr(m, high_gpa, high_len);
	if (!pml4 || !pdpt || !pd || !high)
		return err_set(-ENOMEM,
			       "guest memory too small for page tables");
	if (end > (512ull << 30))
		return err_set(-E2BIG,
			       "long mode page tables cover at most 512 GiB");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_ADDR | PTE_P | PTE_RW;
	/* 0-4 GiB, the MMIO hole included, in the four low PDs. */
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * 4096) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	/* RAM above 4 GiB: one PD per GiB, in the last pages of RAM. */
	for (uint64_t g = 0; g < high_len / 4096; g++) {
		pdpt[4 + g] = (high_gpa + g * 4096) | PTE_P | PTE_RW;
		for (uint64_t i = 0; i < 512; i++)
			high[g * 512 + i] =
				(MEM_HOLE_END + (g << 30) + (i << 21)) | PTE_P |
				PTE_RW | PTE_PS;
	}
	return 0;
}

uint64_t boot_stack_top(const struct vm_mem *m, unsigned index)
{
	return m->regions[0].size - (uint64_t)index * BOOT_STACK_SIZE;
}
