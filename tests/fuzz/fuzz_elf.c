/* libFuzzer target: the ELF loader on arbitrary bytes, into a small guest
 * memory.  Whatever the input, it must load or refuse without touching
 * anything outside guest memory (ASan watches). */
#include "boot/boot.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_mem mem;
	struct boot_entry e;

	if (!mem.host && mem_init(&mem, 4ull << 20))
		abort();
	elf_load(&mem, 2, BOOT_SRC_MEM(data, size), &e);
	return 0;
}
