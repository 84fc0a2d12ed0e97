/* The seccomp sandbox: one libseccomp filter per kind of thread, each
 * allowing only the system calls (and, for ioctl and a few others, the
 * argument values) that kind of thread makes.  Anything else traps: one
 * line on stderr naming the thread kind and the call, the terminal put
 * back, and the process dies by SIGSYS.  Filters stack and are inherited
 * by threads created later, so each thread installs its own at the start
 * of its thread function, and the main thread last, just before the vCPUs
 * run (ARCHITECTURE.md, "The sandbox"). */
#ifndef MINIVMM_HOST_SANDBOX_H
#define MINIVMM_HOST_SANDBOX_H

#include <stdbool.h>

enum sandbox_thread {
	SANDBOX_MAIN,	  /* the main thread while a VM runs, and after */
	SANDBOX_VCPU,	  /* KVM_RUN and the device models behind exits */
	SANDBOX_IO_BLK,	  /* a virtio-blk I/O thread */
	SANDBOX_IO_NET,	  /* a virtio-net I/O thread */
	SANDBOX_IO_VSOCK, /* the virtio-vsock I/O thread */
	SANDBOX_IO_RNG,	  /* the virtio-rng I/O thread */
	SANDBOX_PREFAULT, /* the --prefault thread */
	SANDBOX_API,	  /* the HTTP API thread (libmicrohttpd) */
	SANDBOX_KINDS
};

/* The bit of a device kind (SANDBOX_IO_*) in sandbox.devices. */
#define SANDBOX_DEV(kind) (1u << (kind))

/* What a VM's filters depend on, passed down to whoever starts a thread. */
struct sandbox {
	bool enabled;	  /* false with --no-seccomp */
	unsigned devices; /* SANDBOX_DEV() of each virtio device kind the VM
			   * has: the vCPU threads run their register
			   * callbacks, the main thread their reset at stop */
	bool restart;	  /* --on-reboot restart: the main thread creates
			   * the VM again under its filter, and the new
			   * threads start under it too */
	bool api;	  /* minivmm fc: the main thread closes the API */
};

/* "vCPU", "virtio-blk I/O", ...: the thread kind as the violation line
 * names it. */
const char *sandbox_thread_name(enum sandbox_thread kind);

/* Installs the filter of @kind on the calling thread (nothing if
 * !@sb->enabled).  Returns 0 or -errno with err_set(). */
int sandbox_apply(const struct sandbox *sb, enum sandbox_thread kind);

#endif
