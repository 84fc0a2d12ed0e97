/* blkbench: O_DIRECT block-device benchmark run INSIDE a Linux guest by
 * bench/blk.sh (built static: the guest initramfs has only busybox).
 * Usage: blkbench DEV [SEQ_MIB [RAND_SECONDS [PAUSE_MS]]]
 *   seqread   SEQ_MIB (256) MiB from offset 0, 1 MiB per pread
 *   seqwrite  SEQ_MIB MiB, 1 MiB per pwrite, then one fdatasync (timed);
 *             at offset SEQ_MIB MiB if the device has room, else at 0
 *   randread  4 KiB preads at uniformly random 4 KiB-aligned offsets over
 *             the whole device, one at a time, for RAND_SECONDS (5) s
 * Each test prints "BLKBENCH-BEGIN NAME", sleeps PAUSE_MS (300) ms (the
 * console line out, the guest idle), prints "BLKBENCH-GO NAME" and starts at
 * once, prints "BLKBENCH-END NAME" as soon as it is done (the host side reads
 * the VMM's CPU time when GO and END arrive), sleeps PAUSE_MS again, then
 * prints one result line:
 *   BLKBENCH NAME bytes=B ops=N ns=T mibps=X iops=Y
 * A failure prints "BLKBENCH-FAIL NAME: why" and the status is 1. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define SEQ_BS MIB
#define RAND_BS 4096

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Unbuffered, so a line reaches the console before the next I/O starts. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, (size_t)n) < 0)
		_exit(1);
}

static void pause_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static long pause_len = 300;

static void begin(const char *name)
{
	say("BLKBENCH-BEGIN %s", name);
	pause_ms(pause_len);
	say("BLKBENCH-GO %s", name);
}

static void result(const char *name, uint64_t bytes, uint64_t ops, uint64_t ns)
{
	double s = (double)ns / 1e9;

	say("BLKBENCH-END %s", name);
	pause_ms(pause_len);
	say("BLKBENCH %s bytes=%llu ops=%llu ns=%llu mibps=%.1f iops=%.0f",
	    name, (unsigned long long)bytes, (unsigned long long)ops,
	    (unsigned long long)ns, s > 0 ? (double)bytes / MIB / s : 0.0,
	    s > 0 ? (double)ops / s : 0.0);
}

static int fail(const char *name, const char *what, uint64_t off)
{
	say("BLKBENCH-FAIL %s: %s at offset %llu: %s", name, what,
	    (unsigned long long)off,
	    errno ? strerror(errno) : "short transfer");
	return 1;
}

static int seq(int fd, const char *name, int wr, uint64_t off, uint64_t len,
	       void *buf)
{
	uint64_t t0, done, ops = 0;
	ssize_t n;

	begin(name);
	t0 = now_ns();
	for (done = 0; done < len; done += SEQ_BS, ops++) {
		errno = 0;
		n = wr ? pwrite(fd, buf, SEQ_BS, (off_t)(off + done))
		       : pread(fd, buf, SEQ_BS, (off_t)(off + done));
		if (n != SEQ_BS)
			return fail(name, wr ? "pwrite" : "pread", off + done);
	}
	errno = 0;
	if (wr && fdatasync(fd) < 0)
		return fail(name, "fdatasync", off);
	result(name, done, ops, now_ns() - t0);
	return 0;
}

static int randread(int fd, uint64_t size, int seconds, void *buf)
{
	uint64_t blocks = size / RAND_BS, x = 0x9E3779B97F4A7C15u, t0, t, end,
		 ops = 0, off;

	begin("randread");
	t0 = now_ns();
	end = t0 + (uint64_t)seconds * 1000000000u;
	for (t = t0; t < end;) {
		/* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		off = (x % blocks) * RAND_BS;
		errno = 0;
		if (pread(fd, buf, RAND_BS, (off_t)off) != RAND_BS)
			return fail("randread", "pread", off);
		if (++ops % 32 == 0)
			t = now_ns();
	}
	t = now_ns();
	result("randread", ops * RAND_BS, ops, t - t0);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t size = 0, len, woff;
	struct stat st;
	int fd, secs, rc = 0;
	void *buf;

	if (argc < 2 || argc > 5) {
		fprintf(stderr,
			"usage: blkbench DEV [SEQ_MIB [RAND_SECONDS [PAUSE_MS]]]\n");
		return 2;
	}
	len = (uint64_t)(argc > 2 ? atol(argv[2]) : 256) * MIB;
	secs = argc > 3 ? atoi(argv[3]) : 5;
	if (argc > 4)
		pause_len = atol(argv[4]);
	fd = open(argv[1], O_RDWR | O_DIRECT);
	/* A plain file, for a try on the host. */
	if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &size) < 0 &&
	    fstat(fd, &st) == 0)
		size = (uint64_t)st.st_size;
	if (fd < 0 || size == 0) {
		say("BLKBENCH-FAIL open: %s: %s", argv[1], strerror(errno));
		return 1;
	}
	if (size < len || size < RAND_BS || len == 0 || secs <= 0) {
		say("BLKBENCH-FAIL open: %s has %llu bytes, %llu asked",
		    argv[1], (unsigned long long)size, (unsigned long long)len);
		return 1;
	}
	if (posix_memalign(&buf, 4096, SEQ_BS)) {
		say("BLKBENCH-FAIL open: posix_memalign");
		return 1;
	}
	memset(buf, 0x5A, SEQ_BS);
	say("BLKBENCH-INFO dev=%s size=%llu seq_bytes=%llu rand_seconds=%d",
	    argv[1], (unsigned long long)size, (unsigned long long)len, secs);
	woff = size >= 2 * len ? len : 0;
	rc |= seq(fd, "seqread", 0, 0, len, buf);
	rc |= seq(fd, "seqwrite", 1, woff, len, buf);
	rc |= randread(fd, size, secs, buf);
	close(fd);
	free(buf);
	return rc;
}
