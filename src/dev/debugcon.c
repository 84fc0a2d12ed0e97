/* Port 0xE9 debug console (the Bochs and QEMU convention): every byte the
 * guest writes goes to stdout; a read returns 0xE9 so a guest can probe it. */
#include "dev.h"
#include "../vm.h"

#include <unistd.h>

static void debugcon_io(void *opaque, uint64_t offset, uint8_t *data,
			uint32_t len, bool is_write)
{
	struct vm *vm = opaque;

	(void)offset;
	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = i == 0 ? DEBUGCON_PORT : 0;
		return;
	}
	/* A wider write sends its low byte, like an 8-bit port would.  One
	 * write each, unbuffered: output and exits stay in order. */
	vm_console_write(vm, STDOUT_FILENO, data, 1);
}

int dev_debugcon_create(struct vm *vm)
{
	return bus_add(&vm->pio, DEBUGCON_PORT, 1, "debugcon", debugcon_io, vm);
}
