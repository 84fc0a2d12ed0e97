/* minivmm benchmarks, each against a reference measured in the same run:
 *   exits:   port-I/O exit round trip with the seed's guest, minivmm's run
 *            loop vs a bare KVM_RUN loop on the same guest;
 *   startup: whole-process time and peak RSS of `minivmm run` for a guest
 *            that halts at once, vs a bare process doing the same ioctls;
 *   vmcycle: VM create → run to HLT → destroy in one process, vs the bare
 *            ioctl sequence.
 * Usage: bench MINIVMM SEED_BIN HLT_BIN */
#include "boot/boot.h"
#include "err.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEM_SIZE (256ull << 20)
#define EXITS 100000
#define ROUNDS 3
#define STARTUP_RUNS 20
#define CYCLES 30

static void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s %s\n", what, strerror(errno), err_msg());
	exit(1);
}

/* The bare reference: the seed's three levels and nothing else. */
struct bare_vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	void *mem;
};

static void bare_create(struct bare_vm *b, const char *image)
{
	struct kvm_userspace_memory_region r;
	struct kvm_sregs s;
	struct kvm_regs regs;
	int fd;
	ssize_t n;

	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	b->vm = ioctl(b->kvm, KVM_CREATE_VM, 0);
	if (b->kvm < 0 || b->vm < 0)
		die("bare: create VM");
	b->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	r = (struct kvm_userspace_memory_region){
		.memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)b->mem,
	};
	if (b->mem == MAP_FAILED ||
	    ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &r))
		die("bare: memory");
	fd = open(image, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, (char *)b->mem + 0x10000, 1 << 20);
	if (n <= 0)
		die("bare: read image");
	close(fd);
	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
	b->run_size = (size_t)ioctl(b->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	b->run = mmap(NULL, b->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      b->vcpu, 0);
	if (b->vcpu < 0 || b->run == MAP_FAILED)
		die("bare: vcpu");
	if (ioctl(b->vcpu, KVM_GET_SREGS, &s))
		die("bare: sregs");
	s.cs.selector = s.ds.selector = s.es.selector = 0x1000;
	s.fs.selector = s.gs.selector = s.ss.selector = 0x1000;
	s.cs.base = s.ds.base = s.es.base = 0x10000;
	s.fs.base = s.gs.base = s.ss.base = 0x10000;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	if (ioctl(b->vcpu, KVM_SET_SREGS, &s) ||
	    ioctl(b->vcpu, KVM_SET_REGS, &regs))
		die("bare: regs");
}

static void bare_destroy(struct bare_vm *b)
{
	munmap(b->run, b->run_size);
	close(b->vcpu);
	close(b->vm);
	munmap(b->mem, MEM_SIZE);
	close(b->kvm);
}

/* Runs until @exits port-I/O exits (0: until HLT). */
static void bare_run(struct bare_vm *b, unsigned long exits)
{
	for (unsigned long i = 0; !exits || i < exits; i++) {
		if (ioctl(b->vcpu, KVM_RUN, 0) < 0)
			die("bare: KVM_RUN");
		if (b->run->exit_reason == KVM_EXIT_HLT)
			return;
		if (b->run->exit_reason != KVM_EXIT_IO)
			die("bare: unexpected exit");
	}
}

static void minivmm_create(struct vm *vm, const char *image, uint64_t exits)
{
	struct vm_options opt = {
		.mem_size = MEM_SIZE,
		.cpus = 1,
		.max_exits = exits,
		.serial_fd = -1,
		.signal_fd = -1,
		/* The vCPU threads get their filters, as in minivmm run;
		 * this process's main thread goes on creating VMs and
		 * printing, which the main thread's filter forbids. */
		.main_sandboxed = true,
	};
	struct boot_options bo = {.raw_path = image, .load_addr = 0x10000};
	struct platform_desc pd = {.nr_vcpus = 1};
	struct boot_entry e;

	if (vm_create(vm, &opt) || boot_load(&vm->mem, &pd, &bo, &e) ||
	    vm_set_entry(vm, &e))
		die("minivmm: create");
}

static double exits_bare(const char *seed)
{
	struct bare_vm b;
	uint64_t t0;
	double ns;

	bare_create(&b, seed);
	bare_run(&b, 1000); /* warm up */
	t0 = time_now_ns();
	bare_run(&b, EXITS);
	ns = (double)(time_now_ns() - t0) / EXITS;
	bare_destroy(&b);
	return ns;
}

static double exits_minivmm(const char *seed)
{
	struct vm vm;
	uint64_t t0;
	double ns;

	minivmm_create(&vm, seed, EXITS);
	t0 = time_now_ns();
	if (vm_run(&vm) != 0)
		die("minivmm: run");
	ns = (double)(time_now_ns() - t0) / EXITS;
	vm_destroy(&vm);
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Runs argv STARTUP_RUNS times; median wall time (ms) and max peak RSS. */
static void startup_measure(char *const argv[], double *ms, long *rss_kib)
{
	double t[STARTUP_RUNS];

	*rss_kib = 0;
	for (int i = 0; i < STARTUP_RUNS; i++) {
		struct rusage ru;
		uint64_t t0 = time_now_ns();
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			dup2(null, 2);
			execv(argv[0], argv);
			_exit(127);
		}
		if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
			die("fork");
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			die(argv[0]);
		t[i] = (double)(time_now_ns() - t0) / 1e6;
		if (ru.ru_maxrss > *rss_kib)
			*rss_kib = ru.ru_maxrss;
	}
	*ms = median(t, STARTUP_RUNS);
}

static double vmcycle_bare(const char *hlt)
{
	uint64_t t0 = time_now_ns();

	for (int i = 0; i < CYCLES; i++) {
		struct bare_vm b;

		bare_create(&b, hlt);
		bare_run(&b, 0);
		bare_destroy(&b);
	}
	return (double)(time_now_ns() - t0) / CYCLES / 1e3;
}

static double vmcycle_minivmm(const char *hlt)
{
	uint64_t t0 = time_now_ns();

	for (int i = 0; i < CYCLES; i++) {
		struct vm vm;

		minivmm_create(&vm, hlt, 0);
		if (vm_run(&vm) != 0)
			die("minivmm: run");
		vm_destroy(&vm);
	}
	return (double)(time_now_ns() - t0) / CYCLES / 1e3;
}

static void row(const char *name, const char *unit, double mine, double ref,
		const char *target)
{
	printf("%-34s %12.1f %12.1f %8.3fx  %s\n", name, mine, ref, mine / ref,
	       target);
	(void)unit;
}

int main(int argc, char **argv)
{
	double mine[ROUNDS], ref[ROUNDS], ms_mine, ms_ref;
	long rss_mine, rss_ref;
	int saved_stderr, null;

	if (argc == 3 && !strcmp(argv[1], "--bare-hlt")) {
		/* The reference process for the startup benchmark. */
		struct bare_vm b;

		bare_create(&b, argv[2]);
		bare_run(&b, 0);
		bare_destroy(&b);
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: bench MINIVMM SEED_BIN HLT_BIN\n");
		return 1;
	}

	/* minivmm logs the seed's unassigned port (rate-limited): hide it. */
	saved_stderr = dup(2);
	null = open("/dev/null", O_WRONLY);
	dup2(null, 2);
	for (int i = 0; i < ROUNDS; i++) {
		ref[i] = exits_bare(argv[2]);
		mine[i] = exits_minivmm(argv[2]);
	}
	dup2(saved_stderr, 2);

	{
		char *run_mine[] = {argv[1], "run", "--raw", argv[3], NULL};
		char *run_ref[] = {argv[0], "--bare-hlt", argv[3], NULL};

		startup_measure(run_mine, &ms_mine, &rss_mine);
		startup_measure(run_ref, &ms_ref, &rss_ref);
	}

	printf("%-34s %12s %12s %9s  %s\n", "benchmark", "minivmm", "reference",
	       "ratio", "target");
	row("(a) PIO exit round trip (ns)", "ns", median(mine, ROUNDS),
	    median(ref, ROUNDS), "<= 1.05x a bare KVM_RUN loop");
	row("(b) process start to HLT (ms)", "ms", ms_mine, ms_ref,
	    "bare ioctl process");
	row("(b) peak RSS (KiB)", "KiB", (double)rss_mine, (double)rss_ref,
	    "< 2048 KiB beyond guest RAM touched");
	row("(c) VM create-run-destroy (us)", "us", vmcycle_minivmm(argv[3]),
	    vmcycle_bare(argv[3]), "bare ioctl sequence");
	printf("\n(a) %d exits x %d rounds, median; (b) median of %d runs, max RSS; "
	       "(c) mean of %d VMs.\n",
	       EXITS, ROUNDS, STARTUP_RUNS, CYCLES);
	return 0;
}
