/* Port 0x501 exit device for tests: writing a value V ends the VM and
 * minivmm exits with status V (its low 8 bits).  Reads return 0. */
#include "dev.h"
#include "../vm.h"

#include <string.h>

static void exitdev_io(void *opaque, uint64_t offset, uint8_t *data,
		       uint32_t len, bool is_write)
{
	struct vm *vm = opaque;

	(void)offset;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	vm_stop(vm, data[0], "the guest wrote to the exit port");
}

int dev_exit_create(struct vm *vm)
{
	/* Two ports wide, like QEMU's isa-debug-exit default. */
	return bus_add(&vm->pio, EXITDEV_PORT, 2, "exit", exitdev_io, vm);
}
