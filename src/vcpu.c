/* The vCPU thread: KVM_RUN, then one handler per exit reason, then KVM_RUN
 * again, until the vCPU halts or the VM stops.  A guest error never aborts
 * minivmm: it ends the VM with a status and a register dump. */
#include "vcpu.h"
#include "host/log.h"
#include "err.h"
#include "trace.h"
#include "vm.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* What the run loop does after an exit. */
enum vcpu_action {
	VCPU_CONTINUE,
	VCPU_HALT, /* this vCPU is done; the VM ends when all are */
	VCPU_STOP, /* the VM is stopping */
};

#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	[KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
	[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
	[KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
};

const char *vcpu_exit_name(unsigned reason)
{
	if (reason < sizeof(exit_names) / sizeof(exit_names[0]) &&
	    exit_names[reason])
		return exit_names[reason];
	return "OTHER";
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_kick_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler; /* no SA_RESTART: KVM_RUN returns */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return err_set(-errno, "sigaction: %s", strerror(errno));
	return 0;
}

int vcpu_create(struct vm *vm, unsigned id, struct vcpu *c)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->vm = vm;
	c->id = id;
	c->fd = -1;
	ret = kvm_create_vcpu(&vm->kvm, vm->fd, id, &c->fd, &c->run);
	if (ret)
		return ret;
	ret = cpuid_setup(c->fd, vm->cpuid, id, vm->opt.cpus);
	if (ret)
		vcpu_destroy(c);
	return ret;
}

void vcpu_destroy(struct vcpu *c)
{
	if (c->run)
		munmap(c->run, (size_t)c->vm->kvm.vcpu_mmap_size);
	if (c->fd >= 0)
		close(c->fd);
	c->run = NULL;
	c->fd = -1;
}

void vcpu_kick(struct vcpu *c)
{
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->thread_created, __ATOMIC_ACQUIRE) &&
	    !pthread_equal(c->thread, pthread_self()))
		pthread_kill(c->thread, VCPU_KICK_SIGNAL);
}

static void seg_dump(FILE *f, const char *name, const struct kvm_segment *s)
{
	fprintf(f,
		"  %-3s sel=%04x base=%016llx limit=%08x type=%x s=%u dpl=%u p=%u db=%u l=%u g=%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit,
		s->type, s->s, s->dpl, s->present, s->db, s->l, s->g);
}

void vcpu_dump(struct vcpu *c, FILE *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(c->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(c->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(f, "  (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(f, "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n", r.rax,
		r.rbx, r.rcx, r.rdx);
	fprintf(f, "  rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx\n", r.rsi,
		r.rdi, r.rbp, r.rsp);
	fprintf(f, "  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n", r.r8,
		r.r9, r.r10, r.r11);
	fprintf(f, "  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n", r.r12,
		r.r13, r.r14, r.r15);
	fprintf(f, "  rip=%016llx rflags=%016llx\n", r.rip, r.rflags);
	seg_dump(f, "cs", &s.cs);
	seg_dump(f, "ds", &s.ds);
	seg_dump(f, "es", &s.es);
	seg_dump(f, "fs", &s.fs);
	seg_dump(f, "gs", &s.gs);
	seg_dump(f, "ss", &s.ss);
	seg_dump(f, "tr", &s.tr);
	seg_dump(f, "ldt", &s.ldt);
	fprintf(f,
		"  gdt base=%016llx limit=%04x  idt base=%016llx limit=%04x\n",
		s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
	fprintf(f, "  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx\n", s.cr0,
		s.cr2, s.cr3, s.cr4);
	fprintf(f, "  cr8=%016llx efer=%016llx apic_base=%016llx\n", s.cr8,
		s.efer, s.apic_base);
}

/* Ends the VM because of this vCPU: prints why and its registers. */
static enum vcpu_action vcpu_fatal(struct vcpu *c, int status, const char *fmt,
				   ...) __attribute__((format(printf, 3, 4)));

static enum vcpu_action vcpu_fatal(struct vcpu *c, int status, const char *fmt,
				   ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(LOG_ERROR, "vcpu %u: %s", c->id, msg);
	flockfile(stderr);
	vcpu_dump(c, stderr);
	funlockfile(stderr);
	vm_stop(c->vm, status, "a fatal vCPU exit");
	return VCPU_STOP;
}

static enum vcpu_action vcpu_handle_io(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	struct vm *vm = c->vm;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if (run->io.data_offset + bytes > (uint64_t)vm->kvm.vcpu_mmap_size ||
	    !run->io.size || run->io.size > 4)
		return vcpu_fatal(c, VM_STATUS_ERROR,
				  "KVM reported a malformed port I/O exit");
	for (uint32_t i = 0; i < run->io.count; i++) {
		uint8_t *p = data + i * run->io.size;

		bus_dispatch(&vm->pio, run->io.port, p, run->io.size, is_write);
		if (vm->opt.trace_io)
			trace_pio(stdout, run->io.port, is_write, p,
				  run->io.size);
	}
	return VCPU_CONTINUE;
}

static enum vcpu_action vcpu_handle_mmio(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	struct vm *vm = c->vm;

	if (!run->mmio.len || run->mmio.len > sizeof(run->mmio.data))
		return vcpu_fatal(c, VM_STATUS_ERROR,
				  "KVM reported a malformed MMIO exit");
	bus_dispatch(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
		     run->mmio.len, run->mmio.is_write);
	if (vm->opt.trace_mmio)
		trace_mmio(stdout, run->mmio.phys_addr, run->mmio.is_write,
			   run->mmio.data, run->mmio.len);
	return VCPU_CONTINUE;
}

static enum vcpu_action vcpu_handle_hlt(struct vcpu *c)
{
	struct vm *vm = c->vm;

	/* No interrupt can wake a halted vCPU without an irqchip. */
	if (__atomic_add_fetch(&vm->halted, 1, __ATOMIC_SEQ_CST) ==
	    vm->nr_vcpus)
		vm_stop(vm, VM_STATUS_OK, "every vCPU halted");
	return VCPU_HALT;
}

static enum vcpu_action vcpu_handle_system_event(struct vcpu *c)
{
	switch (c->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_stop(c->vm, VM_STATUS_OK,
			"guest power-off (KVM_SYSTEM_EVENT)");
		return VCPU_STOP;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_reset(c->vm, "guest reset (KVM_SYSTEM_EVENT)");
		return VCPU_STOP;
	case KVM_SYSTEM_EVENT_CRASH:
		return vcpu_fatal(c, VM_STATUS_GUEST_FAULT,
				  "guest crashed (KVM_SYSTEM_EVENT_CRASH)");
	default:
		return vcpu_fatal(c, VM_STATUS_ERROR, "unknown system event %u",
				  c->run->system_event.type);
	}
}

static enum vcpu_action vcpu_handle_internal_error(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	char extra[200] = "";
	size_t n = 0;
	uint32_t ndata = run->internal.ndata;

	if (ndata > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
		ndata = sizeof(run->internal.data) /
			sizeof(run->internal.data[0]);
	for (uint32_t i = 0; i < ndata && n < sizeof(extra) - 20; i++)
		n += (size_t)snprintf(
			extra + n, sizeof(extra) - n, " %llx",
			(unsigned long long)run->internal.data[i]);
	return vcpu_fatal(
		c, VM_STATUS_GUEST_FAULT,
		"KVM internal error %u%s (KVM_EXIT_INTERNAL_ERROR)%s%s",
		run->internal.suberror,
		run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			? ": emulation failure"
			: "",
		ndata ? ", data:" : "", extra);
}

static enum vcpu_action vcpu_handle_exit(struct vcpu *c)
{
	struct kvm_run *run = c->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return vcpu_handle_io(c);
	case KVM_EXIT_MMIO:
		return vcpu_handle_mmio(c);
	case KVM_EXIT_HLT:
		return vcpu_handle_hlt(c);
	case KVM_EXIT_SHUTDOWN:
		/* A PC resets on a triple fault (Linux's reboot=t relies on
		 * it); for a raw guest it is a crash. */
		if (c->vm->opt.platform == VM_PLATFORM_PC) {
			/* Deliberate (reboot=t) or a crash: --stats says
			 * which vCPU.  No register dump: on AMD, KVM has
			 * already put the vCPU through INIT. */
			if (c->vm->opt.stats)
				fprintf(stderr,
					"minivmm: vcpu %u: triple fault, the guest resets\n",
					c->id);
			vm_request_reset(c->vm, "guest reset (triple fault)");
			return VCPU_STOP;
		}
		return vcpu_fatal(c, VM_STATUS_GUEST_FAULT,
				  "guest triple fault (KVM_EXIT_SHUTDOWN)");
	case KVM_EXIT_SYSTEM_EVENT:
		return vcpu_handle_system_event(c);
	case KVM_EXIT_INTERNAL_ERROR:
		return vcpu_handle_internal_error(c);
	case KVM_EXIT_FAIL_ENTRY:
		return vcpu_fatal(
			c, VM_STATUS_GUEST_FAULT,
			"KVM could not enter the guest, hardware reason 0x%llx (KVM_EXIT_FAIL_ENTRY)",
			(unsigned long long)
				run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_DEBUG:
		fprintf(stderr,
			"minivmm: vcpu %u: debug exit: exception %u at rip 0x%llx, dr6 0x%llx, dr7 0x%llx\n",
			c->id, run->debug.arch.exception,
			(unsigned long long)run->debug.arch.pc,
			(unsigned long long)run->debug.arch.dr6,
			(unsigned long long)run->debug.arch.dr7);
		return VCPU_CONTINUE;
	case KVM_EXIT_INTR:
		return VCPU_CONTINUE;
	default:
		return vcpu_fatal(c, VM_STATUS_ERROR,
				  "unhandled exit reason %u (%s)",
				  run->exit_reason,
				  vcpu_exit_name(run->exit_reason));
	}
}

static const char *mp_state_name(uint32_t state)
{
	switch (state) {
	case KVM_MP_STATE_RUNNABLE:
		return "running";
	case KVM_MP_STATE_UNINITIALIZED:
		return "waiting for INIT";
	case KVM_MP_STATE_INIT_RECEIVED:
		return "waiting for SIPI";
	case KVM_MP_STATE_HALTED:
		return "halted";
	case KVM_MP_STATE_SIPI_RECEIVED:
		return "starting (SIPI)";
	}
	return "in another state";
}

/* SS.DPL is the CPL in protected mode (KVM reports it so on AMD too); real
 * mode runs at 0, virtual-8086 mode at 3. */
static unsigned cpl_of(const struct kvm_regs *r, const struct kvm_sregs *s)
{
	if (!(s->cr0 & CR0_PE))
		return 0;
	if (r->rflags & RFLAGS_VM)
		return 3;
	return s->ss.dpl;
}

/* Records where the vCPU is; only from its own thread, out of KVM_RUN. */
static void vcpu_record_end(struct vcpu *c)
{
	struct kvm_mp_state mp;
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(c->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(c->fd, KVM_GET_SREGS, &s) < 0 ||
	    ioctl(c->fd, KVM_GET_MP_STATE, &mp) < 0)
		return;
	c->end = (struct vcpu_end){
		.valid = true,
		.mp_state = mp.mp_state,
		.rip = r.rip,
		.rflags = r.rflags,
		.cpl = cpl_of(&r, &s),
	};
}

void vcpu_print_end(const struct vcpu *c, FILE *f)
{
	if (!c->end.valid)
		return;
	fprintf(f, "vcpu %u: %s, rip 0x%llx (cpl %u), interrupts %s\n", c->id,
		mp_state_name(c->end.mp_state), (unsigned long long)c->end.rip,
		c->end.cpl, c->end.rflags & RFLAGS_IF ? "on" : "off");
}

/* One writer (this vCPU's thread), read by the metrics from another. */
static void vcpu_count(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
}

static void vcpu_count_exit(struct vcpu *c, unsigned reason)
{
	if (reason >= VCPU_EXIT_REASONS)
		return;
	vcpu_count(&c->stats.count[reason]);
	if (reason == KVM_EXIT_IO && c->run->io.direction == KVM_EXIT_IO_IN)
		vcpu_count(&c->stats.io_in);
	if (reason == KVM_EXIT_MMIO && c->run->mmio.is_write)
		vcpu_count(&c->stats.mmio_write);
}

void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	struct vm *vm = c->vm;
	bool trace = vm->opt.trace_io || vm->opt.trace_mmio;
	bool stats = vm->opt.stats;
	sigset_t kick;
	int ret;

	/* Its name in ps, top -H and /proc (prctl, before the filter). */
	snprintf(c->name, sizeof(c->name), "fc_vcpu %u", c->id);
	pthread_setname_np(pthread_self(), c->name);
	/* The filter first, then wait for the main thread's: no guest code
	 * runs before every thread is sandboxed. */
	ret = sandbox_apply(&vm->sandbox, SANDBOX_VCPU);
	if (ret) {
		fprintf(stderr, "minivmm: vcpu %u: %s\n", c->id, err_msg());
		vm_stop(vm, VM_STATUS_ERROR, "no seccomp filter");
	}
	pthread_mutex_lock(&vm->gate_lock);
	while (!vm->gate_open)
		pthread_cond_wait(&vm->gate_cond, &vm->gate_lock);
	pthread_mutex_unlock(&vm->gate_lock);
	if (ret)
		return NULL;
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	log_set_thread(c->name);

	while (!vm_is_stopping(vm)) {
		enum vcpu_action action;
		uint64_t t0 = 0;
		unsigned reason;

		vm_park_vcpu(vm, c);
		if (trace)
			trace_enter(stdout);
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vcpu_fatal(c, VM_STATUS_ERROR, "KVM_RUN failed: %s",
				   strerror(errno));
			break;
		}
		if (stats)
			t0 = time_now_ns();
		reason = c->run->exit_reason;
		vcpu_count_exit(c, reason);
		action = vcpu_handle_exit(c);
		if (stats && reason < VCPU_EXIT_REASONS)
			c->stats.ns[reason] += time_now_ns() - t0;
		if (vm->opt.max_exits &&
		    __atomic_add_fetch(&vm->exits, 1, __ATOMIC_RELAXED) >=
			    vm->opt.max_exits)
			vm_stop(vm, VM_STATUS_OK, "--max-exits reached");
		if (action != VCPU_CONTINUE)
			break;
	}
	if (stats)
		vcpu_record_end(c);
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_ended++;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return NULL;
}
