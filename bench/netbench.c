/* netbench: one end of a stream throughput test, for the network and vsock
 * benchmark (bench/net.sh).  Static, it runs in the guest (busybox has no
 * vsock and no timing nc) and in the vmhost.
 *
 *   netbench NAME recv ADDR        listen on ADDR, print "NETBENCH-READY
 *                                  NAME", take one connection, read until
 *                                  EOF, close; print "NETBENCH NAME
 *                                  bytes=B ns=T mibps=X" (T: from the
 *                                  first byte to EOF)
 *   netbench NAME send ADDR BYTES  connect to ADDR, write BYTES, shut down
 *                                  writing, wait for the peer to close;
 *                                  print the same line (T: from connect to
 *                                  the peer's close, so every byte was read)
 *
 * ADDR: tcp:IPV4:PORT (recv: the address to bind), vsock:CID:PORT (recv:
 * the CID is ignored, any), unix:PATH, or fc:PATH:PORT (send only: a
 * Firecracker-style vsock host socket: connect to PATH, write "CONNECT
 * PORT\n", read the "OK ..." line).  Every step is bounded by an alarm
 * (NETBENCH_TIMEOUT seconds, 300). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static const char *name = "?";

static void die(const char *what)
{
	printf("NETBENCH-FAIL %s %s: %s\n", name, what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* ADDR → a socket address; *@fc_port set for fc:PATH:PORT. */
static int parse_addr(char *a, struct sockaddr_storage *ss, socklen_t *len,
		      long *fc_port)
{
	char *p;

	memset(ss, 0, sizeof(*ss));
	*fc_port = -1;
	if (!strncmp(a, "tcp:", 4)) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		p = strrchr(a + 4, ':');
		if (!p)
			return -1;
		*p = 0;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(p + 1));
		if (inet_pton(AF_INET, a + 4, &in->sin_addr) != 1)
			return -1;
		*len = sizeof(*in);
	} else if (!strncmp(a, "vsock:", 6)) {
		struct sockaddr_vm *vm = (struct sockaddr_vm *)ss;

		p = strchr(a + 6, ':');
		if (!p)
			return -1;
		vm->svm_family = AF_VSOCK;
		vm->svm_cid = (unsigned)strtoul(a + 6, NULL, 10);
		vm->svm_port = (unsigned)strtoul(p + 1, NULL, 10);
		*len = sizeof(*vm);
	} else if (!strncmp(a, "unix:", 5) || !strncmp(a, "fc:", 3)) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const char *path = strchr(a, ':') + 1;

		if (a[0] == 'f') {
			p = strrchr(a, ':');
			if (p == a + 2)
				return -1;
			*p = 0;
			*fc_port = atol(p + 1);
		}
		if (strlen(path) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		*len = sizeof(*un);
	} else {
		return -1;
	}
	return 0;
}

static void report(uint64_t bytes, uint64_t ns)
{
	printf("NETBENCH %s bytes=%llu ns=%llu mibps=%.1f\n", name,
	       (unsigned long long)bytes, (unsigned long long)ns,
	       ns ? (double)bytes / 1048576.0 / ((double)ns / 1e9) : 0.0);
	fflush(stdout);
}

static void do_recv(struct sockaddr_storage *ss, socklen_t len)
{
	static char buf[CHUNK];
	uint64_t bytes = 0, t0 = 0;
	int one = 1, l, c;
	ssize_t n;

	l = socket(ss->ss_family, SOCK_STREAM, 0);
	if (l < 0)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_VSOCK)
		((struct sockaddr_vm *)ss)->svm_cid = VMADDR_CID_ANY;
	if (ss->ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)ss)->sun_path);
	if (bind(l, (struct sockaddr *)ss, len) || listen(l, 1))
		die("bind/listen");
	printf("NETBENCH-READY %s\n", name);
	fflush(stdout);
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	for (;;) {
		n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		if (!t0)
			t0 = now_ns();
		bytes += (uint64_t)n;
	}
	report(bytes, t0 ? now_ns() - t0 : 0);
	close(c);
	close(l);
}

static void do_send(struct sockaddr_storage *ss, socklen_t len, long fc_port,
		    uint64_t total)
{
	static char buf[CHUNK];
	uint64_t sent = 0, t0;
	char line[64];
	size_t i = 0;
	ssize_t n;
	int fd;

	memset(buf, 0x5a, sizeof(buf));
	fd = socket(ss->ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	t0 = now_ns();
	if (connect(fd, (struct sockaddr *)ss, len))
		die("connect");
	if (fc_port >= 0) {
		n = snprintf(line, sizeof(line), "CONNECT %ld\n", fc_port);
		if (write(fd, line, (size_t)n) != n)
			die("write CONNECT");
		while (i < sizeof(line) - 1) { /* the "OK PORT\n" answer */
			if (read(fd, line + i, 1) != 1)
				die("read OK");
			if (line[i++] == '\n')
				break;
		}
		if (strncmp(line, "OK ", 3))
			die("no OK");
		t0 = now_ns();
	}
	while (sent < total) {
		size_t want = total - sent < CHUNK ? (size_t)(total - sent)
						   : CHUNK;

		n = write(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		sent += (uint64_t)n;
	}
	if (shutdown(fd, SHUT_WR))
		die("shutdown");
	while ((n = read(fd, buf, sizeof(buf))) != 0)
		if (n < 0 && errno != EINTR)
			die("read");
	report(sent, now_ns() - t0);
	close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	const char *t = getenv("NETBENCH_TIMEOUT");
	socklen_t len = 0;
	long fc_port;

	if (argc < 4 || (strcmp(argv[2], "recv") && strcmp(argv[2], "send")) ||
	    (!strcmp(argv[2], "send") && argc != 5)) {
		fprintf(stderr,
			"usage: netbench NAME recv ADDR | netbench NAME send ADDR BYTES\n");
		return 2;
	}
	name = argv[1];
	if (parse_addr(argv[3], &ss, &len, &fc_port)) {
		fprintf(stderr, "netbench: bad address %s\n", argv[3]);
		return 2;
	}
	alarm(t ? (unsigned)atoi(t) : 300);
	if (!strcmp(argv[2], "recv"))
		do_recv(&ss, len);
	else
		do_send(&ss, len, fc_port, strtoull(argv[4], NULL, 10));
	return 0;
}
