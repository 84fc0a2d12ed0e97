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

int boot_tables_write(struct vm_mem *m, enum cpu_mode mode, bool gbpages)
{
	uint64_t *gdt = mem_ptr(m, BOOT_GDT_ADDR, BOOT_GDT_ENTRIES * 8);
	uint64_t *pml4, *pdpt, *pd;
	uint64_t end = mem_end(m);

	if (!gdt)
		return err_set(-ENOMEM, "guest memory too small for the GDT");
	gdt[0] = 0;
	gdt[BOOT_CS64 / 8] = gdt_flat(0x9b, 0xa); /* G, L */
	gdt[BOOT_CS32 / 8] = gdt_flat(0x9b, 0xc); /* G, D */
	gdt[BOOT_DS / 8] = gdt_flat(0x93, 0xc);
	gdt[BOOT_TSS / 8] = 0x67 | (0x8bull << 40); /* busy TSS at 0, 104 bytes */
	if (mode != CPU_MODE_LONG)
		return 0;

	pml4 = mem_ptr(m, BOOT_PML4_ADDR, 4096);
	pdpt = mem_ptr(m, BOOT_PDPT_ADDR, 4096);
	pd = mem_ptr(m, BOOT_PD_ADDR, 4 * 4096);
	if (!pml4 || !pdpt || !pd)
		return err_set(-ENOMEM, "guest memory too small for page tables");
	if (end > MEM_HOLE_END && !gbpages)
		return err_set(-ENOTSUP,
			       "long mode with more than 4 GiB needs 1 GiB pages, which this host's KVM does not offer; use --mem 3G or less");
	if (end > (512ull << 30))
		return err_set(-E2BIG, "long mode page tables cover at most 512 GiB");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_ADDR | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * 4096) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	for (uint64_t i = 4; i < 512 && (i << 30) < end; i++)
		pdpt[i] = (i << 30) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

uint64_t boot_stack_top(const struct vm_mem *m, unsigned index)
{
	return m->regions[0].size - (uint64_t)index * BOOT_STACK_SIZE;
}
