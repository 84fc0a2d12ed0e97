/* The guest end of the vsock tests, on AF_VSOCK (busybox has none):
 * run by the test initramfs's /init (see the comment at the top of
 * tests/linux/vsock.sh).  Static, no libraries.
 *
 *   guest serve PORT MODE [ARG [COUNT]]
 *       listens on vsock port PORT, prints "listening PORT" once it does,
 *       and serves each connection in a child of its own; COUNT
 *       connections, or for ever
 *   guest connect CID PORT MODE [ARG]
 *       connects to CID:PORT (the host is CID 2: minivmm connects that to
 *       UDS_PORT) and does MODE; or: refused (expects ECONNRESET: nobody
 *       listens on the host), many N (N connections open at once, each
 *       echoed)
 *
 * MODE as host.c's (common.h).  Output: the lines of common.h,
 * "listening PORT", "refused", "many N ok". */
#include "common.h"

#include <linux/vm_sockets.h>

static int vsock_socket(void)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket(AF_VSOCK)");
	return fd;
}

static struct sockaddr_vm addr(unsigned cid, unsigned port)
{
	struct sockaddr_vm a;

	memset(&a, 0, sizeof(a));
	a.svm_family = AF_VSOCK;
	a.svm_cid = cid;
	a.svm_port = port;
	return a;
}

/* A connection to @cid:@port, or -1 with errno. */
static int connect_to(unsigned cid, unsigned port)
{
	struct sockaddr_vm a = addr(cid, port);
	int fd = vsock_socket();

	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int many(unsigned cid, unsigned port, long n)
{
	int *fd = calloc((size_t)n, sizeof(int));

	if (!fd)
		die("calloc");
	for (long i = 0; i < n; i++) {
		fd[i] = connect_to(cid, port);
		if (fd[i] < 0) {
			fprintf(stderr, "connection %ld: %s\n", i,
				strerror(errno));
			return 1;
		}
	}
	return many_echo(fd, n);
}

int main(int argc, char **argv)
{
	uint64_t arg;
	int fd;

	if (argc >= 4 && !strcmp(argv[1], "serve")) {
		unsigned port = (unsigned)strtoul(argv[2], NULL, 0);
		struct sockaddr_vm a = addr(VMADDR_CID_ANY, port);
		int lfd = vsock_socket();

		if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(lfd, 1024))
			die("bind/listen");
		printf("listening %u\n", port);
		fflush(stdout);
		serve(lfd, argv[3], argc > 4 ? strtoull(argv[4], NULL, 0) : 0,
		      argc > 5 ? strtol(argv[5], NULL, 0) : -1);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "connect")) {
		unsigned cid = (unsigned)strtoul(argv[2], NULL, 0);
		unsigned port = (unsigned)strtoul(argv[3], NULL, 0);
		const char *mode = argv[4];

		arg = argc > 5 ? strtoull(argv[5], NULL, 0) : 0;
		if (!strcmp(mode, "many"))
			return many(cid, port, (long)arg);
		fd = connect_to(cid, port);
		if (!strcmp(mode, "refused")) {
			if (fd >= 0 ||
			    (errno != ECONNRESET && errno != ECONNREFUSED)) {
				fprintf(stderr, "not refused: %s\n",
					fd >= 0 ? "connected"
						: strerror(errno));
				return 1;
			}
			printf("refused\n");
			return 0;
		}
		if (fd < 0)
			die("connect");
		return run_mode(fd, mode, arg);
	}
	fprintf(stderr, "usage: guest serve PORT MODE [ARG [COUNT]]\n"
			"       guest connect CID PORT MODE [ARG]\n");
	return 2;
}
