/* A polled virtio-blk load for the rate limiter's measured test
 * (rate.sh): sector 0 of the drive in slot 0 says what to do, "RATE"
 * then le32 COUNT and le32 BYTES (a multiple of 512, 512 to 65536); the
 * guest reads it (one request), then makes COUNT reads of BYTES each, one
 * at a time, walking the disk from sector 8 and wrapping.  Prints
 * "rate done" and exits 0, or says what failed and exits with the check's
 * number.  The host times the run. */
#include "virtio.h"

#define DATA BUF_ADDR(16) /* 64 KiB */

static void fail(unsigned code, const char *why, uint64_t v)
{
	guest_fail("virtio-blk-rate", code, why, v);
}

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	struct vdev d;
	uint32_t used, count, bytes;
	uint64_t cap, sector = 8;
	volatile uint8_t *p = (volatile uint8_t *)DATA;
	int st;

	(void)cpu;
	if (vdev_init(&d, 0, VIRTIO_ID_BLOCK, F_VERSION_1, 16))
		fail(1, "device setup failed", 0);
	cap = blk_capacity(&d);
	st = blk_request(&d, BLK_T_IN, 0, DATA, 512, &used);
	if (st != BLK_S_OK)
		fail(2, "reading sector 0: status", (uint64_t)(int64_t)st);
	if (p[0] != 'R' || p[1] != 'A' || p[2] != 'T' || p[3] != 'E')
		fail(3, "sector 0 does not start with RATE", p[0]);
	count = *(volatile uint32_t *)(DATA + 4);
	bytes = *(volatile uint32_t *)(DATA + 8);
	if (!bytes || bytes % 512 || bytes > 65536 || cap < 8 + bytes / 512)
		fail(4, "bad request size", bytes);
	for (uint32_t i = 0; i < count; i++) {
		if (sector + bytes / 512 > cap)
			sector = 8;
		st = blk_request(&d, BLK_T_IN, sector, DATA, bytes, &used);
		if (st != BLK_S_OK)
			fail(5, "read failed: status", (uint64_t)(int64_t)st);
		sector += bytes / 512;
	}
	print("rate done\n");
	guest_exit(0);
}
