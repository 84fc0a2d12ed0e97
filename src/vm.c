/* The VM: explicit creation in dependency order (KVM, memory, buses, devices,
 * vCPUs), the run loop of the main thread, and teardown in reverse. */
#include "vm.h"
#include "host/log.h"
#include "dev/dev.h"
#include "err.h"
#include "host/output.h"
#include "trace.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/vsock.h"
#include "virtio/rng.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define VCPU_THREAD_STACK (256 * 1024)
#define VM_REKICK_NS (20 * 1000 * 1000) /* while joining a stuck vCPU */

static int vm_add_memory(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct mem_region *r = &vm->mem.regions[i];
		int ret = kvm_set_memory(
			vm->fd, i, r->gpa, r->size, r->host,
			vm->opt.track_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0);

		if (ret)
			return ret;
	}
	return 0;
}

/* Puts a virtio device into the next slot (after the boot timer's, if
 * any): its register window on the MMIO bus, its notifications and
 * interrupt wired into KVM. */
static int vm_add_virtio(struct vm *vm, const struct virtio_device_ops *ops,
			 void *priv, void (*destroy)(void *priv),
			 const char *id, enum sandbox_thread kind)
{
	struct virtio_mmio_ctx ctx = {
		.mem = &vm->mem,
		.vm_fd = vm->fd,
		.gsi = -1,
		.ioeventfd = kvm_check_cap(&vm->kvm, KVM_CAP_IOEVENTFD) > 0,
		.sandbox = vm->sandbox,
		.sandbox_kind = kind,
	};
	struct vm_virtio *v;
	unsigned idx;
	int ret;

	/* The slot, its window and its GSI as the firmware tables will
	 * describe them. */
	ret = platform_add_virtio(&vm->platform, &idx);
	if (ret) {
		if (destroy)
			destroy(priv);
		return ret;
	}
	v = &vm->virtio[idx];
	ctx.base = vm->platform.virtio[idx].base;
	ctx.id = v->id;
	/* Raw guests on the bare platform have no interrupt controller:
	 * the same devices, and they poll the used rings. */
	if (vm->opt.platform == VM_PLATFORM_PC) {
		ctx.gsi = (int)vm->platform.virtio[idx].gsi;
		ctx.irqfd = kvm_check_cap(&vm->kvm, KVM_CAP_IRQFD) > 0;
	}
	snprintf(v->id, sizeof(v->id), "%s", id);
	v->priv = priv;
	v->destroy = destroy;
	ret = virtio_mmio_create(&v->vd, ops, priv, &ctx);
	if (!ret)
		ret = virtio_mmio_register(v->vd, &vm->mmio);
	if (ret) {
		virtio_mmio_destroy(v->vd);
		if (destroy)
			destroy(priv);
		*v = (struct vm_virtio){0};
		vm->platform.nr_virtio--;
		return ret;
	}
	vm->nr_virtio++;
	return 0;
}

/* The virtio devices in slot order: drives, network interfaces, vsock,
 * then the rng. */
static void vm_blk_destroy(void *priv)
{
	virtio_blk_destroy(priv);
}

static void vm_net_destroy(void *priv)
{
	virtio_net_destroy(priv);
}

static void vm_vsock_destroy(void *priv)
{
	virtio_vsock_destroy(priv);
}

static void vm_rng_destroy(void *priv)
{
	virtio_rng_destroy(priv);
}

static int vm_create_virtio(struct vm *vm)
{
	/* One request queue per vCPU, as many as virtio-blk's MQ allows. */
	unsigned queues = vm->opt.cpus < VIRTIO_MAX_QUEUES ? vm->opt.cpus
							   : VIRTIO_MAX_QUEUES;
	int ret = 0;

	for (unsigned i = 0; !ret && i < vm->opt.nr_drives; i++) {
		struct virtio_blk *b;
		char id[8];

		snprintf(id, sizeof(id), "vd%c", 'a' + (int)i);
		ret = virtio_blk_create(&b, &vm->opt.drives[i], queues);
		if (!ret)
			ret = vm_add_virtio(vm, virtio_blk_get_ops(b), b,
					    vm_blk_destroy, id, SANDBOX_IO_BLK);
	}
	for (unsigned i = 0; !ret && i < vm->opt.nr_nets; i++) {
		struct virtio_net *n;
		char id[16];

		snprintf(id, sizeof(id), "eth%u", i);
		ret = virtio_net_create(&n, &vm->opt.nets[i]);
		if (!ret)
			ret = vm_add_virtio(vm, virtio_net_get_ops(n), n,
					    vm_net_destroy, id, SANDBOX_IO_NET);
	}
	if (!ret && vm->opt.vsock) {
		struct virtio_vsock *v;

		ret = virtio_vsock_create(&v, vm->opt.vsock);
		if (!ret)
			ret = vm_add_virtio(vm, virtio_vsock_get_ops(v), v,
					    vm_vsock_destroy, "vsock0",
					    SANDBOX_IO_VSOCK);
	}
	if (!ret && vm->opt.rng) {
		struct virtio_rng *r = NULL;

		/* Its counters and its rate limiter (if any). */
		ret = virtio_rng_create(&r, &vm->opt.rng_rate);
		if (!ret)
			ret = vm_add_virtio(vm, &virtio_rng_ops, r,
					    vm_rng_destroy, "rng0",
					    SANDBOX_IO_RNG);
	}
	return ret;
}

/* The one policy for guest console output (COM1, port 0xE9): a reader that
 * went away (minivmm ... | head) ends the VM as SIGPIPE would have ended
 * minivmm, but cleanly; other errors (a full disk) drop the output. */
void vm_console_write(struct vm *vm, int fd, const void *buf, size_t len)
{
	if (output_write(fd, buf, len, &vm->stopping) == -EPIPE)
		vm_stop(vm, VM_STATUS_SIGNAL + SIGPIPE,
			"the console's output was closed (EPIPE)");
}

int vm_take_stop_signal(int sig_fd)
{
	struct signalfd_siginfo si;

	if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
		return (int)si.ssi_signo;
	return 0;
}

int vm_create(struct vm *vm, const struct vm_options *opt)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->opt = *opt;
	pthread_mutex_init(&vm->gate_lock, NULL);
	pthread_cond_init(&vm->gate_cond, NULL);
	vm->sandbox = (struct sandbox){
		.enabled = !opt->no_seccomp,
		.devices = (opt->nr_drives ? SANDBOX_DEV(SANDBOX_IO_BLK) : 0) |
			   (opt->nr_nets ? SANDBOX_DEV(SANDBOX_IO_NET) : 0) |
			   (opt->vsock ? SANDBOX_DEV(SANDBOX_IO_VSOCK) : 0) |
			   (opt->rng ? SANDBOX_DEV(SANDBOX_IO_RNG) : 0),
		.restart = opt->reboot_restarts,
		.api = opt->api_server,
	};
	vm->fd = -1;
	vm->stop_fd = -1;
	vm->kvm.fd = -1;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->pio.stats = vm->mmio.stats = opt->stats;
	vm->pio.quiet = opt->trace_io;
	vm->mmio.quiet = opt->trace_mmio;

	ret = kvm_open(&vm->kvm, opt->kvm_path ? opt->kvm_path : "/dev/kvm");
	if (ret)
		goto fail;
	if (opt->cpus < 1 || (int)opt->cpus > vm->kvm.max_vcpus) {
		ret = err_set(-EINVAL,
			      "--cpus %u: this host's KVM allows 1 to %d vCPUs",
			      opt->cpus, vm->kvm.max_vcpus);
		goto fail;
	}
	if (opt->huge == MEM_HUGE_2M)
		ret = mem_init_hugetlb(&vm->mem, opt->mem_size);
	else
		ret = mem_init(&vm->mem, opt->mem_size);
	if (ret)
		goto fail;
	if ((opt->platform == VM_PLATFORM_PC &&
	     opt->huge == MEM_HUGE_DEFAULT) ||
	    opt->huge == MEM_HUGE_THP)
		mem_advise_hugepages(&vm->mem);
	vm->fd = kvm_create_vm(&vm->kvm);
	if (vm->fd < 0) {
		ret = vm->fd;
		goto fail;
	}
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0) {
		ret = err_set(-errno, "KVM_SET_TSS_ADDR failed: %s",
			      strerror(errno));
		goto fail;
	}
	ret = vm_add_memory(vm);
	if (ret)
		goto fail;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		ret = err_set(-errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	ret = kvm_supported_cpuid(&vm->kvm, &vm->cpuid);
	if (ret)
		goto fail;
	if (opt->platform == VM_PLATFORM_PC &&
	    kvm_check_cap(&vm->kvm, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		cpuid_enable_tsc_deadline(vm->cpuid);
	if (opt->platform == VM_PLATFORM_PC) {
		ret = pc_vm_setup(&vm->kvm, vm->fd);
		if (ret)
			goto fail;
		ret = pc_devices_create(vm, opt->console, &vm->pc);
		if (ret)
			goto fail;
	}
	ret = dev_debugcon_create(vm);
	if (ret)
		goto fail;
	ret = dev_exit_create(vm);
	if (ret)
		goto fail;
	if (opt->boot_timer) {
		/* Slot 0's window is the boot timer's; the virtio devices
		 * take the slots after it. */
		vm->boot_timer = (struct boot_timer){
			.start_ns = opt->start_ns,
			.start_cpu_ns = opt->start_cpu_ns,
		};
		ret = boot_timer_register(&vm->boot_timer, &vm->mmio,
					  PLATFORM_BOOT_TIMER_BASE);
		if (ret)
			goto fail;
		vm->platform.first_slot = 1;
	}
	ret = vm_create_virtio(vm);
	if (ret)
		goto fail;
	vm->vcpus = calloc(opt->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < opt->cpus; i++) {
		ret = vcpu_create(vm, i, &vm->vcpus[i]);
		if (ret)
			goto fail;
		vm->nr_vcpus++;
		if (opt->platform == VM_PLATFORM_PC) {
			ret = pc_vcpu_setup(&vm->kvm, vm->vcpus[i].fd);
			if (ret)
				goto fail;
		}
	}
	vm->platform.nr_vcpus = vm->nr_vcpus;
	return 0;

fail:
	vm_destroy(vm);
	return ret;
}

int vm_set_entry(struct vm *vm, const struct boot_entry *e)
{
	int ret;

	vm->entry = *e;
	if (e->mode != CPU_MODE_REAL) {
		ret = boot_tables_write(&vm->mem, e->mode);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		ret = regs_setup(vm->vcpus[i].fd, e, i,
				 boot_stack_top(&vm->mem, i));
		if (ret)
			return ret;
	}
	return 0;
}

bool vm_is_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
}

/* The one place a VM starts stopping: the first caller wins and sets the
 * status, the reason and whether it is a reset, all before any vCPU or the
 * main thread can see stop_done; later calls change nothing. */
static void vm_stop_as(struct vm *vm, int status, const char *why, bool reset)
{
	uint64_t one = 1;

	if (__atomic_exchange_n(&vm->stopping, 1, __ATOMIC_ACQ_REL))
		return;
	vm->status = status;
	vm->why = why;
	vm->reset_requested = reset;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	/* Parked vCPUs (a paused VM) wake up and end. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	/* The main thread joins the vCPU threads only after this: no kick
	 * can reach a thread that was joined. */
	__atomic_store_n(&vm->stop_done, 1, __ATOMIC_RELEASE);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0) {
		/* Cannot fail for an eventfd short of overflow; the vCPUs are
		 * stopping anyway. */
	}
}

void vm_stop(struct vm *vm, int status, const char *why)
{
	vm_stop_as(vm, status, why, false);
}

void vm_request_reset(struct vm *vm, const char *why)
{
	vm_stop_as(vm, VM_STATUS_OK, why, true);
}

bool vm_restart_wanted(const struct vm *vm)
{
	return vm->reset_requested && !vm->signal;
}

int vm_add_event(struct vm *vm, int fd, void (*handle)(void *opaque),
		 void *opaque, struct vm_event **ev)
{
	if (vm->nr_events == VM_MAX_EVENTS)
		return err_set(-ENOSPC, "too many event sources");
	vm->events[vm->nr_events] = (struct vm_event){
		.fd = fd,
		.enabled = true,
		.handle = handle,
		.opaque = opaque,
	};
	if (ev)
		*ev = &vm->events[vm->nr_events];
	vm->nr_events++;
	return 0;
}

/* The main thread's loop while the VM runs: turns the stop signals into a
 * stop, and serves the devices' event sources, until vm_stop has kicked
 * every vCPU.  A signal read here is kept in vm->signal even when a reset
 * or a power-off won the stop, so that it still ends minivmm. */
static void vm_wait(struct vm *vm)
{
	struct pollfd fds[2 + VM_MAX_EVENTS];
	int sig_fd = vm->opt.signal_fd;

	while (!__atomic_load_n(&vm->stop_done, __ATOMIC_ACQUIRE)) {
		unsigned n = 2;

		fds[0] = (struct pollfd){.fd = vm->stop_fd, .events = POLLIN};
		fds[1] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		for (unsigned i = 0; i < vm->nr_events; i++) {
			const struct vm_event *ev = &vm->events[i];

			fds[n++] = (struct pollfd){
				.fd = ev->enabled ? ev->fd : -1,
				.events = POLLIN,
			};
		}
		if (poll(fds, n, -1) < 0)
			continue;
		if ((fds[1].revents & POLLIN) &&
		    (vm->signal = vm_take_stop_signal(sig_fd))) {
			vm_stop(vm, VM_STATUS_SIGNAL + vm->signal,
				"a signal to minivmm");
		}
		for (unsigned i = 0; i < vm->nr_events; i++)
			if (fds[2 + i].revents & (POLLIN | POLLHUP | POLLERR))
				vm->events[i].handle(vm->events[i].opaque);
	}
}

/* Joins a stopping vCPU's thread.  A thread blocked in a host call (a
 * console write to a pipe nobody reads) may have missed the one kick, if it
 * came just before the call: kick it again until it is out. */
static void vm_join_vcpu(struct vcpu *c)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	for (;;) {
		until.tv_nsec += VM_REKICK_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(c->thread, NULL, &until) != ETIMEDOUT)
			break;
		vcpu_kick(c);
	}
	__atomic_store_n(&c->thread_created, false, __ATOMIC_RELEASE);
}

int vm_run(struct vm *vm)
{
	pthread_attr_t attr;
	int ret = 0;

	ret = vcpu_kick_init();
	if (ret)
		return ret;
	if (vm->opt.trace_io || vm->opt.trace_mmio)
		trace_vm_start(stdout);
	/* main blocked the stop signals for the whole process, so this
	 * thread and the vCPU threads never take them: they wait in
	 * signal_fd for vm_wait. */
	ret = prefault_start(&vm->prefault, &vm->mem, vm->opt.prefault,
			     vm->entry.rip, &vm->sandbox);
	if (ret)
		return ret;
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		ret = virtio_mmio_start(vm->virtio[i].vd);
		if (ret)
			goto out_virtio;
	}
	vm->start_ns = time_now_ns();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_THREAD_STACK);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		ret = pthread_create(&c->thread, &attr, vcpu_thread, c);
		if (ret) {
			ret = err_set(-ret, "cannot start vCPU thread %u: %s",
				      i, strerror(ret));
			vm_stop(vm, VM_STATUS_ERROR, "a vCPU thread failed");
			break;
		}
		/* A stop racing with this is caught by immediate_exit. */
		__atomic_store_n(&c->thread_created, true, __ATOMIC_RELEASE);
		if (vm_is_stopping(vm))
			vcpu_kick(c);
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&vm->pause_lock);
	vm->running = true;
	pthread_cond_broadcast(&vm->pause_cond); /* a pause that came early */
	pthread_mutex_unlock(&vm->pause_lock);
	/* Every thread of this boot exists and has its own filter (the
	 * vCPUs install theirs as they start): now the main thread's, once
	 * per process, and only then may the guest run. */
	if (!ret && !vm->opt.main_sandboxed) {
		ret = sandbox_apply(&vm->sandbox, SANDBOX_MAIN);
		if (ret)
			vm_stop(vm, VM_STATUS_ERROR, "no seccomp filter");
		else
			vm->main_sandboxed = vm->sandbox.enabled;
	}
	pthread_mutex_lock(&vm->gate_lock);
	vm->gate_open = true;
	pthread_cond_broadcast(&vm->gate_cond);
	pthread_mutex_unlock(&vm->gate_lock);
	vm_wait(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_created)
			vm_join_vcpu(&vm->vcpus[i]);
	/* No pause or resume from here on (a resume would start the I/O
	 * threads stopped below). */
	pthread_mutex_lock(&vm->pause_lock);
	vm->running = false;
	__atomic_store_n(&vm->paused, false, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->pause_lock);
out_virtio:
	/* After the vCPUs: nothing notifies any more, and each device
	 * finishes or drops what is in flight before guest memory goes. */
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio_mmio_stop(vm->virtio[i].vd);
	prefault_stop(&vm->prefault);
	fflush(stdout);
	bus_log_summary(&vm->pio);
	bus_log_summary(&vm->mmio);
	if (ret)
		return ret;
	return vm->signal ? VM_STATUS_SIGNAL + vm->signal : vm->status;
}

/* ---- pause and resume ---- */

#define VM_PAUSE_TIMEOUT_NS (1000 * 1000 * 1000ull)

void vm_park_vcpu(struct vm *vm, struct vcpu *c)
{
	bool parked = false;

	/* A kick's immediate_exit is spent: clear it before looking at the
	 * flags, so that a pause or stop after this look kicks again. */
	__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vm->paused, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&vm->pause_lock);
		if (__atomic_load_n(&vm->paused, __ATOMIC_SEQ_CST) &&
		    !vm_is_stopping(vm)) {
			parked = true;
			vm->nr_parked++;
			pthread_cond_broadcast(&vm->pause_cond);
			while (__atomic_load_n(&vm->paused, __ATOMIC_SEQ_CST) &&
			       !vm_is_stopping(vm))
				pthread_cond_wait(&vm->pause_cond,
						  &vm->pause_lock);
			vm->nr_parked--;
		}
		pthread_mutex_unlock(&vm->pause_lock);
	}
	if (parked && !vm_is_stopping(vm)) {
		/* The guest's kvmclock learns it was stopped by the host, so
		 * its watchdog does not report a soft lockup.  EINVAL: the
		 * guest has not enabled kvmclock (raw guests), nothing to
		 * tell; anything else (ENOTTY: this KVM lacks the call) is
		 * said once. */
		int ret = ioctl(c->fd, KVM_KVMCLOCK_CTRL, 0) ? -errno : 0;

		if (ret && ret != -EINVAL &&
		    !__atomic_exchange_n(&vm->kvmclock_ctrl, ret,
					 __ATOMIC_RELAXED))
			log_write(
				LOG_WARNING,
				"note: KVM_KVMCLOCK_CTRL after a pause: %s (ignored: the guest is not told it was paused)",
				strerror(-ret));
	}
	if (vm_is_stopping(vm))
		__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

static uint64_t vm_realtime_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int vm_pause(struct vm *vm)
{
	uint64_t deadline;
	int ret = 0;

	pthread_mutex_lock(&vm->pause_lock);
	deadline = vm_realtime_ns() + VM_PAUSE_TIMEOUT_NS;
	/* Right after the start (the API answered InstanceStart just
	 * before vm_run): wait until vm_run has started every thread. */
	while (!vm->running && !vm_is_stopping(vm) &&
	       vm_realtime_ns() < deadline) {
		uint64_t t = vm_realtime_ns() + VM_REKICK_NS;
		struct timespec until = {
			.tv_sec = (time_t)(t / 1000000000ull),
			.tv_nsec = (long)(t % 1000000000ull),
		};

		pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock,
				       &until);
	}
	if (!vm->running || vm_is_stopping(vm)) {
		pthread_mutex_unlock(&vm->pause_lock);
		return err_set(-EBUSY, "the VM is not running");
	}
	if (vm->paused) {
		pthread_mutex_unlock(&vm->pause_lock);
		return 0;
	}
	__atomic_store_n(&vm->paused, true, __ATOMIC_SEQ_CST);
	deadline = vm_realtime_ns() + VM_PAUSE_TIMEOUT_NS;
	while (vm->nr_parked + vm->nr_ended < vm->nr_vcpus &&
	       !vm_is_stopping(vm)) {
		uint64_t t = vm_realtime_ns() + VM_REKICK_NS;
		struct timespec until = {
			.tv_sec = (time_t)(t / 1000000000ull),
			.tv_nsec = (long)(t % 1000000000ull),
		};

		if (t > deadline + VM_REKICK_NS) {
			ret = err_set(-ETIMEDOUT,
				      "a vCPU did not stop within a second");
			break;
		}
		/* Again each round: a vCPU in a host call when the first
		 * kick came sees it only at its next KVM_RUN. */
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu_kick(&vm->vcpus[i]);
		pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock,
				       &until);
	}
	if (!ret && vm_is_stopping(vm))
		ret = err_set(-EBUSY, "the VM is stopping");
	if (ret) {
		__atomic_store_n(&vm->paused, false, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&vm->pause_cond);
	} else {
		for (unsigned i = 0; i < vm->nr_virtio; i++)
			virtio_mmio_pause(vm->virtio[i].vd);
	}
	pthread_mutex_unlock(&vm->pause_lock);
	return ret;
}

int vm_resume(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->pause_lock);
	if (!vm->paused || !vm->running) {
		pthread_mutex_unlock(&vm->pause_lock);
		return 0;
	}
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio_mmio_resume(vm->virtio[i].vd);
	__atomic_store_n(&vm->paused, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return ret;
}

int vm_send_ctrl_alt_del(struct vm *vm)
{
	if (!vm->pc)
		return err_set(
			-ENODEV,
			"the guest has no keyboard: a raw or ELF guest runs on the bare platform, without an i8042");
	return pc_devices_ctrl_alt_del(vm->pc);
}

int vm_drive_set_rate(struct vm *vm, unsigned drive,
		      const struct throttle_config *c)
{
	/* The drives are the first devices (vm_create_virtio). */
	if (drive >= vm->opt.nr_drives || drive >= vm->nr_virtio)
		return err_set(-ENODEV, "no drive %u", drive);
	virtio_blk_set_rate(vm->virtio[drive].priv, c);
	return 0;
}

int vm_drive_swap(struct vm *vm, unsigned drive, const char *path)
{
	if (drive >= vm->opt.nr_drives || drive >= vm->nr_virtio)
		return err_set(-ENODEV, "no drive %u", drive);
	/* A paused VM's I/O threads are parked: the swap is theirs at the
	 * resume, before the guest can see anything. */
	return virtio_blk_swap(vm->virtio[drive].priv, path,
			       !__atomic_load_n(&vm->paused, __ATOMIC_SEQ_CST));
}

int vm_net_set_rate(struct vm *vm, unsigned net,
		    const struct throttle_config *rx,
		    const struct throttle_config *tx)
{
	/* The interfaces follow the drives. */
	unsigned slot = vm->opt.nr_drives + net;

	if (net >= vm->opt.nr_nets || slot >= vm->nr_virtio)
		return err_set(-ENODEV, "no network interface %u", net);
	virtio_net_set_rate(vm->virtio[slot].priv, rx, tx);
	return 0;
}

void vm_destroy(struct vm *vm)
{
	prefault_stop(&vm->prefault);
	for (unsigned i = vm->nr_vcpus; i-- > 0;)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	vm->stop_fd = -1;
	free(vm->cpuid);
	vm->cpuid = NULL;
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	for (unsigned i = vm->nr_virtio; i-- > 0;) {
		struct vm_virtio *v = &vm->virtio[i];

		virtio_mmio_destroy(v->vd);
		if (v->destroy)
			v->destroy(v->priv);
	}
	vm->nr_virtio = 0;
	pc_devices_destroy(vm->pc);
	vm->pc = NULL;
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
	mem_destroy(&vm->mem);
	kvm_close(&vm->kvm);
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->gate_cond);
	pthread_mutex_destroy(&vm->gate_lock);
}

static void stats_range_line(FILE *f, const char *bus, const char *name,
			     uint64_t base, uint64_t len, uint64_t count,
			     uint64_t ns)
{
	char where[48];

	if (len)
		snprintf(where, sizeof(where), "0x%" PRIx64 "-0x%" PRIx64, base,
			 base + len - 1);
	else
		snprintf(where, sizeof(where), "-");
	fprintf(f, "%-5s %-26s %-12s %12" PRIu64 " %14.1f %10.0f\n", bus, where,
		name, count, ns / 1000.0, count ? (double)ns / count : 0.0);
}

static void stats_bus(FILE *f, const struct bus *b)
{
	for (size_t i = 0; i < b->nr; i++) {
		const struct bus_range *r = &b->ranges[i];

		if (r->count)
			stats_range_line(f, b->name, r->name, r->base, r->len,
					 r->count, r->ns);
	}
	if (b->unassigned_count)
		stats_range_line(f, b->name, "unassigned", 0, 0,
				 b->unassigned_count, b->unassigned_ns);
}

void vm_print_stats(struct vm *vm, FILE *f)
{
	struct exit_stats total;
	uint64_t all = 0, all_ns = 0;
	struct rusage ru;

	memset(&total, 0, sizeof(total));
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
			total.count[r] += vm->vcpus[i].stats.count[r];
			total.ns[r] += vm->vcpus[i].stats.ns[r];
		}
	}
	fprintf(f, "%-20s %12s %20s %10s\n", "exit reason", "count",
		"time in minivmm (us)", "avg (ns)");
	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
		if (!total.count[r])
			continue;
		fprintf(f, "%-20s %12" PRIu64 " %20.1f %10.0f\n",
			vcpu_exit_name(r), total.count[r], total.ns[r] / 1000.0,
			(double)total.ns[r] / total.count[r]);
		all += total.count[r];
		all_ns += total.ns[r];
	}
	fprintf(f, "%-20s %12" PRIu64 " %20.1f\n", "total", all,
		all_ns / 1000.0);
	fprintf(f, "\n%-5s %-26s %-12s %12s %14s %10s\n", "bus", "range",
		"device", "count", "time (us)", "avg (ns)");
	stats_bus(f, &vm->pio);
	stats_bus(f, &vm->mmio);
	getrusage(RUSAGE_SELF, &ru);
	if (vm->opt.launch_ns)
		fprintf(f,
			"\nstart-up %.3f ms from minivmm's start to the first KVM_RUN, %.3f ms of it loading the guest image",
			(vm->start_ns - vm->opt.launch_ns) / 1e6,
			vm->load_ns / 1e6);
	if (vm->opt.prefault == PREFAULT_ALL)
		fprintf(f,
			"\nprefault all: %" PRIu64 " of %" PRIu64
			" MiB faulted in, in %.3f ms",
			vm->prefault.done >> 20, vm->mem.size >> 20,
			vm->prefault.ns / 1e6);
	if (vm->opt.prefault == PREFAULT_AHEAD)
		fprintf(f,
			"\nprefault ahead: %" PRIu64
			" MiB faulted in ahead of the guest (at most %" PRIu64
			" MiB of it unused), the thread ran %.3f ms, %" PRIu64
			" scans of guest RAM took %.3f ms",
			vm->prefault.done >> 20, vm->prefault.unused >> 20,
			vm->prefault.ns / 1e6, vm->prefault.scans,
			vm->prefault.scan_ns / 1e6);
	if (vm->why)
		fprintf(f, "\nthe VM ended: %s", vm->why);
	fputc('\n', f);
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio_mmio_print_stats(vm->virtio[i].vd, f);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_print_end(&vm->vcpus[i], f);
	fprintf(f,
		"wall time %.3f ms, peak RSS %ld KiB, guest RAM resident %" PRIu64
		" KiB\n",
		(time_now_ns() - vm->start_ns) / 1e6, ru.ru_maxrss,
		mem_resident(&vm->mem) >> 10);
}
