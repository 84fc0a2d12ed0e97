/* The e820 memory map handed to Linux (zero page) and to PVH kernels (start
 * info memmap): which guest physical ranges are RAM and which are reserved
 * for the EBDA and the BIOS area holding the MP and ACPI tables. */
#include "platform.h"
#include "../err.h"

#include <errno.h>

static int e820_add(struct e820_entry *out, unsigned max, unsigned *n,
		    uint64_t addr, uint64_t size, uint32_t type)
{
	if (!size)
		return 0;
	if (*n >= max)
		return err_set(-ENOSPC,
			       "the e820 map needs more than %u entries", max);
	out[*n] = (struct e820_entry){.addr = addr, .size = size, .type = type};
	(*n)++;
	return 0;
}

int e820_build(const struct vm_mem *m, struct e820_entry *out, unsigned max,
	       unsigned *n)
{
	const struct mem_region *low = &m->regions[0];
	int ret;

	*n = 0;
	/* mem_layout() guarantees region 0 starts at 0 and has >= 1 MiB. */
	if (!m->nr_regions || low->gpa || low->size < PLATFORM_BIOS_END)
		return err_set(
			-EINVAL,
			"guest memory must start at 0 and have at least 1 MiB for a Linux guest");
	ret = e820_add(out, max, n, 0, PLATFORM_EBDA_START, E820_RAM);
	if (!ret)
		ret = e820_add(out, max, n, PLATFORM_EBDA_START,
			       PLATFORM_BIOS_END - PLATFORM_EBDA_START,
			       E820_RESERVED);
	if (!ret)
		ret = e820_add(out, max, n, PLATFORM_BIOS_END,
			       low->size - PLATFORM_BIOS_END, E820_RAM);
	for (unsigned i = 1; !ret && i < m->nr_regions; i++)
		ret = e820_add(out, max, n, m->regions[i].gpa,
			       m->regions[i].size, E820_RAM);
	return ret;
}
