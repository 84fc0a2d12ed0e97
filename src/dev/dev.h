/* The built-in devices, each in its own file, each registered on the VM's
 * buses by its create function. */
#ifndef MINIVMM_DEV_H
#define MINIVMM_DEV_H

struct vm;

#define DEBUGCON_PORT 0xe9 /* Bochs/QEMU debug console */
#define EXITDEV_PORT 0x501 /* write V: minivmm exits with status V */

int dev_debugcon_create(struct vm *vm);
int dev_exit_create(struct vm *vm);

struct bus;
struct acpi_pm;
struct pc_devices;
struct term;

/* ACPI PM1a registers on @pio; @poweroff runs (on a vCPU thread, no lock
 * held) when the guest enters S5. */
int acpi_pm_create(struct acpi_pm **pmp, struct bus *pio,
		   void (*poweroff)(void *opaque), void *opaque);
void acpi_pm_destroy(struct acpi_pm *pm);

/* The PC devices of a Linux guest (pc.c): COM1 wired to the VM's serial
 * option and @console (NULL: no input), i8042, RTC, the quiet legacy ports
 * and ACPI power management; resets and power-off stop the VM. */
int pc_devices_create(struct vm *vm, struct term *console,
		      struct pc_devices **out);
void pc_devices_destroy(struct pc_devices *d);
/* Ctrl-Alt-Del on the i8042's keyboard (i8042_ctrl_alt_del). */
int pc_devices_ctrl_alt_del(struct pc_devices *d);

#endif
