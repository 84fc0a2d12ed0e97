/* libFuzzer target: virtio-blk request parsing, with the input as the
 * driver.  The input gives a descriptor chain (buffers in guest memory,
 * readable ones first, as virtq_pop() returns them) and the bytes the
 * buffers hold; blk_parse() must answer every chain with a status it can
 * write, and everything it returns must lie inside the chain's buffers.
 * Guest RAM is a heap block of exactly its size, so ASan reports any
 * access outside it; each buffer, iovec and status byte is touched at
 * both ends.  With a flag, an accepted request is then run by the sync
 * engine against a small memfd disk, as the device would.
 *
 * Input: flags, capacity (le16, sectors), number of buffers, number of
 * readable ones, then per buffer its offset and length (le16 each) inside
 * a window at the bottom or the top of RAM, then the image copied to the
 * start of both windows.  With F_OPTIONS, the bytes after the flags are a
 * --drive value for disk_options_parse() instead. */
#include "host/disk.h"
#include "mem.h"
#include "virtio/blk.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_SIZE MEM_MIN_SIZE
#define WINDOW 0x20000ull /* offsets and lengths reach 2 x 64 KiB */
#define HIGH (RAM_SIZE - WINDOW)
#define MAX_BUFS 16
#define HEADER 5
#define DISK_BYTES (64 * 1024) /* the memfd disk: 128 sectors */

enum {
	F_RO = 1,
	F_RUN = 2,     /* run an accepted request on the memfd disk */
	F_HIGH = 4,    /* buffers in the top window */
	F_OPTIONS = 8, /* the rest is a --drive value instead */
};

static uint8_t *ram;
static struct vm_mem mem;
static struct virtq_chain chain;
static struct blk_req req;
static struct disk disk;
static bool disk_ok;

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* [@p, @p + @len) lies in one of the chain's buffers of that kind. */
static bool in_bufs(const struct virtq_chain *c, const void *p, uint64_t len,
		    bool writable)
{
	const uint8_t *b = p;

	for (unsigned i = 0; i < c->nr; i++) {
		const uint8_t *h = c->buf[i].host;

		if (c->buf[i].writable == writable && b >= h &&
		    b + len <= h + c->buf[i].len)
			return true;
	}
	return false;
}

static void touch(const void *p, uint64_t len)
{
	const volatile uint8_t *b = p;

	check(b >= ram && b + len <= ram + RAM_SIZE);
	if (len) {
		(void)b[0];
		(void)b[len - 1];
	}
}

/* What blk_parse() said about the chain holds. */
static void check_req(const struct virtq_chain *c, uint64_t capacity, bool ro,
		      int ret, const struct blk_req *r)
{
	uint64_t sum = 0;

	check(ret == -EBADMSG || ret == VIRTIO_BLK_S_OK ||
	      ret == VIRTIO_BLK_S_IOERR || ret == VIRTIO_BLK_S_UNSUPP);
	if (ret == -EBADMSG) {
		check(c->in_len == 0);
		return;
	}
	check(r->status && in_bufs(c, r->status, 1, true));
	touch(r->status, 1);
	if (ret != VIRTIO_BLK_S_OK)
		return;
	check(r->nr_iov <= c->nr);
	for (unsigned i = 0; i < r->nr_iov; i++) {
		check(r->iov[i].iov_len > 0);
		check(in_bufs(c, r->iov[i].iov_base, r->iov[i].iov_len,
			      r->type != VIRTIO_BLK_T_OUT));
		touch(r->iov[i].iov_base, r->iov[i].iov_len);
		sum += r->iov[i].iov_len;
	}
	check(sum == r->len);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		check(r->len % DISK_SECTOR_SIZE == 0);
		check(r->sector <= capacity &&
		      r->len / DISK_SECTOR_SIZE <= capacity - r->sector);
		check(r->type == VIRTIO_BLK_T_IN || !ro);
		check(r->type == VIRTIO_BLK_T_OUT ||
		      (r->written == r->len + 1 && r->written <= c->in_len));
		break;
	case VIRTIO_BLK_T_GET_ID:
		check(r->len <= VIRTIO_BLK_ID_BYTES &&
		      r->written == r->len + 1);
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		check(!ro);
		check(r->offset % DISK_SECTOR_SIZE == 0 &&
		      r->bytes % DISK_SECTOR_SIZE == 0);
		check(r->offset / DISK_SECTOR_SIZE <= capacity &&
		      r->bytes / DISK_SECTOR_SIZE <=
			      capacity - r->offset / DISK_SECTOR_SIZE);
		check(r->type == VIRTIO_BLK_T_WRITE_ZEROES || !r->unmap);
		break;
	default:
		abort(); /* anything else is UNSUPP */
	}
}

static void done(struct disk_req *r, void *arg)
{
	(void)r;
	(void)arg;
}

/* The device's part for an accepted request, on the sync engine. */
static void run_disk(struct blk_req *r)
{
	struct disk_req dr = {0}, *p = &dr;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (!r->len)
			return;
		dr.op = r->type == VIRTIO_BLK_T_IN ? DISK_OP_READ
						   : DISK_OP_WRITE;
		dr.offset = r->sector * DISK_SECTOR_SIZE;
		dr.len = r->len;
		dr.iov = r->iov;
		dr.iovcnt = r->nr_iov;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (!r->bytes)
			return;
		dr.op = r->type == VIRTIO_BLK_T_DISCARD ? DISK_OP_DISCARD
							: DISK_OP_WRITE_ZEROES;
		dr.offset = r->offset;
		dr.len = r->bytes;
		dr.unmap = r->unmap;
		break;
	default:
		return;
	}
	check(disk_submit(&disk, &p, 1) == 0);
	check(disk_reap(&disk, done, NULL) == 1);
	check(dr.result == 0 && disk.inflight == 0);
}

static void setup(void)
{
	struct disk_options o;
	char spec[64];
	int fd;

	ram = aligned_alloc(4096, RAM_SIZE);
	if (!ram || mem_layout(&mem, RAM_SIZE, ram))
		abort();
	memset(ram, 0, RAM_SIZE);
	fd = memfd_create("fuzz_blk", 0);
	if (fd < 0 || ftruncate(fd, DISK_BYTES))
		return;
	snprintf(spec, sizeof(spec), "/proc/self/fd/%d,io=sync", fd);
	disk_ok = !disk_options_parse(spec, &o) && !disk_open(&disk, &o);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags, nr, nr_out;
	uint64_t capacity, base;
	size_t img;

	if (!ram)
		setup();
	if (size < HEADER)
		return 0;
	flags = data[0];
	if (flags & F_OPTIONS) {
		static struct disk_options o;
		char *arg = strndup((const char *)data + 1, size - 1);

		check(arg != NULL);
		if (disk_options_parse(arg, &o) == 0)
			check(o.path[0] && strlen(o.path) < sizeof(o.path) &&
			      strlen(o.serial) <= DISK_SERIAL_MAX &&
			      o.serial_set == (o.serial[0] != 0));
		free(arg);
		return 0;
	}
	capacity = data[1] | (unsigned)data[2] << 8;
	nr = data[3] % (MAX_BUFS + 1);
	nr_out = nr ? data[4] % (nr + 1) : 0;
	data += HEADER;
	size -= HEADER;
	base = flags & F_HIGH ? HIGH : 0;

	memset(&chain, 0, offsetof(struct virtq_chain, buf));
	chain.out_len = chain.in_len = 0;
	for (unsigned i = 0; i < nr && size >= 4; i++) {
		uint64_t off = data[0] | (unsigned)data[1] << 8;
		uint32_t len = data[2] | (unsigned)data[3] << 8;
		struct virtq_buf *b = &chain.buf[chain.nr];

		data += 4;
		size -= 4;
		b->host = mem_ptr(&mem, base + off, len);
		if (!b->host)
			continue;
		b->len = len;
		b->writable = i >= nr_out;
		if (b->writable) {
			chain.in_len += len;
		} else {
			chain.out_len += len;
			chain.nr_out++;
		}
		chain.nr++;
	}
	img = size < WINDOW / 2 ? size : WINDOW / 2;
	memcpy(ram, data, img);
	memcpy(ram + HIGH, data, img);

	check_req(&chain, capacity, flags & F_RO,
		  blk_parse(&chain, capacity, flags & F_RO, &req), &req);
	if ((flags & F_RUN) && disk_ok) {
		uint64_t cap = disk.size / DISK_SECTOR_SIZE;
		int ret = blk_parse(&chain, cap, false, &req);

		check_req(&chain, cap, false, ret, &req);
		if (ret == VIRTIO_BLK_S_OK)
			run_disk(&req);
	}

	memset(ram, 0, WINDOW);
	memset(ram + HIGH, 0, WINDOW);
	return 0;
}
