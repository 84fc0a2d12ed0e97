/* What the vsock test programs share (host.c on UNIX sockets, guest.c on
 * AF_VSOCK): the test stream, its checksum, and what one end of a
 * connection does.  Both ends print one line per connection, which the
 * scripts compare:
 *   sent BYTES SUM       sent BYTES of the pattern, then shut down writing
 *   got BYTES SUM        read until EOF
 *   echoed BYTES         echoed until EOF
 * SUM is FNV-1a (64-bit) in hex; the pattern's byte i is
 * (i * 7 + i / 251) & 0xff, so a lost, doubled or reordered byte shows. */
#ifndef VSOCK_TEST_COMMON_H
#define VSOCK_TEST_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FNV_INIT 0xcbf29ce484222325ull

static inline uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static inline uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

static void sleep_ms(unsigned ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000l};

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

/* Writes @n bytes of the pattern, @chunk at a time, then shuts down
 * writing; prints "sent N SUM".  0, or -1 if the peer went away (then
 * "sent-short N"). */
static int do_send(int fd, uint64_t n, size_t chunk)
{
	static uint8_t buf[1 << 16];
	uint64_t off = 0, h = FNV_INIT;

	if (chunk > sizeof(buf) || !chunk)
		chunk = sizeof(buf);
	while (off < n) {
		size_t k = n - off < chunk ? (size_t)(n - off) : chunk;
		ssize_t w;

		for (size_t i = 0; i < k; i++)
			buf[i] = pattern(off + i);
		w = send(fd, buf, k, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			printf("sent-short %" PRIu64 "\n", off);
			fflush(stdout);
			return -1;
		}
		h = fnv(h, buf, (size_t)w);
		off += (uint64_t)w;
	}
	shutdown(fd, SHUT_WR);
	printf("sent %" PRIu64 " %016" PRIx64 "\n", n, h);
	fflush(stdout);
	return 0;
}

/* Reads until EOF after reading nothing for @stall_ms (a slow reader:
 * the sender must wait, and whatever sits between must not buffer it
 * all); prints "got N SUM".  0, or -1 on an error ("got-error N why"). */
static int do_recv(int fd, unsigned stall_ms)
{
	static uint8_t buf[1 << 16];
	uint64_t n = 0, h = FNV_INIT;

	sleep_ms(stall_ms);
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			printf("got-error %" PRIu64 " %s\n", n,
			       strerror(errno));
			fflush(stdout);
			return -1;
		}
		if (!r)
			break;
		h = fnv(h, buf, (size_t)r);
		n += (uint64_t)r;
	}
	printf("got %" PRIu64 " %016" PRIx64 "\n", n, h);
	fflush(stdout);
	return 0;
}

/* Sends back what comes until EOF; prints "echoed N". */
static int do_echo(int fd)
{
	static uint8_t buf[1 << 16];
	uint64_t n = 0;

	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0), off = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		while (off < r) {
			ssize_t w = send(fd, buf + off, (size_t)(r - off),
					 MSG_NOSIGNAL);

			if (w <= 0)
				return -1;
			off += w;
		}
		n += (uint64_t)r;
	}
	shutdown(fd, SHUT_WR);
	printf("echoed %" PRIu64 "\n", n);
	fflush(stdout);
	return 0;
}

/* Says @say (4 bytes), expects @want back, prints it. */
static int do_pingpong(int fd, const char *say, const char *want)
{
	char b[8] = {0};
	size_t got = 0;

	if (send(fd, say, 4, MSG_NOSIGNAL) != 4)
		return -1;
	while (got < 4) {
		ssize_t r = recv(fd, b + got, 4 - got, 0);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	if (memcmp(b, want, 4))
		return -1;
	printf("%s\n", want);
	fflush(stdout);
	return 0;
}

/* Reads @n bytes, then closes in the middle of the stream (the peer
 * still sends); prints "closed after N". */
static int do_recvclose(int fd, uint64_t n)
{
	static uint8_t buf[4096];
	uint64_t got = 0;

	while (got < n) {
		/* Never past @n: a packet may end anywhere. */
		size_t want = n - got < sizeof(buf) ? (size_t)(n - got)
						    : sizeof(buf);
		ssize_t r = recv(fd, buf, want, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (uint64_t)r;
	}
	close(fd);
	printf("closed after %" PRIu64 "\n", got);
	fflush(stdout);
	return 0;
}

/* What one end of a connection does, by mode: 0, 1 it failed, 2 no such
 * mode.  Servers and clients alike:
 *   send N, recv, slowrecv MS, recvclose N, echo, hold, ping, pong
 * (sink, slowsink and source are recv, slowrecv and send by their server
 * names). */
static int run_mode(int fd, const char *mode, uint64_t arg)
{
	int ret;

	if (!strcmp(mode, "send") || !strcmp(mode, "source"))
		ret = do_send(fd, arg, 0);
	else if (!strcmp(mode, "recv") || !strcmp(mode, "sink"))
		ret = do_recv(fd, 0);
	else if (!strcmp(mode, "slowrecv") || !strcmp(mode, "slowsink"))
		ret = do_recv(fd, (unsigned)arg);
	else if (!strcmp(mode, "recvclose"))
		ret = do_recvclose(fd, arg);
	else if (!strcmp(mode, "echo"))
		ret = do_echo(fd);
	else if (!strcmp(mode, "ping"))
		ret = do_pingpong(fd, "ping", "pong");
	else if (!strcmp(mode, "pong"))
		ret = do_pingpong(fd, "pong", "ping");
	else if (!strcmp(mode, "hold"))
		ret = pause(); /* never reads: until killed */
	else
		return fprintf(stderr, "unknown mode %s\n", mode), 2;
	return ret ? 1 : 0;
}

/* The "many" mode's check, with @n connections @fd all open: each says
 * its number, each gets it back; then all are closed. */
static int many_echo(int *fd, long n)
{
	for (long i = 0; i < n; i++) {
		char b[24];

		snprintf(b, sizeof(b), "%08ld", i);
		if (send(fd[i], b, 8, MSG_NOSIGNAL) != 8)
			die("send");
	}
	for (long i = 0; i < n; i++) {
		char want[24], b[24] = {0};
		size_t got = 0;

		snprintf(want, sizeof(want), "%08ld", i);
		while (got < 8) {
			ssize_t r = recv(fd[i], b + got, 8 - got, 0);

			if (r <= 0) {
				fprintf(stderr, "connection %ld: no echo\n", i);
				return 1;
			}
			got += (size_t)r;
		}
		if (memcmp(b, want, 8)) {
			fprintf(stderr, "connection %ld: echo '%s'\n", i, b);
			return 1;
		}
	}
	for (long i = 0; i < n; i++)
		close(fd[i]);
	printf("many %ld ok\n", n);
	return 0;
}

/* Accepts connections on @lfd for ever (or @count of them), each served
 * by a child of its own, so that many run at once.  The children end with
 * the server: killing it (the scripts do) leaves no "hold" child behind. */
static void serve(int lfd, const char *mode, uint64_t arg, long count)
{
	pid_t self = getpid();

	signal(SIGCHLD, SIG_IGN); /* no zombies */
	for (long i = 0; count < 0 || i < count; i++) {
		int fd = accept(lfd, NULL, NULL);
		pid_t pid;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) ||
			    getppid() != self)
				exit(1); /* the server is gone already */
			close(lfd);
			exit(run_mode(fd, mode, arg));
		}
		close(fd);
	}
	/* The last ones finish before we go. */
	signal(SIGCHLD, SIG_DFL);
	while (wait(NULL) > 0)
		;
}

#endif
