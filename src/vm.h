/* The VM object: owns the KVM fds, guest memory, the two buses, the vCPUs
 * and the devices.  Created explicitly, run, stopped from any thread, and
 * torn down in reverse order. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include "bus.h"
#include "dev/boot_timer.h"
#include "host/disk.h"
#include "host/sandbox.h"
#include "virtio/net.h"
#include "virtio/vsock.h"
#include "kvm.h"
#include "mem.h"
#include "prefault.h"
#include "vcpu.h"
#include "virtio/mmio.h"
#include "x86/platform.h"
#include "x86/x86.h"

#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit statuses of a VM (besides the guest's own through port 0x501). */
#define VM_STATUS_OK 0		/* halted, powered off, --max-exits reached */
#define VM_STATUS_ERROR 1	/* minivmm or KVM failed */
#define VM_STATUS_GUEST_FAULT 2 /* triple fault, emulation failure, ... */
#define VM_STATUS_SIGNAL \
	128 /* + signal number: SIGINT, SIGTERM, SIGHUP,
				 * or SIGPIPE when the console's reader left */

/* What is on the machine besides memory, vCPUs and the test ports. */
enum vm_platform {
	VM_PLATFORM_BARE, /* raw guests: no interrupt controller, HLT exits */
	VM_PLATFORM_PC,	  /* Linux: irqchip, PIT, UART, i8042, RTC, ACPI */
};

enum vm_serial { VM_SERIAL_STDIO, VM_SERIAL_FILE, VM_SERIAL_NONE };

struct vm_options {
	const char *kvm_path; /* NULL: /dev/kvm */
	uint64_t mem_size;
	unsigned cpus;
	bool trace_io;
	bool trace_mmio;
	bool stats;
	uint64_t max_exits; /* 0: no limit */
	enum vm_platform platform;
	enum vm_serial serial;	 /* where COM1 goes (PC platform) */
	const char *serial_path; /* VM_SERIAL_FILE */
	int serial_fd;		 /* VM_SERIAL_FILE: opened once by main, so a
				  * reboot appends instead of truncating */
	struct term *console;	 /* COM1 input with VM_SERIAL_STDIO, or NULL */
	uint64_t launch_ns;	 /* when minivmm started (--stats), or 0 */
	bool boot_timer;   /* --boot-timer: Firecracker's boot timer in slot 0,
			  * the virtio devices from slot 1 (x86/platform.h) */
	uint64_t start_ns; /* when minivmm started (the boot timer's 0) */
	uint64_t start_cpu_ns;	     /* the process's CPU time then */
	enum prefault_mode prefault; /* fault guest RAM in from a thread */
	int signal_fd; /* signalfd of the stop signals main blocked, or -1 */
	bool rng;      /* --rng: a virtio-rng device */
	struct throttle_config rng_rate;   /* --rng=bw=,iops=: its limiter */
	const struct disk_options *drives; /* --drive, in order: vda, vdb... */
	unsigned nr_drives;
	const struct net_options *nets; /* --net, in order: eth0, eth1... */
	unsigned nr_nets;
	const struct vsock_options *vsock; /* --vsock, or NULL */
	bool no_seccomp;      /* --no-seccomp: threads run without filters */
	bool api_server;      /* minivmm fc: the main thread closes the API */
	enum mem_huge huge;   /* guest RAM's pages (fc's huge_pages) */
	bool track_dirty;     /* KVM_MEM_LOG_DIRTY_PAGES on RAM's slots */
	bool reboot_restarts; /* --on-reboot restart: main creates the VM
			       * again (its seccomp filter allows that) */
	bool main_sandboxed;  /* the main thread's filter is installed (by
			       * an earlier boot): not again */
};

/* An fd the main thread watches while the VM runs; @handle runs on the main
 * thread when it is readable and @enabled. */
struct vm_event {
	int fd;
	bool enabled;
	void (*handle)(void *opaque);
	void *opaque;
};

#define VM_MAX_EVENTS 8

/* A virtio device in slot n (at platform_virtio_base(n)). */
struct vm_virtio {
	struct virtio_dev *vd;
	void *priv;		     /* the device's own state */
	void (*destroy)(void *priv); /* NULL: nothing to free */
	char id[16];		     /* "vda", "rng0" */
};

struct vm {
	struct vm_options opt;
	struct kvm kvm;
	int fd;
	struct vm_mem mem;
	struct prefault prefault; /* --prefault's thread */
	struct bus pio;
	struct bus mmio;
	struct kvm_cpuid2 *cpuid; /* what KVM supports, per-vCPU copies made */
	struct vcpu *vcpus;
	unsigned nr_vcpus;
	struct boot_entry entry;
	struct pc_devices *pc;	      /* VM_PLATFORM_PC only */
	struct boot_timer boot_timer; /* mapped with opt.boot_timer only */
	struct vm_event events[VM_MAX_EVENTS];
	unsigned nr_events;
	struct vm_virtio virtio[PLATFORM_VIRTIO_SLOTS];
	unsigned nr_virtio;
	/* What the firmware tables describe: the vCPUs and the virtio slots
	 * (filled as the devices are added). */
	struct platform_desc platform;

	int stop_fd;	   /* eventfd: readable once the VM is stopping */
	int stopping;	   /* atomic flag, set once: by vm_stop's winner */
	int stop_done;	   /* atomic: the winner has kicked every vCPU */
	int status;	   /* exit status, valid once stop_done */
	const char *why;   /* what stopped it (--stats), valid then too */
	int signal;	   /* a stop signal main read while it ran, or 0 */
	unsigned halted;   /* atomic: vCPUs that have halted */
	uint64_t exits;	   /* atomic: exits so far, counted for --max-exits */
	uint64_t start_ns; /* when vm_run started */
	uint64_t load_ns;  /* time the loader took (--stats) */
	bool reset_requested; /* the guest's reboot won the stop */

	/* Pause and resume (the API's PATCH /vm), all under pause_lock. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond; /* paused changed, or a vCPU parked */
	bool paused;		   /* vCPUs are to park, I/O threads are off */
	unsigned nr_parked;	   /* vCPUs parked in vcpu_park */
	unsigned nr_ended;	   /* vCPU threads that have returned */
	bool running;		   /* between vm_run's start and its teardown */
	int kvmclock_ctrl;	   /* first KVM_KVMCLOCK_CTRL error, or 0 */
	struct sandbox sandbox; /* what each thread's seccomp filter allows */
	bool main_sandboxed;	/* vm_run installed the main thread's */
	/* The vCPUs wait here for the main thread's filter before their
	 * first KVM_RUN. */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_cond;
	bool gate_open;
};

/* Opens KVM, maps memory, creates the vCPUs and the built-in devices. */
int vm_create(struct vm *vm, const struct vm_options *opt);
/* Sets every vCPU's registers for @e (after a loader filled it in). */
int vm_set_entry(struct vm *vm, const struct boot_entry *e);
/* Runs until the VM stops; returns its exit status (128 + N if a stop
 * signal N was read from opt.signal_fd meanwhile, whatever else ended it). */
int vm_run(struct vm *vm);
/* From any thread: ends the VM with @status (the first call wins), kicks
 * every vCPU out of KVM_RUN.  @why, a constant string, says what ended it
 * (--stats prints it). */
void vm_stop(struct vm *vm, int status, const char *why);
bool vm_is_stopping(struct vm *vm);
/* From any thread: the guest reboots (@why: how).  If this is the call
 * that stops the VM, it ends with status 0 and reset_requested set, and
 * main decides whether to start it again; a stop that came first (a
 * power-off, a signal) stands. */
void vm_request_reset(struct vm *vm, const char *why);
/* After vm_run: the guest's reboot ended the VM and no stop signal came. */
bool vm_restart_wanted(const struct vm *vm);
/* Guest console output (COM1, port 0xE9) to @fd; a closed reader (EPIPE)
 * stops the VM with 128 + SIGPIPE, other errors drop the bytes. */
void vm_console_write(struct vm *vm, int fd, const void *buf, size_t len);
/* Reads one stop signal from @sig_fd (non-blocking or known readable): its
 * number, or 0 if none was pending. */
int vm_take_stop_signal(int sig_fd);
/* From any thread (the API's): stops every vCPU at an exit boundary (each
 * one's exit handled, none in KVM_RUN) and the virtio I/O threads (what is
 * in flight completes; nothing new is taken), waiting up to a second for
 * vm_run to have started them and up to a second for the vCPUs.  -EBUSY if the VM is not running or is stopping, -ETIMEDOUT
 * (then resumed again) if a vCPU did not park. */
int vm_pause(struct vm *vm);
/* Starts the I/O threads again, then lets the vCPUs run; each calls
 * KVM_KVMCLOCK_CTRL first so the guest does not count the pause as a soft
 * lockup (where KVM has it; kvmclock_ctrl keeps the result). */
int vm_resume(struct vm *vm);
/* From any thread: Ctrl-Alt-Del on the PC platform's keyboard (Linux
 * reboots, or does what its ctrl-alt-del handler says).  -ENODEV on the
 * bare platform. */
int vm_send_ctrl_alt_del(struct vm *vm);
/* From any thread: new rate limits for drive @drive (vda is 0), as a
 * PATCH of its rate_limiter asks; the device's I/O thread takes them at
 * once.  -ENODEV if there is no such drive. */
int vm_drive_set_rate(struct vm *vm, unsigned drive,
		      const struct throttle_config *c);
/* From the API thread: drive @drive's medium becomes the file at @path
 * (virtio_blk_swap: opened here, taken by the device's I/O thread once the
 * requests in flight on the old file are done; the guest gets a
 * configuration change).  Waits for the device unless the VM is paused.
 * -ENODEV if there is no such drive; -errno with err_msg() if the file
 * cannot be used (the old one stays). */
int vm_drive_swap(struct vm *vm, unsigned drive, const char *path);
/* The same for network interface @net (eth0 is 0): both directions. */
int vm_net_set_rate(struct vm *vm, unsigned net,
		    const struct throttle_config *rx,
		    const struct throttle_config *tx);
/* On a vCPU thread, between two KVM_RUNs: parks while the VM is paused. */
void vm_park_vcpu(struct vm *vm, struct vcpu *c);

/* Watches @fd from the main thread while the VM runs (enabled at first). */
int vm_add_event(struct vm *vm, int fd, void (*handle)(void *opaque),
		 void *opaque, struct vm_event **ev);
void vm_destroy(struct vm *vm);
/* The --stats table. */
void vm_print_stats(struct vm *vm, FILE *f);

#endif
