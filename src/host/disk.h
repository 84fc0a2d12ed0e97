/* The host side of a drive (--drive): a disk image file or a block device,
 * opened and locked once, and an I/O engine that runs the device's requests
 * against it.  Two engines sit behind one small interface, disk_submit()
 * and disk_reap(): io_uring (the default), where a batch of requests is one
 * system call and completions arrive later on an eventfd the device's I/O
 * thread polls; and sync, where each request is done inline with
 * preadv/pwritev/fdatasync/fallocate and completes at once.  Guest memory is
 * read and written in place through the request's iovecs, never copied.
 *
 * Threads: a disk is used by one thread at a time (the virtio device calls
 * it with its lock held); only the counters may be read from elsewhere. */
#ifndef MINIVMM_HOST_DISK_H
#define MINIVMM_HOST_DISK_H

#include "token_bucket.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#define DISK_SECTOR_SIZE 512
#define DISK_SERIAL_MAX 20 /* virtio-blk's GET_ID string */
/* Requests in flight at most: the largest virtqueue, so that one queue full
 * of requests is one io_uring submission. */
#define DISK_DEPTH 256

enum disk_cache {
	DISK_CACHE_WRITEBACK, /* host page cache; FLUSH is fdatasync */
	DISK_CACHE_UNSAFE,    /* host page cache; nothing is ever synced */
};

enum disk_io {
	DISK_IO_URING,
	DISK_IO_SYNC,
};

/* What --drive says.  All zeroes is the default: writeback, io_uring, the
 * serial taken from the file name at open. */
struct disk_options {
	/* An array, not a pointer into the option's value: the path ends at
	 * the first comma, and the struct can be copied freely. */
	char path[PATH_MAX];
	bool ro;
	char serial[DISK_SERIAL_MAX + 1];
	bool serial_set;
	enum disk_cache cache;
	enum disk_io io;
	char id[65]; /* the API's drive_id (metrics), "" from --drive */
	/* The rate limiter (bw=, iops=; a drive's rate_limiter in the API):
	 * bandwidth in bytes of data, ops in requests.  Zeroes: none. */
	struct throttle_config rate;
};

enum disk_op {
	DISK_OP_READ,
	DISK_OP_WRITE,
	DISK_OP_FLUSH,	      /* fdatasync */
	DISK_OP_DISCARD,      /* punch a hole: the range may read as anything */
	DISK_OP_WRITE_ZEROES, /* the range reads as zeroes */
};

/* One request.  The caller fills the first block and keeps the request (and
 * its iovecs) alive until disk_reap() hands it back. */
struct disk_req {
	enum disk_op op;
	bool unmap; /* WRITE_ZEROES: may deallocate (punch a hole) */
	bool fua;   /* WRITE: fdatasync before completing (write-through) */
	uint64_t offset; /* bytes; READ, WRITE, DISCARD, WRITE_ZEROES */
	uint64_t len;	 /* bytes; for READ and WRITE the iovecs' total */
	/* READ and WRITE: the buffers (guest memory).  The engine advances
	 * them past what a short transfer did, so they are not the caller's
	 * afterwards. */
	struct iovec *iov;
	unsigned iovcnt;

	/* At completion: 0, or -errno (EIO, ENOSPC, ...).  Never 0 for a
	 * read or write that did less than len bytes. */
	int result;

	/* The engine's. */
	uint64_t done;	  /* bytes transferred so far */
	unsigned stage;	  /* 1: the FUA sync after the write */
	unsigned retries; /* EAGAIN/EINTR from io_uring */
	struct disk_req *next;
};

/* Counters, updated with relaxed atomics so --stats may read them. */
struct disk_stats {
	uint64_t requests; /* the device adds those it answers itself */
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t reads, writes; /* requests that succeeded */
	uint64_t flushes;
	uint64_t discards; /* DISCARD and WRITE_ZEROES */
	uint64_t errors;   /* host I/O errors */
};

struct disk_uring; /* the io_uring engine's state, in disk.c */

struct disk {
	int fd;
	char *path;
	uint64_t size; /* bytes, a multiple of DISK_SECTOR_SIZE */
	bool ro;
	bool blockdev;
	uint32_t block_size; /* the host's (st_blksize): discard alignment */
	enum disk_cache cache;
	enum disk_io io; /* the engine in use, after any fallback */
	char serial[DISK_SERIAL_MAX + 1];
	bool serial_set; /* serial= given: a new file keeps it */
	struct disk_stats stats;

	unsigned inflight;	  /* submitted, not yet reaped */
	bool draining;		  /* disk_drain(): stop continuing requests */
	struct disk_uring *uring; /* NULL for io=sync */
	int event_fd;		  /* io_uring completions; -1 for io=sync */
	struct disk_req *done_head, **done_tail; /* io=sync: completed */
};

/* Parses the value of --drive: PATH[,ro][,serial=STRING]
 * [,cache=writeback|unsafe][,io=uring|sync][,bw=BYTES/MS[+BURST]]
 * [,iops=N/MS[+BURST]] into @o (defaults first).
 * -EINVAL with a message naming the key for an empty path, an unknown key,
 * a key given twice, a bad value, a serial of more than 20 bytes or not
 * printable ASCII; -ENAMETOOLONG for a path too long. */
int disk_options_parse(const char *arg, struct disk_options *o);

/* Opens the drive @o names: a regular file or a block device whose size is
 * a non-zero multiple of 512 bytes, O_RDWR (O_RDONLY if ro) and locked
 * (an OFD write lock on the whole file, a read lock if ro, so that two
 * minivmm processes never write one image); then starts its engine, falling
 * back to io=sync with one line on stderr if io_uring is unavailable.
 * -errno with one message saying what is wrong and what to do; @d is then
 * closed (disk_close() is harmless). */
int disk_open(struct disk *d, const struct disk_options *o);
/* A new medium for a running drive (PATCH /drives/{id} path_on_host):
 * opens, checks and locks @path as disk_open() does with ro @ro (the
 * drive's), into @f, which has no engine: only disk_swap_file() and
 * disk_close() take it.  If @path is the file @cur_fd has open (the same
 * file again, resized: -1 for none), @f gets a duplicate of @cur_fd, which
 * shares its lock.  Runs on the API thread.  -errno with the same messages
 * as disk_open(); @f is then closed. */
int disk_file_open(struct disk *f, const char *path, bool ro, int cur_fd);
/* Puts the file opened into @f in @d's place (size, kind, path; the serial
 * too unless serial= set it), and @d's old file into @f for the caller to
 * disk_close().  The engine stays (io_uring names the fd in each request):
 * nothing may be in flight on @d. */
void disk_swap_file(struct disk *d, struct disk *f);
/* Waits for what is in flight (dropping the completions), stops the
 * engine, closes the file (releasing the lock).  Only after disk_open(). */
void disk_close(struct disk *d);

/* The eventfd that becomes readable when io_uring requests complete, for
 * the I/O thread to poll; -1 for io=sync (requests complete inside
 * disk_submit()). */
int disk_event_fd(const struct disk *d);
/* How many more requests disk_submit() takes now. */
unsigned disk_room(const struct disk *d);
/* Starts @n requests (one io_uring submission), each completing later
 * through disk_reap().  -EAGAIN (nothing started) if @n > disk_room(). */
int disk_submit(struct disk *d, struct disk_req *const *reqs, unsigned n);
/* Calls @done for every request that completed, without waiting; returns
 * how many.  @done must not call disk_submit() or disk_reap(). */
unsigned disk_reap(struct disk *d, void (*done)(struct disk_req *r, void *arg),
		   void *arg);
/* Waits until nothing is in flight; the completions are dropped (no
 * callback), and a short transfer is not continued.  When it returns no
 * request of this disk writes memory any more. */
void disk_drain(struct disk *d);

const char *disk_io_name(enum disk_io io);
const char *disk_cache_name(enum disk_cache cache);

#endif
