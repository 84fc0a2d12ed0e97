/* apibench: the Firecracker-compatible API's own costs (`make bench-api`).
 *
 *   apibench MINIVMM [RUNS [REQUESTS]]
 *
 * 1. Start-up: RUNS times, `MINIVMM fc --api-sock TMP` is started and its
 *    socket tried every 50 us until a connect succeeds; then the CPU time
 *    every thread of the process has used so far (the sum of
 *    /proc/PID/task/TID/schedstat, in ns) and the wall time since the exec.
 *    The reference in the same run: `MINIVMM --version`, a process that
 *    starts and exits, measured the same way (wait4's rusage).  Firecracker
 *    promises 8 CPU ms to a listening socket.
 * 2. GET / latency: REQUESTS requests one after the other on one kept-alive
 *    connection, and REQUESTS/10 each on a new connection (as `curl` does),
 *    p50 and p99 in us; against the same round trip on a plain UNIX socket
 *    echo (a thread of this process answering a fixed 100 bytes), the
 *    floor any server on this machine has.
 * Prints rows "BENCH| metric value reference ratio target". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, unsigned n, unsigned p)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(uint64_t)(n - 1) * p / 100];
}

static int sock_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* CPU ns used so far by every thread of @pid. */
static uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64], line[128];
	uint64_t sum = 0;

	for (int tid = pid; tid < pid + 64; tid++) { /* its threads follow */
		FILE *f;
		unsigned long long run;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pid,
			 tid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) &&
		    sscanf(line, "%llu", &run) == 1)
			sum += run;
		fclose(f);
	}
	return sum;
}

/* One start of `minivmm fc`: *cpu and *wall in ns to a connectable socket. */
static int start_once(const char *minivmm, const char *sock, uint64_t *cpu,
		      uint64_t *wall)
{
	uint64_t t0 = now_ns();
	pid_t pid;
	int fd = -1;

	unlink(sock);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execl(minivmm, minivmm, "fc", "--api-sock", sock, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	while (now_ns() - t0 < 5000000000ull) {
		fd = sock_connect(sock);
		if (fd >= 0)
			break;
		usleep(50);
	}
	*wall = now_ns() - t0;
	*cpu = proc_cpu_ns(pid);
	if (fd >= 0)
		close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(sock);
	return fd >= 0 ? 0 : -1;
}

/* `minivmm --version`: start, print, exit; CPU from its rusage. */
static void version_once(const char *minivmm, uint64_t *cpu, uint64_t *wall)
{
	uint64_t t0 = now_ns();
	struct rusage ru;
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		execl(minivmm, minivmm, "--version", (char *)NULL);
		_exit(127);
	}
	wait4(pid, &st, 0, &ru);
	*wall = now_ns() - t0;
	*cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		       1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static const char get_req[] =
	"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n";

/* Reads one HTTP response (headers and a Content-Length body). */
static int read_response(int fd)
{
	char buf[4096];
	size_t len = 0;
	long body = -1;
	char *end = NULL;

	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = 0;
		if (!end) {
			end = strstr(buf, "\r\n\r\n");
			if (end) {
				char *cl = strcasestr(buf, "content-length:");

				body = cl ? strtol(cl + 15, NULL, 10) : 0;
			}
		}
		if (end && (size_t)(end + 4 - buf) + (size_t)body <= len)
			return 0;
		if (len == sizeof(buf) - 1)
			return -1;
	}
}

/* The floor: a thread answering 100 bytes per request on a UNIX socket. */
static void *echo_thread(void *arg)
{
	int l = *(int *)arg, c;
	char buf[512];
	static char resp[100];

	while ((c = accept(l, NULL, NULL)) >= 0) {
		while (read(c, buf, sizeof(buf)) > 0)
			if (write(c, resp, sizeof(resp)) < 0)
				break;
		close(c);
	}
	return NULL;
}

static void row(const char *metric, double v, double ref, const char *unit,
		const char *target)
{
	char a[32], b[32], r[16] = "-";

	snprintf(a, sizeof(a), "%.1f %s", v, unit);
	if (ref > 0) {
		snprintf(b, sizeof(b), "%.1f %s", ref, unit);
		snprintf(r, sizeof(r), "%.2fx", v / ref);
	} else {
		snprintf(b, sizeof(b), "-");
	}
	printf("BENCH| %-44s %14s %14s %8s  %s\n", metric, a, b, r, target);
}

int main(int argc, char **argv)
{
	const char *minivmm = argc > 1 ? argv[1] : "build/minivmm";
	unsigned runs = argc > 2 ? (unsigned)atoi(argv[2]) : 20;
	unsigned reqs = argc > 3 ? (unsigned)atoi(argv[3]) : 10000;
	uint64_t *cpu = calloc(runs, 8), *wall = calloc(runs, 8);
	uint64_t *vcpu = calloc(runs, 8), *vwall = calloc(runs, 8);
	uint64_t *lat = calloc(reqs, 8), *flat = calloc(reqs, 8);
	char dir[] = "/tmp/apibench.XXXXXX", sock[64], esock[64];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	unsigned fresh = reqs / 10 ? reqs / 10 : 1;
	uint64_t p50, p99, e50, e99;
	pthread_t th;
	pid_t pid;
	int fd, l;

	if (!cpu || !wall || !vcpu || !vwall || !lat || !flat || !runs ||
	    !reqs || !mkdtemp(dir))
		return 2;
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(esock, sizeof(esock), "%s/echo.sock", dir);
	for (unsigned i = 0; i < runs; i++) {
		if (start_once(minivmm, sock, &cpu[i], &wall[i])) {
			fprintf(stderr, "apibench: %s fc did not listen\n",
				minivmm);
			return 1;
		}
		version_once(minivmm, &vcpu[i], &vwall[i]);
	}
	printf("BENCH| Firecracker-compatible API, minivmm fc on this machine; start-up median of %u, %u requests\n",
	       runs, reqs);
	printf("BENCH| %-44s %14s %14s %8s  %s\n", "metric", "minivmm fc",
	       "reference", "ratio", "target");
	row("start to API socket accepting, CPU (all threads)",
	    (double)pct(cpu, runs, 50) / 1e6, (double)pct(vcpu, runs, 50) / 1e6,
	    "ms", "<= 8 ms (Firecracker's promise); ref: --version");
	row("start to API socket accepting, wall",
	    (double)pct(wall, runs, 50) / 1e6,
	    (double)pct(vwall, runs, 50) / 1e6, "ms", "ref: --version");

	/* GET / latency against a running minivmm fc. */
	unlink(sock);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		execl(minivmm, minivmm, "fc", "--api-sock", sock, (char *)NULL);
		_exit(127);
	}
	for (unsigned i = 0; i < 100000 && (fd = sock_connect(sock)) < 0; i++)
		usleep(50);
	if (fd < 0)
		return 1;
	for (unsigned i = 0; i < reqs; i++) {
		uint64_t t = now_ns();

		if (write(fd, get_req, sizeof(get_req) - 1) < 0 ||
		    read_response(fd)) {
			fprintf(stderr, "apibench: GET / failed at %u\n", i);
			return 1;
		}
		lat[i] = now_ns() - t;
	}
	close(fd);
	for (unsigned i = 0; i < fresh; i++) {
		uint64_t t = now_ns();

		fd = sock_connect(sock);
		if (fd < 0 || write(fd, get_req, sizeof(get_req) - 1) < 0 ||
		    read_response(fd)) {
			fprintf(stderr,
				"apibench: GET / (new connection) failed at %u\n",
				i);
			return 1;
		}
		flat[i] = now_ns() - t;
		close(fd);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);

	/* The floor: the same round trips to an echo thread. */
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", esock);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(l, 8) || pthread_create(&th, NULL, echo_thread, &l))
		return 1;
	fd = sock_connect(esock);
	p50 = pct(lat, reqs, 50);
	p99 = pct(lat, reqs, 99);
	for (unsigned i = 0; i < reqs; i++) {
		char buf[128];
		uint64_t t = now_ns();

		if (write(fd, get_req, sizeof(get_req) - 1) < 0 ||
		    read(fd, buf, sizeof(buf)) <= 0)
			return 1;
		lat[i] = now_ns() - t;
	}
	close(fd);
	e50 = pct(lat, reqs, 50);
	e99 = pct(lat, reqs, 99);
	row("GET / latency, kept-alive connection, p50", (double)p50 / 1e3,
	    (double)e50 / 1e3, "us", "ref: UNIX socket echo");
	row("GET / latency, kept-alive connection, p99", (double)p99 / 1e3,
	    (double)e99 / 1e3, "us", "ref: UNIX socket echo");
	row("GET / latency, new connection each, p50",
	    (double)pct(flat, fresh, 50) / 1e3, 0, "us", "-");
	row("GET / latency, new connection each, p99",
	    (double)pct(flat, fresh, 99) / 1e3, 0, "us", "-");
	unlink(esock);
	rmdir(dir);
	return 0;
}
