/* Unit tests for the host side of a drive: --drive parsing, opening and its
 * errors, the OFD lock, and both I/O engines against temporary files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "host/disk.h"
#include <liburing.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

static char dir[64];

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_disk.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A file @name in the test directory of @size bytes (holes). */
static const char *mkfile(const char *name, off_t size)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
	return path;
}

static void expect_msg(const char *what)
{
	if (!strstr(err_msg(), what))
		fail_msg("\"%s\" does not say \"%s\"", err_msg(), what);
}

static void parse_ok(const char *arg, struct disk_options *o)
{
	if (disk_options_parse(arg, o))
		fail_msg("'%s': %s", arg, err_msg());
}

static void parse_bad(const char *arg, int err, const char *what)
{
	struct disk_options o;

	assert_int_equal(disk_options_parse(arg, &o), err);
	expect_msg(what);
}

static void test_parse(void **state)
{
	struct disk_options o;

	(void)state;
	parse_ok("disk.img", &o);
	assert_string_equal(o.path, "disk.img");
	assert_false(o.ro);
	assert_false(o.serial_set);
	assert_int_equal(o.cache, DISK_CACHE_WRITEBACK);
	assert_int_equal(o.io, DISK_IO_URING);

	parse_ok("/dev/sdb,ro,serial=ABC 123-x,cache=unsafe,io=sync", &o);
	assert_string_equal(o.path, "/dev/sdb");
	assert_true(o.ro);
	assert_true(o.serial_set);
	assert_string_equal(o.serial, "ABC 123-x");
	assert_int_equal(o.cache, DISK_CACHE_UNSAFE);
	assert_int_equal(o.io, DISK_IO_SYNC);

	parse_ok("a,io=uring,cache=writeback,serial=12345678901234567890", &o);
	assert_string_equal(o.serial, "12345678901234567890");
	assert_int_equal(o.cache, DISK_CACHE_WRITEBACK);
	assert_int_equal(o.io, DISK_IO_URING);
	assert_false(throttle_config_on(&o.rate));

	/* Rate limits: SIZE/MS[+BURST]. */
	parse_ok("c,bw=1048576/100+4096,ro,iops=50/1000", &o);
	assert_string_equal(o.path, "c");
	assert_true(o.ro);
	assert_int_equal(o.rate.bw.size, 1048576);
	assert_int_equal(o.rate.bw.refill_time_ms, 100);
	assert_int_equal(o.rate.bw.one_time_burst, 4096);
	assert_int_equal(o.rate.ops.size, 50);
	assert_int_equal(o.rate.ops.refill_time_ms, 1000);
	assert_int_equal(o.rate.ops.one_time_burst, 0);
	assert_true(throttle_config_on(&o.rate));
	/* Parsing starts from the defaults. */
	parse_ok("b", &o);
	assert_false(throttle_config_on(&o.rate));
	assert_false(o.serial_set);
	assert_string_equal(o.serial, "");
}

static void test_parse_errors(void **state)
{
	char longpath[PATH_MAX + 8];

	(void)state;
	parse_bad("", -EINVAL, "empty file name");
	parse_bad(",ro", -EINVAL, "empty file name");
	parse_bad(
		"d,foo", -EINVAL,
		"--drive: unknown key 'foo': expected ro, serial=, cache=, io=, bw= or iops=");
	parse_bad("d,foo=1", -EINVAL, "unknown key 'foo'");
	parse_bad("d,", -EINVAL, "unknown key ''");
	parse_bad("d,,ro", -EINVAL, "unknown key ''");
	parse_bad("d,RO", -EINVAL, "unknown key 'RO'");
	parse_bad("d,ro=on", -EINVAL, "'ro' takes no value");
	parse_bad("d,ro,ro", -EINVAL, "'ro' given twice");
	parse_bad("d,io=sync,io=uring", -EINVAL, "'io' given twice");
	parse_bad("d,serial=123456789012345678901", -EINVAL,
		  "is 21 bytes: expected 1 to 20");
	parse_bad("d,serial=", -EINVAL, "is 0 bytes");
	parse_bad("d,serial", -EINVAL, "'serial' needs a value");
	parse_bad("d,serial=a\tb", -EINVAL, "printable ASCII");
	parse_bad("d,serial=\xc3\xa9", -EINVAL, "printable ASCII");
	parse_bad("d,cache=none", -EINVAL,
		  "cache=none: expected cache=writeback or cache=unsafe");
	parse_bad("d,cache", -EINVAL, "'cache' needs a value");
	parse_bad("d,cache=", -EINVAL, "expected cache=writeback");
	parse_bad("d,io=native", -EINVAL,
		  "io=native: expected io=uring or io=sync");
	parse_bad("d,io", -EINVAL, "'io' needs a value");
	parse_bad("d,bw", -EINVAL, "'bw' needs a value: write bw=BYTES/MS");
	parse_bad("d,iops", -EINVAL, "'iops' needs a value: write iops=N/MS");
	parse_bad("d,bw=100", -EINVAL, "--drive: bw=100: expected SIZE/MS");
	parse_bad("d,bw=0/100", -EINVAL, "bw=0/100: expected");
	parse_bad("d,iops=10/0", -EINVAL, "iops=10/0: expected");
	parse_bad("d,iops=1/1,ro,iops=1/1", -EINVAL, "'iops' given twice");
	parse_bad("d,bw=1/1+-1", -EINVAL, "bw=1/1+-1: expected");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	parse_bad(longpath, -ENAMETOOLONG, "longer than");
}

static int open_path(struct disk *d, const char *spec)
{
	struct disk_options o;

	parse_ok(spec, &o);
	return disk_open(d, &o);
}

static void test_open_errors(void **state)
{
	struct disk d;
	char spec[160];

	(void)state;
	snprintf(spec, sizeof(spec), "%s/missing.img", dir);
	assert_int_equal(open_path(&d, spec), -ENOENT);
	expect_msg("does not exist");
	expect_msg("missing.img");
	disk_close(&d);

	assert_int_equal(open_path(&d, dir), -EISDIR);
	expect_msg("is a directory");
	snprintf(spec, sizeof(spec), "%s,ro", dir);
	assert_int_equal(open_path(&d, spec), -EISDIR);
	expect_msg("is a directory");

	assert_int_equal(open_path(&d, mkfile("empty.img", 0)), -EINVAL);
	expect_msg("is empty");
	assert_int_equal(open_path(&d, mkfile("odd.img", 1000)), -EINVAL);
	expect_msg("1000 bytes, not a multiple of 512");
	expect_msg("truncate -s 1024");

	assert_int_equal(open_path(&d, "/dev/null"), -EINVAL);
	expect_msg("not a regular file or a block device");
	/* A failed open leaves nothing to close, and closing is harmless. */
	disk_close(&d);
}

static void test_open(void **state)
{
	struct disk d;
	char spec[160];

	(void)state;
	assert_int_equal(
		open_path(&d, mkfile("a-rather-long-image-name.img", MiB)), 0);
	assert_int_equal(d.size, MiB);
	assert_false(d.ro);
	assert_false(d.blockdev);
	assert_int_equal(d.cache, DISK_CACHE_WRITEBACK);
	/* The base name, cut to 20 bytes. */
	assert_string_equal(d.serial, "a-rather-long-image-");
	assert_true(d.block_size >= 512);
	assert_int_equal(d.block_size & (d.block_size - 1), 0);
	disk_close(&d);

	snprintf(spec, sizeof(spec), "%s,serial=S1,cache=unsafe,ro",
		 mkfile("b.img", 4096));
	assert_int_equal(open_path(&d, spec), 0);
	assert_string_equal(d.serial, "S1");
	assert_true(d.ro);
	assert_int_equal(d.cache, DISK_CACHE_UNSAFE);
	/* O_RDONLY: the kernel refuses writes whatever the device does. */
	assert_int_equal(fcntl(d.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	disk_close(&d);
}

/* The ring only reads, writes, syncs and fallocates: an openat submitted
 * to it (a way around the I/O thread's seccomp filter) is refused. */
static void test_uring_restricted(void **state)
{
	struct io_uring *ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct disk d;

	(void)state;
	assert_int_equal(open_path(&d, mkfile("r.img", MiB)), 0);
	if (d.io != DISK_IO_URING) {
		disk_close(&d);
		skip(); /* no io_uring on this host */
	}
	/* struct disk_uring starts with its ring (disk.c). */
	ring = (struct io_uring *)d.uring;
	sqe = io_uring_get_sqe(ring);
	assert_non_null(sqe);
	io_uring_prep_openat(sqe, AT_FDCWD, "/dev/null", O_RDONLY, 0);
	io_uring_sqe_set_data(sqe, NULL);
	assert_int_equal(io_uring_submit(ring), 1);
	assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
	assert_int_equal(cqe->res, -EACCES);
	io_uring_cqe_seen(ring, cqe);
	disk_close(&d);
}

static void test_lock(void **state)
{
	struct disk a, b;
	char ro[160];
	const char *path = mkfile("locked.img", 64 * KiB);

	(void)state;
	snprintf(ro, sizeof(ro), "%s,ro", path);
	assert_int_equal(open_path(&a, path), 0);
	/* Two writers: refused, even in one process (OFD locks). */
	assert_int_equal(open_path(&b, path), -EBUSY);
	expect_msg(
		"is in use by another process (locked): use another file, or ,ro on every user");
	expect_msg(path);
	/* A reader while a writer has it: refused too. */
	assert_int_equal(open_path(&b, ro), -EBUSY);
	disk_close(&a);
	/* Closing released it. */
	assert_int_equal(open_path(&a, ro), 0);
	assert_int_equal(open_path(&b, ro), 0);
	disk_close(&b);
	/* A writer while a reader has it. */
	assert_int_equal(open_path(&b, path), -EBUSY);
	disk_close(&a);
	assert_int_equal(open_path(&b, path), 0);
	disk_close(&b);
}

/* Runs @n requests to completion on @d; returns how many callbacks ran. */
static unsigned completed;

static void count_done(struct disk_req *r, void *arg)
{
	(void)r;
	(void)arg;
	completed++;
}

static void run(struct disk *d, struct disk_req **reqs, unsigned n)
{
	unsigned before = completed;

	assert_int_equal(disk_submit(d, reqs, n), 0);
	while (completed - before < n) {
		if (disk_reap(d, count_done, NULL))
			continue;
		assert_true(disk_event_fd(d) >= 0);
		struct pollfd p = {.fd = disk_event_fd(d), .events = POLLIN};
		uint64_t v;

		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(p.fd, &v, sizeof(v)), sizeof(v));
	}
	assert_int_equal(completed - before, n);
	assert_int_equal(d->inflight, 0);
}

static int run1(struct disk *d, struct disk_req *r)
{
	run(d, &r, 1);
	return r->result;
}

static const char *engines[] = {"uring", "sync"};

static void open_engine(struct disk *d, const char *path, unsigned e,
			const char *extra)
{
	char spec[200];

	snprintf(spec, sizeof(spec), "%s,io=%s%s", path, engines[e], extra);
	if (open_path(d, spec))
		fail_msg("%s", err_msg());
	assert_int_equal(d->io, e ? DISK_IO_SYNC : DISK_IO_URING);
	assert_true((disk_event_fd(d) >= 0) == (e == 0));
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed + i / 512);
}

static void test_read_write(void **state)
{
	(void)state;
	for (unsigned e = 0; e < 2; e++) {
		const char *path = mkfile("rw.img", MiB);
		uint8_t *src = malloc(64 * KiB), *dst = malloc(64 * KiB);
		uint8_t *check = malloc(64 * KiB);
		struct iovec iov[3];
		struct disk_req w = {0}, r = {0};
		struct disk d;
		int fd;

		open_engine(&d, path, e, "");
		fill(src, 64 * KiB, e);
		/* Buffers split anywhere, as guest pages are. */
		iov[0] = (struct iovec){src, 100};
		iov[1] = (struct iovec){src + 100, 0};
		iov[2] = (struct iovec){src + 100, 64 * KiB - 100};
		w = (struct disk_req){.op = DISK_OP_WRITE,
				      .offset = 8 * KiB,
				      .len = 64 * KiB,
				      .iov = iov,
				      .iovcnt = 3};
		assert_int_equal(run1(&d, &w), 0);

		fd = open(path, O_RDONLY);
		assert_int_equal(pread(fd, check, 64 * KiB, 8 * KiB), 64 * KiB);
		assert_memory_equal(check, src, 64 * KiB);
		close(fd);

		memset(dst, 0xaa, 64 * KiB);
		iov[0] = (struct iovec){dst, 4096};
		iov[1] = (struct iovec){dst + 4096, 60 * KiB - 1};
		iov[2] = (struct iovec){dst + 64 * KiB - 1, 1};
		r = (struct disk_req){.op = DISK_OP_READ,
				      .offset = 8 * KiB,
				      .len = 64 * KiB,
				      .iov = iov,
				      .iovcnt = 3};
		assert_int_equal(run1(&d, &r), 0);
		assert_memory_equal(dst, src, 64 * KiB);

		/* A batch of reads and a flush, one submission. */
		{
			struct disk_req reqs[8];
			struct disk_req *p[9];
			struct disk_req fl = {.op = DISK_OP_FLUSH};
			struct iovec v[8];

			for (unsigned i = 0; i < 8; i++) {
				v[i] = (struct iovec){dst + i * 8 * KiB,
						      8 * KiB};
				reqs[i] = (struct disk_req){
					.op = DISK_OP_READ,
					.offset = 8 * KiB + i * 8 * KiB,
					.len = 8 * KiB,
					.iov = &v[i],
					.iovcnt = 1};
				p[i] = &reqs[i];
			}
			p[8] = &fl;
			memset(dst, 0, 64 * KiB);
			run(&d, p, 9);
			for (unsigned i = 0; i < 9; i++)
				assert_int_equal(p[i]->result, 0);
			assert_memory_equal(dst, src, 64 * KiB);
		}
		assert_int_equal(d.stats.requests, 11);
		assert_int_equal(d.stats.bytes_written, 64 * KiB);
		assert_int_equal(d.stats.bytes_read, 128 * KiB);
		assert_int_equal(d.stats.flushes, 1);
		assert_int_equal(d.stats.errors, 0);

		/* Write-through: the write completes after its sync. */
		iov[0] = (struct iovec){src, 512};
		w = (struct disk_req){.op = DISK_OP_WRITE,
				      .fua = true,
				      .offset = 0,
				      .len = 512,
				      .iov = iov,
				      .iovcnt = 1};
		assert_int_equal(run1(&d, &w), 0);
		assert_int_equal(w.stage, 1);
		disk_close(&d);
		free(src);
		free(dst);
		free(check);
	}
}

/* A file that shrank under us: a read that gets less than asked is an
 * error, never a success with stale buffers. */
static void test_short_read(void **state)
{
	(void)state;
	for (unsigned e = 0; e < 2; e++) {
		const char *path = mkfile("short.img", 64 * KiB);
		uint8_t buf[8192];
		struct iovec iov[4];
		struct disk_req r = {.op = DISK_OP_READ,
				     .offset = 60 * KiB,
				     .len = sizeof(buf),
				     .iov = iov,
				     .iovcnt = 4};
		struct disk d;

		for (unsigned i = 0; i < 4; i++)
			iov[i] = (struct iovec){buf + i * 2048, 2048};
		open_engine(&d, path, e, "");
		/* Beyond the size the disk was opened with: refused. */
		assert_int_equal(run1(&d, &r), -EINVAL);
		/* 6 KiB left where 8 are asked: the rest is asked for
		 * (from the fourth buffer on), and gets nothing. */
		assert_int_equal(truncate(path, 62 * KiB), 0);
		r.offset = 56 * KiB;
		assert_int_equal(run1(&d, &r), -EIO);
		assert_int_equal(r.done, 6 * KiB);
		assert_ptr_equal(r.iov, &iov[3]);
		assert_int_equal(r.iovcnt, 1);
		assert_int_equal(d.stats.errors, 2);
		disk_close(&d);
	}
}

static void test_ro(void **state)
{
	(void)state;
	for (unsigned e = 0; e < 2; e++) {
		const char *path = mkfile("ro.img", 64 * KiB);
		uint8_t buf[512] = {1};
		struct iovec iov = {buf, sizeof(buf)};
		struct disk_req w = {.op = DISK_OP_WRITE,
				     .len = sizeof(buf),
				     .iov = &iov,
				     .iovcnt = 1};
		struct disk d;

		open_engine(&d, path, e, ",ro");
		assert_int_equal(run1(&d, &w), -EBADF);
		disk_close(&d);
	}
}

static blkcnt_t blocks(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_blocks;
}

static void test_discard(void **state)
{
	const char *probe = mkfile("probe.img", MiB);
	int fd = open(probe, O_RDWR);
	bool can_punch;

	(void)state;
	can_punch = fd >= 0 &&
		    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      4096) == 0;
	close(fd);
	if (!can_punch)
		skip();
	for (unsigned e = 0; e < 2; e++) {
		const char *path = mkfile("discard.img", MiB);
		uint8_t *buf = malloc(MiB), *back = malloc(MiB);
		struct iovec iov = {buf, MiB};
		struct disk_req w = {.op = DISK_OP_WRITE,
				     .len = MiB,
				     .iov = &iov,
				     .iovcnt = 1};
		struct disk_req dc = {.op = DISK_OP_DISCARD,
				      .offset = 256 * KiB,
				      .len = 512 * KiB};
		struct disk_req fl = {.op = DISK_OP_FLUSH};
		struct disk d;
		blkcnt_t full;

		open_engine(&d, path, e, "");
		memset(buf, 0x5a, MiB);
		assert_int_equal(run1(&d, &w), 0);
		assert_int_equal(run1(&d, &fl), 0);
		full = blocks(path);
		assert_int_equal(run1(&d, &dc), 0);
		assert_true(blocks(path) <= full - (512 * KiB / 512));
		assert_int_equal(d.stats.discards, 1);
		/* The size stays. */
		assert_int_equal(lseek(d.fd, 0, SEEK_END), MiB);

		/* Write-zeroes, with and without unmap: zeroes either way,
		 * the rest untouched. */
		for (int unmap = 0; unmap < 2; unmap++) {
			struct disk_req z = {.op = DISK_OP_WRITE_ZEROES,
					     .unmap = unmap,
					     .offset = 4096,
					     .len = 8192};

			iov = (struct iovec){buf, MiB};
			w.iov = &iov;
			w.iovcnt = 1;
			assert_int_equal(run1(&d, &w), 0);
			assert_int_equal(run1(&d, &z), 0);
			assert_int_equal(pread(d.fd, back, MiB, 0), MiB);
			for (size_t i = 0; i < MiB; i++)
				if (back[i] !=
				    (i >= 4096 && i < 12288 ? 0 : 0x5a))
					fail_msg("byte %zu is %u", i, back[i]);
		}
		disk_close(&d);
		free(buf);
		free(back);
	}
}

/* tmpfs (a memfd) punches holes but cannot zero a range: write-zeroes
 * falls back to writing zeroes, discard to nothing. */
static void test_zeroes_fallback(void **state)
{
	(void)state;
	for (unsigned e = 0; e < 2; e++) {
		int mfd = memfd_create("disk", 0);
		char path[64];
		uint8_t buf[4096];
		struct disk_req z = {
			.op = DISK_OP_WRITE_ZEROES, .offset = 512, .len = 1024};
		struct disk d;

		assert_true(mfd >= 0);
		memset(buf, 0x77, sizeof(buf));
		assert_int_equal(pwrite(mfd, buf, sizeof(buf), 0), 4096);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
		open_engine(&d, path, e, "");
		assert_int_equal(run1(&d, &z), 0);
		assert_int_equal(pread(mfd, buf, sizeof(buf), 0), 4096);
		for (size_t i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i],
					 i >= 512 && i < 1536 ? 0 : 0x77);
		disk_close(&d);
		close(mfd);
	}
}

/* In a sandbox where io_uring_setup fails (seccomp, io_uring_disabled),
 * the drive works with io=sync and one line says so.  Tried in a child
 * with a seccomp filter that fails io_uring_setup with ENOSYS. */
static void test_uring_fallback(void **state)
{
	const char *path = mkfile("fallback.img", 64 * KiB);
	char log[160];
	int status;
	pid_t pid;

	(void)state;
	snprintf(log, sizeof(log), "%s/fallback.log", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_filter filter[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				 offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup,
				 0, 1),
			BPF_STMT(BPF_RET | BPF_K,
				 SECCOMP_RET_ERRNO |
					 (ENOSYS & SECCOMP_RET_DATA)),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {4, filter};
		struct disk_options o;
		uint8_t buf[512];
		struct iovec iov = {buf, sizeof(buf)};
		struct disk_req r = {.op = DISK_OP_READ,
				     .len = 512,
				     .iov = &iov,
				     .iovcnt = 1},
				*p = &r;
		struct disk d;
		int ok;

		if (!freopen(log, "w", stderr) ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(2);
		ok = !disk_options_parse(path, &o) && !disk_open(&d, &o) &&
		     d.io == DISK_IO_SYNC && disk_event_fd(&d) < 0 &&
		     !disk_submit(&d, &p, 1) &&
		     disk_reap(&d, count_done, NULL) == 1 && r.result == 0;
		fflush(stderr);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	{
		char line[512] = {0}, want[400];
		FILE *fp = fopen(log, "r");

		assert_non_null(fp);
		assert_non_null(fgets(line, sizeof(line), fp));
		fclose(fp);
		snprintf(
			want, sizeof(want),
			"minivmm: drive %s: io_uring unavailable (%s): using io=sync\n",
			path, strerror(ENOSYS));
		assert_string_equal(line, want);
	}
}

static void test_room_and_drain(void **state)
{
	const char *path = mkfile("drain.img", 4 * MiB);
	static struct disk_req reqs[DISK_DEPTH + 1];
	static struct disk_req *p[DISK_DEPTH + 1];
	static struct iovec iov[DISK_DEPTH];
	uint8_t *buf = malloc(DISK_DEPTH * 16 * KiB);
	struct disk d;

	(void)state;
	for (unsigned e = 0; e < 2; e++) {
		open_engine(&d, path, e, "");
		assert_int_equal(disk_room(&d), DISK_DEPTH);
		for (unsigned i = 0; i <= DISK_DEPTH; i++) {
			if (i < DISK_DEPTH)
				iov[i] = (struct iovec){buf + i * 16 * KiB,
							16 * KiB};
			reqs[i] = (struct disk_req){.op = DISK_OP_READ,
						    .offset = (i % 256) * 16 *
							      KiB,
						    .len = 16 * KiB,
						    .iov = &iov[i % DISK_DEPTH],
						    .iovcnt = 1};
			p[i] = &reqs[i];
		}
		assert_int_equal(disk_submit(&d, p, DISK_DEPTH + 1), -EAGAIN);
		assert_int_equal(d.inflight, 0);
		assert_int_equal(disk_submit(&d, p, DISK_DEPTH), 0);
		assert_int_equal(disk_room(&d), 0);
		assert_int_equal(disk_submit(&d, p + DISK_DEPTH, 1), -EAGAIN);
		/* Dropped, not reaped. */
		completed = 0;
		disk_drain(&d);
		assert_int_equal(d.inflight, 0);
		assert_int_equal(disk_reap(&d, count_done, NULL), 0);
		assert_int_equal(completed, 0);
		assert_int_equal(disk_room(&d), DISK_DEPTH);
		/* Usable again. */
		assert_int_equal(run1(&d, &reqs[0]), 0);
		disk_close(&d);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_uring_restricted),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_short_read),
		cmocka_unit_test(test_ro),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_zeroes_fallback),
		cmocka_unit_test(test_uring_fallback),
		cmocka_unit_test(test_room_and_drain),
	};

	return cmocka_run_group_tests_name("disk", tests, group_setup,
					   group_teardown);
}
