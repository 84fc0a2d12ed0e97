/* virtio-blk through virtio-mmio, polled.  Run with two drives of 1 MiB
 * (2048 sectors) whose sector s holds blk_sector_pattern(s) (virtio.sh
 * makes them): slot 0 writable with serial=MVSERIAL42, slot 1 read-only.
 *
 * Slot 0: capacity 2048, RO not offered; sectors 0 and 2047 read back their
 * pattern, 8 sectors in one request of two buffers too; sector 5 is
 * written with "WRITTEN BY GUEST", FLUSHed (if FLUSH is offered; else a
 * FLUSH must not succeed) and read back; GET_ID gives the serial;
 * sector 2048, and 2 sectors from 2047, are IOERR for a read and a write.
 * Slot 1: RO offered; a read works, a write is IOERR or UNSUPP (the script
 * checks that neither file changed but sector 5 of the first).
 * Prints "virtio-blk ok" and exits 0, or says what failed and exits with
 * that check's number. */
#include "virtio.h"

#define SERIAL "MVSERIAL42"
#define CAPACITY 2048
#define DATA BUF_ADDR(1) /* up to 16 KiB of data buffers */
#define DATA2 BUF_ADDR(5)

static const char written_unit[] = "WRITTEN BY GUEST";

static void fail(unsigned code, const char *why, uint64_t v)
{
	guest_fail("virtio-blk", code, why, v);
}

/* A request that must succeed with @want_len used. */
static void rq_ok(struct vdev *d, unsigned code, uint32_t type, uint64_t sector,
		  uint64_t data, uint32_t len, uint32_t want_len)
{
	uint32_t used;
	int st = blk_request(d, type, sector, data, len, &used);

	if (st != BLK_S_OK)
		fail(code, "request failed: status", (uint64_t)(int64_t)st);
	if (used != want_len)
		fail(code, "used length", used);
}

/* A request that must fail with IOERR (or also UNSUPP if @unsupp_ok), with
 * the used length 1 or more (the status byte was written). */
static void rq_err(struct vdev *d, unsigned code, uint32_t type,
		   uint64_t sector, uint64_t data, uint32_t len, int unsupp_ok)
{
	uint32_t used;
	int st = blk_request(d, type, sector, data, len, &used);

	if (st != BLK_S_IOERR && !(unsupp_ok && st == BLK_S_UNSUPP))
		fail(code, "expected IOERR, status", (uint64_t)(int64_t)st);
	if (used < 1)
		fail(code, "an error with used length 0", used);
}

static void check_sector(unsigned code, uint64_t addr, uint64_t s)
{
	uint8_t want[512];

	blk_sector_pattern(s, want);
	if (!mem_equal(addr, want, 512))
		fail(code, "wrong contents of sector", s);
}

static void test_rw_drive(void)
{
	uint8_t id[BLK_ID_BYTES] = SERIAL;
	uint8_t pattern[512];
	struct vdev d;
	uint64_t f = F_VERSION_1;
	struct vbuf b[4];
	uint32_t used;
	int flush;

	if (vdev_probe(&d, 0, VIRTIO_ID_BLOCK))
		fail(1, "no virtio-blk in slot 0", 0);
	if (vdev_offer(&d))
		fail(1, "reset failed", 0);
	if (d.offered & BLK_F_RO)
		fail(2, "VIRTIO_BLK_F_RO offered for a writable drive",
		     d.offered);
	flush = !!(d.offered & BLK_F_FLUSH);
	if (flush)
		f |= BLK_F_FLUSH;
	if (vdev_negotiate(&d, f) || vdev_setup_queue(&d, 16) ||
	    vdev_driver_ok(&d))
		fail(3, "device setup failed", 0);
	if (blk_capacity(&d) != CAPACITY)
		fail(4, "capacity", blk_capacity(&d));

	mem_fill(DATA, 0, 4096);
	rq_ok(&d, 5, BLK_T_IN, 0, DATA, 512, 513);
	check_sector(5, DATA, 0);
	rq_ok(&d, 6, BLK_T_IN, CAPACITY - 1, DATA, 512, 513);
	check_sector(6, DATA, CAPACITY - 1);

	/* Sectors 8-15 into two buffers: 1 KiB, then 3 KiB elsewhere. */
	mem_fill(DATA, 0, 4096);
	mem_fill(DATA2, 0, 4096);
	*(volatile uint32_t *)BUF_ADDR(0) = BLK_T_IN;
	*(volatile uint32_t *)(BUF_ADDR(0) + 4) = 0;
	*(volatile uint64_t *)(BUF_ADDR(0) + 8) = 8;
	*(volatile uint8_t *)(BUF_ADDR(0) + 16) = 0xff;
	b[0] = (struct vbuf){BUF_ADDR(0), 16, 0};
	b[1] = (struct vbuf){DATA, 1024, D_WRITE};
	b[2] = (struct vbuf){DATA2, 3072, D_WRITE};
	b[3] = (struct vbuf){BUF_ADDR(0) + 16, 1, D_WRITE};
	if (vq_request(&d, b, 4, &used))
		fail(7, "two-buffer read failed", 0);
	if (*(volatile uint8_t *)(BUF_ADDR(0) + 16) != BLK_S_OK || used != 4097)
		fail(7, "two-buffer read: status / used length", used);
	for (unsigned s = 0; s < 8; s++)
		check_sector(7, s < 2 ? DATA + s * 512 : DATA2 + (s - 2) * 512,
			     8 + s);

	for (int i = 0; i < 512; i++)
		pattern[i] = (uint8_t)written_unit[i % 16];
	mem_copy(DATA, pattern, 512);
	rq_ok(&d, 8, BLK_T_OUT, 5, DATA, 512, 1);
	if (flush) {
		rq_ok(&d, 9, BLK_T_FLUSH, 0, 0, 0, 1);
	} else {
		/* Not negotiated: UNSUPP is right, OK is harmless. */
		int st = blk_request(&d, BLK_T_FLUSH, 0, 0, 0, &used);

		if (st != BLK_S_UNSUPP && st != BLK_S_OK)
			fail(9, "FLUSH not offered: status",
			     (uint64_t)(int64_t)st);
	}
	mem_fill(DATA, 0, 512);
	rq_ok(&d, 10, BLK_T_IN, 5, DATA, 512, 513);
	if (!mem_equal(DATA, pattern, 512))
		fail(10, "sector 5 does not read back what was written", 0);

	/* GET_ID: the serial, NUL-padded to 20 bytes; the used length
	 * counts what was written, at least the status byte. */
	mem_fill(DATA, 0xaa, BLK_ID_BYTES);
	if (blk_request(&d, BLK_T_GET_ID, 0, DATA, BLK_ID_BYTES, &used) !=
	    BLK_S_OK)
		fail(11, "GET_ID failed", 0);
	if (!mem_equal(DATA, id, BLK_ID_BYTES)) {
		print("GET_ID: ");
		for (int i = 0; i < BLK_ID_BYTES; i++) {
			print_hex(*(volatile uint8_t *)(DATA + i));
			print(" ");
		}
		print("\n");
		fail(11, "GET_ID is not " SERIAL, 0);
	}
	if (used < 1 || used > BLK_ID_BYTES + 1)
		fail(11, "GET_ID used length", used);

	/* Past the end: a sector that does not exist, one that straddles
	 * the end, and one whose byte offset overflows 64 bits. */
	rq_err(&d, 12, BLK_T_IN, CAPACITY, DATA, 512, 0);
	rq_err(&d, 13, BLK_T_IN, CAPACITY - 1, DATA, 1024, 0);
	rq_err(&d, 14, BLK_T_OUT, CAPACITY, DATA, 512, 0);
	rq_err(&d, 15, BLK_T_IN, 1ull << 55, DATA, 512, 0);
	rq_err(&d, 16, BLK_T_OUT, ~0ull, DATA, 512, 0);
	/* The device still works. */
	rq_ok(&d, 17, BLK_T_IN, 0, DATA, 512, 513);
	check_sector(17, DATA, 0);
	if (vdev_reset(&d))
		fail(18, "reset", 0);
}

static void test_ro_drive(void)
{
	struct vdev d;

	if (vdev_probe(&d, 1, VIRTIO_ID_BLOCK))
		fail(20, "no virtio-blk in slot 1", 0);
	if (vdev_offer(&d))
		fail(20, "reset failed", 0);
	if (!(d.offered & BLK_F_RO))
		fail(21, "VIRTIO_BLK_F_RO not offered for a ,ro drive",
		     d.offered);
	if (vdev_negotiate(&d, F_VERSION_1 | BLK_F_RO) ||
	    vdev_setup_queue(&d, 8) || vdev_driver_ok(&d))
		fail(22, "device setup failed", 0);
	mem_fill(DATA, 0, 512);
	rq_ok(&d, 23, BLK_T_IN, 1, DATA, 512, 513);
	check_sector(23, DATA, 1);
	mem_fill(DATA, 0x55, 512);
	rq_err(&d, 24, BLK_T_OUT, 3, DATA, 512, 1);
	mem_fill(DATA, 0, 512);
	rq_ok(&d, 25, BLK_T_IN, 3, DATA, 512, 513);
	check_sector(25, DATA, 3);
	if (vdev_reset(&d))
		fail(26, "reset", 0);
}

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	(void)cpu;
	test_rw_drive();
	test_ro_drive();
	print("virtio-blk ok\n");
	guest_exit(0);
}
