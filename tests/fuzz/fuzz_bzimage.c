/* libFuzzer target: the bzImage loader on arbitrary bytes (the input is the
 * kernel; a small initrd and command line ride along).  It must load or
 * refuse without touching anything outside guest memory. */
#include "boot/linux.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_mem mem;
	static const uint8_t initrd[4096];
	/* Two vCPUs and three virtio devices; then one vCPU, none. */
	static struct platform_desc pd = {.nr_vcpus = 2};
	static const struct platform_desc pd1 = {.nr_vcpus = 1};
	struct boot_entry e;
	unsigned slot;

	if (!mem.host) {
		if (mem_init(&mem, 32ull << 20))
			abort();
		for (int i = 0; i < 3; i++)
			if (platform_add_virtio(&pd, &slot))
				abort();
	}
	bzimage_load(&mem, &pd, BOOT_SRC_MEM(data, size),
		     BOOT_SRC_MEM(initrd, sizeof(initrd)), "console=ttyS0", &e);
	bzimage_load(&mem, &pd1, BOOT_SRC_MEM(data, size), NULL, NULL, &e);
	return 0;
}
