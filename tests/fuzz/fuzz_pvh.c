/* libFuzzer target: PVH note lookup, Linux detection and the PVH loader on
 * arbitrary ELF bytes. */
#include "boot/linux.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_mem mem;
	static const uint8_t initrd[4096];
	static struct platform_desc pd = {.nr_vcpus = 2};
	struct boot_entry e;
	uint32_t entry;
	unsigned slot;

	if (!mem.host) {
		if (mem_init(&mem, 32ull << 20))
			abort();
		for (int i = 0; i < 3; i++)
			if (platform_add_virtio(&pd, &slot))
				abort();
	}
	pvh_find_entry(BOOT_SRC_MEM(data, size), &entry);
	elf_is_linux(BOOT_SRC_MEM(data, size));
	pvh_load(&mem, &pd, BOOT_SRC_MEM(data, size),
		 BOOT_SRC_MEM(initrd, sizeof(initrd)), "console=ttyS0", &e);
	return 0;
}
