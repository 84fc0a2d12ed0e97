/* The boot path both front ends share: `minivmm run` calls it once with the
 * parsed command line, `minivmm fc` once the API's InstanceStart (or the
 * --config-file) has filled the same struct config. */
#ifndef MINIVMM_LAUNCH_H
#define MINIVMM_LAUNCH_H

#include "config.h"
#include "vm.h"

/* Tells a front end when the VM can be reached (the API pauses it) and
 * when it is gone.  Both run on the thread that called launch_vm. */
struct launch_hooks {
	/* The guest is loaded and about to run: @vm stays valid until
	 * vm_gone. */
	void (*vm_ready)(void *opaque, struct vm *vm);
	/* The VM ended (before it is destroyed). */
	void (*vm_gone)(void *opaque, struct vm *vm);
	void *opaque;
};

/* Opens the guest image, picks the platform, and runs the VM (again when
 * it reboots with --on-reboot restart) until it ends.  The VM's exit status,
 * or -errno with err_msg() set for a failure before or while starting it.
 * @h may be NULL. */
int launch_vm(struct config *cfg, const struct launch_hooks *h);

#endif
