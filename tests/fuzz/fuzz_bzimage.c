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
	struct boot_entry e;

	if (!mem.host && mem_init(&mem, 32ull << 20))
		abort();
	bzimage_load(&mem, 2, BOOT_SRC_MEM(data, size),
		     BOOT_SRC_MEM(initrd, sizeof(initrd)), "console=ttyS0", &e);
	bzimage_load(&mem, 1, BOOT_SRC_MEM(data, size), NULL, NULL, &e);
	return 0;
}
