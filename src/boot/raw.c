/* Flat binaries: copied byte for byte to the load address and entered in the
 * CPU mode the user chose (real mode by default, like the seed). */
#include "boot.h"
#include "../err.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int raw_load(struct vm_mem *m, unsigned nr_vcpus, const struct boot_src *src,
	     uint64_t load_addr, uint64_t entry, enum cpu_mode mode,
	     struct boot_entry *e)
{
	uint64_t len = src->len;
	int ret;

	if (!mem_ptr(m, load_addr, len))
		return err_set(-ERANGE,
			       "the image (%" PRIu64
			       " bytes) at --load-addr 0x%" PRIx64
			       " does not fit in guest memory (0x0-0x%" PRIx64
			       "): change --load-addr or raise --mem",
			       len, load_addr, mem_end(m) - 1);
	if (!mem_ptr(m, entry, 1))
		return err_set(-ERANGE,
			       "--entry 0x%" PRIx64
			       " is outside guest memory (0x0-0x%" PRIx64 ")",
			       entry, mem_end(m) - 1);
	if (mode == CPU_MODE_REAL && entry >= (1ull << 20))
		return err_set(
			-ERANGE,
			"--entry 0x%" PRIx64
			" is not reachable in real mode: it must be below 1 MiB",
			entry);
	if (mode == CPU_MODE_PROTECTED && entry >= MEM_HOLE_END)
		return err_set(
			-ERANGE,
			"--entry 0x%" PRIx64
			" is not reachable in protected mode: it must be below 4 GiB",
			entry);
	ret = boot_check_reserved(m, mode, nr_vcpus, load_addr, len,
				  "the image");
	if (ret)
		return ret;
	ret = boot_src_to_guest(src, 0, len, m, load_addr);
	if (ret)
		return ret;
	*e = (struct boot_entry){
		.mode = mode,
		.rip = entry,
		.per_cpu_stack = true,
	};
	return 0;
}
