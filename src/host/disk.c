/* A drive's image on the host: --drive parsing, opening and locking, and
 * the two I/O engines.
 *
 * Both engines share one request life: issue an operation, look at its
 * result (disk_step), and either complete or issue the next operation of
 * the same request: the rest of a short read or write, or the fdatasync
 * of a write-through write.  io=sync issues with preadv/pwritev/fdatasync/
 * fallocate inline; io_uring issues an SQE and gets the result as a CQE.
 * Completed requests wait on one list until disk_reap() hands them back,
 * so the device sees one completion path whatever the engine. */
#include "disk.h"
#include "log.h"
#include "../err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* An EAGAIN or EINTR result is issued again, this many times at most, so
 * that a request that can never go through ends as an error instead of
 * keeping the I/O thread busy. */
#define DISK_MAX_RETRIES 100

struct disk_uring {
	struct io_uring ring;
};

/* ---- --drive ---- */

#define DRIVE_SYNTAX                                                         \
	"PATH[,ro][,serial=STRING][,cache=writeback|unsafe][,io=uring|sync]" \
	"[,bw=BYTES/MS[+BURST]][,iops=N/MS[+BURST]]"

static bool key_is(const char *key, size_t len, const char *name)
{
	return strlen(name) == len && !memcmp(key, name, len);
}

/* One KEY or KEY=VALUE item of --drive, @len bytes at @item. */
static int drive_item(struct disk_options *o, const char *item, size_t len,
		      unsigned *seen)
{
	const char *eq = memchr(item, '=', len);
	size_t klen = eq ? (size_t)(eq - item) : len;
	const char *val = eq ? eq + 1 : NULL;
	int vlen = eq ? (int)(len - klen - 1) : 0;
	static const char *const keys[] = {"ro", "serial", "cache",
					   "io", "bw",	   "iops"};
	static const char *const values[] = {
		"",	      "STRING",	  "writeback|unsafe",
		"uring|sync", "BYTES/MS", "N/MS"};
	unsigned k;

	for (k = 0; k < 6; k++)
		if (key_is(item, klen, keys[k]))
			break;
	if (k == 6)
		return err_set(
			-EINVAL,
			"--drive: unknown key '%.*s': expected ro, serial=, cache=, io=, bw= or iops=",
			(int)klen, item);
	if (*seen & (1u << k))
		return err_set(-EINVAL, "--drive: '%s' given twice", keys[k]);
	*seen |= 1u << k;
	if (k == 0) {
		if (val)
			return err_set(
				-EINVAL,
				"--drive: 'ro' takes no value: write ,ro");
		o->ro = true;
		return 0;
	}
	if (!val)
		return err_set(-EINVAL,
			       "--drive: '%s' needs a value: write %s=%s",
			       keys[k], keys[k], values[k]);
	if (k == 4)
		return token_bucket_parse("--drive: bw", val, (size_t)vlen,
					  &o->rate.bw);
	if (k == 5)
		return token_bucket_parse("--drive: iops", val, (size_t)vlen,
					  &o->rate.ops);
	if (k == 1) {
		if (vlen < 1 || vlen > DISK_SERIAL_MAX)
			return err_set(
				-EINVAL,
				"--drive: serial '%.*s' is %d bytes: expected 1 to %d",
				vlen, val, vlen, DISK_SERIAL_MAX);
		for (int i = 0; i < vlen; i++)
			if (val[i] < 0x20 || val[i] > 0x7e)
				return err_set(
					-EINVAL,
					"--drive: serial '%.*s': expected printable ASCII characters",
					vlen, val);
		memcpy(o->serial, val, (size_t)vlen);
		o->serial[vlen] = '\0';
		o->serial_set = true;
	} else if (k == 2) {
		if (key_is(val, (size_t)vlen, "writeback"))
			o->cache = DISK_CACHE_WRITEBACK;
		else if (key_is(val, (size_t)vlen, "unsafe"))
			o->cache = DISK_CACHE_UNSAFE;
		else
			return err_set(
				-EINVAL,
				"--drive: cache=%.*s: expected cache=writeback or cache=unsafe",
				vlen, val);
	} else {
		if (key_is(val, (size_t)vlen, "uring"))
			o->io = DISK_IO_URING;
		else if (key_is(val, (size_t)vlen, "sync"))
			o->io = DISK_IO_SYNC;
		else
			return err_set(
				-EINVAL,
				"--drive: io=%.*s: expected io=uring or io=sync",
				vlen, val);
	}
	return 0;
}

int disk_options_parse(const char *arg, struct disk_options *o)
{
	const char *comma = strchr(arg, ',');
	size_t len = comma ? (size_t)(comma - arg) : strlen(arg);
	unsigned seen = 0;

	memset(o, 0, sizeof(*o));
	if (!len)
		return err_set(
			-EINVAL,
			"--drive '%s': empty file name: expected " DRIVE_SYNTAX,
			arg);
	if (len >= sizeof(o->path))
		return err_set(
			-ENAMETOOLONG,
			"--drive: the file name is longer than %zu bytes",
			sizeof(o->path) - 1);
	memcpy(o->path, arg, len);
	while (comma) {
		const char *item = comma + 1;
		int ret;

		comma = strchr(item, ',');
		len = comma ? (size_t)(comma - item) : strlen(item);
		ret = drive_item(o, item, len, &seen);
		if (ret)
			return ret;
	}
	return 0;
}

const char *disk_io_name(enum disk_io io)
{
	return io == DISK_IO_SYNC ? "sync" : "uring";
}

const char *disk_cache_name(enum disk_cache cache)
{
	return cache == DISK_CACHE_UNSAFE ? "unsafe" : "writeback";
}

/* ---- opening ---- */

static int disk_open_error(const struct disk *d, int err)
{
	const char *path = d->path;

	switch (err) {
	case ENOENT:
		return err_set(
			-err,
			"drive %s does not exist: fix the path, or create an image (truncate -s 1G %s)",
			path, path);
	case EISDIR:
		return err_set(
			-err,
			"drive %s is a directory: give a disk image file or a block device",
			path);
	case EACCES:
	case EPERM:
		if (d->ro)
			return err_set(
				-err,
				"cannot read drive %s: %s: check its permissions",
				path, strerror(err));
		return err_set(
			-err,
			"cannot open drive %s for writing: %s: make it writable, or add ,ro",
			path, strerror(err));
	case EROFS:
		return err_set(
			-err, "drive %s is on a read-only file system: add ,ro",
			path);
	default:
		return err_set(-err, "cannot open drive %s: %s", path,
			       strerror(err));
	}
}

/* Size in bytes and kind of the open file. */
static int disk_stat(struct disk *d)
{
	struct stat st;
	uint64_t size;

	if (fstat(d->fd, &st) < 0)
		return err_set(-errno, "cannot stat drive %s: %s", d->path,
			       strerror(errno));
	if (S_ISDIR(st.st_mode))
		return disk_open_error(d, EISDIR);
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(d->fd, BLKGETSIZE64, &size) < 0)
			return err_set(-errno,
				       "cannot get the size of drive %s: %s",
				       d->path, strerror(errno));
		d->blockdev = true;
	} else {
		return err_set(
			-EINVAL,
			"drive %s is not a regular file or a block device: give a disk image file",
			d->path);
	}
	if (!size)
		return err_set(
			-EINVAL,
			"drive %s is empty: a drive needs at least one 512-byte sector (truncate -s 1G %s)",
			d->path, d->path);
	if (size % DISK_SECTOR_SIZE)
		return err_set(
			-EINVAL,
			"drive %s is %" PRIu64
			" bytes, not a multiple of 512: resize it to whole sectors (truncate -s %" PRIu64
			" %s)",
			d->path, size,
			(size + DISK_SECTOR_SIZE - 1) / DISK_SECTOR_SIZE *
				DISK_SECTOR_SIZE,
			d->path);
	d->size = size;
	/* The host's allocation unit, the granularity at which a punched
	 * hole frees space: the discard alignment the guest is told. */
	d->block_size = DISK_SECTOR_SIZE;
	if (st.st_blksize >= DISK_SECTOR_SIZE && st.st_blksize <= (1 << 20) &&
	    !(st.st_blksize & (st.st_blksize - 1)))
		d->block_size = (uint32_t)st.st_blksize;
	return 0;
}

/* An OFD lock belongs to this open file, not to the process, so a second
 * open of the same image fails even inside one minivmm, and it goes away
 * with the fd.  A writer takes a write lock, a reader a read lock: readers
 * share, a writer is alone. */
static int disk_lock(struct disk *d)
{
	struct flock fl = {
		.l_type = d->ro ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	if (fcntl(d->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return err_set(
			-EBUSY,
			"%s is in use by another process (locked): use another file, or ,ro on every user",
			d->path);
	/* A file system without locks (some network ones): the image is
	 * still usable, only unprotected, so say so and go on. */
	log_write(LOG_WARNING,
		  "drive %s: cannot lock it (%s): using it unlocked", d->path,
		  strerror(errno));
	return 0;
}

/* The ring does only what disk_submit asks of it.  Its operations bypass
 * the I/O thread's seccomp filter (the kernel runs them, not a system call
 * of the thread), so a ring able to open files or connect sockets would be
 * a way around the sandbox: the ring was created disabled, and is enabled
 * only with the four operations allowed, no SQE flags, and no further
 * io_uring_register. */
static int uring_restrict(struct io_uring *ring)
{
	static const uint8_t ops[] = {IORING_OP_READV, IORING_OP_WRITEV,
				      IORING_OP_FSYNC, IORING_OP_FALLOCATE};
	struct io_uring_restriction res[4];
	if (!(ring->flags & IORING_SETUP_R_DISABLED))
		return 0; /* an old kernel: no restrictions to set */
	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < 4; i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	/* Debian's liburing 2.3 declares io_uring_register_restrictions and
	 * io_uring_enable_rings but does not export them: the system call. */
	if (syscall(__NR_io_uring_register, ring->ring_fd,
		    IORING_REGISTER_RESTRICTIONS, res, 4) < 0 ||
	    syscall(__NR_io_uring_register, ring->ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* Starts io_uring; on failure says why in @why and leaves no trace. */
static int uring_start(struct disk *d, char *why, size_t why_len)
{
	static const int ops[] = {IORING_OP_READV, IORING_OP_WRITEV,
				  IORING_OP_FSYNC, IORING_OP_FALLOCATE};
	static const char *const names[] = {"READV", "WRITEV", "FSYNC",
					    "FALLOCATE"};
	struct disk_uring *u = calloc(1, sizeof(*u));
	struct io_uring_probe *probe;
	int ret;

	if (!u) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	/* The rings hold DISK_DEPTH requests: disk_room() keeps us below,
	 * so an SQE is always free and the completion ring (twice as big)
	 * never overflows. */
	ret = io_uring_queue_init(DISK_DEPTH, &u->ring,
				  IORING_SETUP_R_DISABLED);
	if (ret == -EINVAL) /* before Linux 5.10: no restrictions */
		ret = io_uring_queue_init(DISK_DEPTH, &u->ring, 0);
	if (ret < 0) {
		snprintf(why, why_len, "%s", strerror(-ret));
		free(u);
		return ret;
	}
	probe = io_uring_get_probe_ring(&u->ring);
	for (unsigned i = 0; i < 4; i++) {
		if (!probe || !io_uring_opcode_supported(probe, ops[i])) {
			snprintf(why, why_len, "the kernel has no IORING_OP_%s",
				 names[i]);
			ret = -ENOSYS;
			goto fail;
		}
	}
	d->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->event_fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "eventfd: %s", strerror(errno));
		goto fail;
	}
	ret = io_uring_register_eventfd(&u->ring, d->event_fd);
	if (ret < 0) {
		snprintf(why, why_len, "io_uring_register_eventfd: %s",
			 strerror(-ret));
		goto fail;
	}
	ret = uring_restrict(&u->ring);
	if (ret < 0) {
		snprintf(why, why_len, "io_uring restrictions: %s",
			 strerror(-ret));
		goto fail;
	}
	io_uring_free_probe(probe);
	d->uring = u;
	return 0;
fail:
	if (probe)
		io_uring_free_probe(probe);
	if (d->event_fd >= 0)
		close(d->event_fd);
	d->event_fd = -1;
	io_uring_queue_exit(&u->ring);
	free(u);
	return ret;
}

/* The file part of disk_open: d->path opened with the flags d->ro says,
 * sized and locked.  disk_file_open does the same with the same flags,
 * which the API thread's seccomp filter allows (sandbox.c, rules_api). */
static int disk_open_fd(struct disk *d)
{
	int ret;

	d->fd = open(d->path, (d->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->fd < 0)
		return disk_open_error(d, errno);
	ret = disk_stat(d);
	if (!ret)
		ret = disk_lock(d);
	return ret;
}

/* The serial a drive without serial= has: its file name, cut to 20. */
static void disk_serial_from_path(struct disk *d)
{
	const char *base = strrchr(d->path, '/');
	size_t len;

	base = base ? base + 1 : d->path;
	len = strlen(base);
	if (len > DISK_SERIAL_MAX)
		len = DISK_SERIAL_MAX;
	memset(d->serial, 0, sizeof(d->serial));
	memcpy(d->serial, base, len);
}

/* @f's file is @fd's (the same inode): the drive's own file opened
 * again, to have the guest see it resized.  Its lock is on @fd's open file
 * description, which a second one cannot take: the new fd becomes a
 * duplicate of @fd (one description, the lock with it). */
static int disk_same_file(struct disk *f, int fd, bool *same)
{
	struct stat a, b;
	int dup;

	*same = false;
	if (fd < 0 || fstat(f->fd, &a) || fstat(fd, &b) ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return 0;
	dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return err_set(-errno, "cannot open drive %s again: %s",
			       f->path, strerror(errno));
	close(f->fd);
	f->fd = dup;
	*same = true;
	return 0;
}

int disk_file_open(struct disk *f, const char *path, bool ro, int cur_fd)
{
	bool same;
	int ret;

	*f = (struct disk){.fd = -1, .event_fd = -1, .ro = ro};
	f->done_tail = &f->done_head;
	if (!path[0])
		return err_set(-EINVAL, "drive: empty file name");
	f->path = strdup(path);
	if (!f->path)
		return err_set(-ENOMEM, "out of memory");
	f->fd = open(f->path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->fd < 0) {
		ret = disk_open_error(f, errno);
		goto fail;
	}
	ret = disk_same_file(f, cur_fd, &same);
	if (!ret)
		ret = disk_stat(f);
	if (!ret && !same)
		ret = disk_lock(f);
	if (!ret)
		return 0;
fail:
	disk_close(f);
	return ret;
}

void disk_swap_file(struct disk *d, struct disk *f)
{
	int fd = d->fd;
	char *path = d->path;

	d->fd = f->fd;
	d->path = f->path;
	d->size = f->size;
	d->blockdev = f->blockdev;
	d->block_size = f->block_size;
	if (!d->serial_set)
		disk_serial_from_path(d);
	f->fd = fd;
	f->path = path;
}

int disk_open(struct disk *d, const struct disk_options *o)
{
	int ret;

	*d = (struct disk){
		.fd = -1,
		.event_fd = -1,
		.ro = o->ro,
		.cache = o->cache,
		.io = o->io,
	};
	d->done_tail = &d->done_head;
	if (!o->path[0])
		return err_set(-EINVAL, "--drive: empty file name");
	d->path = strdup(o->path);
	if (!d->path)
		return err_set(-ENOMEM, "out of memory");
	ret = disk_open_fd(d);
	if (ret)
		goto fail;

	d->serial_set = o->serial_set;
	if (o->serial_set) {
		memcpy(d->serial, o->serial, sizeof(d->serial));
		d->serial[DISK_SERIAL_MAX] = '\0';
	} else {
		disk_serial_from_path(d);
	}

	if (d->io == DISK_IO_URING) {
		char why[128];

		if (uring_start(d, why, sizeof(why))) {
			/* A sandbox (seccomp, io_uring_disabled) or an old
			 * kernel: the guest still gets its disk. */
			log_write(
				LOG_WARNING,
				"drive %s: io_uring unavailable (%s): using io=sync",
				d->path, why);
			d->io = DISK_IO_SYNC;
		}
	}
	return 0;
fail:
	disk_close(d);
	return ret;
}

/* ---- the request life ---- */

enum { STEP_DONE, STEP_AGAIN };

static void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* Moves @r's buffers past @n bytes just transferred. */
static void iov_advance(struct disk_req *r, uint64_t n)
{
	while (n && r->iovcnt) {
		if (n < r->iov->iov_len) {
			r->iov->iov_base = (uint8_t *)r->iov->iov_base + n;
			r->iov->iov_len -= n;
			return;
		}
		n -= r->iov->iov_len;
		r->iov++;
		r->iovcnt--;
	}
}

/* Never written: a source of zeroes for write-zeroes where fallocate
 * cannot zero a range (tmpfs, some block devices).  In .bss, so it costs
 * neither file space nor memory until read. */
static uint8_t zero_buf[64 * 1024];

static int zero_fill(struct disk *d, uint64_t off, uint64_t len)
{
	while (len) {
		size_t n = len < sizeof(zero_buf) ? len : sizeof(zero_buf);
		ssize_t w = pwrite(d->fd, zero_buf, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static bool op_writes(enum disk_op op)
{
	return op == DISK_OP_WRITE || op == DISK_OP_DISCARD ||
	       op == DISK_OP_WRITE_ZEROES;
}

/* The operation @r issued ended with @res (bytes, or -errno): complete
 * @r (STEP_DONE, r->result set) or issue its next operation. */
static int disk_step(struct disk *d, struct disk_req *r, int64_t res)
{
	if (d->draining) {
		r->result = res < 0 ? (int)res : -ECANCELED;
		return STEP_DONE;
	}
	if ((res == -EAGAIN || res == -EINTR) &&
	    r->retries++ < DISK_MAX_RETRIES)
		return STEP_AGAIN;
	if (r->stage == 1) { /* the write-through sync */
		r->result = res < 0 ? (int)res : 0;
		return STEP_DONE;
	}
	switch (r->op) {
	case DISK_OP_READ:
	case DISK_OP_WRITE:
		if (res < 0) {
			r->result = (int)res;
			return STEP_DONE;
		}
		/* No progress (the file shrank under us) or more than
		 * asked: an error, never a success with stale buffers. */
		if ((res == 0 && r->done < r->len) ||
		    (uint64_t)res > r->len - r->done) {
			r->result = -EIO;
			return STEP_DONE;
		}
		r->done += (uint64_t)res;
		if (r->done < r->len) {
			iov_advance(r, (uint64_t)res);
			return STEP_AGAIN;
		}
		break;
	case DISK_OP_FLUSH:
		break;
	case DISK_OP_DISCARD:
		/* Discarding is a hint the host may ignore. */
		if (res == -EOPNOTSUPP)
			res = 0;
		break;
	case DISK_OP_WRITE_ZEROES:
		if (res == -EOPNOTSUPP)
			res = zero_fill(d, r->offset, r->len);
		break;
	}
	if (res < 0) {
		r->result = (int)res;
		return STEP_DONE;
	}
	if (r->fua && op_writes(r->op) && d->cache == DISK_CACHE_WRITEBACK) {
		r->stage = 1;
		return STEP_AGAIN;
	}
	r->result = 0;
	return STEP_DONE;
}

static unsigned iov_count(const struct disk_req *r)
{
	return r->iovcnt < IOV_MAX ? r->iovcnt : IOV_MAX;
}

static int falloc_mode(const struct disk_req *r)
{
	if (r->op == DISK_OP_DISCARD || r->unmap)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

/* io=sync: does @r's current operation. */
static int64_t sync_issue(struct disk *d, struct disk_req *r)
{
	off_t off = (off_t)(r->offset + r->done);
	ssize_t n;

	if (r->stage == 1)
		return fdatasync(d->fd) < 0 ? -errno : 0;
	switch (r->op) {
	case DISK_OP_READ:
		n = preadv(d->fd, r->iov, (int)iov_count(r), off);
		break;
	case DISK_OP_WRITE:
		n = pwritev(d->fd, r->iov, (int)iov_count(r), off);
		break;
	case DISK_OP_FLUSH:
		n = fdatasync(d->fd);
		break;
	default:
		n = fallocate(d->fd, falloc_mode(r), (off_t)r->offset,
			      (off_t)r->len);
		break;
	}
	return n < 0 ? -errno : n;
}

static void done_add(struct disk *d, struct disk_req *r)
{
	r->next = NULL;
	*d->done_tail = r;
	d->done_tail = &r->next;
}

static void sync_run(struct disk *d, struct disk_req *r)
{
	while (disk_step(d, r, sync_issue(d, r)) == STEP_AGAIN)
		;
	done_add(d, r);
}

/* Hands what is queued in the SQ to the kernel.  EAGAIN/EBUSY (the kernel
 * short of memory) are retried for a while; what is still queued then goes
 * with the next submission, or disk_drain(). */
static void uring_flush(struct disk *d)
{
	struct io_uring *ring = &d->uring->ring;
	unsigned tries = 0;

	while (io_uring_sq_ready(ring)) {
		int ret = io_uring_submit(ring);

		if (ret > 0 || ret == -EINTR)
			continue;
		if ((ret == 0 || ret == -EAGAIN || ret == -EBUSY) &&
		    ++tries < 1000) {
			nanosleep(&(struct timespec){0, 1000000}, NULL);
			continue;
		}
		log_write(
			LOG_WARNING,
			"drive %s: io_uring submission failed (%s): %u requests wait",
			d->path, strerror(ret < 0 ? -ret : EAGAIN),
			io_uring_sq_ready(ring));
		return;
	}
}

/* io_uring: queues an SQE for @r's current operation (submitted by
 * uring_flush()). */
static void uring_issue(struct disk *d, struct disk_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->uring->ring);
	off_t off = (off_t)(r->offset + r->done);

	if (!sqe) {
		/* Cannot happen while disk_room() is respected (one SQE per
		 * request in flight at most); if it does, the request is
		 * done inline rather than lost. */
		sync_run(d, r);
		return;
	}
	if (r->stage == 1) {
		io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
	} else {
		switch (r->op) {
		case DISK_OP_READ:
			io_uring_prep_readv(sqe, d->fd, r->iov, iov_count(r),
					    (uint64_t)off);
			break;
		case DISK_OP_WRITE:
			io_uring_prep_writev(sqe, d->fd, r->iov, iov_count(r),
					     (uint64_t)off);
			break;
		case DISK_OP_FLUSH:
			io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
			break;
		default:
			io_uring_prep_fallocate(sqe, d->fd, falloc_mode(r),
						(off_t)r->offset,
						(off_t)r->len);
			break;
		}
	}
	io_uring_sqe_set_data(sqe, r);
}

/* Takes every CQE: a finished request goes to the done list, an unfinished
 * one (short transfer, write-through sync, retry) is issued again. */
static void uring_reap(struct disk *d)
{
	struct io_uring *ring = &d->uring->ring;
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(ring, &cqe) == 0) {
		struct disk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(ring, cqe);
		if (disk_step(d, r, res) == STEP_AGAIN)
			uring_issue(d, r);
		else
			done_add(d, r);
	}
	if (io_uring_sq_ready(ring))
		uring_flush(d);
}

int disk_event_fd(const struct disk *d)
{
	return d->uring ? d->event_fd : -1;
}

unsigned disk_room(const struct disk *d)
{
	return d->inflight < DISK_DEPTH ? DISK_DEPTH - d->inflight : 0;
}

int disk_submit(struct disk *d, struct disk_req *const *reqs, unsigned n)
{
	if (n > disk_room(d))
		return -EAGAIN;
	for (unsigned i = 0; i < n; i++) {
		struct disk_req *r = reqs[i];

		r->result = 0;
		r->done = 0;
		r->stage = 0;
		r->retries = 0;
		d->inflight++;
		/* The device checked the range against the capacity; this
		 * keeps a bad caller from growing the image. */
		if (r->op != DISK_OP_FLUSH &&
		    (r->offset > d->size || r->len > d->size - r->offset)) {
			r->result = -EINVAL;
			done_add(d, r);
		} else if (d->uring) {
			uring_issue(d, r);
		} else {
			sync_run(d, r);
		}
	}
	if (d->uring)
		uring_flush(d);
	return 0;
}

static void disk_account(struct disk *d, const struct disk_req *r)
{
	stat_add(&d->stats.requests, 1);
	if (r->result < 0) {
		stat_add(&d->stats.errors, 1);
		return;
	}
	switch (r->op) {
	case DISK_OP_READ:
		stat_add(&d->stats.bytes_read, r->len);
		stat_add(&d->stats.reads, 1);
		break;
	case DISK_OP_WRITE:
		stat_add(&d->stats.bytes_written, r->len);
		stat_add(&d->stats.writes, 1);
		break;
	case DISK_OP_FLUSH:
		stat_add(&d->stats.flushes, 1);
		break;
	case DISK_OP_DISCARD:
	case DISK_OP_WRITE_ZEROES:
		stat_add(&d->stats.discards, 1);
		break;
	}
}

unsigned disk_reap(struct disk *d, void (*done)(struct disk_req *r, void *arg),
		   void *arg)
{
	struct disk_req *r;
	unsigned n = 0;

	if (d->uring)
		uring_reap(d);
	while ((r = d->done_head)) {
		d->done_head = r->next;
		if (!d->done_head)
			d->done_tail = &d->done_head;
		d->inflight--;
		disk_account(d, r);
		done(r, arg);
		n++;
	}
	return n;
}

static void done_drop(struct disk *d)
{
	while (d->done_head) {
		d->done_head = d->done_head->next;
		d->inflight--;
	}
	d->done_tail = &d->done_head;
}

void disk_drain(struct disk *d)
{
	d->draining = true;
	done_drop(d);
	while (d->inflight && d->uring) {
		int ret = io_uring_submit_and_wait(&d->uring->ring, 1);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY && ret != -ETIME) {
			/* The ring itself failed: nothing more will come
			 * out of it. */
			log_write(
				LOG_WARNING,
				"drive %s: io_uring failed (%s) with %u requests in flight",
				d->path, strerror(-ret), d->inflight);
			d->inflight = 0;
			break;
		}
		if (ret == -EAGAIN || ret == -EBUSY)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
		uring_reap(d);
		done_drop(d);
	}
	d->draining = false;
}

void disk_close(struct disk *d)
{
	if (d->inflight)
		disk_drain(d);
	if (d->uring) {
		io_uring_queue_exit(&d->uring->ring);
		free(d->uring);
		d->uring = NULL;
	}
	if (d->event_fd >= 0)
		close(d->event_fd);
	d->event_fd = -1;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->path);
	d->path = NULL;
}
