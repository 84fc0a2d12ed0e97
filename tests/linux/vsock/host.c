/* The host end of the vsock tests, on minivmm's UNIX sockets
 * (Firecracker's scheme; see tests/linux/vsock.sh and
 * tests/guests/virtio_vsock.sh).  Static, no libraries: the vmhost has
 * neither socat nor a vsock tool.
 *
 *   host serve PATH MODE [ARG [COUNT]]
 *       listens on PATH (a guest connection to CID 2 port P reaches
 *       UDS_P) and serves each connection in a child of its own; COUNT
 *       connections, or for ever
 *   host connect UDS PORT MODE [ARG]
 *       connects to minivmm's UDS, says "CONNECT PORT", expects "OK n",
 *       then does MODE; or: refused (no "OK": nobody listens in the
 *       guest), many N (N connections open at once, each echoed)
 *
 * MODE, either way (common.h): send N / source N, recv / sink, slowrecv MS
 * / slowsink MS (reads nothing for MS first), recvclose N (closes after N
 * bytes, mid-stream), echo, ping, pong, hold (never reads).
 * Output: the lines of common.h, "refused", "many N ok"; exit status 0
 * when the mode did what it should. */
#include "common.h"

#include <sys/un.h>

static int unix_socket(const char *path, struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		fprintf(stderr, "%s: path too long\n", path);
		exit(2);
	}
	strcpy(a->sun_path, path);
	return fd;
}

/* A connection to guest port @port through @uds; -1 if the guest
 * refused (minivmm closed the connection without "OK"). */
static int connect_port(const char *uds, unsigned long port)
{
	struct sockaddr_un a;
	int fd = unix_socket(uds, &a);
	char line[64];
	size_t n = 0;

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	n = (size_t)snprintf(line, sizeof(line), "CONNECT %lu\n", port);
	if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n)
		die("send");
	/* Byte by byte: what follows the line is the guest's. */
	for (n = 0; n < sizeof(line) - 1; n++) {
		ssize_t r = recv(fd, line + n, 1, 0);

		if (r <= 0) {
			close(fd);
			return -1;
		}
		if (line[n] == '\n')
			break;
	}
	line[n] = '\0';
	if (strncmp(line, "OK ", 3)) {
		fprintf(stderr, "unexpected answer '%s'\n", line);
		exit(1);
	}
	return fd;
}

static int many(const char *uds, unsigned long port, long n)
{
	int *fd = calloc((size_t)n, sizeof(int));

	if (!fd)
		die("calloc");
	for (long i = 0; i < n; i++) {
		fd[i] = connect_port(uds, port);
		if (fd[i] < 0) {
			fprintf(stderr, "connection %ld refused\n", i);
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
		struct sockaddr_un a;
		int lfd = unix_socket(argv[2], &a);

		unlink(argv[2]);
		if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(lfd, 1024))
			die("bind/listen");
		serve(lfd, argv[3], argc > 4 ? strtoull(argv[4], NULL, 0) : 0,
		      argc > 5 ? strtol(argv[5], NULL, 0) : -1);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "connect")) {
		const char *mode = argv[4];
		unsigned long port = strtoul(argv[3], NULL, 0);

		arg = argc > 5 ? strtoull(argv[5], NULL, 0) : 0;
		if (!strcmp(mode, "many"))
			return many(argv[2], port, (long)arg);
		fd = connect_port(argv[2], port);
		if (!strcmp(mode, "refused")) {
			if (fd >= 0)
				return 1;
			printf("refused\n");
			return 0;
		}
		if (fd < 0) {
			fprintf(stderr, "refused by the guest\n");
			return 1;
		}
		return run_mode(fd, mode, arg);
	}
	fprintf(stderr, "usage: host serve PATH MODE [ARG [COUNT]]\n"
			"       host connect UDS PORT MODE [ARG]\n");
	return 2;
}
