/* Trace output in the seed's format.  The data is printed at the access
 * size, after the device handled it, so an IN shows what the guest got. */
#include "trace.h"

#include <inttypes.h>
#include <string.h>

static uint64_t trace_value(const uint8_t *data, uint32_t size)
{
	uint64_t v = 0;

	memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
	return v;
}

void trace_vm_start(FILE *f)
{
	fputs("VM Starting...\n", f);
	fflush(f);
}

void trace_enter(FILE *f)
{
	fputs("VMM enter guest...\n", f);
}

void trace_pio(FILE *f, uint16_t port, bool is_write, const uint8_t *data,
	       uint32_t size)
{
	flockfile(f);
	fprintf(f,
		"\nHandle PIO\nHardware decode:\n-- port: %u\n-- direction: %s\n"
		"-- data: %" PRIu64 "\n-- size: %u\nVMM simulate\n\n",
		port, is_write ? "out" : "in", trace_value(data, size), size);
	funlockfile(f);
	fflush(f);
}

void trace_mmio(FILE *f, uint64_t addr, bool is_write, const uint8_t *data,
		uint32_t len)
{
	flockfile(f);
	fprintf(f,
		"\nHandle MMIO\nHardware decode:\n-- address: 0x%" PRIx64
		"\n-- direction: %s\n-- data: %" PRIu64
		"\n-- size: %u\nVMM simulate\n\n",
		addr, is_write ? "write" : "read", trace_value(data, len), len);
	funlockfile(f);
	fflush(f);
}
