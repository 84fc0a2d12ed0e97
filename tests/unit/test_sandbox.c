/* Unit tests for the seccomp sandbox: for each thread kind, a forked child
 * installs minivmm's own filter (sandbox_apply, the code the threads run)
 * and makes one call.  A forbidden call kills it by SIGSYS with exactly one
 * stderr line naming the thread kind and the call; an allowed one returns
 * as the kernel answers it (EBADF on a bad fd, not a trap). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "host/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The sanitizer builds allow the main thread LeakSanitizer's ptrace, every
 * thread ASan's madvise and a report's open and openat, and refuse execve
 * with EPERM (src/host/sandbox.c): those cases are for the production
 * filters only. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifdef SANITIZER_BUILD
static const bool sanitizer_build = true;
#else
static const bool sanitizer_build = false;
#endif

/* The calls, raw (no sanitizer interceptor in between).  Forbidden ones
 * never return; allowed ones return 0 when the kernel answered as
 * expected. */
static long call_ptrace(void)
{
	return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
}

static long call_execve(void)
{
	static char *const argv[] = {"true", NULL};

	return syscall(SYS_execve, "/bin/true", argv, argv + 1);
}

static long call_socket_inet(void)
{
	return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
}

static long call_socket_unix(void)
{
	long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);

	return fd >= 0 ? 0 : -1;
}

static long call_openat(void)
{
	return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
}

static long call_mmap_exec(void)
{
	return syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Allowed with a bad fd: the kernel's EBADF, not SIGSYS. */
static long ebadf(long r)
{
	return r == -1 && errno == EBADF ? 0 : -1;
}

/* The flags a drive's new medium is opened with on the API thread
 * (disk_file_open), and two it never uses. */
static long openat_flags(int flags)
{
	return syscall(SYS_openat, AT_FDCWD, "/dev/null", flags) >= 0 ? 0 : -1;
}

static long call_openat_drive_rw(void)
{
	return openat_flags(O_RDWR | O_CLOEXEC);
}

static long call_openat_drive_ro(void)
{
	return openat_flags(O_RDONLY | O_CLOEXEC);
}

static long call_openat_creat(void)
{
	return openat_flags(O_RDWR | O_CREAT | O_CLOEXEC);
}

static long call_openat_trunc(void)
{
	return openat_flags(O_WRONLY | O_TRUNC | O_CLOEXEC);
}

static long call_ofd_lock(void)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	return ebadf(syscall(SYS_fcntl, -1, F_OFD_SETLK, &fl));
}

static long call_close(void)
{
	return ebadf(syscall(SYS_close, -1));
}

static long call_kvm_run(void)
{
	return ebadf(syscall(SYS_ioctl, -1, KVM_RUN, 0));
}

static long call_kvm_create_vm(void)
{
	return ebadf(syscall(SYS_ioctl, -1, KVM_CREATE_VM, 0));
}

static long call_kvm_irq_line(void)
{
	return ebadf(syscall(SYS_ioctl, -1, KVM_IRQ_LINE, 0));
}

static long call_tunsetiff(void)
{
	return ebadf(syscall(SYS_ioctl, -1, TUNSETIFF, 0));
}

static long call_tunsetoffload(void)
{
	return ebadf(syscall(SYS_ioctl, -1, TUNSETOFFLOAD, 0));
}

static long call_io_uring_enter(void)
{
	return ebadf(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
}

static long call_preadv(void)
{
	char b[8];
	struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};

	return ebadf(syscall(SYS_preadv, -1, &iov, 1, 0, 0));
}

static long call_writev(void)
{
	char b[8] = "x";
	struct iovec iov = {.iov_base = b, .iov_len = 1};

	return ebadf(syscall(SYS_writev, -1, &iov, 1));
}

static long call_epoll_wait(void)
{
	struct epoll_event ev;

	return ebadf(syscall(SYS_epoll_wait, -1, &ev, 1, 0));
}

static long call_accept4(void)
{
	return ebadf(syscall(SYS_accept4, -1, NULL, NULL, 0));
}

static long call_poll(void)
{
	return syscall(SYS_poll, NULL, 0, 0) == 0 ? 0 : -1;
}

static long call_getrandom(void)
{
	char b[16];

	return syscall(SYS_getrandom, b, sizeof(b), 0) == sizeof(b) ? 0 : -1;
}

/* malloc, free and a lock: every thread's basics. */
static long call_malloc(void)
{
	char *big = malloc(4 << 20), *small = malloc(100);
	int ok = big && small;

	if (ok) {
		memset(big, 1, 4 << 20);
		memset(small, 1, 100);
	}
	free(big);
	free(small);
	return ok ? 0 : -1;
}

static long call_madvise_populate(void)
{
	void *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char vec[16];
	long r;

	if (p == MAP_FAILED)
		return -1;
	r = syscall(SYS_madvise, p, 1 << 16, MADV_POPULATE_WRITE);
	/* EINVAL on a kernel before 5.14: allowed all the same */
	if (r && errno != EINVAL)
		return -1;
	r = syscall(SYS_mincore, p, 1 << 16, vec);
	munmap(p, 1 << 16);
	return r;
}

static long call_madvise_remove(void)
{
	return syscall(SYS_madvise, NULL, 0, MADV_REMOVE);
}

#define ALL_DEVICES                                                  \
	(SANDBOX_DEV(SANDBOX_IO_BLK) | SANDBOX_DEV(SANDBOX_IO_NET) | \
	 SANDBOX_DEV(SANDBOX_IO_VSOCK) | SANDBOX_DEV(SANDBOX_IO_RNG))

struct sandbox_case {
	enum sandbox_thread kind;
	unsigned devices;
	bool restart;
	long (*call)(void);
	const char *forbidden; /* the name in the line, or NULL: allowed */
	int nr;
};

/* The request an ioctl case makes, which its line names. */
static unsigned long ioctl_request(long (*call)(void))
{
	if (call == call_kvm_run)
		return KVM_RUN;
	if (call == call_kvm_create_vm)
		return KVM_CREATE_VM;
	if (call == call_kvm_irq_line)
		return KVM_IRQ_LINE;
	if (call == call_tunsetiff)
		return TUNSETIFF;
	return TUNSETOFFLOAD;
}

/* Runs @c in a child; returns its wait status, its stderr in @err. */
static int run_case(const struct sandbox_case *c, char *err, size_t len)
{
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(pfd))
		fail_msg("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		struct sandbox sb = {
			.enabled = true,
			.devices = c->devices,
			.restart = c->restart,
		};

		setrlimit(RLIMIT_CORE, &no_core);
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		if (sandbox_apply(&sb, c->kind))
			_exit(100);
		_exit(c->call() == 0 ? 0 : 99);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], err + got, len - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = 0;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid)
		fail_msg("waitpid: %s", strerror(errno));
	return status;
}

static void check_case(const struct sandbox_case *c)
{
	char err[512], want[256];
	int status;

	if (sanitizer_build && c->forbidden &&
	    ((c->kind == SANDBOX_MAIN && c->nr == SYS_ptrace) ||
	     c->nr == SYS_madvise || c->nr == SYS_openat ||
	     c->nr == SYS_close || c->nr == SYS_execve))
		return;
	status = run_case(c, err, sizeof(err));
	if (!c->forbidden) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg(
				"%s thread, allowed call (case of %s): status 0x%x, stderr: %s",
				sandbox_thread_name(c->kind),
				c->call == call_malloc ? "malloc" : "a call",
				status, err);
		assert_string_equal(err, "");
		return;
	}
	if (c->nr == SYS_ioctl)
		snprintf(
			want, sizeof(want),
			"minivmm: seccomp: %s thread made a forbidden system call: ioctl (%d), request 0x%lx\n",
			sandbox_thread_name(c->kind), c->nr,
			ioctl_request(c->call));
	else
		snprintf(
			want, sizeof(want),
			"minivmm: seccomp: %s thread made a forbidden system call: %s (%d)\n",
			sandbox_thread_name(c->kind), c->forbidden, c->nr);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail_msg("%s thread, %s: status 0x%x (not SIGSYS), stderr: %s",
			 sandbox_thread_name(c->kind), c->forbidden, status,
			 err);
	assert_string_equal(err, want);
}

static void check_cases(const struct sandbox_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_case(&c[i]);
}

#define FORBID(k, d, fn, name)                     \
	{                                          \
		k, d, false, fn, #name, SYS_##name \
	}
#define ALLOW(k, d, fn)                  \
	{                                \
		k, d, false, fn, NULL, 0 \
	}
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_main(void **state)
{
	static const struct sandbox_case c[] = {
		ALLOW(SANDBOX_MAIN, 0, call_poll),
		ALLOW(SANDBOX_MAIN, 0, call_malloc),
		ALLOW(SANDBOX_MAIN, 0, call_kvm_irq_line),
		FORBID(SANDBOX_MAIN, 0, call_ptrace, ptrace),
		FORBID(SANDBOX_MAIN, 0, call_execve, execve),
		FORBID(SANDBOX_MAIN, 0, call_openat, openat),
		FORBID(SANDBOX_MAIN, 0, call_kvm_run, ioctl),
		FORBID(SANDBOX_MAIN, 0, call_kvm_create_vm, ioctl),
		FORBID(SANDBOX_MAIN, 0, call_socket_unix, socket),
		FORBID(SANDBOX_MAIN, 0, call_mmap_exec, mmap),
		/* A VM's devices: their teardown, not their I/O. */
		ALLOW(SANDBOX_MAIN, ALL_DEVICES, call_io_uring_enter),
		FORBID(SANDBOX_MAIN, ALL_DEVICES, call_ptrace, ptrace),
		FORBID(SANDBOX_MAIN, ALL_DEVICES, call_tunsetiff, ioctl),
	};

	(void)state;
	check_cases(c, N(c));
}

/* --on-reboot restart: the main thread creates the next boot's VM. */
static void test_main_restart(void **state)
{
	static const struct sandbox_case c[] = {
		{SANDBOX_MAIN, 0, true, call_kvm_create_vm, NULL, 0},
		{SANDBOX_MAIN, 0, true, call_kvm_run, NULL, 0},
		{SANDBOX_MAIN, 0, true, call_madvise_populate, NULL, 0},
		{SANDBOX_MAIN, 0, true, call_ptrace, "ptrace", SYS_ptrace},
		{SANDBOX_MAIN, 0, true, call_execve, "execve", SYS_execve},
		{SANDBOX_MAIN, 0, true, call_mmap_exec, "mmap", SYS_mmap},
		{SANDBOX_MAIN, 0, true, call_socket_unix, NULL, 0},
	};

	(void)state;
	check_cases(c, N(c));
}

static void test_vcpu(void **state)
{
	static const struct sandbox_case c[] = {
		ALLOW(SANDBOX_VCPU, 0, call_kvm_run),
		ALLOW(SANDBOX_VCPU, 0, call_kvm_irq_line),
		ALLOW(SANDBOX_VCPU, 0, call_malloc),
		FORBID(SANDBOX_VCPU, 0, call_socket_unix, socket),
		FORBID(SANDBOX_VCPU, 0, call_socket_inet, socket),
		FORBID(SANDBOX_VCPU, 0, call_ptrace, ptrace),
		FORBID(SANDBOX_VCPU, 0, call_execve, execve),
		FORBID(SANDBOX_VCPU, 0, call_openat, openat),
		FORBID(SANDBOX_VCPU, 0, call_kvm_create_vm, ioctl),
		FORBID(SANDBOX_VCPU, 0, call_tunsetoffload, ioctl),
		FORBID(SANDBOX_VCPU, 0, call_io_uring_enter, io_uring_enter),
		FORBID(SANDBOX_VCPU, 0, call_poll, poll),
		/* A device's register callbacks run on the vCPU. */
		ALLOW(SANDBOX_VCPU, SANDBOX_DEV(SANDBOX_IO_NET),
		      call_tunsetoffload),
		FORBID(SANDBOX_VCPU, SANDBOX_DEV(SANDBOX_IO_NET),
		       call_tunsetiff, ioctl),
	};

	(void)state;
	check_cases(c, N(c));
}

static void test_io(void **state)
{
	static const struct sandbox_case c[] = {
		ALLOW(SANDBOX_IO_BLK, 0, call_io_uring_enter),
		ALLOW(SANDBOX_IO_BLK, 0, call_preadv),
		ALLOW(SANDBOX_IO_BLK, 0, call_epoll_wait),
		ALLOW(SANDBOX_IO_BLK, 0, call_kvm_irq_line),
		ALLOW(SANDBOX_IO_BLK, 0, call_malloc),
		FORBID(SANDBOX_IO_BLK, 0, call_socket_unix, socket),
		FORBID(SANDBOX_IO_BLK, 0, call_kvm_run, ioctl),
		FORBID(SANDBOX_IO_BLK, 0, call_openat, openat),
		FORBID(SANDBOX_IO_BLK, 0, call_getrandom, getrandom),
		/* a swapped medium's old file: the blk I/O thread only */
		ALLOW(SANDBOX_IO_BLK, 0, call_close),
		FORBID(SANDBOX_IO_NET, 0, call_close, close),
		FORBID(SANDBOX_VCPU, SANDBOX_DEV(SANDBOX_IO_BLK), call_close,
		       close),
		ALLOW(SANDBOX_IO_NET, 0, call_writev),
		ALLOW(SANDBOX_IO_NET, 0, call_tunsetoffload),
		FORBID(SANDBOX_IO_NET, 0, call_tunsetiff, ioctl),
		FORBID(SANDBOX_IO_NET, 0, call_socket_inet, socket),
		FORBID(SANDBOX_IO_NET, 0, call_io_uring_enter, io_uring_enter),
		ALLOW(SANDBOX_IO_VSOCK, 0, call_socket_unix),
		ALLOW(SANDBOX_IO_VSOCK, 0, call_accept4),
		FORBID(SANDBOX_IO_VSOCK, 0, call_socket_inet, socket),
		FORBID(SANDBOX_IO_VSOCK, 0, call_execve, execve),
		FORBID(SANDBOX_IO_VSOCK, 0, call_openat, openat),
		ALLOW(SANDBOX_IO_RNG, 0, call_getrandom),
		FORBID(SANDBOX_IO_RNG, 0, call_socket_unix, socket),
		FORBID(SANDBOX_IO_RNG, 0, call_preadv, preadv),
		FORBID(SANDBOX_IO_RNG, 0, call_ptrace, ptrace),
	};

	(void)state;
	check_cases(c, N(c));
}

static void test_prefault(void **state)
{
	static const struct sandbox_case c[] = {
		ALLOW(SANDBOX_PREFAULT, 0, call_madvise_populate),
		ALLOW(SANDBOX_PREFAULT, 0, call_malloc),
		FORBID(SANDBOX_PREFAULT, 0, call_madvise_remove, madvise),
		FORBID(SANDBOX_PREFAULT, 0, call_kvm_run, ioctl),
		FORBID(SANDBOX_PREFAULT, 0, call_openat, openat),
		FORBID(SANDBOX_PREFAULT, 0, call_epoll_wait, epoll_wait),
		FORBID(SANDBOX_PREFAULT, 0, call_mmap_exec, mmap),
	};

	(void)state;
	check_cases(c, N(c));
}

static void test_api(void **state)
{
	static const struct sandbox_case c[] = {
		ALLOW(SANDBOX_API, 0, call_accept4),
		ALLOW(SANDBOX_API, 0, call_epoll_wait),
		ALLOW(SANDBOX_API, 0, call_writev),
		ALLOW(SANDBOX_API, 0, call_malloc),
		FORBID(SANDBOX_API, 0, call_kvm_run, ioctl),
		ALLOW(SANDBOX_API, 0, call_kvm_irq_line), /* SendCtrlAltDel */
		FORBID(SANDBOX_API, 0, call_openat, openat),
		/* a drive's new medium (PATCH path_on_host): opened and
		 * locked as disk_open does, and nothing else */
		ALLOW(SANDBOX_API, 0, call_openat_drive_rw),
		ALLOW(SANDBOX_API, 0, call_openat_drive_ro),
		ALLOW(SANDBOX_API, 0, call_ofd_lock),
		FORBID(SANDBOX_API, 0, call_openat_creat, openat),
		FORBID(SANDBOX_API, 0, call_openat_trunc, openat),
		FORBID(SANDBOX_API, 0, call_socket_unix, socket),
		FORBID(SANDBOX_API, 0, call_execve, execve),
		FORBID(SANDBOX_API, 0, call_ptrace, ptrace),
	};

	(void)state;
	check_cases(c, N(c));
}

/* --no-seccomp: sandbox_apply does nothing, everything is allowed. */
static void test_disabled(void **state)
{
	struct sandbox sb = {.enabled = false};
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (sandbox_apply(&sb, SANDBOX_VCPU) ||
		    sandbox_apply(NULL, SANDBOX_IO_RNG))
			_exit(100);
		_exit(call_socket_unix() == 0 ? 0 : 99);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_main),
		cmocka_unit_test(test_main_restart),
		cmocka_unit_test(test_vcpu),
		cmocka_unit_test(test_io),
		cmocka_unit_test(test_prefault),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_disabled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
