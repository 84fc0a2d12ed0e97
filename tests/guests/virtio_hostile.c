/* A hostile virtio driver: every way a guest can break the virtio-mmio
 * protocol or a split virtqueue, one case each, against the device in
 * slot 0 (virtio-rng or virtio-blk; for blk, slot 1 must be a read-only
 * drive and both drives hold blk_sector_pattern(), see virtio.sh).  Run
 * with --mem 4G: RAM at 0-3 GiB and 4-5 GiB around the MMIO hole.
 *
 * What the device must do is what src/virtio/mmio.c and virtq.c promise:
 * a malformed chain is completed with used length 0 and the queue goes on;
 * a corrupt ring (available index, head index) or a bad queue setup sets
 * DEVICE_NEEDS_RESET (0x40) in Status and the device serves nothing until
 * reset; a register access of the wrong width reads 0 and writes nothing;
 * features not offered make FEATURES_OK not stick.
 *
 * After every case the device is reset (Status = 0, which must read back
 * 0 with the queue not ready) and a normal request must succeed.  Output,
 * one line each: "device NAME", then per case "case NAME", indented
 * details, "ok NAME" or "fail NAME"; at the end "done N" with N failed
 * cases.  The exit status is the number of the first failed case (1-based,
 * in the order printed), 0 if none failed. */
#include "virtio.h"

#define QSIZE 8
#define DATA BUF_ADDR(1) /* the normal request's data */
#define RING RING_ADDR(0)
#define RAM_LOW_END 0xc0000000ull /* end of RAM below the hole, --mem 4G */
#define HIGH_RAM 0x100000000ull	  /* RAM above the hole, --mem 4G */
#define NOT_RAM 0x200000000ull	  /* 8 GiB: beyond a 5 GiB guest */
#define CAPACITY 2048
#define SENTINEL 0x5a

static struct vdev dev;
static int is_blk;
static uint32_t data_len; /* rng: 64 bytes; blk: one sector */

/* An indented detail line; returns -1 so that "return why(...)" fails. */
static int why(const char *msg, uint64_t v)
{
	print("  ");
	print(msg);
	print(" ");
	print_hex(v);
	print("\n");
	return -1;
}

static int check(int ok, const char *msg, uint64_t v)
{
	return ok ? 0 : why(msg, v);
}

static int up(uint64_t features, uint16_t qsize)
{
	if (vdev_init(&dev, 0, is_blk ? VIRTIO_ID_BLOCK : VIRTIO_ID_RNG,
		      features, qsize))
		return why("device setup failed, Status",
			   vreg(&dev, VM_STATUS));
	return 0;
}

/* Points dev's ring pointers at the default rings of slot 0 and zeroes
 * them, for cases that write the queue registers themselves. */
static void rings_here(uint16_t qsize)
{
	mem_fill(RING, 0, 0x3000);
	dev.qsize = qsize;
	dev.desc = (volatile struct vq_desc *)RING;
	dev.avail = (volatile uint16_t *)(RING + 0x1000);
	dev.used = (volatile uint8_t *)(RING + 0x2000);
	dev.avail_idx = dev.used_idx = dev.next_desc = 0;
}

/* Where the k-th request of a batch keeps its blk header (+16: status)
 * and its data. */
static uint64_t hdr_at(unsigned k)
{
	return BUF_ADDR(8 + k);
}

static uint64_t data_at(unsigned k)
{
	return k ? BUF_ADDR(16 + k) : DATA;
}

static void blk_header(uint64_t hdr, uint32_t type, uint64_t sector)
{
	*(volatile uint32_t *)hdr = type;
	*(volatile uint32_t *)(hdr + 4) = 0;
	*(volatile uint64_t *)(hdr + 8) = sector;
	*(volatile uint8_t *)(hdr + 16) = 0xff;
}

/* Makes the k-th normal request available (no notification): rng, 64
 * bytes; blk, a read of sector 0. */
static uint16_t post_normal(unsigned k)
{
	struct vbuf b[3];

	mem_fill(data_at(k), 0, data_len);
	if (!is_blk) {
		b[0] = (struct vbuf){data_at(k), data_len, D_WRITE};
		return vq_post(&dev, b, 1);
	}
	blk_header(hdr_at(k), BLK_T_IN, 0);
	b[0] = (struct vbuf){hdr_at(k), 16, 0};
	b[1] = (struct vbuf){data_at(k), data_len, D_WRITE};
	b[2] = (struct vbuf){hdr_at(k) + 16, 1, D_WRITE};
	return vq_post(&dev, b, 3);
}

/* Makes the k-th slow request available: blk, a write of sector 16 + k
 * with what it already holds (the file does not change) and, FLUSH not
 * negotiated, synced before it completes; rng, a normal request. */
static uint16_t post_slow(unsigned k)
{
	struct vbuf b[3];
	uint8_t pat[512];

	if (!is_blk)
		return post_normal(k);
	blk_sector_pattern(16 + k, pat);
	mem_copy(data_at(k), pat, 512);
	blk_header(hdr_at(k), BLK_T_OUT, 16 + k);
	b[0] = (struct vbuf){hdr_at(k), 16, 0};
	b[1] = (struct vbuf){data_at(k), 512, 0};
	b[2] = (struct vbuf){hdr_at(k) + 16, 1, D_WRITE};
	return vq_post(&dev, b, 3);
}

/* Whether @len bytes at @addr are what a normal request leaves there. */
static int data_ok(uint64_t addr)
{
	uint8_t want[512];

	if (!is_blk)
		return check(!mem_all(addr, 0, data_len),
			     "rng data all zero at", addr);
	blk_sector_pattern(0, want);
	return check(mem_equal(addr, want, 512), "wrong sector 0 data at",
		     addr);
}

/* The used element @id/@len completes normal request @k with head @head. */
static int normal_done(unsigned k, uint16_t head, uint32_t id, uint32_t len)
{
	if (id != head)
		return why("used element for chain", id);
	if (len != data_len + (is_blk ? 1 : 0))
		return why("used length", len);
	if (is_blk && *(volatile uint8_t *)(hdr_at(k) + 16) != BLK_S_OK)
		return why("status", *(volatile uint8_t *)(hdr_at(k) + 16));
	return data_ok(data_at(k));
}

static int normal_request(void)
{
	uint16_t head = post_normal(0);
	uint32_t id, len;

	vq_kick(&dev);
	if (vq_wait(&dev, &id, &len, WAIT_LONG))
		return why("normal request: no answer, Status",
			   vreg(&dev, VM_STATUS));
	return normal_done(0, head, id, len);
}

/* Nothing comes to the used ring within WAIT_SHORT. */
static int not_served(void)
{
	uint32_t id, len;

	if (vq_wait(&dev, &id, &len, WAIT_SHORT) == V_OK)
		return why("the device served a request anyway: used length",
			   len);
	return 0;
}

/* The device reports DEVICE_NEEDS_RESET and serves nothing more. */
static int needs_reset(void)
{
	if (vdev_wait_status(&dev, S_NEEDS_RESET, WAIT_STATUS))
		return why("no DEVICE_NEEDS_RESET, Status",
			   vreg(&dev, VM_STATUS));
	if (vq_used_pending(&dev))
		return why("used elements after a broken ring:",
			   vq_used_pending(&dev));
	return not_served();
}

/* Reset, the device must be quiet; set it up again and serve normally. */
static int recover(void)
{
	if (vdev_reset(&dev))
		return why("after the case: reset failed", 0);
	vreg_write(&dev, VM_QUEUE_SEL, 0);
	if (vreg(&dev, VM_QUEUE_READY))
		return why("after reset: QueueReady", 1);
	if (up(F_VERSION_1, QSIZE) || normal_request())
		return why("after reset: the normal request failed", 0);
	return vdev_reset(&dev) ? why("final reset failed", 0) : 0;
}

/* ---- chains built by hand ---- */

/* The first data descriptor of a hand-built chain (blk: the header is
 * descriptor 0), and the status descriptor (blk). */
#define DFIRST (is_blk ? 1 : 0)
#define DSTATUS (QSIZE - 1)
#define STATUS_ADDR (BUF_ADDR(0) + 16)

/* Writes a request whose data part is @n buffers @b at descriptors
 * DFIRST.. (blk: a read of sector 0, header at 0 and the status at
 * DSTATUS around them).  Returns the head, 0; call vq_publish. */
static uint16_t build(const struct vbuf *b, unsigned n)
{
	uint16_t i = DFIRST;

	if (is_blk) {
		blk_header(BUF_ADDR(0), BLK_T_IN, 0);
		vq_set_desc(&dev, 0, BUF_ADDR(0), 16, D_NEXT, 1);
		vq_set_desc(&dev, DSTATUS, STATUS_ADDR, 1, D_WRITE, 0);
	}
	for (unsigned k = 0; k < n; k++, i++) {
		int last = k + 1 == n;
		uint16_t flags = b[k].flags;

		if (!last || is_blk)
			flags |= D_NEXT;
		vq_set_desc(&dev, i, b[k].addr, b[k].len, flags,
			    last ? (is_blk ? DSTATUS : 0) : (uint16_t)(i + 1));
	}
	return 0;
}

/* Chain @head must come back with used length 0 and nothing written
 * (blk: the status byte untouched); then, without a reset, the queue must
 * still serve a normal request. */
static int dropped(uint16_t head)
{
	uint32_t id, len;

	vq_publish(&dev, head);
	vq_kick(&dev);
	if (vq_wait(&dev, &id, &len, WAIT_LONG))
		return why("bad chain: no used element, Status",
			   vreg(&dev, VM_STATUS));
	if (id != head)
		return why("bad chain: used element for chain", id);
	if (len != 0)
		return why("bad chain: used length", len);
	if (is_blk && *(volatile uint8_t *)STATUS_ADDR != 0xff)
		return why("bad chain: status written",
			   *(volatile uint8_t *)STATUS_ADDR);
	if (vreg(&dev, VM_STATUS) & S_NEEDS_RESET)
		return why("bad chain broke the device, Status",
			   vreg(&dev, VM_STATUS));
	dev.next_desc = 0;
	if (normal_request())
		return why("the queue stopped after a bad chain", 0);
	return 0;
}

/* A chain with one data buffer @addr/@len (writable) must be dropped. */
static int dropped_buf(uint64_t addr, uint32_t len)
{
	struct vbuf b = {addr, len, D_WRITE};

	return dropped(build(&b, 1));
}

/* Chain @head is served as a normal request would be, data at @data. */
static int served(uint16_t head, uint64_t data)
{
	uint32_t id, len;

	vq_publish(&dev, head);
	vq_kick(&dev);
	if (vq_wait(&dev, &id, &len, WAIT_LONG))
		return why("no used element, Status", vreg(&dev, VM_STATUS));
	if (id != head)
		return why("used element for chain", id);
	if (len != data_len + (is_blk ? 1 : 0))
		return why("used length", len);
	if (is_blk && *(volatile uint8_t *)STATUS_ADDR != BLK_S_OK)
		return why("status", *(volatile uint8_t *)STATUS_ADDR);
	return data_ok(data);
}

/* Descriptor @i: an indirect table at @table, @len bytes. */
static void set_indirect(uint16_t i, uint64_t table, uint32_t len,
			 uint16_t flags)
{
	vq_set_desc(&dev, i, table, len, (uint16_t)(D_INDIRECT | flags), 0);
}

/* Writes a whole normal request as an indirect table at @t; returns its
 * length in bytes. */
static uint32_t table_normal(uint64_t t)
{
	volatile struct vq_desc *d = (volatile struct vq_desc *)t;

	mem_fill(DATA, 0, data_len);
	if (!is_blk) {
		d[0] = (struct vq_desc){DATA, data_len, D_WRITE, 0};
		return 16;
	}
	blk_header(BUF_ADDR(0), BLK_T_IN, 0);
	d[0] = (struct vq_desc){BUF_ADDR(0), 16, D_NEXT, 1};
	d[1] = (struct vq_desc){DATA, data_len, D_WRITE | D_NEXT, 2};
	d[2] = (struct vq_desc){STATUS_ADDR, 1, D_WRITE, 0};
	return 48;
}

/* ---- the cases ---- */

static int c_wrong_width(void)
{
	uint64_t b = dev.base;
	int r = 0;

	if (vdev_reset(&dev))
		return -1;
	r |= check(!mmio_read8(b + VM_MAGIC), "1-byte read of MagicValue",
		   mmio_read8(b + VM_MAGIC));
	r |= check(!mmio_read8(b + VM_MAGIC + 3), "1-byte read at 0x003",
		   mmio_read8(b + VM_MAGIC + 3));
	r |= check(!mmio_read16(b + VM_MAGIC), "2-byte read of MagicValue",
		   mmio_read16(b + VM_MAGIC));
	r |= check(!mmio_read16(b + VM_MAGIC + 2), "2-byte read at 0x002",
		   mmio_read16(b + VM_MAGIC + 2));
	r |= check(!mmio_read32(b + VM_MAGIC + 2), "unaligned 4-byte read",
		   mmio_read32(b + VM_MAGIC + 2));
	r |= check(!mmio_read64(b + VM_MAGIC), "8-byte read of MagicValue",
		   mmio_read64(b + VM_MAGIC));
	/* Status holds ACKNOWLEDGE: narrow reads see 0, narrow writes (a
	 * reset, more bits) change nothing. */
	vreg_write(&dev, VM_STATUS, S_ACKNOWLEDGE);
	r |= check(!mmio_read8(b + VM_STATUS), "1-byte read of Status",
		   mmio_read8(b + VM_STATUS));
	mmio_write8(b + VM_STATUS, 0);
	mmio_write16(b + VM_STATUS, S_ACKNOWLEDGE | S_DRIVER);
	r |= check(vreg(&dev, VM_STATUS) == S_ACKNOWLEDGE,
		   "Status after 1- and 2-byte writes", vreg(&dev, VM_STATUS));
	/* QueueSel 0x100 would make QueueNumMax read 0. */
	vreg_write(&dev, VM_QUEUE_SEL, 0);
	mmio_write16(b + VM_QUEUE_SEL, 0x100);
	mmio_write8(b + VM_QUEUE_SEL, 0x80);
	r |= check(vreg(&dev, VM_QUEUE_NUM_MAX) != 0,
		   "2-byte QueueSel write took effect: QueueNumMax", 0);
	/* DeviceFeaturesSel 1 would show the high word (VERSION_1 only). */
	vreg_write(&dev, VM_DEVICE_FEATURES_SEL, 0);
	mmio_write8(b + VM_DEVICE_FEATURES_SEL, 1);
	r |= check(vreg(&dev, VM_DEVICE_FEATURES) & (uint32_t)F_INDIRECT_DESC,
		   "1-byte DeviceFeaturesSel write took effect: features",
		   vreg(&dev, VM_DEVICE_FEATURES));
	/* Read-only registers stay what they are. */
	vreg_write(&dev, VM_MAGIC, 0);
	vreg_write(&dev, VM_DEVICE_ID, 77);
	r |= check(vreg(&dev, VM_MAGIC) == VIRTIO_MAGIC,
		   "MagicValue after a write", vreg(&dev, VM_MAGIC));
	r |= check(vreg(&dev, VM_DEVICE_ID) == dev.id, "DeviceID after a write",
		   vreg(&dev, VM_DEVICE_ID));
	/* Configuration space: 64-bit fields are read as two 32-bit halves
	 * (4.2.2.2), so an 8-byte access is the wrong width; and beyond the
	 * configuration space there is nothing. */
	r |= check(!mmio_read64(b + VM_CONFIG), "8-byte config read",
		   mmio_read64(b + VM_CONFIG));
	r |= check(!mmio_read32(b + 0xffc), "config read at 0xffc",
		   mmio_read32(b + 0xffc));
	mmio_write32(b + 0xffc, 0xffffffff);
	mmio_write8(b + VM_CONFIG, 0xff);
	if (is_blk)
		r |= check(vreg(&dev, VM_CONFIG) == CAPACITY,
			   "capacity after config writes",
			   vreg(&dev, VM_CONFIG));
	return r;
}

static int c_driver_ok_without_features_ok(void)
{
	uint32_t st;

	if (vdev_offer(&dev))
		return -1;
	vdev_write_features(&dev, F_VERSION_1);
	if (vdev_setup_queue(&dev, QSIZE))
		return -1;
	vreg_write(&dev, VM_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_DRIVER_OK);
	st = vreg(&dev, VM_STATUS);
	if (!(st & S_NEEDS_RESET))
		return why("no DEVICE_NEEDS_RESET, Status", st);
	post_normal(0);
	vq_kick(&dev);
	return not_served();
}

/* Writes @f and FEATURES_OK: FEATURES_OK must not stick. */
static int refused(uint64_t f)
{
	uint32_t st;

	if (vdev_offer(&dev))
		return -1;
	vdev_write_features(&dev, f);
	vreg_write(&dev, VM_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	st = vreg(&dev, VM_STATUS);
	if (st & S_FEATURES_OK) {
		why("FEATURES_OK stuck for features", f);
		return why("  offered", dev.offered);
	}
	return 0;
}

static int c_features_not_offered(void)
{
	uint64_t bogus = 0;
	int r = 0;

	if (vdev_offer(&dev))
		return -1;
	/* A device-specific bit (0-23) the device did not offer. */
	for (int i = 0; i < 24 && !bogus; i++)
		if (!(dev.offered & (1ull << i)))
			bogus = 1ull << i;
	r |= refused(F_VERSION_1 | bogus);
	r |= refused(F_VERSION_1 | F_ACCESS_PLATFORM);
	r |= refused(F_VERSION_1 | F_RING_PACKED);
	r |= refused(F_VERSION_1 | (1ull << 63));
	r |= refused(0); /* no VERSION_1: a legacy driver */
	r |= refused(F_INDIRECT_DESC);
	if (r)
		return r;
	/* Features written after FEATURES_OK are ignored: the device keeps
	 * what was accepted and works. */
	if (vdev_negotiate(&dev, F_VERSION_1))
		return why("VERSION_1 alone refused", 0);
	vdev_write_features(&dev, bogus);
	if (vdev_setup_queue(&dev, QSIZE) || vdev_driver_ok(&dev))
		return why("setup after a late features write failed", 0);
	return normal_request();
}

/* Queue 0 set up with these values and QueueReady = 1 must not go live:
 * QueueReady reads 0 (and the device shows NEEDS_RESET, or refuses);
 * then with DRIVER_OK a request is not served. */
static int bad_queue(uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	uint32_t st, ready;

	if (vdev_negotiate(&dev, F_VERSION_1))
		return -1;
	rings_here(QSIZE);
	vdev_setup_queue_raw(&dev, num, desc, avail, used, 1);
	ready = vreg(&dev, VM_QUEUE_READY);
	st = vreg(&dev, VM_STATUS);
	print("  QueueNum ");
	print_hex(num);
	print(" desc ");
	print_hex(desc);
	print(" avail ");
	print_hex(avail);
	print(" used ");
	print_hex(used);
	print(": QueueReady ");
	print_uint(ready);
	print(", Status ");
	print_hex(st);
	print("\n");
	if (ready)
		return why("the queue went live, QueueReady", ready);
	vreg_write(&dev, VM_STATUS, st | S_DRIVER_OK);
	post_normal(0);
	vq_kick(&dev);
	return not_served();
}

static int c_queue_size_0(void)
{
	return bad_queue(0, RING, RING + 0x1000, RING + 0x2000);
}

static int c_queue_size_3(void)
{
	return bad_queue(3, RING, RING + 0x1000, RING + 0x2000);
}

static int c_queue_size_above_max(void)
{
	uint32_t max = vreg(&dev, VM_QUEUE_NUM_MAX);

	return bad_queue(max * 2, RING, RING + 0x1000, RING + 0x2000) |
	       bad_queue(0x10000, RING, RING + 0x1000, RING + 0x2000) |
	       bad_queue(0x80000000, RING, RING + 0x1000, RING + 0x2000);
}

static int c_ring_outside_ram(void)
{
	return bad_queue(QSIZE, NOT_RAM, RING + 0x1000, RING + 0x2000) |
	       bad_queue(QSIZE, RING, NOT_RAM, RING + 0x2000) |
	       bad_queue(QSIZE, RING, RING + 0x1000, NOT_RAM) |
	       bad_queue(QSIZE, RING, RING + 0x1000, 0xffffffffffffff00ull);
}

static int c_ring_in_mmio_hole(void)
{
	/* The device's own registers, and the start of the hole. */
	return bad_queue(QSIZE, VIRTIO_MMIO_BASE, RING + 0x1000,
			 RING + 0x2000) |
	       bad_queue(QSIZE, RING, RING + 0x1000, RAM_LOW_END);
}

static int c_ring_straddles_ram_end(void)
{
	/* The used ring (4 + 8 * 8 bytes) from 16 bytes below the hole. */
	return bad_queue(QSIZE, RING, RING + 0x1000, RAM_LOW_END - 16) |
	       bad_queue(QSIZE, RAM_LOW_END - 64, RING + 0x1000, RING + 0x2000);
}

static int c_ring_misaligned(void)
{
	/* 2.7: descriptors 16, available ring 2, used ring 4 bytes. */
	return bad_queue(QSIZE, RING + 8, RING + 0x1000, RING + 0x2000) |
	       bad_queue(QSIZE, RING, RING + 0x1001, RING + 0x2000) |
	       bad_queue(QSIZE, RING, RING + 0x1000, RING + 0x2002);
}

static int c_queue_regs_while_ready(void)
{
	if (up(F_VERSION_1, QSIZE))
		return -1;
	/* 4.2.2.3: ignored while the queue is live. */
	vreg_write(&dev, VM_QUEUE_NUM, 2);
	vreg_write(&dev, VM_QUEUE_DESC_LOW, 0x12340000);
	vreg_write(&dev, VM_QUEUE_DRIVER_LOW, 0x12350000);
	vreg_write(&dev, VM_QUEUE_DEVICE_LOW, 0x12360000);
	vreg_write(&dev, VM_QUEUE_DEVICE_HIGH, 7);
	return normal_request();
}

static int c_queue_disabled_while_live(void)
{
	uint32_t st, ready;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	vreg_write(&dev, VM_QUEUE_READY, 0);
	st = vreg(&dev, VM_STATUS);
	ready = vreg(&dev, VM_QUEUE_READY);
	print("  after QueueReady = 0: Status ");
	print_hex(st);
	print(", QueueReady ");
	print_uint(ready);
	print("\n");
	if (!(st & S_NEEDS_RESET) && ready)
		return why("neither NEEDS_RESET nor a disabled queue", st);
	post_normal(0);
	vq_kick(&dev);
	return not_served();
}

static int c_notify_queue_not_ready(void)
{
	uint32_t id, len;

	if (vdev_negotiate(&dev, F_VERSION_1))
		return -1;
	rings_here(QSIZE);
	vdev_setup_queue_raw(&dev, QSIZE, RING, RING + 0x1000, RING + 0x2000,
			     0);
	vreg_write(&dev, VM_STATUS, vreg(&dev, VM_STATUS) | S_DRIVER_OK);
	post_normal(0);
	vreg_write(&dev, VM_QUEUE_NOTIFY, 0);
	vreg_write(&dev, VM_QUEUE_NOTIFY, 1);
	vreg_write(&dev, VM_QUEUE_NOTIFY, 16);
	vreg_write(&dev, VM_QUEUE_NOTIFY, 0xffff);
	vreg_write(&dev, VM_QUEUE_NOTIFY, 0xffffffff);
	if (not_served())
		return -1;
	/* Made ready after DRIVER_OK (the driver must not): served or not,
	 * the device survives it; say which. */
	vreg_write(&dev, VM_QUEUE_READY, 1);
	vq_kick(&dev);
	print(vq_wait(&dev, &id, &len, WAIT_SHORT) == V_OK
		      ? "  a queue made ready after DRIVER_OK is served\n"
		      : "  a queue made ready after DRIVER_OK is not served\n");
	return 0;
}

static int c_notify_before_driver_ok(void)
{
	uint32_t id, len;
	uint16_t head;

	if (vdev_negotiate(&dev, F_VERSION_1) || vdev_setup_queue(&dev, QSIZE))
		return -1;
	head = post_normal(0);
	vq_kick(&dev);
	/* 3.1.1: nothing is consumed before DRIVER_OK. */
	if (not_served())
		return -1;
	if (vdev_driver_ok(&dev))
		return -1;
	if (vq_wait(&dev, &id, &len, WAIT_LONG) != V_OK) {
		print("  served only after a notification\n");
		vq_kick(&dev);
		if (vq_wait(&dev, &id, &len, WAIT_LONG) != V_OK)
			return why("not served after DRIVER_OK, Status",
				   vreg(&dev, VM_STATUS));
	}
	return normal_done(0, head, id, len);
}

/* A reset while requests are in flight (blk: synced writes): afterwards
 * the device writes nothing more into the used ring. */
static int c_reset_in_flight(void)
{
	uint16_t idx;

	if (up(F_VERSION_1, 16))
		return -1;
	for (unsigned k = 0; k < 4; k++)
		post_slow(k);
	vq_kick(&dev);
	if (vdev_reset(&dev))
		return -1;
	idx = *(volatile uint16_t *)(dev.used + 2);
	spin(WAIT_SHORT);
	if (*(volatile uint16_t *)(dev.used + 2) != idx)
		return why("the used index moved after the reset, to",
			   *(volatile uint16_t *)(dev.used + 2));
	return 0;
}

/* Four requests at once, one notification: all served, each once. */
static int c_batch(void)
{
	uint16_t heads[4];
	unsigned seen = 0;

	if (up(F_VERSION_1, 16))
		return -1;
	for (unsigned k = 0; k < 4; k++)
		heads[k] = post_normal(k);
	vq_kick(&dev);
	for (unsigned n = 0; n < 4; n++) {
		uint32_t id, len;
		unsigned k;

		if (vq_wait(&dev, &id, &len, WAIT_LONG))
			return why("answers before the timeout:", n);
		for (k = 0; k < 4 && heads[k] != id; k++)
			;
		if (k == 4 || (seen & (1u << k)))
			return why("unexpected or repeated chain", id);
		seen |= 1u << k;
		if (normal_done(k, heads[k], id, len))
			return -1;
	}
	return 0;
}

static int c_descriptor_loop(void)
{
	struct vbuf b[2] = {{DATA, 32, D_WRITE}, {DATA + 32, 32, D_WRITE}};
	uint16_t head;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	head = build(b, 2);
	/* The last data descriptor points back at the first. */
	vq_set_desc(&dev, DFIRST + 1, DATA + 32, 32, D_WRITE | D_NEXT, DFIRST);
	if (dropped(head))
		return -1;
	/* A descriptor pointing at itself. */
	head = build(b, 1);
	vq_set_desc(&dev, DFIRST, DATA, 32, D_WRITE | D_NEXT, DFIRST);
	return dropped(head);
}

static int c_next_out_of_range(void)
{
	struct vbuf b = {DATA, data_len, D_WRITE};
	uint16_t head;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	head = build(&b, 1);
	vq_set_desc(&dev, DFIRST, DATA, data_len, D_WRITE | D_NEXT, QSIZE);
	if (dropped(head))
		return -1;
	head = build(&b, 1);
	vq_set_desc(&dev, DFIRST, DATA, data_len, D_WRITE | D_NEXT, 0xffff);
	return dropped(head);
}

static int c_buffer_outside_ram(void)
{
	if (up(F_VERSION_1, QSIZE))
		return -1;
	return dropped_buf(NOT_RAM, data_len) ||
	       dropped_buf(0xfffffffffffff000ull, data_len) ||
	       dropped_buf(HIGH_RAM + (1ull << 30), data_len);
}

static int c_buffer_in_mmio_hole(void)
{
	if (up(F_VERSION_1, QSIZE))
		return -1;
	/* The device's own registers, the start of the hole, the LAPIC. */
	return dropped_buf(VIRTIO_MMIO_BASE, data_len) ||
	       dropped_buf(RAM_LOW_END, data_len) ||
	       dropped_buf(0xfee00000, data_len);
}

static int c_buffer_straddles_ram_end(void)
{
	if (up(F_VERSION_1, QSIZE))
		return -1;
	return dropped_buf(RAM_LOW_END - 256, 512) ||
	       dropped_buf(HIGH_RAM - 256, 512);
}

static int c_buffer_above_4g(void)
{
	struct vbuf b = {HIGH_RAM + 0x1000, data_len, D_WRITE};

	if (up(F_VERSION_1, QSIZE))
		return -1;
	mem_fill(b.addr, 0, data_len);
	return served(build(&b, 1), b.addr);
}

static int c_length_ffffffff(void)
{
	if (up(F_VERSION_1, QSIZE))
		return -1;
	return dropped_buf(DATA, 0xffffffff) ||
	       dropped_buf(HIGH_RAM, 0xffffffff);
}

static int c_chain_4gib(void)
{
	/* Two buffers of 2 GiB in RAM: 4 GiB in all, more than a chain may
	 * have (2.7.5.2). */
	struct vbuf b[2] = {{0x40000000, 0x80000000, D_WRITE},
			    {0x40000000, 0x80000000, D_WRITE}};

	if (up(F_VERSION_1, QSIZE))
		return -1;
	return dropped(build(b, 2));
}

static int c_readable_after_writable(void)
{
	struct vbuf b[2] = {{DATA, 32, D_WRITE}, {DATA + 32, 32, 0}};

	if (up(F_VERSION_1, QSIZE))
		return -1;
	return dropped(build(b, 2));
}

static int c_chain_longer_than_queue(void)
{
	volatile struct vq_desc *t = (volatile struct vq_desc *)INDIRECT_ADDR;
	unsigned n = QSIZE + 1;

	if (up(F_VERSION_1 | F_INDIRECT_DESC, QSIZE))
		return -1;
	/* QSIZE + 1 valid descriptors in one indirect table (blk: header,
	 * sectors, status). */
	for (unsigned i = 0; i < n; i++)
		t[i] = (struct vq_desc){DATA + 512 * i, is_blk ? 512 : 8,
					(uint16_t)(D_WRITE | D_NEXT),
					(uint16_t)(i + 1)};
	t[n - 1].flags = D_WRITE;
	if (is_blk) {
		blk_header(BUF_ADDR(0), BLK_T_IN, 0);
		t[0] = (struct vq_desc){BUF_ADDR(0), 16, D_NEXT, 1};
		t[n - 1] = (struct vq_desc){STATUS_ADDR, 1, D_WRITE, 0};
	}
	set_indirect(0, INDIRECT_ADDR, 16 * n, 0);
	return dropped(0);
}

static int c_avail_index_jump(void)
{
	if (up(F_VERSION_1, QSIZE))
		return -1;
	dev.avail[1] = (uint16_t)(dev.avail_idx + QSIZE + 1);
	mb();
	vq_kick(&dev);
	return needs_reset();
}

static int c_head_out_of_range(void)
{
	if (up(F_VERSION_1, QSIZE))
		return -1;
	vq_publish(&dev, QSIZE);
	vq_kick(&dev);
	return needs_reset();
}

static int c_indirect_valid(void)
{
	uint32_t len;
	int r;

	if (up(F_VERSION_1 | F_INDIRECT_DESC, QSIZE))
		return -1;
	len = table_normal(INDIRECT_ADDR);
	set_indirect(0, INDIRECT_ADDR, len, 0);
	if ((r = served(0, DATA)))
		return r;
	/* The device ignores WRITE on the table's descriptor (2.7.5.3.2). */
	len = table_normal(INDIRECT_ADDR);
	set_indirect(0, INDIRECT_ADDR, len, D_WRITE);
	if ((r = served(0, DATA)))
		return why("with WRITE set on the indirect descriptor", 0);
	/* Direct descriptors, then an indirect one, are valid too
	 * (2.7.5.3.2): blk, header direct, data and status in the table;
	 * rng, the first half direct, the second in the table. */
	mem_fill(DATA, 0, data_len);
	if (is_blk) {
		volatile struct vq_desc *t =
			(volatile struct vq_desc *)INDIRECT_ADDR;

		blk_header(BUF_ADDR(0), BLK_T_IN, 0);
		vq_set_desc(&dev, 0, BUF_ADDR(0), 16, D_NEXT, 1);
		t[0] = (struct vq_desc){DATA, data_len, D_WRITE | D_NEXT, 1};
		t[1] = (struct vq_desc){STATUS_ADDR, 1, D_WRITE, 0};
		set_indirect(1, INDIRECT_ADDR, 32, 0);
	} else {
		volatile struct vq_desc *t =
			(volatile struct vq_desc *)INDIRECT_ADDR;

		vq_set_desc(&dev, 0, DATA, 32, D_WRITE | D_NEXT, 1);
		t[0] = (struct vq_desc){DATA + 32, 32, D_WRITE, 0};
		set_indirect(1, INDIRECT_ADDR, 16, 0);
	}
	if (served(0, DATA))
		return why("direct descriptors, then an indirect table", 0);
	return 0;
}

static int c_indirect_bad_length(void)
{
	if (up(F_VERSION_1 | F_INDIRECT_DESC, QSIZE))
		return -1;
	table_normal(INDIRECT_ADDR);
	set_indirect(0, INDIRECT_ADDR, 20, 0);
	if (dropped(0))
		return why("table of 20 bytes", 0);
	set_indirect(0, INDIRECT_ADDR, 0, 0);
	if (dropped(0))
		return why("table of 0 bytes", 0);
	set_indirect(0, INDIRECT_ADDR, 0xfffffff0, 0);
	if (dropped(0))
		return why("table of 0xfffffff0 bytes", 0);
	return 0;
}

static int c_indirect_nested(void)
{
	volatile struct vq_desc *t = (volatile struct vq_desc *)INDIRECT_ADDR;

	if (up(F_VERSION_1 | F_INDIRECT_DESC, QSIZE))
		return -1;
	table_normal(INDIRECT_ADDR + 0x1000);
	t[0] = (struct vq_desc){INDIRECT_ADDR + 0x1000, is_blk ? 48 : 16,
				D_INDIRECT, 0};
	set_indirect(0, INDIRECT_ADDR, 16, 0);
	return dropped(0);
}

static int c_indirect_not_negotiated(void)
{
	if (up(F_VERSION_1, QSIZE))
		return -1;
	set_indirect(0, INDIRECT_ADDR, table_normal(INDIRECT_ADDR), 0);
	return dropped(0);
}

static int c_indirect_with_next(void)
{
	if (up(F_VERSION_1 | F_INDIRECT_DESC, QSIZE))
		return -1;
	set_indirect(0, INDIRECT_ADDR, table_normal(INDIRECT_ADDR), D_NEXT);
	dev.desc[0].next = 1;
	vq_set_desc(&dev, 1, DATA + 512, 16, D_WRITE, 0);
	return dropped(0);
}

static int c_indirect_outside_ram(void)
{
	if (up(F_VERSION_1 | F_INDIRECT_DESC, QSIZE))
		return -1;
	set_indirect(0, NOT_RAM, 48, 0);
	if (dropped(0))
		return -1;
	set_indirect(0, RAM_LOW_END - 16, 48, 0);
	return dropped(0);
}

/* The device writes its buffers over the rings: whatever it makes of
 * that, minivmm survives and a reset recovers (checked after the case). */
static int c_buffer_over_rings(void)
{
	struct vbuf b = {RING, 0x3000, D_WRITE};
	uint32_t id, len;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	if (is_blk) {
		b.len = 0x2000;
		vq_post(&dev, &b, 1); /* 1 buffer: no status, dropped */
		blk_header(BUF_ADDR(0), BLK_T_IN, 0);
		struct vbuf r[3] = {{BUF_ADDR(0), 16, 0},
				    {RING + 0x1000, 0x1000, D_WRITE},
				    {STATUS_ADDR, 1, D_WRITE}};
		vq_post(&dev, r, 3);
	} else {
		vq_post(&dev, &b, 1);
	}
	vq_kick(&dev);
	print(vq_wait(&dev, &id, &len, WAIT_SHORT) == V_OK ? "  answered\n"
							   : "  no answer\n");
	print("  Status ");
	print_hex(vreg(&dev, VM_STATUS));
	print("\n");
	return 0;
}

static int c_rings_overlap(void)
{
	uint32_t id, len;

	if (vdev_negotiate(&dev, F_VERSION_1))
		return -1;
	rings_here(QSIZE);
	/* All three rings at one address. */
	vdev_setup_queue_raw(&dev, QSIZE, RING, RING, RING, 1);
	if (vdev_driver_ok(&dev))
		return -1;
	dev.avail = (volatile uint16_t *)RING;
	dev.used = (volatile uint8_t *)RING;
	post_normal(0);
	vq_kick(&dev);
	print(vq_wait(&dev, &id, &len, WAIT_SHORT) == V_OK ? "  answered\n"
							   : "  no answer\n");
	return 0;
}

static int c_readonly_buffer(void)
{
	struct vbuf b = {DATA, data_len, 0};
	uint32_t id, len;
	uint16_t head;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	mem_fill(DATA, SENTINEL, data_len);
	head = vq_post(&dev, &b, 1);
	vq_kick(&dev);
	if (vq_wait(&dev, &id, &len, WAIT_LONG))
		return why("no answer, Status", vreg(&dev, VM_STATUS));
	if (id != head || len != 0)
		return why("used length", len);
	/* 2.7.4: a device never writes a device-readable buffer. */
	return check(mem_all(DATA, SENTINEL, data_len),
		     "a device-readable buffer was written", DATA);
}

/* QueueSel beyond the device's queues: QueueNumMax reads 0, the queue
 * registers and a notification for it are ignored, queue 0 still works. */
static int c_queue_sel_nonexistent(void)
{
	uint32_t sels[3] = {16, 0x10000, 0xffffffff};
	int r = 0;

	if (vdev_negotiate(&dev, F_VERSION_1))
		return -1;
	for (int i = 0; i < 3; i++) {
		vreg_write(&dev, VM_QUEUE_SEL, sels[i]);
		r |= check(vreg(&dev, VM_QUEUE_NUM_MAX) == 0,
			   "QueueNumMax of a queue that does not exist",
			   vreg(&dev, VM_QUEUE_NUM_MAX));
		vdev_setup_queue_raw(&dev, QSIZE, RING, RING + 0x1000,
				     RING + 0x2000, 0);
		vreg_write(&dev, VM_QUEUE_SEL, sels[i]);
		vreg_write(&dev, VM_QUEUE_READY, 1);
		r |= check(vreg(&dev, VM_QUEUE_READY) == 0,
			   "QueueReady of a queue that does not exist", 1);
		vreg_write(&dev, VM_QUEUE_NOTIFY, sels[i]);
	}
	if (r)
		return r;
	if (vdev_setup_queue(&dev, QSIZE) || vdev_driver_ok(&dev))
		return -1;
	return normal_request();
}

/* The whole ring at once: QueueNumMax requests, each one indirect table
 * (EVENT_IDX negotiated too), one notification; every one answered once,
 * with the right data (blk: sector k into request k). */
static int c_full_queue(void)
{
	uint16_t n = (uint16_t)vreg(&dev, VM_QUEUE_NUM_MAX);
	uint64_t tables = INDIRECT_ADDR, hdrs = BUF_ADDR(32);
	uint64_t data = BUF_ADDR(64); /* up to 256 * 512 bytes */
	uint8_t want[512];

	if (n > 256)
		n = 256;
	if (up(F_VERSION_1 | F_INDIRECT_DESC | F_EVENT_IDX, n))
		return -1;
	for (uint16_t k = 0; k < n; k++) {
		volatile struct vq_desc *t =
			(volatile struct vq_desc *)(tables + 48 * k);
		uint64_t h = hdrs + 32 * k, dk = data + data_len * k;

		mem_fill(dk, 0, 16);
		if (is_blk) {
			blk_header(h, BLK_T_IN, k);
			t[0] = (struct vq_desc){h, 16, D_NEXT, 1};
			t[1] = (struct vq_desc){dk, data_len, D_WRITE | D_NEXT,
						2};
			t[2] = (struct vq_desc){h + 16, 1, D_WRITE, 0};
		} else {
			t[0] = (struct vq_desc){dk, data_len, D_WRITE, 0};
		}
		vq_set_desc(&dev, k, tables + 48 * k, is_blk ? 48 : 16,
			    D_INDIRECT, 0);
		dev.avail[2 + k] = k;
	}
	/* used_event: no interrupts wanted (there are none anyway). */
	dev.avail[2 + n] = 0xffff;
	barrier();
	dev.avail_idx = n;
	dev.avail[1] = n;
	mb();
	vq_kick(&dev);
	for (uint16_t i = 0; i < n; i++) {
		uint32_t id, len;

		if (vq_wait(&dev, &id, &len, WAIT_LONG))
			return why("answers before the timeout:", i);
		if (id >= n || len != data_len + (is_blk ? 1 : 0))
			return why("chain / used length",
				   (uint64_t)id << 32 | len);
		if (is_blk) {
			blk_sector_pattern(id, want);
			if (*(volatile uint8_t *)(hdrs + 32 * id + 16) != 0 ||
			    !mem_equal(data + data_len * id, want, 16))
				return why("wrong status or data for sector",
					   id);
		} else if (mem_all(data + data_len * id, 0, 16)) {
			return why("no random bytes for request", id);
		}
	}
	return check(vq_used_pending(&dev) == 0, "more answers than requests",
		     vq_used_pending(&dev));
}

/* The driver clears status bits it set (it must not, 2.1.2) and sets them
 * again, with requests in flight: whatever the device does with them
 * (minivmm: a second activation drops what was in flight), it survives,
 * and a reset recovers.  Says how many of the 8 requests were answered. */
static int c_status_bits_cleared(void)
{
	uint32_t id, len;
	int answered = 0;

	if (up(F_VERSION_1, 16))
		return -1;
	for (unsigned k = 0; k < 4; k++)
		post_slow(k);
	vq_kick(&dev);
	vreg_write(&dev, VM_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	vreg_write(&dev, VM_STATUS,
		   S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	print("  Status after clearing and setting DRIVER_OK: ");
	print_hex(vreg(&dev, VM_STATUS));
	print("\n");
	/* And FEATURES_OK too, with other features in between. */
	vreg_write(&dev, VM_STATUS, S_ACKNOWLEDGE | S_DRIVER);
	vdev_write_features(&dev, F_VERSION_1 | F_INDIRECT_DESC);
	vreg_write(&dev, VM_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	vreg_write(&dev, VM_STATUS,
		   S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	print("  Status after clearing and setting FEATURES_OK: ");
	print_hex(vreg(&dev, VM_STATUS));
	print("\n");
	for (unsigned k = 4; k < 8; k++)
		post_normal(k);
	vq_kick(&dev);
	while (vq_wait(&dev, &id, &len, WAIT_SHORT * 5) == V_OK)
		answered++;
	print("  requests answered: ");
	print_uint(answered);
	print(" of 8\n");
	return 0;
}

/* ---- virtio-blk ---- */

/* A blk request of @type/@sector with @n buffers: @b, in this order,
 * header included; returns the status byte at STATUS_ADDR (or 0xff) and
 * *@len, or a negative V_ code. */
static int blk_chain(const struct vbuf *b, unsigned n, uint32_t *len)
{
	int ret = vq_request(&dev, b, n, len);

	return ret ? ret : *(volatile uint8_t *)STATUS_ADDR;
}

static int c_blk_header_short(void)
{
	struct vbuf b[3] = {{BUF_ADDR(0), 8, 0},
			    {DATA, 512, D_WRITE},
			    {STATUS_ADDR, 1, D_WRITE}};
	uint32_t len;
	int st;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	blk_header(BUF_ADDR(0), BLK_T_IN, 0);
	st = blk_chain(b, 3, &len);
	print("  status ");
	print_hex((uint64_t)(int64_t)st);
	print(", used length ");
	print_uint(len);
	print("\n");
	if (st < 0)
		return -1;
	/* IOERR (or UNSUPP), or the chain dropped (status not written). */
	if (st == BLK_S_IOERR || st == BLK_S_UNSUPP)
		return check(len >= 1, "an error with used length 0", 0);
	return check(st == 0xff && len == 0, "a short header was served",
		     (uint64_t)st);
}

static int c_blk_header_split(void)
{
	/* Any layout (2.6.4): the header in two buffers of 8 bytes. */
	struct vbuf b[4] = {{BUF_ADDR(0), 8, 0},
			    {BUF_ADDR(0) + 8, 8, 0},
			    {DATA, 512, D_WRITE},
			    {STATUS_ADDR, 1, D_WRITE}};
	uint32_t len;
	int st;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	blk_header(BUF_ADDR(0), BLK_T_IN, 0);
	mem_fill(DATA, 0, 512);
	st = blk_chain(b, 4, &len);
	if (st != BLK_S_OK || len != 513)
		return why("status", (uint64_t)(int64_t)st);
	return data_ok(DATA);
}

/* Sent @b (@n buffers): must be dropped (used length 0), and @status
 * (if not 0) keeps the sentinel. */
static int blk_dropped(const struct vbuf *b, unsigned n, uint64_t status)
{
	uint32_t len;
	int ret = vq_request(&dev, b, n, &len);

	if (ret)
		return ret;
	if (len)
		return why("used length", len);
	if (status && *(volatile uint8_t *)status != SENTINEL)
		return why("read-only status byte written",
			   *(volatile uint8_t *)status);
	return 0;
}

static int c_blk_status_missing(void)
{
	struct vbuf b[2] = {{BUF_ADDR(0), 16, 0}, {DATA, 512, 0}};

	if (up(F_VERSION_1, QSIZE))
		return -1;
	/* A write of sector 6 with no byte for the status: the script
	 * checks that sector 6 did not change. */
	blk_header(BUF_ADDR(0), BLK_T_OUT, 6);
	mem_fill(DATA, 'X', 512);
	if (blk_dropped(b, 2, 0))
		return why("write without a status byte", 0);
	/* A read with only a header. */
	blk_header(BUF_ADDR(0), BLK_T_IN, 0);
	return blk_dropped(b, 1, 0);
}

static int c_blk_status_readonly(void)
{
	struct vbuf b[3] = {
		{BUF_ADDR(0), 16, 0}, {DATA, 512, 0}, {STATUS_ADDR, 1, 0}};

	if (up(F_VERSION_1, QSIZE))
		return -1;
	/* A write of sector 7 whose status byte is device-readable. */
	blk_header(BUF_ADDR(0), BLK_T_OUT, 7);
	*(volatile uint8_t *)STATUS_ADDR = SENTINEL;
	mem_fill(DATA, 'Y', 512);
	return blk_dropped(b, 3, STATUS_ADDR);
}

static int c_blk_read_into_readonly(void)
{
	struct vbuf b[3] = {{BUF_ADDR(0), 16, 0},
			    {DATA, 512, 0},
			    {STATUS_ADDR, 1, D_WRITE}};
	uint32_t len;
	int st;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	blk_header(BUF_ADDR(0), BLK_T_IN, 0);
	mem_fill(DATA, SENTINEL, 512);
	st = blk_chain(b, 3, &len);
	print("  status ");
	print_hex((uint64_t)(int64_t)st);
	print(", used length ");
	print_uint(len);
	print("\n");
	if (st < 0)
		return -1;
	return check(mem_all(DATA, SENTINEL, 512),
		     "a device-readable buffer was written", DATA);
}

/* Request @type at @sector with @len bytes at DATA must end in IOERR (or
 * UNSUPP if @unsupp_ok), the status byte counted in the used length. */
static int blk_fails(uint32_t type, uint64_t sector, uint32_t len,
		     int unsupp_ok)
{
	uint32_t used;
	int st = blk_request(&dev, type, sector, DATA, len, &used);

	if (st != BLK_S_IOERR && !(unsupp_ok && st == BLK_S_UNSUPP)) {
		why("type", type);
		why("sector", sector);
		return why("status", (uint64_t)(int64_t)st);
	}
	return check(used >= 1, "an error with used length 0", used);
}

static int c_blk_ro_write(void)
{
	struct vdev ro;
	uint8_t want[512];
	uint32_t used;
	int r = 0;

	if (vdev_probe(&ro, 1, VIRTIO_ID_BLOCK))
		return why("needs a read-only drive in slot 1", 0);
	for (int pass = 0; pass < 2; pass++) {
		/* With RO accepted, and by a driver that ignores it. */
		uint64_t f = F_VERSION_1 | (pass ? 0 : BLK_F_RO);
		struct vdev keep = dev;

		if (vdev_offer(&ro))
			return -1;
		if (!(ro.offered & BLK_F_RO))
			return why("VIRTIO_BLK_F_RO not offered", ro.offered);
		if (vdev_negotiate(&ro, f) || vdev_setup_queue(&ro, QSIZE) ||
		    vdev_driver_ok(&ro))
			return -1;
		dev = ro;
		mem_fill(DATA, 'Z', 512);
		r |= blk_fails(BLK_T_OUT, 3, 512, 1);
		r |= blk_fails(BLK_T_OUT, 0, 4096, 1);
		mem_fill(DATA, 0, 512);
		if (blk_request(&dev, BLK_T_IN, 3, DATA, 512, &used) !=
		    BLK_S_OK)
			r |= why("read of the read-only drive failed", 0);
		blk_sector_pattern(3, want);
		if (!mem_equal(DATA, want, 512))
			r |= why("sector 3 of the read-only drive changed", 0);
		ro = dev;
		dev = keep;
		if (vdev_reset(&ro))
			return -1;
	}
	return r;
}

static int c_blk_past_end(void)
{
	int r = 0;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	r |= blk_fails(BLK_T_IN, CAPACITY, 512, 0);
	r |= blk_fails(BLK_T_IN, CAPACITY - 1, 1024, 0);
	r |= blk_fails(BLK_T_OUT, CAPACITY, 512, 0);
	r |= blk_fails(BLK_T_OUT, CAPACITY - 1, 1024, 0);
	/* Sector numbers whose byte offset overflows 64 bits. */
	r |= blk_fails(BLK_T_IN, 1ull << 55, 512, 0);
	r |= blk_fails(BLK_T_IN, ~0ull, 512, 0);
	r |= blk_fails(BLK_T_OUT, ~0ull >> 9, 512, 0);
	return r;
}

static int c_blk_unknown_type(void)
{
	uint32_t used;
	int r = 0;
	uint32_t types[3] = {0x7f, 10 /* GET_LIFETIME, not offered */,
			     0xffffffff};

	if (up(F_VERSION_1, QSIZE))
		return -1;
	for (int i = 0; i < 3; i++) {
		int st = blk_request(&dev, types[i], 0, DATA, 512, &used);

		/* 5.2.6.2: UNSUPP for a type the device does not know. */
		if (st != BLK_S_UNSUPP)
			r |= why("type", types[i]) |
			     why("  status", (uint64_t)(int64_t)st);
	}
	return r;
}

static int c_blk_data_not_sectors(void)
{
	uint32_t used;
	int r = 0;

	if (up(F_VERSION_1, QSIZE))
		return -1;
	/* Not a multiple of 512 (5.2.6.1): not served as it is.  Sector 9
	 * must not change (the script checks). */
	int st = blk_request(&dev, BLK_T_IN, 0, DATA, 100, &used);

	if (st == BLK_S_OK)
		r |= why("a 100-byte read succeeded, used length", used);
	mem_fill(DATA, 'W', 600);
	st = blk_request(&dev, BLK_T_OUT, 9, DATA, 600, &used);
	if (st == BLK_S_OK)
		r |= why("a 600-byte write succeeded, used length", used);
	return r;
}

static int c_blk_discard_bad(void)
{
	uint64_t f = F_VERSION_1;
	volatile uint32_t *seg = (volatile uint32_t *)DATA;
	struct {
		uint32_t type;
		uint64_t sector;
		uint32_t num, flags, len;
	} bad[7] = {
		{BLK_T_WRITE_ZEROES, CAPACITY - 8, 100, 0, 16},
		{BLK_T_WRITE_ZEROES, ~0ull, 1, 0, 16},
		{BLK_T_DISCARD, 0, 0xffffffff, 0, 16},
		{BLK_T_WRITE_ZEROES, 0, 8, 0x2, 16}, /* unknown flag */
		{BLK_T_DISCARD, 0, 8, 0x1, 16},	     /* unmap on discard */
		{BLK_T_WRITE_ZEROES, 0, 8, 0, 32},   /* two segments */
		{BLK_T_WRITE_ZEROES, 0, 8, 0, 8},    /* half a segment */
	};
	uint32_t used0;
	int r = 0;

	if (vdev_offer(&dev))
		return -1;
	f |= dev.offered & ((1ull << 13) | (1ull << 14));
	if (vdev_negotiate(&dev, f) || vdev_setup_queue(&dev, QSIZE) ||
	    vdev_driver_ok(&dev))
		return -1;
	/* None may change the drive (the script checks). */
	for (int i = 0; i < 7; i++) {
		uint32_t used;
		int st;

		mem_fill(DATA, 0, 64);
		*(volatile uint64_t *)seg = bad[i].sector;
		seg[2] = bad[i].num;
		seg[3] = bad[i].flags;
		seg[6] = bad[i].num; /* the second segment, if any */
		st = blk_request(&dev, bad[i].type, 0, DATA, bad[i].len, &used);
		if (st != BLK_S_IOERR && st != BLK_S_UNSUPP) {
			why("discard/write-zeroes case", (uint64_t)i);
			r = why("  status", (uint64_t)(int64_t)st);
		} else if (used < 1) {
			r = why("an error with used length 0", (uint64_t)i);
		}
	}
	/* A header and nothing else but the status. */
	if (blk_request(&dev, BLK_T_WRITE_ZEROES, 0, 0, 0, &used0) == BLK_S_OK)
		r = why("write-zeroes without a segment succeeded", 0);
	return r;
}

/* ---- the list ---- */

#define ANY 0
#define RNG_ONLY 1
#define BLK_ONLY 2

struct hcase {
	const char *name;
	int (*fn)(void);
	int only;
};

static const struct hcase cases[] = {
	{"wrong-width-registers", c_wrong_width, ANY},
	{"driver-ok-without-features-ok", c_driver_ok_without_features_ok, ANY},
	{"features-not-offered", c_features_not_offered, ANY},
	{"queue-size-0", c_queue_size_0, ANY},
	{"queue-size-not-power-of-2", c_queue_size_3, ANY},
	{"queue-size-above-max", c_queue_size_above_max, ANY},
	{"ring-outside-ram", c_ring_outside_ram, ANY},
	{"ring-in-mmio-hole", c_ring_in_mmio_hole, ANY},
	{"ring-straddles-ram-end", c_ring_straddles_ram_end, ANY},
	{"ring-misaligned", c_ring_misaligned, ANY},
	{"queue-regs-while-ready", c_queue_regs_while_ready, ANY},
	{"queue-disabled-while-live", c_queue_disabled_while_live, ANY},
	{"notify-queue-not-ready", c_notify_queue_not_ready, ANY},
	{"notify-before-driver-ok", c_notify_before_driver_ok, ANY},
	{"queue-sel-nonexistent", c_queue_sel_nonexistent, ANY},
	{"batch-of-4", c_batch, ANY},
	{"full-queue-indirect-event-idx", c_full_queue, ANY},
	{"status-bits-cleared", c_status_bits_cleared, ANY},
	{"reset-in-flight", c_reset_in_flight, ANY},
	{"descriptor-loop", c_descriptor_loop, ANY},
	{"next-out-of-range", c_next_out_of_range, ANY},
	{"buffer-outside-ram", c_buffer_outside_ram, ANY},
	{"buffer-in-mmio-hole", c_buffer_in_mmio_hole, ANY},
	{"buffer-straddles-ram-end", c_buffer_straddles_ram_end, ANY},
	{"buffer-above-4g", c_buffer_above_4g, ANY},
	{"length-0xffffffff", c_length_ffffffff, ANY},
	{"chain-of-4gib", c_chain_4gib, ANY},
	{"readable-after-writable", c_readable_after_writable, ANY},
	{"chain-longer-than-queue", c_chain_longer_than_queue, ANY},
	{"avail-index-jump", c_avail_index_jump, ANY},
	{"head-out-of-range", c_head_out_of_range, ANY},
	{"indirect-valid", c_indirect_valid, ANY},
	{"indirect-bad-length", c_indirect_bad_length, ANY},
	{"indirect-nested", c_indirect_nested, ANY},
	{"indirect-not-negotiated", c_indirect_not_negotiated, ANY},
	{"indirect-with-next", c_indirect_with_next, ANY},
	{"indirect-outside-ram", c_indirect_outside_ram, ANY},
	{"buffer-over-rings", c_buffer_over_rings, ANY},
	{"rings-overlap", c_rings_overlap, ANY},
	{"readonly-buffer", c_readonly_buffer, RNG_ONLY},
	{"blk-header-short", c_blk_header_short, BLK_ONLY},
	{"blk-header-split", c_blk_header_split, BLK_ONLY},
	{"blk-status-missing", c_blk_status_missing, BLK_ONLY},
	{"blk-status-readonly", c_blk_status_readonly, BLK_ONLY},
	{"blk-read-into-readonly-buffer", c_blk_read_into_readonly, BLK_ONLY},
	{"blk-write-readonly-drive", c_blk_ro_write, BLK_ONLY},
	{"blk-past-end", c_blk_past_end, BLK_ONLY},
	{"blk-unknown-type", c_blk_unknown_type, BLK_ONLY},
	{"blk-data-not-sectors", c_blk_data_not_sectors, BLK_ONLY},
	{"blk-discard-write-zeroes-bad", c_blk_discard_bad, BLK_ONLY},
};

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	unsigned n = 0, failed = 0, first = 0;

	(void)cpu;
	dev.base = VIRTIO_MMIO_SLOT(0);
	is_blk = vreg(&dev, VM_DEVICE_ID) == VIRTIO_ID_BLOCK;
	data_len = is_blk ? 512 : 64;
	print(is_blk ? "device virtio-blk\n" : "device virtio-rng\n");
	if (up(F_VERSION_1, QSIZE) || normal_request()) {
		print("fail setup\n");
		guest_exit(255);
	}
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hcase *c = &cases[i];
		int r;

		if (c->only == (is_blk ? RNG_ONLY : BLK_ONLY))
			continue;
		n++;
		print("case ");
		print(c->name);
		print("\n");
		dev.next_desc = 0;
		r = c->fn();
		if (recover())
			r = -1;
		print(r ? "fail " : "ok ");
		print(c->name);
		print("\n");
		if (r) {
			failed++;
			if (!first)
				first = n;
		}
	}
	print("done ");
	print_uint(failed);
	print("\n");
	guest_exit(first);
}
