/* The seccomp filters, one table of allowed calls per kind of thread (what
 * each call is for beside it), built with libseccomp and installed by each
 * thread on itself.  A call outside its thread's tables traps (SIGSYS):
 * sandbox_sigsys() writes one line with async-signal-safe calls only (the
 * names were resolved before any filter), restores the terminal, and makes
 * the same call again, which the kernel now delivers as a fatal SIGSYS
 * because the signal is blocked inside its own handler. */
#include "sandbox.h"
#include "term.h"
#include "../err.h"

#include <errno.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

/* One allowed call: any arguments (arg < 0), or argument @arg with
 * (value & mask) == val.  Several rules for one call are alternatives. */
struct sandbox_rule {
	int nr;
	int arg;
	uint64_t mask;
	uint64_t val;
};

/* clang-format off */
#define ANY(name) {SCMP_SYS(name), -1, 0, 0}
#define ARG(name, i, v) {SCMP_SYS(name), (i), ~0ull, (uint64_t)(v)}
#define MASKED(name, i, m, v) {SCMP_SYS(name), (i), (uint64_t)(m), (uint64_t)(v)}
#define IOCTL(req) ARG(ioctl, 1, (req))
#define RULES_END {-1, 0, 0, 0}
/* clang-format on */

/* Every thread. */
static const struct sandbox_rule rules_base[] = {
	ANY(futex),	     /* mutexes, condition variables, joins */
	ANY(rt_sigreturn),   /* back from the kick signal's handler */
	ANY(rt_sigprocmask), /* pthread_sigmask; glibc around clone/abort */
	ANY(exit),	     /* a thread ends */
	ANY(exit_group),     /* main returns; SIGSYS's last resort */
	ANY(restart_syscall),
	/* malloc and free: never executable memory */
	MASKED(mmap, 2, PROT_EXEC, 0),
	MASKED(mprotect, 2, PROT_EXEC, 0),
	ANY(munmap),
	ANY(mremap),
	ANY(brk),
	ARG(madvise, 2, MADV_DONTNEED), /* free() trimming, stack cache */
	ANY(write), /* stderr lines, console output, eventfds */
	/* time_now_ns, the RTC, the ACPI timer: the vDSO makes these calls
	 * itself where the host's clocksource has no vDSO support (a nested
	 * host on HPET or acpi_pm); and the boot timer's
	 * CLOCK_PROCESS_CPUTIME_ID on a vCPU thread, never in the vDSO */
	ANY(clock_gettime),
	ANY(gettimeofday),
	ANY(time),
	ANY(gettid),
	ANY(getpid),	  /* pthread_kill, raise */
	ANY(sched_yield), /* spinning on the ratelimit lock */
	IOCTL(TCSETS),	  /* term_restore: from the SIGSYS and crash handlers */
	/* stdio's first use of a stream (stdout for --trace-io, --stats):
	 * is it a tty? */
	IOCTL(TCGETS),
	ANY(fstat),
	ANY(newfstatat),
	RULES_END,
};

/* The main thread from the vCPUs' start: vm_wait, the console input, the
 * joins, the devices' stop and teardown, --stats, exit. */
static const struct sandbox_rule rules_main[] = {
	ANY(poll),	     /* vm_wait, term_read */
	ANY(read),	     /* the signalfd, eventfds, console input */
	ANY(close),	     /* vm_destroy */
	IOCTL(KVM_IRQ_LINE), /* COM1's interrupt for console input */
	ANY(tgkill),	     /* kicks a vCPU that missed its kick */
	ANY(getrusage),	     /* --stats: peak RSS */
	ANY(mincore),	     /* --stats: guest RAM resident */
	RULES_END,
};

/* vm_create again after a reboot with --on-reboot restart (only then is
 * it part of the main thread's filter); the threads it starts begin under
 * this filter too, and install theirs with seccomp(2). */
static const struct sandbox_rule rules_create[] = {
	ANY(openat),		    /* /dev/kvm, drive images, /dev/net/tun */
	ANY(sysinfo),		    /* mem_init: the host's RAM */
	ANY(prlimit64),		    /* liburing: RLIMIT_MEMLOCK for a ring */
	ARG(fcntl, 1, F_OFD_SETLK), /* a drive's lock */
	ARG(fcntl, 1, F_GETFL),	    /* a tap's O_NONBLOCK */
	ARG(fcntl, 1, F_SETFL),
	ANY(pread64), /* the loader reads the kernel again */
	ANY(eventfd2),
	ANY(epoll_create1),
	ANY(epoll_ctl),
	ANY(timerfd_create),		/* vsock's timeouts */
	ANY(io_uring_setup),		/* a drive's ring */
	ANY(io_uring_register),		/* its eventfd, the probe */
	ARG(madvise, 2, MADV_DONTDUMP), /* guest RAM */
	ARG(madvise, 2, MADV_HUGEPAGE), /* guest RAM, PC platform */
	ARG(socket, 0, AF_UNIX),	/* the vsock listener */
	ARG(socket, 0, AF_INET),	/* a tap's MTU */
	ANY(bind),			/* the vsock listener */
	ANY(listen),
	ANY(unlink),
	ANY(clone), /* pthread_create */
	ANY(clone3),
	ANY(set_robust_list), /* a new thread's first calls */
	ANY(rseq),
	ANY(rt_sigaction), /* vcpu_kick_init */
	ANY(seccomp),	   /* a new thread installs its filter */
	ARG(prctl, 0, PR_SET_NO_NEW_PRIVS),
	ARG(prctl, 0, PR_SET_NAME), /* a new thread names itself */
	IOCTL(KVM_GET_API_VERSION),
	IOCTL(KVM_GET_VCPU_MMAP_SIZE),
	IOCTL(KVM_CHECK_EXTENSION),
	IOCTL(KVM_CREATE_VM),
	IOCTL(KVM_GET_SUPPORTED_CPUID),
	IOCTL(KVM_GET_MSR_INDEX_LIST),
	IOCTL(KVM_SET_TSS_ADDR),
	IOCTL(KVM_SET_IDENTITY_MAP_ADDR),
	IOCTL(KVM_SET_USER_MEMORY_REGION),
	IOCTL(KVM_CREATE_IRQCHIP),
	IOCTL(KVM_CREATE_PIT2),
	IOCTL(KVM_SET_GSI_ROUTING),
	IOCTL(KVM_IOEVENTFD),
	IOCTL(KVM_IRQFD),
	IOCTL(KVM_CREATE_VCPU),
	IOCTL(KVM_SET_CPUID2),
	IOCTL(KVM_GET_LAPIC),
	IOCTL(KVM_SET_LAPIC),
	IOCTL(KVM_SET_MSRS),
	IOCTL(KVM_GET_SREGS),
	IOCTL(KVM_SET_SREGS),
	IOCTL(KVM_SET_REGS),
	IOCTL(BLKGETSIZE64), /* a drive on a block device */
	IOCTL(TUNSETIFF),    /* a tap */
	IOCTL(TUNGETIFF),
	IOCTL(SIOCGIFMTU),
	IOCTL(SIOCGIFINDEX), /* if_nametoindex: does the tap exist? */
	RULES_END,
};

/* A vCPU thread: KVM_RUN and the exits' device models (COM1, i8042, RTC,
 * ACPI, port 0xE9, the virtio registers). */
static const struct sandbox_rule rules_vcpu[] = {
	IOCTL(KVM_RUN),
	IOCTL(KVM_GET_REGS),	  /* the register dump of a fatal exit */
	IOCTL(KVM_GET_SREGS),	  /* and --stats' last state */
	IOCTL(KVM_GET_MP_STATE),  /* --stats */
	IOCTL(KVM_IRQ_LINE),	  /* COM1 and i8042 interrupts */
	IOCTL(KVM_KVMCLOCK_CTRL), /* after a pause (vm_resume) */
	ANY(tgkill),		  /* vm_stop kicks the other vCPUs */
	RULES_END,
};

/* Every virtio I/O thread, and whoever runs a device's callbacks. */
static const struct sandbox_rule rules_io[] = {
	ANY(epoll_wait),		 /* notifications, the device's fds */
	ANY(epoll_pwait),     ANY(read), /* eventfds */
	ANY(epoll_ctl),			 /* virtio_dev_watch_fd */
	IOCTL(KVM_IRQ_LINE),		 /* interrupts where KVM has no irqfd */
	ANY(timerfd_settime),		 /* a rate limiter's wake-up */
	ANY(timerfd_gettime), RULES_END,
};

static const struct sandbox_rule rules_blk[] = {
	ANY(io_uring_enter), /* io=uring: submit, wait, drain at reset */
	ANY(preadv),	     /* io=sync */
	ANY(pwritev),
	ANY(pwrite64), /* write-zeroes where fallocate cannot */
	ANY(fdatasync),
	ANY(fallocate), /* discard, write-zeroes */
	RULES_END,
};

/* Only the virtio-blk I/O thread, not the vCPUs that run blk's register
 * callbacks: a swapped medium's old file is closed where the swap is done
 * (blk_swap_take), once its last request completed. */
static const struct sandbox_rule rules_blk_io[] = {
	ANY(close),
	RULES_END,
};

static const struct sandbox_rule rules_net[] = {
	ANY(readv), /* the tap */
	ANY(writev),
	IOCTL(TUNSETVNETHDRSZ), /* at DRIVER_OK, on the vCPU */
	IOCTL(TUNSETOFFLOAD),	/* at DRIVER_OK and reset */
	RULES_END,
};

static const struct sandbox_rule rules_vsock[] = {
	ARG(socket, 0, AF_UNIX), /* a guest's connection to a host port */
	ANY(connect),
	ANY(accept4),	 /* a host program's connection */
	ANY(getsockopt), /* SO_ERROR of a non-blocking connect */
	ANY(recvfrom),
	ANY(readv),
	ANY(sendto),
	ANY(sendmsg),
	ANY(shutdown),
	ANY(close),
	ANY(timerfd_settime),	       /* connection timeouts */
	ARG(setsockopt, 2, SO_SNDBUF), /* a host socket's send buffer */
	RULES_END,
};

static const struct sandbox_rule rules_rng[] = {
	ANY(getrandom),
	RULES_END,
};

/* What only the main thread does for a device, at teardown. */
static const struct sandbox_rule rules_vsock_main[] = {
	ANY(unlink), /* the listener's socket file, if still ours */
	RULES_END,
};

/* What the main thread of `minivmm fc` does with the API at the end:
 * api_server_close() stops libmicrohttpd (it shuts its connections down)
 * and removes the socket. */
static const struct sandbox_rule rules_api_main[] = {
	ANY(shutdown),
	ANY(epoll_ctl),
	ANY(unlink), /* the API socket, if still ours */
	RULES_END,
};

static const struct sandbox_rule rules_prefault[] = {
	ARG(madvise, 2, MADV_POPULATE_WRITE),
	ANY(mincore),	      /* prefault ahead's scans */
	ANY(clock_nanosleep), /* usleep between scans */
	ANY(nanosleep),
	RULES_END,
};

/* The HTTP API thread: libmicrohttpd in external polling mode on a UNIX
 * socket, its requests handed to the VM through eventfds and locks. */
static const struct sandbox_rule rules_api[] = {
	ANY(accept4),
	ANY(read),
	ANY(recvfrom),
	ANY(recvmsg),
	ANY(writev),
	ANY(sendto),
	ANY(sendmsg),
	ANY(close),
	ANY(shutdown),
	ANY(poll),
	ANY(ppoll),
	ANY(select),
	ANY(pselect6),
	ANY(epoll_wait),
	ANY(epoll_pwait),
	ANY(epoll_ctl),
	ANY(getsockopt),
	ANY(setsockopt),
	ANY(getsockname),
	ANY(getpeername),
	ARG(fcntl, 1, F_GETFL),
	ARG(fcntl, 1, F_SETFL),
	ARG(fcntl, 1, F_GETFD),
	ARG(fcntl, 1, F_SETFD),
	ANY(clock_nanosleep),
	ANY(tgkill),	      /* pause and stop kick the vCPUs (vcpu_kick) */
	IOCTL(KVM_IRQ_LINE),  /* SendCtrlAltDel: the i8042's IRQ 1 */
	ANY(timerfd_settime), /* a PATCHed rate limiter wakes its device */
	/* PUT /logger and PUT /metrics open their file, before the start:
	 * with exactly these flags (log_open, metrics_open), so the thread
	 * may create and append to a file, never read one. */
	MASKED(openat, 2, 0xffffffffu, /* an int: the upper half is junk */
	       O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC),
	/* PATCH /drives/{id} with path_on_host after the start opens the new
	 * medium here (disk_file_open, before the device thread swaps it
	 * in), as disk_open does: read-write, or read-only for a read-only
	 * drive; never created, never truncated. */
	MASKED(openat, 2, 0xffffffffu, O_RDWR | O_CLOEXEC),
	MASKED(openat, 2, 0xffffffffu, O_RDONLY | O_CLOEXEC),
	ARG(fcntl, 1, F_OFD_SETLK), /* and locks it (fstat: every thread) */
	/* the drive's own file again (resized): a duplicate of its fd,
	 * which shares the lock */
	ARG(fcntl, 1, F_DUPFD_CLOEXEC),
	IOCTL(BLKGETSIZE64), /* its size, if a block device */
	RULES_END,
};

#ifdef SANDBOX_SANITIZER
/* The sanitizer runtimes' own calls (make SANITIZE=1, SANITIZE=thread),
 * never in a production build: every thread's, */
static const struct sandbox_rule rules_sanitizer[] = {
	ANY(sigaltstack), /* ASan: each thread's alternate stack */
	ANY(sched_getaffinity),
	ANY(madvise), /* ASan: a thread's shadow memory given back at exit */
	/* a report, from any thread: the module list (/proc/self/maps) and
	 * the in-process symbolizer reading the binaries */
	ANY(open),
	ANY(openat),
	ANY(read),
	ANY(readlink),
	ANY(fcntl),
	ANY(lseek),
	ANY(close),
	ANY(stat),
	RULES_END,
};

/* No process may be started (TSan would start llvm-symbolizer for a
 * report, which could not run under the filter it inherits): these fail
 * with EPERM instead of killing, and the report is printed unsymbolized. */
static const int sanitizer_refused[] = {SCMP_SYS(pipe), SCMP_SYS(pipe2),
					SCMP_SYS(fork), SCMP_SYS(vfork),
					SCMP_SYS(execve)};

/* and the main thread's at exit: LeakSanitizer stops the world from a
 * tracer process it clones (which starts under this filter), attaches to
 * every thread listed in /proc/self/task with ptrace, and reads
 * /proc/self/maps. */
static const struct sandbox_rule rules_sanitizer_main[] = {
	ANY(clone),	   /* the tracer task */
	ANY(prctl),	   /* PR_SET_PTRACER, PR_SET_DUMPABLE, ... */
	ANY(ptrace),	   /* it attaches to every thread */
	ANY(wait4),	   /* and waits for them to stop */
	ANY(getppid),	   /* is its parent alive? */
	ANY(rt_sigaction), /* its own handlers */
	ANY(open),	   /* /proc/self/task, /proc/self/maps */
	ANY(getdents),	   /* /proc/self/task */
	ANY(lseek),	   /* reading them */
	ANY(readlink),	   /* /proc/self/exe */
	ANY(openat),	   /* a report's symbolizer reads the binaries */
	ANY(fcntl),	   RULES_END,
};
#endif

static const char *const thread_names[SANDBOX_KINDS] = {
	[SANDBOX_MAIN] = "main",
	[SANDBOX_VCPU] = "vCPU",
	[SANDBOX_IO_BLK] = "virtio-blk I/O",
	[SANDBOX_IO_NET] = "virtio-net I/O",
	[SANDBOX_IO_VSOCK] = "virtio-vsock I/O",
	[SANDBOX_IO_RNG] = "virtio-rng I/O",
	[SANDBOX_PREFAULT] = "prefault",
	[SANDBOX_API] = "API",
};

/* The device kinds' rules, for their I/O thread and their callbacks. */
static const struct sandbox_rule *const device_rules[SANDBOX_KINDS] = {
	[SANDBOX_IO_BLK] = rules_blk,
	[SANDBOX_IO_NET] = rules_net,
	[SANDBOX_IO_VSOCK] = rules_vsock,
	[SANDBOX_IO_RNG] = rules_rng,
};

const char *sandbox_thread_name(enum sandbox_thread kind)
{
	return kind < SANDBOX_KINDS ? thread_names[kind] : "unknown";
}

/* For the SIGSYS handler, which may call neither malloc nor libseccomp. */
#define SANDBOX_NAMES 512
#define SANDBOX_NAME_LEN 32
static char syscall_names[SANDBOX_NAMES][SANDBOX_NAME_LEN];
static _Thread_local int thread_kind = -1;
static int sigsys_said; /* atomic: one line, even if two threads trap */
static pthread_once_t sandbox_once = PTHREAD_ONCE_INIT;
static int sandbox_init_err;

static size_t put_str(char *buf, size_t at, size_t size, const char *s)
{
	while (*s && at + 1 < size)
		buf[at++] = *s++;
	return at;
}

static size_t put_uint(char *buf, size_t at, size_t size, unsigned long v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && at + 1 < size)
		buf[at++] = tmp[--n];
	return at;
}

static size_t put_hex(char *buf, size_t at, size_t size, unsigned long v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % 16];
		v /= 16;
	} while (v);
	at = put_str(buf, at, size, "0x");
	while (n && at + 1 < size)
		buf[at++] = tmp[--n];
	return at;
}

static void sandbox_sigsys(int sig, siginfo_t *si, void *ucv)
{
	const ucontext_t *uc = ucv;
	const greg_t *r = uc->uc_mcontext.gregs;
	int nr = si->si_syscall;
	char line[192];
	size_t n = 0;

	(void)sig;
	if (!__atomic_exchange_n(&sigsys_said, 1, __ATOMIC_ACQ_REL)) {
		n = put_str(line, n, sizeof(line), "minivmm: seccomp: ");
		n = put_str(line, n, sizeof(line),
			    thread_kind >= 0 ? thread_names[thread_kind]
					     : "unknown");
		n = put_str(line, n, sizeof(line),
			    " thread made a forbidden system call: ");
		n = put_str(line, n, sizeof(line),
			    nr >= 0 && nr < SANDBOX_NAMES &&
					    syscall_names[nr][0]
				    ? syscall_names[nr]
				    : "unknown");
		n = put_str(line, n, sizeof(line), " (");
		n = put_uint(line, n, sizeof(line), (unsigned long)nr);
		n = put_str(line, n, sizeof(line), ")");
		/* Which ioctl: the call alone would not say. */
		if (nr == SYS_ioctl) {
			n = put_str(line, n, sizeof(line), ", request ");
			n = put_hex(line, n, sizeof(line),
				    (unsigned long)r[REG_RSI]);
		}
		n = put_str(line, n, sizeof(line), "\n");
		if (write(STDERR_FILENO, line, n) < 0) {
			/* nowhere else to say it */
		}
		term_restore();
	}
	/* SIGSYS is blocked in its handler: the same call traps again, and
	 * the kernel delivers that SIGSYS with its default action. */
	syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8],
		r[REG_R9]);
	syscall(SYS_exit_group, 128 + SIGSYS);
}

static void sandbox_init(void)
{
	struct sigaction sa;

	for (int nr = 0; nr < SANDBOX_NAMES; nr++) {
		char *name =
			seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name) {
			snprintf(syscall_names[nr], SANDBOX_NAME_LEN, "%s",
				 name);
			free(name);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		sandbox_init_err = -errno;
}

static int sandbox_add(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	for (; r->nr != -1; r++) {
		int ret;

		if (r->arg < 0)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 0);
		else
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					       SCMP_CMP((unsigned)r->arg,
							SCMP_CMP_MASKED_EQ,
							r->mask, r->val));
		if (ret && ret != -EEXIST)
			return err_set(ret, "seccomp: cannot allow %s: %s",
				       r->nr >= 0 && r->nr < SANDBOX_NAMES
					       ? syscall_names[r->nr]
					       : "a system call",
				       strerror(-ret));
	}
	return 0;
}

/* The devices' rules for a thread that runs their callbacks. */
static int sandbox_add_devices(scmp_filter_ctx ctx, unsigned devices)
{
	int ret = 0;

	if (devices)
		ret = sandbox_add(ctx, rules_io);
	for (unsigned k = 0; !ret && k < SANDBOX_KINDS; k++)
		if ((devices & SANDBOX_DEV(k)) && device_rules[k])
			ret = sandbox_add(ctx, device_rules[k]);
	return ret;
}

static int sandbox_add_kind(scmp_filter_ctx ctx, const struct sandbox *sb,
			    enum sandbox_thread kind)
{
	int ret;

	switch (kind) {
	case SANDBOX_MAIN:
		ret = sandbox_add(ctx, rules_main);
#ifdef SANDBOX_SANITIZER
		if (!ret)
			ret = sandbox_add(ctx, rules_sanitizer_main);
#endif
		if (!ret)
			ret = sandbox_add_devices(ctx, sb->devices);
		if (!ret && (sb->devices & SANDBOX_DEV(SANDBOX_IO_VSOCK)))
			ret = sandbox_add(ctx, rules_vsock_main);
		if (!ret && sb->api)
			ret = sandbox_add(ctx, rules_api_main);
		/* The threads of the next boot start under this filter. */
		if (!ret && sb->restart)
			ret = sandbox_add(ctx, rules_create);
		if (!ret && sb->restart)
			ret = sandbox_add(ctx, rules_vcpu);
		if (!ret && sb->restart)
			ret = sandbox_add(ctx, rules_prefault);
		return ret;
	case SANDBOX_VCPU:
		ret = sandbox_add(ctx, rules_vcpu);
		if (!ret)
			ret = sandbox_add_devices(ctx, sb->devices);
		return ret;
	case SANDBOX_IO_BLK:
		ret = sandbox_add_devices(ctx, SANDBOX_DEV(kind));
		if (!ret)
			ret = sandbox_add(ctx, rules_blk_io);
		return ret;
	case SANDBOX_IO_NET:
	case SANDBOX_IO_VSOCK:
	case SANDBOX_IO_RNG:
		return sandbox_add_devices(ctx, SANDBOX_DEV(kind));
	case SANDBOX_PREFAULT:
		return sandbox_add(ctx, rules_prefault);
	case SANDBOX_API:
		return sandbox_add(ctx, rules_api);
	default:
		return err_set(-EINVAL, "seccomp: no filter for thread kind %d",
			       (int)kind);
	}
}

int sandbox_apply(const struct sandbox *sb, enum sandbox_thread kind)
{
	scmp_filter_ctx ctx;
	int ret;

	if (!sb || !sb->enabled)
		return 0;
	pthread_once(&sandbox_once, sandbox_init);
	if (sandbox_init_err)
		return err_set(sandbox_init_err, "seccomp: sigaction: %s",
			       strerror(-sandbox_init_err));
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return err_set(-ENOMEM, "seccomp: cannot create a filter");
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			       SCMP_ACT_KILL_PROCESS);
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (ret) {
		ret = err_set(ret, "seccomp: filter attributes: %s",
			      strerror(-ret));
		goto out;
	}
	ret = sandbox_add(ctx, rules_base);
#ifdef SANDBOX_SANITIZER
	if (!ret)
		ret = sandbox_add(ctx, rules_sanitizer);
	for (size_t i = 0; !ret && i < sizeof(sanitizer_refused) / sizeof(int);
	     i++) {
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
				       sanitizer_refused[i], 0);
		if (ret)
			ret = err_set(ret, "seccomp: %s", strerror(-ret));
	}
#endif
	if (!ret)
		ret = sandbox_add_kind(ctx, sb, kind);
	if (ret)
		goto out;
	thread_kind = (int)kind;
	ret = seccomp_load(ctx);
	if (ret) {
		thread_kind = -1;
		ret = err_set(ret, "seccomp: cannot install the %s filter: %s",
			      thread_names[kind], strerror(-ret));
	}
out:
	seccomp_release(ctx);
	return ret;
}
