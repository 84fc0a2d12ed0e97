/* The built-in devices, each in its own file, each registered on the VM's
 * buses by its create function. */
#ifndef MINIVMM_DEV_H
#define MINIVMM_DEV_H

struct vm;

#define DEBUGCON_PORT 0xe9 /* Bochs/QEMU debug console */
#define EXITDEV_PORT 0x501 /* write V: minivmm exits with status V */

int dev_debugcon_create(struct vm *vm);
int dev_exit_create(struct vm *vm);

#endif
