/* Unit tests for virtio-blk: blk_parse() on chains a hand-written driver
 * builds in fake guest memory, the configuration space and features, and
 * the device end to end (both engines) through a fake transport: this file
 * defines the virtio_dev_*() calls the device makes, so the real transport
 * (mmio.c) is not linked in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "virtio/blk.h"
#include "fake_virtio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

/* Guest physical layout of the fake driver. */
#define DESC 0x1000
#define AVAIL 0x3000
#define USED 0x4000
#define HDR 0x10000    /* request headers, 0x100 apart */
#define STATUS 0x20000 /* status bytes, 0x10 apart */
#define DATA 0x100000  /* data buffers */
#define RAM (4 * MiB)

#define CAP 2048 /* sectors of the disks: 1 MiB */

/* ---- the fake driver ---- */

struct fx {
	struct vm_mem m;
	struct virtq q;
	struct virtq_chain c;
	struct blk_req r;
	uint16_t avail_idx;
	uint16_t next_desc;
	struct virtio_dev vd;
	struct virtio_blk *b;
	char path[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || mem_init(&f->m, RAM))
		return -1;
	f->vd.nr_fds = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->b && f->vd.priv)
		virtio_blk_get_ops(f->b)->reset(&f->vd);
	virtio_blk_destroy(f->b);
	if (f->path[0])
		unlink(f->path);
	mem_destroy(&f->m);
	free(f);
	return 0;
}

static void *gp(struct fx *f, uint64_t gpa, uint64_t len)
{
	void *p = mem_ptr(&f->m, gpa, len);

	assert_non_null(p);
	return p;
}

static void put(struct fx *f, uint64_t gpa, const void *v, size_t len)
{
	memcpy(gp(f, gpa, len), v, len);
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	put(f, gpa, &v, 2);
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, gp(f, gpa, 2), 2);
	return v;
}

static uint32_t get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, gp(f, gpa, 4), 4);
	return v;
}

static void qinit(struct fx *f, uint16_t size)
{
	put16(f, AVAIL, 0);
	put16(f, AVAIL + 2, 0);
	put16(f, USED, 0);
	put16(f, USED + 2, 0);
	f->avail_idx = 0;
	f->next_desc = 0;
	assert_int_equal(virtq_init(&f->q, &f->m, size, DESC, AVAIL, USED,
				    false, false),
			 0);
}

/* A request header at @gpa. */
static void hdr(struct fx *f, uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t h[16] = {0};

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	put(f, gpa, h, sizeof(h));
}

/* A discard/write-zeroes segment at @gpa. */
static void seg(struct fx *f, uint64_t gpa, uint64_t sector, uint32_t num,
		uint32_t flags)
{
	uint8_t s[16];

	memcpy(s, &sector, 8);
	memcpy(s + 8, &num, 4);
	memcpy(s + 12, &flags, 4);
	put(f, gpa, s, sizeof(s));
}

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

/* Makes the chain @bufs available, descriptors taken in turn from the
 * table; returns its head. */
static uint16_t chain(struct fx *f, const struct buf *bufs, unsigned n)
{
	uint16_t head = f->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % f->q.size);
		uint16_t next = (uint16_t)((idx + 1) % f->q.size);
		uint16_t flags = (bufs[i].w ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		uint8_t d[16];

		memcpy(d, &bufs[i].gpa, 8);
		memcpy(d + 8, &bufs[i].len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
		put(f, DESC + 16ull * idx, d, sizeof(d));
	}
	f->next_desc = (uint16_t)((head + n) % f->q.size);
	put16(f, AVAIL + 4 + 2 * (f->avail_idx % f->q.size), head);
	f->avail_idx++;
	put16(f, AVAIL + 2, f->avail_idx);
	return head;
}

/* Pops the chain @bufs and parses it for a disk of CAP sectors. */
static int parse(struct fx *f, const struct buf *bufs, unsigned n, bool ro)
{
	chain(f, bufs, n);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	return blk_parse(&f->c, CAP, ro, &f->r);
}

#define PARSE(f, ro, ...)                                                     \
	parse(f, (const struct buf[]){__VA_ARGS__},                           \
	      sizeof((const struct buf[]){__VA_ARGS__}) / sizeof(struct buf), \
	      ro)

#define R(gpa, len)             \
	{                       \
		gpa, len, false \
	}
#define W(gpa, len)            \
	{                      \
		gpa, len, true \
	}

static void test_parse_rw(void **state)
{
	struct fx *f = *state;
	struct blk_req *r = &f->r;

	qinit(f, 64);
	/* IN: header, two data buffers, status. */
	hdr(f, HDR, VIRTIO_BLK_T_IN, 8);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 512),
			       W(DATA + 0x1000, 1024), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->type, VIRTIO_BLK_T_IN);
	assert_int_equal(r->sector, 8);
	assert_int_equal(r->len, 1536);
	assert_int_equal(r->nr_iov, 2);
	assert_ptr_equal(r->iov[0].iov_base, gp(f, DATA, 512));
	assert_int_equal(r->iov[0].iov_len, 512);
	assert_ptr_equal(r->iov[1].iov_base, gp(f, DATA + 0x1000, 1024));
	assert_int_equal(r->iov[1].iov_len, 1024);
	assert_ptr_equal(r->status, gp(f, STATUS, 1));
	assert_int_equal(r->written, 1537);

	/* IN: data and status in one buffer, an empty buffer after it. */
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 513),
			       W(DATA + 0x1000, 0)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->len, 512);
	assert_int_equal(r->nr_iov, 1);
	assert_ptr_equal(r->iov[0].iov_base, gp(f, DATA, 512));
	assert_int_equal(r->iov[0].iov_len, 512);
	assert_ptr_equal(r->status, gp(f, DATA + 512, 1));

	/* OUT: header and data in one buffer, then more data. */
	hdr(f, HDR, VIRTIO_BLK_T_OUT, CAP - 2);
	assert_int_equal(PARSE(f, false, R(HDR, 16 + 512), R(DATA, 512),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->type, VIRTIO_BLK_T_OUT);
	assert_int_equal(r->sector, CAP - 2);
	assert_int_equal(r->len, 1024);
	assert_int_equal(r->nr_iov, 2);
	assert_ptr_equal(r->iov[0].iov_base, gp(f, HDR + 16, 512));
	assert_ptr_equal(r->iov[1].iov_base, gp(f, DATA, 512));
	assert_int_equal(r->written, 1);

	/* Empty transfers are fine, up to the very end. */
	hdr(f, HDR, VIRTIO_BLK_T_IN, CAP);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->len, 0);
	assert_int_equal(r->nr_iov, 0);

	/* FLUSH, with the header split in three. */
	hdr(f, HDR, VIRTIO_BLK_T_FLUSH, 0);
	assert_int_equal(PARSE(f, false, R(HDR, 3), R(HDR + 3, 9),
			       R(HDR + 12, 4), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->type, VIRTIO_BLK_T_FLUSH);
	hdr(f, HDR, VIRTIO_BLK_T_OUT, 0x0102030405060708ull);
	assert_int_equal(PARSE(f, false, R(HDR, 1), R(HDR + 1, 15),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(r->sector, 0x0102030405060708ull);
}

static void test_parse_bad(void **state)
{
	struct fx *f = *state;
	struct blk_req *r = &f->r;

	qinit(f, 64);
	/* No status byte: not answerable, dropped. */
	hdr(f, HDR, VIRTIO_BLK_T_IN, 0);
	assert_int_equal(PARSE(f, false, R(HDR, 16), R(DATA, 512)), -EBADMSG);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(STATUS, 0)), -EBADMSG);
	assert_int_equal(PARSE(f, false, R(HDR, 16)), -EBADMSG);
	assert_null(r->status);
	/* A readable status after writable data: the ring layer refuses
	 * the chain already. */
	chain(f, (const struct buf[]){R(HDR, 16), W(DATA, 512), R(STATUS, 1)},
	      3);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EBADMSG);
	virtq_push(&f->q, f->c.head, 0);

	/* Header short or missing: IOERR, the status is known. */
	assert_int_equal(PARSE(f, false, R(HDR, 15), W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(r->status, gp(f, STATUS, 1));
	assert_int_equal(PARSE(f, false, R(HDR, 8), R(HDR + 8, 7),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(PARSE(f, false, W(STATUS, 1)), VIRTIO_BLK_S_IOERR);
	assert_int_equal(PARSE(f, false, W(DATA, 17)), VIRTIO_BLK_S_IOERR);

	/* Past the end, overflow included. */
	hdr(f, HDR, VIRTIO_BLK_T_IN, CAP);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 512),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	hdr(f, HDR, VIRTIO_BLK_T_IN, CAP - 1);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 1024),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 512),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	hdr(f, HDR, VIRTIO_BLK_T_IN, CAP + 1);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	hdr(f, HDR, VIRTIO_BLK_T_OUT, UINT64_MAX);
	assert_int_equal(PARSE(f, false, R(HDR, 16), R(DATA, 512),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	/* sector * 512 wraps to 0 in 64 bits. */
	hdr(f, HDR, VIRTIO_BLK_T_OUT, 1ull << 55);
	assert_int_equal(PARSE(f, false, R(HDR, 16), R(DATA, 512),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);

	/* Lengths not a multiple of 512. */
	hdr(f, HDR, VIRTIO_BLK_T_IN, 0);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 100),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	hdr(f, HDR, VIRTIO_BLK_T_OUT, 0);
	assert_int_equal(PARSE(f, false, R(HDR, 16), R(DATA, 511),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(PARSE(f, false, R(HDR, 17 + 512), W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);

	/* Unknown types: GET_LIFETIME, SECURE_ERASE, legacy SCSI, junk. */
	const uint32_t unknown[] = {2, 3, 10, 14, 0x80000000, UINT32_MAX};

	for (unsigned i = 0; i < 6; i++) {
		hdr(f, HDR, unknown[i], 0);
		assert_int_equal(PARSE(f, false, R(HDR, 16), W(STATUS, 1)),
				 VIRTIO_BLK_S_UNSUPP);
		assert_int_equal(r->type, unknown[i]);
		assert_int_equal(r->written, 1);
	}
}

static void test_parse_ro(void **state)
{
	struct fx *f = *state;

	qinit(f, 64);
	hdr(f, HDR, VIRTIO_BLK_T_OUT, 0);
	assert_int_equal(PARSE(f, true, R(HDR, 16), R(DATA, 512), W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	/* Even an empty write. */
	assert_int_equal(PARSE(f, true, R(HDR, 16), W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	hdr(f, HDR, VIRTIO_BLK_T_IN, 0);
	assert_int_equal(PARSE(f, true, R(HDR, 16), W(DATA, 512), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	hdr(f, HDR, VIRTIO_BLK_T_FLUSH, 0);
	assert_int_equal(PARSE(f, true, R(HDR, 16), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	hdr(f, HDR, VIRTIO_BLK_T_GET_ID, 0);
	assert_int_equal(PARSE(f, true, R(HDR, 16), W(DATA, 20), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	hdr(f, HDR, VIRTIO_BLK_T_DISCARD, 0);
	seg(f, HDR + 16, 0, 8, 0);
	assert_int_equal(PARSE(f, true, R(HDR, 32), W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
	hdr(f, HDR, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	assert_int_equal(PARSE(f, true, R(HDR, 32), W(STATUS, 1)),
			 VIRTIO_BLK_S_IOERR);
}

static void test_parse_get_id(void **state)
{
	struct fx *f = *state;
	struct blk_req *r = &f->r;

	qinit(f, 64);
	hdr(f, HDR, VIRTIO_BLK_T_GET_ID, 0);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 20), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->len, 20);
	assert_int_equal(r->written, 21);
	/* A short buffer gets what fits, a long one 20 bytes. */
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 4), W(DATA + 8, 4),
			       W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->len, 8);
	assert_int_equal(r->nr_iov, 2);
	assert_int_equal(r->written, 9);
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(DATA, 513)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->len, 20);
	assert_int_equal(r->written, 21);
	assert_ptr_equal(r->status, gp(f, DATA + 512, 1));
	assert_int_equal(PARSE(f, false, R(HDR, 16), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r->len, 0);
}

static void test_parse_dwz(void **state)
{
	struct fx *f = *state;
	struct blk_req *r = &f->r;
	const uint32_t max = VIRTIO_BLK_MAX_DWZ_SECTORS;

	qinit(f, 64);
	for (uint32_t type = VIRTIO_BLK_T_DISCARD;
	     type <= VIRTIO_BLK_T_WRITE_ZEROES; type += 2) {
		hdr(f, HDR, type, 0);
		seg(f, HDR + 16, 16, 32, 0);
		assert_int_equal(PARSE(f, false, R(HDR, 32), W(STATUS, 1)),
				 VIRTIO_BLK_S_OK);
		assert_int_equal(r->type, type);
		assert_int_equal(r->offset, 16 * 512);
		assert_int_equal(r->bytes, 32 * 512);
		assert_false(r->unmap);
		/* The segment in its own buffer, or split. */
		assert_int_equal(PARSE(f, false, R(HDR, 16), R(HDR + 16, 5),
				       R(HDR + 21, 11), W(STATUS, 1)),
				 VIRTIO_BLK_S_OK);
		assert_int_equal(r->bytes, 32 * 512);
		/* Up to the end; past it; too long; wrapping. */
		seg(f, HDR + 16, CAP - 8, 8, 0);
		assert_int_equal(PARSE(f, false, R(HDR, 32), W(STATUS, 1)),
				 VIRTIO_BLK_S_OK);
		seg(f, HDR + 16, CAP - 8, 9, 0);
		assert_int_equal(PARSE(f, false, R(HDR, 32), W(STATUS, 1)),
				 VIRTIO_BLK_S_IOERR);
		seg(f, HDR + 16, 0, max + 1, 0);
		assert_int_equal(PARSE(f, false, R(HDR, 32), W(STATUS, 1)),
				 VIRTIO_BLK_S_IOERR);
		seg(f, HDR + 16, UINT64_MAX - 1, 8, 0);
		assert_int_equal(PARSE(f, false, R(HDR, 32), W(STATUS, 1)),
				 VIRTIO_BLK_S_IOERR);
		/* Unknown flags. */
		seg(f, HDR + 16, 0, 8, 2);
		assert_int_equal(PARSE(f, false, R(HDR, 32), W(STATUS, 1)),
				 VIRTIO_BLK_S_UNSUPP);
		/* Two segments: we offered one. */
		seg(f, HDR + 16, 0, 8, 0);
		seg(f, HDR + 32, 8, 8, 0);
		assert_int_equal(PARSE(f, false, R(HDR, 48), W(STATUS, 1)),
				 VIRTIO_BLK_S_UNSUPP);
		/* A segment cut short, or none. */
		assert_int_equal(PARSE(f, false, R(HDR, 31), W(STATUS, 1)),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(PARSE(f, false, R(HDR, 16), W(STATUS, 1)),
				 VIRTIO_BLK_S_IOERR);
	}
	/* Unmap: a hint for write-zeroes, refused for discard (5.2.6.2). */
	hdr(f, HDR, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg(f, HDR + 16, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(PARSE(f, false, R(HDR, 32), W(STATUS, 1)),
			 VIRTIO_BLK_S_OK);
	assert_true(r->unmap);
	hdr(f, HDR, VIRTIO_BLK_T_DISCARD, 0);
	assert_int_equal(PARSE(f, false, R(HDR, 32), W(STATUS, 1)),
			 VIRTIO_BLK_S_UNSUPP);
}

/* ---- the device ---- */

static const char *mkdisk(struct fx *f, uint64_t size)
{
	int fd;

	snprintf(f->path, sizeof(f->path), "/tmp/test_blk.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
	return f->path;
}

static struct virtio_blk *create(struct fx *f, const char *extra,
				 unsigned nr_queues)
{
	struct disk_options o;
	char spec[160];

	snprintf(spec, sizeof(spec), "%s%s", mkdisk(f, CAP * 512ull), extra);
	assert_int_equal(disk_options_parse(spec, &o), 0);
	if (virtio_blk_create(&f->b, &o, nr_queues))
		fail_msg("%s", err_msg());
	return f->b;
}

static uint32_t cfg32(struct virtio_blk *b, uint32_t off)
{
	uint32_t v;

	virtio_blk_config_read(b, off, &v, 4);
	return v;
}

static void test_config(void **state)
{
	struct fx *f = *state;
	struct virtio_blk *b = create(f, "", 1);
	const struct virtio_device_ops *ops = virtio_blk_get_ops(b);
	uint8_t cfg[VIRTIO_BLK_CONFIG_SIZE];
	uint64_t cap;
	uint16_t nq;

	assert_string_equal(ops->name, "virtio-blk");
	assert_int_equal(ops->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(ops->config_size, 60);
	assert_int_equal(ops->nr_queues, 1);
	assert_int_equal(ops->features,
			 (1ull << VIRTIO_BLK_F_SIZE_MAX) |
				 (1ull << VIRTIO_BLK_F_SEG_MAX) |
				 (1ull << VIRTIO_BLK_F_BLK_SIZE) |
				 (1ull << VIRTIO_BLK_F_FLUSH) |
				 (1ull << VIRTIO_BLK_F_DISCARD) |
				 (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_int_equal(ops->features, virtio_blk_ops.features);

	virtio_blk_config_read(b, 0, cfg, sizeof(cfg));
	memcpy(&cap, cfg, 8);
	assert_int_equal(cap, CAP);
	assert_int_equal(cfg32(b, 8), VIRTIO_BLK_SIZE_MAX);
	assert_int_equal(cfg32(b, 12), VIRTQ_MAX_SIZE - 2);
	assert_int_equal(cfg32(b, 16), 0); /* geometry */
	assert_int_equal(cfg32(b, 20), 512);
	assert_int_equal(cfg32(b, 24), 0); /* topology */
	assert_int_equal(cfg32(b, 28), 0);
	assert_int_equal(cfg[32], 0); /* writeback: no CONFIG_WCE */
	memcpy(&nq, cfg + 34, 2);
	assert_int_equal(nq, 1);
	assert_int_equal(cfg32(b, 36), VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(cfg32(b, 40), 1);
	assert_int_equal(cfg32(b, 44), virtio_blk_disk(b)->block_size / 512);
	assert_int_equal(cfg32(b, 48), VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(cfg32(b, 52), 1);
	assert_int_equal(cfg[56], 1);
	/* Byte by byte, as a driver may read. */
	for (uint32_t i = 0; i < sizeof(cfg); i++) {
		uint8_t v;

		virtio_blk_config_read(b, i, &v, 1);
		assert_int_equal(v, cfg[i]);
	}
}

static void test_config_variants(void **state)
{
	struct fx *f = *state;
	struct virtio_blk *b;
	struct disk_options o;
	uint64_t feat;
	uint16_t nq;

	/* Read-only: RO, no discard or write-zeroes. */
	b = create(f, ",ro", 1);
	feat = virtio_blk_get_ops(b)->features;
	assert_true(feat & (1ull << VIRTIO_BLK_F_RO));
	assert_true(feat & (1ull << VIRTIO_BLK_F_FLUSH));
	assert_false(feat & (1ull << VIRTIO_BLK_F_DISCARD));
	assert_false(feat & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(feat & (1ull << VIRTIO_BLK_F_MQ));
	assert_int_equal(cfg32(b, 36), 0);
	virtio_blk_destroy(b);
	unlink(f->path);

	/* cache=unsafe: no FLUSH. */
	b = create(f, ",cache=unsafe", 1);
	feat = virtio_blk_get_ops(b)->features;
	assert_false(feat & (1ull << VIRTIO_BLK_F_FLUSH));
	assert_false(feat & (1ull << VIRTIO_BLK_F_RO));
	assert_true(feat & (1ull << VIRTIO_BLK_F_DISCARD));
	virtio_blk_destroy(b);
	unlink(f->path);

	/* Many queues: MQ and num_queues. */
	b = create(f, "", 4);
	feat = virtio_blk_get_ops(b)->features;
	assert_true(feat & (1ull << VIRTIO_BLK_F_MQ));
	assert_int_equal(virtio_blk_get_ops(b)->nr_queues, 4);
	virtio_blk_config_read(b, 34, &nq, 2);
	assert_int_equal(nq, 4);
	virtio_blk_destroy(b);
	unlink(f->path);
	f->b = NULL;

	/* Queue counts out of range. */
	assert_int_equal(disk_options_parse(mkdisk(f, 4096), &o), 0);
	assert_int_equal(virtio_blk_create(&b, &o, 0), -EINVAL);
	assert_int_equal(virtio_blk_create(&b, &o, VIRTIO_MAX_QUEUES + 1),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "expected 1 to 16"));
	assert_int_equal(virtio_blk_create(&b, &o, VIRTIO_MAX_QUEUES), 0);
	virtio_blk_destroy(b);
	/* A missing drive: the disk's message. */
	strcat(o.path, ".missing");
	assert_int_equal(virtio_blk_create(&b, &o, 1), -ENOENT);
}

/* Starts the device on queue 0 with @features negotiated. */
static const struct virtio_device_ops *start(struct fx *f, const char *extra,
					     uint16_t qsize, uint64_t features)
{
	struct virtio_blk *b = create(f, extra, 1);
	const struct virtio_device_ops *ops = virtio_blk_get_ops(b);

	f->vd.priv = b;
	f->vd.nr_fds = 0;
	assert_int_equal(ops->init(&f->vd), 0);
	/* io_uring's eventfd first, the rate limiter's timer, the swap's
	 * eventfd. */
	assert_int_equal(f->vd.nr_fds, strstr(extra, "io=sync") ? 2 : 3);
	qinit(f, qsize);
	f->vd.q[0] = &f->q;
	assert_int_equal(ops->activate(&f->vd, features), 0);
	return ops;
}

static uint16_t used_idx(struct fx *f)
{
	return get16(f, USED + 2);
}

/* Notifies queue 0 and waits until @n chains in all were used. */
static void serve(struct fx *f, const struct virtio_device_ops *ops, uint16_t n)
{
	ops->queue_notify(&f->vd, 0);
	while (used_idx(f) != n) {
		struct pollfd p[FAKE_VIRTIO_FDS];

		for (unsigned i = 0; i < f->vd.nr_fds; i++)
			p[i] = (struct pollfd){.fd = f->vd.fd[i],
					       .events = POLLIN};
		assert_true(poll(p, f->vd.nr_fds, 5000) > 0);
		for (unsigned i = 0; i < f->vd.nr_fds; i++)
			if (p[i].revents & POLLIN)
				f->vd.ready[i](&f->vd, f->vd.fd[i]);
	}
}

/* The used element @i: chain head and length. */
static void expect_used(struct fx *f, uint16_t i, uint16_t head, uint32_t len)
{
	uint64_t e = USED + 4 + 8ull * (i % f->q.size);

	assert_int_equal(get32(f, e), head);
	assert_int_equal(get32(f, e + 4), len);
}

static uint8_t status(struct fx *f, unsigned i)
{
	return *(uint8_t *)gp(f, STATUS + 16 * i, 1);
}

static void test_device_rw(void **state)
{
	static const char *const engines[] = {",io=uring", ",io=sync"};
	uint8_t *src = malloc(64 * KiB);

	for (unsigned e = 0; e < 2; e++) {
		struct fx *f = *state;
		const struct virtio_device_ops *ops;
		struct disk *d;
		uint16_t h[8];
		char id[20];

		if (e) { /* a fresh fixture for the second engine */
			teardown(state);
			assert_int_equal(setup(state), 0);
			f = *state;
		}
		ops = start(f, engines[e], 16,
			    1ull << VIRTIO_BLK_F_FLUSH |
				    1ull << VIRTIO_F_VERSION_1);
		d = virtio_blk_disk(f->b);
		for (unsigned i = 0; i < 64 * KiB; i++)
			src[i] = (uint8_t)(i * 13 + e);
		put(f, DATA, src, 64 * KiB);
		memset(gp(f, STATUS, 256), 0xff, 256);

		/* Write 64 KiB at sector 100, flush, read it back in two
		 * requests, get the ID: one notification. */
		hdr(f, HDR, VIRTIO_BLK_T_OUT, 100);
		h[0] = chain(f,
			     (const struct buf[]){R(HDR, 16), R(DATA, 4096),
						  R(DATA + 4096, 60 * KiB),
						  W(STATUS, 1)},
			     4);
		hdr(f, HDR + 0x100, VIRTIO_BLK_T_FLUSH, 0);
		h[1] = chain(f,
			     (const struct buf[]){R(HDR + 0x100, 16),
						  W(STATUS + 16, 1)},
			     2);
		serve(f, ops, 2);
		expect_used(f, 0, h[0], 1);
		expect_used(f, 1, h[1], 1);
		assert_int_equal(status(f, 0), VIRTIO_BLK_S_OK);
		assert_int_equal(status(f, 1), VIRTIO_BLK_S_OK);
		assert_true(f->vd.notified[0] >= 1);

		hdr(f, HDR + 0x200, VIRTIO_BLK_T_IN, 100);
		h[2] = chain(f,
			     (const struct buf[]){R(HDR + 0x200, 16),
						  W(DATA + 0x20000, 32 * KiB),
						  W(STATUS + 32, 1)},
			     3);
		hdr(f, HDR + 0x300, VIRTIO_BLK_T_IN, 164);
		h[3] = chain(
			f,
			(const struct buf[]){R(HDR + 0x300, 16),
					     W(DATA + 0x28000, 32 * KiB + 1)},
			2);
		hdr(f, HDR + 0x400, VIRTIO_BLK_T_GET_ID, 0);
		h[4] = chain(f,
			     (const struct buf[]){R(HDR + 0x400, 16),
						  W(DATA + 0x40000, 20),
						  W(STATUS + 64, 1)},
			     3);
		serve(f, ops, 5);
		assert_int_equal(status(f, 2), VIRTIO_BLK_S_OK);
		assert_int_equal(*(uint8_t *)gp(f, DATA + 0x30000, 1),
				 VIRTIO_BLK_S_OK);
		assert_int_equal(status(f, 4), VIRTIO_BLK_S_OK);
		assert_memory_equal(gp(f, DATA + 0x20000, 64 * KiB), src,
				    64 * KiB);
		/* The GET_ID is answered while the queue is read, before
		 * the reads complete: look the heads up. */
		for (uint16_t i = 2; i < 5; i++) {
			uint64_t el = USED + 4 + 8ull * i;
			uint16_t head = (uint16_t)get32(f, el);

			if (head == h[2] || head == h[3])
				assert_int_equal(get32(f, el + 4),
						 32 * KiB + 1);
			else
				assert_int_equal(get32(f, el + 4), 21);
		}
		memset(id, 0, sizeof(id));
		memcpy(id, strrchr(f->path, '/') + 1,
		       strlen(strrchr(f->path, '/') + 1));
		assert_memory_equal(gp(f, DATA + 0x40000, 20), id, 20);

		/* Bad requests through the device: statuses and lengths. */
		hdr(f, HDR + 0x500, VIRTIO_BLK_T_IN, CAP);
		h[5] = chain(f,
			     (const struct buf[]){R(HDR + 0x500, 16),
						  W(DATA, 512),
						  W(STATUS + 80, 1)},
			     3);
		hdr(f, HDR + 0x600, 99, 0);
		h[6] = chain(f,
			     (const struct buf[]){R(HDR + 0x600, 16),
						  W(STATUS + 96, 1)},
			     2);
		h[7] = chain(f, (const struct buf[]){R(HDR + 0x600, 16)}, 1);
		serve(f, ops, 8);
		assert_int_equal(status(f, 5), VIRTIO_BLK_S_IOERR);
		assert_int_equal(status(f, 6), VIRTIO_BLK_S_UNSUPP);
		expect_used(f, 5, h[5], 1);
		expect_used(f, 6, h[6], 1);
		expect_used(f, 7, h[7], 0);

		/* The dropped chain is no request: no status to answer. */
		assert_int_equal(d->stats.requests, 7);
		assert_int_equal(d->stats.bytes_written, 64 * KiB);
		assert_int_equal(d->stats.bytes_read, 64 * KiB);
		assert_int_equal(d->stats.flushes, 1);
		assert_int_equal(d->stats.errors, 0);
		assert_int_equal(f->vd.needs_reset, 0);

		/* --stats. */
		{
			char line[256] = {0};
			FILE *mf = fmemopen(line, sizeof(line) - 1, "w");

			ops->print_stats(&f->vd, mf);
			fclose(mf);
			assert_string_equal(
				line,
				e ? "  7 requests, 0.1 MiB read, 0.1 MiB written, 1 flushes, 0 discards, 0 I/O errors (io=sync)\n"
				  : "  7 requests, 0.1 MiB read, 0.1 MiB written, 1 flushes, 0 discards, 0 I/O errors (io=uring)\n");
		}
	}
	free(src);
}

/* Discard and write-zeroes reach the file; cache=unsafe syncs nothing. */
static void test_device_dwz(void **state)
{
	struct fx *f = *state;
	const struct virtio_device_ops *ops =
		start(f, ",io=sync,cache=unsafe", 8, 0);
	struct disk *d = virtio_blk_disk(f->b);
	uint8_t buf[4096];

	memset(buf, 0x33, sizeof(buf));
	assert_int_equal(pwrite(d->fd, buf, sizeof(buf), 0), 4096);
	hdr(f, HDR, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg(f, HDR + 16, 1, 2, 0);
	chain(f, (const struct buf[]){R(HDR, 32), W(STATUS, 1)}, 2);
	hdr(f, HDR + 0x100, VIRTIO_BLK_T_FLUSH, 0);
	chain(f, (const struct buf[]){R(HDR + 0x100, 16), W(STATUS + 16, 1)},
	      2);
	serve(f, ops, 2);
	assert_int_equal(status(f, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(status(f, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(d->fd, buf, sizeof(buf), 0), 4096);
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], i >= 512 && i < 1536 ? 0 : 0x33);
	assert_int_equal(d->stats.discards, 1);
	assert_int_equal(d->stats.flushes, 0); /* nothing synced */
	assert_int_equal(d->stats.requests, 2);
}

/* A host I/O error reaches the guest as IOERR, is counted, and the
 * device goes on. */
static void test_device_host_error(void **state)
{
	struct fx *f = *state;
	const struct virtio_device_ops *ops = start(f, "", 8, 0);
	struct disk *d = virtio_blk_disk(f->b);

	/* The image shrinks behind our back: reads past its new end get
	 * nothing. */
	assert_int_equal(truncate(f->path, 512 * 1024), 0);
	hdr(f, HDR, VIRTIO_BLK_T_IN, CAP - 8);
	chain(f, (const struct buf[]){R(HDR, 16), W(DATA, 4096), W(STATUS, 1)},
	      3);
	hdr(f, HDR + 0x100, VIRTIO_BLK_T_IN, 0);
	chain(f,
	      (const struct buf[]){R(HDR + 0x100, 16), W(DATA, 4096),
				   W(STATUS + 16, 1)},
	      3);
	serve(f, ops, 2);
	assert_int_equal(status(f, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status(f, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(d->stats.errors, 1);
	assert_int_equal(d->stats.requests, 2);
	assert_int_equal(f->vd.needs_reset, 0);
}

/* A malformed chain is completed with length 0 and the queue goes on; a
 * corrupt ring asks the transport for a reset. */
static void test_device_bad_ring(void **state)
{
	struct fx *f = *state;
	const struct virtio_device_ops *ops = start(f, ",io=sync", 8, 0);
	uint16_t bad, good;

	hdr(f, HDR, VIRTIO_BLK_T_IN, 0);
	bad = chain(
		f, (const struct buf[]){R(HDR, 16), W(DATA, 512), R(STATUS, 1)},
		3);
	good = chain(
		f, (const struct buf[]){R(HDR, 16), W(DATA, 512), W(STATUS, 1)},
		3);
	serve(f, ops, 2);
	expect_used(f, 0, bad, 0);
	expect_used(f, 1, good, 513);
	assert_int_equal(f->vd.needs_reset, 0);
	/* The available index jumps by more than the queue size. */
	put16(f, AVAIL + 2, (uint16_t)(f->avail_idx + 9));
	ops->queue_notify(&f->vd, 0);
	assert_int_equal(f->vd.needs_reset, 1);
	assert_int_equal(used_idx(f), 2);
}

/* Reset with requests in flight: every one is waited for and none is
 * pushed afterwards; then the eventfd handler does nothing.  Reads are
 * mixed with flushes, which io_uring always runs in a worker, so that some
 * are still in flight when reset comes. */
static void test_device_reset(void **state)
{
	struct fx *f = *state;
	const struct virtio_device_ops *ops =
		start(f, "", 64, 1ull << VIRTIO_BLK_F_FLUSH);
	struct disk *d = virtio_blk_disk(f->b);
	uint16_t used;

	for (unsigned i = 0; i < 32; i++) {
		uint64_t data = DATA + 0x10000 * i;

		hdr(f, HDR + 0x100 * i,
		    i % 2 ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_IN, 64 * i);
		*(uint8_t *)gp(f, data + 32 * KiB, 1) = 0xff;
		chain(f,
		      (const struct buf[]){R(HDR + 0x100 * i, 16),
					   W(data, 32 * KiB + 1)},
		      2);
	}
	ops->queue_notify(&f->vd, 0);
	used = used_idx(f);
	ops->reset(&f->vd);
	assert_int_equal(d->inflight, 0);
	assert_int_equal(used_idx(f), used);
	if (f->vd.nr_fds > 0)
		f->vd.ready[0](&f->vd, f->vd.fd[0]);
	assert_int_equal(used_idx(f), used);
	/* Activated again, it serves. */
	qinit(f, 64);
	assert_int_equal(ops->activate(&f->vd, 0), 0);
	hdr(f, HDR, VIRTIO_BLK_T_IN, 0);
	chain(f, (const struct buf[]){R(HDR, 16), W(DATA, 512), W(STATUS, 1)},
	      3);
	serve(f, ops, 1);
	assert_int_equal(status(f, 0), VIRTIO_BLK_S_OK);
}

/* A driver that makes chains available again before they completed
 * (reusing descriptors in flight) cannot make us take more than the queue
 * size: the rest waits in the ring until completions free slots. */
static void test_device_bounded(void **state)
{
	static const char *const engines[] = {"", ",io=sync"};

	for (unsigned e = 0; e < 2; e++) {
		struct fx *f = *state;
		const struct virtio_device_ops *ops;
		struct disk *d;
		uint16_t n = 0;

		if (e) {
			teardown(state);
			assert_int_equal(setup(state), 0);
			f = *state;
		}
		ops = start(f, engines[e], 8, 1ull << VIRTIO_BLK_F_FLUSH);
		d = virtio_blk_disk(f->b);
		for (unsigned round = 0; round < 64; round++) {
			/* Never more than the ring holds unpopped. */
			if ((uint16_t)(f->avail_idx - f->q.last_avail) + 4 > 8)
				serve(f, ops, n);
			for (unsigned i = 0; i < 4; i++) {
				uint64_t h = HDR + 0x100 * i;

				hdr(f, h,
				    (round + i) % 3 ? VIRTIO_BLK_T_IN
						    : VIRTIO_BLK_T_FLUSH,
				    0);
				chain(f,
				      (const struct buf[]){R(h, 16),
							   W(DATA + 0x10000 * i,
							     64 * KiB + 1)},
				      2);
			}
			n = (uint16_t)(n + 4);
			ops->queue_notify(&f->vd, 0);
			assert_true(d->inflight <= 8);
			assert_int_equal(f->vd.needs_reset, 0);
		}
		serve(f, ops, n);
		assert_int_equal(d->stats.requests, n);
		assert_int_equal(d->stats.errors, 0);
	}
}

/* ---- the rate limiter ---- */

static uint64_t now_ms(void)
{
	return throttle_now_ns() / 1000000;
}

/* Makes @n 512-byte reads of sector i available (status byte i). */
static void reads(struct fx *f, unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++) {
		hdr(f, HDR + 0x100 * i, VIRTIO_BLK_T_IN, i);
		chain(f,
		      (const struct buf[]){R(HDR + 0x100 * i, 16),
					   W(DATA + 0x1000 * i, 512),
					   W(STATUS + 16 * i, 1)},
		      3);
	}
}

/* The timer is the device's second last fd; is it armed? */
static bool timer_armed(struct fx *f)
{
	struct itimerspec its;

	assert_int_equal(timerfd_gettime(f->vd.fd[f->vd.nr_fds - 2], &its), 0);
	return its.it_value.tv_sec || its.it_value.tv_nsec;
}

/* iops: 2 at once (the full bucket), then one each 50 ms, on both
 * engines; the held request is kept, not failed; --stats counts. */
static void test_device_throttle_ops(void **state)
{
	static const char *const engines[] = {",iops=2/100",
					      ",io=sync,iops=2/100"};

	for (unsigned e = 0; e < 2; e++) {
		struct fx *f = *state;
		const struct virtio_device_ops *ops;
		uint64_t t0;
		char *text = NULL;
		size_t len;
		FILE *mf;

		if (e) {
			teardown(state);
			assert_int_equal(setup(state), 0);
			f = *state;
		}
		ops = start(f, engines[e], 32, 1ull << VIRTIO_BLK_F_FLUSH);
		memset(gp(f, STATUS, 256), 0xff, 256);
		t0 = now_ms();
		reads(f, 0, 6);
		ops->queue_notify(&f->vd, 0);
		/* io_uring completes later: wait for the first two. */
		if (e == 0)
			serve(f, ops, 2);
		assert_int_equal(used_idx(f), 2);
		assert_true(timer_armed(f));
		/* Notifications from the guest change nothing. */
		ops->queue_notify(&f->vd, 0);
		assert_int_equal(used_idx(f), 2);
		assert_int_equal(status(f, 2), 0xff);
		serve(f, ops, 6);
		/* 4 more at 20 a second: 200 ms. */
		assert_in_range(now_ms() - t0, 190, 1000);
		for (unsigned i = 0; i < 6; i++)
			if (status(f, i) != VIRTIO_BLK_S_OK)
				fail_msg("engine %u request %u: status %u", e,
					 i, status(f, i));
		assert_false(timer_armed(f));
		mf = open_memstream(&text, &len);
		ops->print_stats(&f->vd, mf);
		fclose(mf);
		assert_non_null(
			strstr(text, "rate limiter: 4 requests waited"));
		free(text);
	}
}

/* bw counts the data of reads and writes; a FLUSH is 0 bytes. */
static void test_device_throttle_bw(void **state)
{
	struct fx *f = *state;
	const struct virtio_device_ops *ops = start(
		f, ",io=sync,bw=8192/100", 16, 1ull << VIRTIO_BLK_F_FLUSH);
	uint64_t t0 = now_ms();

	for (unsigned i = 0; i < 3; i++) {
		hdr(f, HDR + 0x100 * i, VIRTIO_BLK_T_IN, 0);
		if (i == 2) /* a flush, after 8 KiB read */
			hdr(f, HDR + 0x100 * i, VIRTIO_BLK_T_FLUSH, 0);
		chain(f,
		      (const struct buf[]){R(HDR + 0x100 * i, 16),
					   W(DATA + 0x1000 * i, 4096),
					   W(STATUS + 16 * i, 1)},
		      i == 2 ? 2 : 3);
	}
	/* Then 16 KiB: more than the bucket, so it waits until the bucket
	 * is full again (100 ms) and then passes with a debt. */
	hdr(f, HDR + 0x300, VIRTIO_BLK_T_IN, 0);
	chain(f,
	      (const struct buf[]){R(HDR + 0x300, 16),
				   W(DATA + 0x10000, 16 * KiB),
				   W(STATUS + 48, 1)},
	      3);
	reads(f, 4, 1); /* 512 bytes: waits for the debt, 8 KiB */
	ops->queue_notify(&f->vd, 0);
	assert_int_equal(used_idx(f), 3);
	serve(f, ops, 4);
	assert_in_range(now_ms() - t0, 95, 300);
	serve(f, ops, 5);
	/* 100 ms full, 100 ms of debt (8 KiB), 512 bytes more. */
	assert_in_range(now_ms() - t0, 200, 500);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(status(f, i), VIRTIO_BLK_S_OK);
}

/* A reset drops the held request and disarms the timer; a live update
 * (PATCH) of the limit takes effect at once, from another thread's call. */
static void test_device_throttle_reset_update(void **state)
{
	struct fx *f = *state;
	const struct virtio_device_ops *ops = start(
		f, ",io=sync,iops=1/10000", 32, 1ull << VIRTIO_BLK_F_FLUSH);
	struct throttle_config off = {0};
	struct throttle_config fast = {
		.ops = {.size = 1000, .refill_time_ms = 1}};
	struct pollfd p = {.fd = f->vd.fd[0], .events = POLLIN};

	reads(f, 0, 3);
	ops->queue_notify(&f->vd, 0);
	assert_int_equal(used_idx(f), 1);
	assert_true(timer_armed(f));
	ops->reset(&f->vd);
	assert_false(timer_armed(f));
	assert_int_equal(used_idx(f), 1);
	/* Activated again: the bucket is still empty (a reset is no way
	 * around the limit), and the update lifts it. */
	qinit(f, 32);
	assert_int_equal(ops->activate(&f->vd, 0), 0);
	reads(f, 0, 3);
	ops->queue_notify(&f->vd, 0);
	assert_int_equal(used_idx(f), 0);
	virtio_blk_set_rate(f->b, &off);
	assert_int_equal(poll(&p, 1, 1000), 1);
	f->vd.ready[0](&f->vd, f->vd.fd[0]);
	assert_int_equal(used_idx(f), 3);
	/* Limited again; the new buckets start full. */
	virtio_blk_set_rate(f->b, &fast);
	reads(f, 3, 5);
	serve(f, ops, 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(status(f, i), VIRTIO_BLK_S_OK);
}

/* ---- a new medium (PATCH path_on_host) ---- */

/* An image of @sectors whose every byte is @fill, at a new temporary
 * path in @path. */
static void mkimage(char *path, size_t len, unsigned sectors, uint8_t fill)
{
	uint8_t buf[512];
	int fd;

	snprintf(path, len, "/tmp/test_blk_swap.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	memset(buf, fill, sizeof(buf));
	for (unsigned i = 0; i < sectors; i++)
		assert_int_equal(write(fd, buf, sizeof(buf)), 512);
	close(fd);
}

static uint64_t capacity(struct virtio_blk *b)
{
	uint64_t c;

	virtio_blk_config_read(b, 0, &c, 8);
	return c;
}

/* Requests in flight on the old file complete on it; what the driver
 * makes available after the swap reads the new one; the capacity, the
 * path and the serial follow the new file, the transport is told once,
 * the metrics count it.  Both engines. */
static void test_device_swap(void **state)
{
	static const char *const engines[] = {"", ",io=sync"};

	for (unsigned e = 0; e < 2; e++) {
		struct fx *f = *state;
		const struct virtio_device_ops *ops;
		struct virtio_metric m[VIRTIO_METRICS_MAX];
		char img[64], id[21] = {0};
		struct disk *d;
		uint8_t fill = 0;
		unsigned n, i;

		if (e) {
			teardown(state);
			assert_int_equal(setup(state), 0);
			f = *state;
		}
		ops = start(f, engines[e], 32, 1ull << VIRTIO_BLK_F_FLUSH);
		d = virtio_blk_disk(f->b);
		memset(gp(f, DATA, 0x10000), 0x11, 0x10000);
		assert_int_equal(pwrite(d->fd, gp(f, DATA, 8 * 512), 8 * 512,
					0),
				 8 * 512);
		mkimage(img, sizeof(img), 2 * CAP, 0xbb);
		memset(gp(f, DATA, 0x10000), 0, 0x10000);

		/* Four reads of the old file (in flight for io_uring), then
		 * the new medium, then four more reads. */
		reads(f, 0, 4);
		ops->queue_notify(&f->vd, 0);
		assert_int_equal(virtio_blk_swap(f->b, img, false), 0);
		assert_int_equal(capacity(f->b), CAP); /* not taken yet */
		reads(f, 4, 4);
		serve(f, ops, 8);
		for (unsigned i = 0; i < 8; i++) {
			assert_int_equal(status(f, i), VIRTIO_BLK_S_OK);
			fill = *(uint8_t *)gp(f, DATA + 0x1000 * i, 1);
			assert_int_equal(fill, i < 4 ? 0x11 : 0xbb);
		}
		/* The swap eventfd, as the I/O thread would see it. */
		for (unsigned i = 0; i < f->vd.nr_fds; i++) {
			struct pollfd p = {.fd = f->vd.fd[i], .events = POLLIN};

			if (poll(&p, 1, 0) == 1)
				f->vd.ready[i](&f->vd, f->vd.fd[i]);
		}
		assert_int_equal(capacity(f->b), 2 * CAP);
		assert_int_equal(f->vd.config_changed, 1);
		assert_string_equal(d->path, img);
		memcpy(id, strrchr(img, '/') + 1,
		       strlen(strrchr(img, '/') + 1));
		assert_string_equal(d->serial, id);
		n = ops->read_metrics(&f->vd, m);
		for (i = 0; i < n && strcmp(m[i].name, "update_count"); i++)
			;
		assert_true(i < n);
		assert_int_equal(m[i].value, 1);
		/* The old image is closed, and so unlocked: it opens again
		 * as a drive. */
		{
			struct disk other;

			assert_int_equal(
				disk_file_open(&other, f->path, false, -1), 0);
			disk_close(&other);
		}

		/* Refused files leave the medium as it is: missing, not
		 * whole sectors, a directory, locked by another user. */
		assert_int_equal(virtio_blk_swap(f->b, "/nonexistent/img",
						 false),
				 -ENOENT);
		assert_non_null(strstr(err_msg(), "does not exist"));
		assert_int_equal(truncate(f->path, 1000), 0);
		assert_int_equal(virtio_blk_swap(f->b, f->path, false),
				 -EINVAL);
		assert_non_null(strstr(err_msg(), "not a multiple of 512"));
		assert_int_equal(virtio_blk_swap(f->b, "/tmp", false), -EISDIR);
		{
			struct disk other;

			assert_int_equal(truncate(f->path, 4096), 0);
			assert_int_equal(
				disk_file_open(&other, f->path, false, -1), 0);
			assert_int_equal(virtio_blk_swap(f->b, f->path, false),
					 -EBUSY);
			assert_non_null(strstr(err_msg(), "locked"));
			disk_close(&other);
		}
		assert_string_equal(d->path, img);
		assert_int_equal(capacity(f->b), 2 * CAP);

		/* The same file again, resized (to have the guest see the
		 * new size): it shares the drive's lock instead of failing
		 * on it, and the lock stays once the old fd is closed. */
		assert_int_equal(truncate(img, 3 * CAP * 512ull), 0);
		assert_int_equal(virtio_blk_swap(f->b, img, false), 0);
		reads(f, 8, 1);
		serve(f, ops, 9);
		assert_int_equal(capacity(f->b), 3 * CAP);
		assert_int_equal(f->vd.config_changed, 2);
		{
			struct disk other;

			assert_int_equal(disk_file_open(&other, img, false, -1),
					 -EBUSY);
		}
		unlink(img);
	}
}

/* A swap handed over while requests are in flight, then a reset: the
 * reset drains them and the device thread still takes the file. */
static void test_device_swap_reset(void **state)
{
	struct fx *f = *state;
	const struct virtio_device_ops *ops =
		start(f, "", 32, 1ull << VIRTIO_BLK_F_FLUSH);
	char img[64];

	mkimage(img, sizeof(img), CAP / 2, 0xcc);
	reads(f, 0, 8);
	ops->queue_notify(&f->vd, 0);
	assert_int_equal(virtio_blk_swap(f->b, img, false), 0);
	ops->reset(&f->vd);
	for (unsigned i = 0; i < f->vd.nr_fds; i++) {
		struct pollfd p = {.fd = f->vd.fd[i], .events = POLLIN};

		if (poll(&p, 1, 100) == 1)
			f->vd.ready[i](&f->vd, f->vd.fd[i]);
	}
	assert_int_equal(capacity(f->b), CAP / 2);
	assert_int_equal(f->vd.config_changed, 1);
	unlink(img);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_parse_rw),
		T(test_parse_bad),
		T(test_parse_ro),
		T(test_parse_get_id),
		T(test_parse_dwz),
		T(test_config),
		T(test_config_variants),
		T(test_device_rw),
		T(test_device_dwz),
		T(test_device_host_error),
		T(test_device_bad_ring),
		T(test_device_reset),
		T(test_device_bounded),
		T(test_device_throttle_ops),
		T(test_device_throttle_bw),
		T(test_device_throttle_reset_update),
		T(test_device_swap),
		T(test_device_swap_reset),
	};
#undef T

	return cmocka_run_group_tests_name("blk", tests, NULL, NULL);
}
