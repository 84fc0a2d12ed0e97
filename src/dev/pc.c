/* The PC devices a Linux guest expects, wired together: COM1 with its IRQ
 * through KVM_IRQ_LINE, output to stdout or a file and input from the
 * console; i8042 and the legacy reset ports; the RTC; ACPI power-off. */
#include "dev.h"
#include "../host/log.h"
#include "legacy.h"
#include "serial.h"
#include "../err.h"
#include "../host/term.h"
#include "../vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct pc_devices {
	struct vm *vm;
	struct serial *com1;
	struct i8042 *i8042;
	struct rtc *rtc;
	struct legacy *legacy;
	struct acpi_pm *pm;
	int out_fd; /* COM1 output (stdout or main's --serial file); -1: none */

	/* Console input: bytes read from the terminal wait here until the
	 * UART's receive FIFO takes them. */
	struct term *console;
	struct vm_event *input_ev;
	struct vm_event *room_ev;
	int room_fd; /* eventfd: the UART has room again */
	uint8_t pending[256];
	size_t pending_off;
	size_t pending_len;
};

static void pc_irq_set(void *opaque, unsigned irq, bool level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level l = {.irq = irq, .level = level};

	/* Cannot fail for a valid GSI on a VM with an irqchip. */
	ioctl(vm->fd, KVM_IRQ_LINE, &l);
}

static void pc_reset(void *opaque)
{
	vm_request_reset(opaque, "guest reset (i8042, port 0x92 or 0xcf9)");
}

static void pc_poweroff(void *opaque)
{
	vm_stop(opaque, VM_STATUS_OK, "guest power-off (ACPI)");
}

static void pc_console_push(struct pc_devices *d)
{
	size_t n = serial_input(d->com1, d->pending + d->pending_off,
				d->pending_len);

	d->pending_off += n;
	d->pending_len -= n;
	/* Read the terminal again only once everything read has gone in. */
	d->input_ev->enabled = !d->pending_len && !d->console->eof;
}

static void pc_console_readable(void *opaque)
{
	struct pc_devices *d = opaque;
	bool quit = false;
	ssize_t n;

	n = term_read(d->console, d->pending, sizeof(d->pending), &quit);
	if (quit) {
		vm_stop(d->vm, VM_STATUS_OK, "Ctrl-A x on the console");
		return;
	}
	if (n < 0) {
		/* stdin a directory, a broken device: reading again would
		 * fail again at once, and the main thread would spin. */
		term_restore();
		log_write(
			LOG_WARNING,
			"console input disabled: %s; the guest keeps running without input",
			err_msg());
		d->console->eof = true;
		d->input_ev->enabled = false;
		return;
	}
	d->pending_off = 0;
	d->pending_len = n > 0 ? (size_t)n : 0;
	pc_console_push(d);
}

static void pc_uart_has_room(void *opaque)
{
	struct pc_devices *d = opaque;
	uint64_t one = 1;

	/* On a vCPU thread: wake the main thread, which owns the input. */
	if (write(d->room_fd, &one, sizeof(one)) < 0) {
		/* Only fails if the counter overflows: it is awake anyway. */
	}
}

static void pc_room_event(void *opaque)
{
	struct pc_devices *d = opaque;
	uint64_t v;

	if (read(d->room_fd, &v, sizeof(v)) < 0) {
		/* Spurious wake-up: nothing to drain. */
	}
	pc_console_push(d);
}

static void pc_serial_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct pc_devices *d = opaque;

	vm_console_write(d->vm, d->out_fd, buf, len);
}

static int pc_console_setup(struct pc_devices *d)
{
	int ret;

	d->room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->room_fd < 0)
		return err_set(-errno, "eventfd: %s", strerror(errno));
	ret = vm_add_event(d->vm, d->console->fd, pc_console_readable, d,
			   &d->input_ev);
	if (!ret)
		ret = vm_add_event(d->vm, d->room_fd, pc_room_event, d,
				   &d->room_ev);
	if (!ret)
		d->input_ev->enabled = !d->console->eof;
	return ret;
}

int pc_devices_create(struct vm *vm, struct term *console,
		      struct pc_devices **out)
{
	struct irq_sink irq = {.set_level = pc_irq_set, .opaque = vm};
	struct reset_sink reset = {.reset = pc_reset, .opaque = vm};
	struct serial_backend backend = {.rx_ready = pc_uart_has_room};
	struct pc_devices *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return err_set(-ENOMEM, "out of memory");
	d->vm = vm;
	d->room_fd = -1;
	d->console = vm->opt.serial == VM_SERIAL_STDIO ? console : NULL;
	d->out_fd = vm->opt.serial == VM_SERIAL_STDIO  ? STDOUT_FILENO
		    : vm->opt.serial == VM_SERIAL_FILE ? vm->opt.serial_fd
						       : -1;
	backend.opaque = d;
	if (d->out_fd >= 0)
		backend.write = pc_serial_write;
	ret = serial_create(&d->com1, SERIAL_COM1_BASE, SERIAL_COM1_IRQ,
			    &backend, &irq);
	if (ret)
		goto fail;
	ret = serial_register(d->com1, &vm->pio);
	if (!ret)
		ret = i8042_create(&d->i8042, &reset, &irq);
	if (!ret)
		ret = i8042_register(d->i8042, &vm->pio);
	if (!ret)
		ret = rtc_create(&d->rtc, NULL);
	if (!ret)
		ret = rtc_register(d->rtc, &vm->pio);
	if (!ret)
		ret = legacy_create(&d->legacy, &reset);
	if (!ret)
		ret = legacy_register(d->legacy, &vm->pio);
	if (!ret)
		ret = acpi_pm_create(&d->pm, &vm->pio, pc_poweroff, vm);
	if (!ret && d->console)
		ret = pc_console_setup(d);
	if (ret)
		goto fail;
	*out = d;
	return 0;
fail:
	pc_devices_destroy(d);
	return ret;
}

void pc_devices_destroy(struct pc_devices *d)
{
	if (!d)
		return;
	acpi_pm_destroy(d->pm);
	if (d->legacy)
		legacy_destroy(d->legacy);
	if (d->rtc)
		rtc_destroy(d->rtc);
	if (d->i8042)
		i8042_destroy(d->i8042);
	if (d->com1)
		serial_destroy(d->com1);
	if (d->room_fd >= 0)
		close(d->room_fd);
	free(d);
}

int pc_devices_ctrl_alt_del(struct pc_devices *d)
{
	if (!d->i8042)
		return err_set(-ENODEV, "the guest has no i8042");
	return i8042_ctrl_alt_del(d->i8042);
}
