/* The test guests' polling virtio-mmio v2 driver (see virtio.h). */
#include "virtio.h"

void print(const char *s)
{
	while (*s)
		outb(0xe9, (uint8_t)*s++);
}

void print_hex(uint64_t v)
{
	int shift = 60;

	print("0x");
	while (shift > 0 && !((v >> shift) & 0xf))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		outb(0xe9, (uint8_t) "0123456789abcdef"[(v >> shift) & 0xf]);
}

void print_uint(uint64_t v)
{
	char buf[24];
	int i = sizeof(buf) - 1;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	print(&buf[i]);
}

void guest_exit(unsigned status)
{
	outb(0x501, (uint8_t)status);
	for (;;)
		__asm__ volatile("hlt");
}

void guest_fail(const char *who, unsigned code, const char *why, uint64_t v)
{
	print(who);
	print(": check ");
	print_uint(code);
	print(": ");
	print(why);
	print(" (");
	print_hex(v);
	print(")\n");
	guest_exit(code);
}

void mem_fill(uint64_t addr, uint8_t v, uint64_t len)
{
	volatile uint8_t *p = (volatile uint8_t *)addr;

	for (uint64_t i = 0; i < len; i++)
		p[i] = v;
}

void mem_copy(uint64_t dst, const void *src, uint64_t len)
{
	volatile uint8_t *p = (volatile uint8_t *)dst;
	const uint8_t *s = src;

	for (uint64_t i = 0; i < len; i++)
		p[i] = s[i];
}

int mem_equal(uint64_t a, const void *b, uint64_t len)
{
	const volatile uint8_t *p = (const volatile uint8_t *)a;
	const uint8_t *q = b;

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != q[i])
			return 0;
	return 1;
}

int mem_all(uint64_t a, uint8_t v, uint64_t len)
{
	const volatile uint8_t *p = (const volatile uint8_t *)a;

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

void spin(unsigned long n)
{
	for (volatile unsigned long i = 0; i < n; i++)
		__asm__ volatile("pause");
}

int vdev_probe(struct vdev *d, unsigned slot, uint32_t device_id)
{
	uint32_t v;

	d->base = VIRTIO_MMIO_SLOT(slot);
	d->slot = slot;
	v = vreg(d, VM_MAGIC);
	if (v != VIRTIO_MAGIC) {
		print("probe: slot ");
		print_uint(slot);
		print(": magic ");
		print_hex(v);
		print("\n");
		return -1;
	}
	v = vreg(d, VM_VERSION);
	if (v != 2) {
		print("probe: version ");
		print_uint(v);
		print(", expected 2\n");
		return -1;
	}
	d->id = vreg(d, VM_DEVICE_ID);
	if (d->id != device_id) {
		print("probe: slot ");
		print_uint(slot);
		print(": device id ");
		print_uint(d->id);
		print(", expected ");
		print_uint(device_id);
		print("\n");
		return -1;
	}
	return 0;
}

int vdev_wait_status(struct vdev *d, uint32_t bits, unsigned long spins)
{
	for (unsigned long i = 0; i < spins; i++)
		if ((vreg(d, VM_STATUS) & bits) == bits)
			return V_OK;
	return V_TIMEOUT;
}

int vdev_reset(struct vdev *d)
{
	vreg_write(d, VM_STATUS, 0);
	/* 4.2.3.1: the driver waits for Status to read 0. */
	for (unsigned long i = 0; i < WAIT_REGS; i++) {
		if (vreg(d, VM_STATUS) == 0) {
			d->features = 0;
			return 0;
		}
	}
	print("reset: Status stays ");
	print_hex(vreg(d, VM_STATUS));
	print("\n");
	return -1;
}

void vdev_write_features(struct vdev *d, uint64_t f)
{
	vreg_write(d, VM_DRIVER_FEATURES_SEL, 0);
	vreg_write(d, VM_DRIVER_FEATURES, (uint32_t)f);
	vreg_write(d, VM_DRIVER_FEATURES_SEL, 1);
	vreg_write(d, VM_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

int vdev_offer(struct vdev *d)
{
	if (vdev_reset(d))
		return -1;
	vreg_write(d, VM_STATUS, S_ACKNOWLEDGE);
	vreg_write(d, VM_STATUS, S_ACKNOWLEDGE | S_DRIVER);
	vreg_write(d, VM_DEVICE_FEATURES_SEL, 0);
	d->offered = vreg(d, VM_DEVICE_FEATURES);
	vreg_write(d, VM_DEVICE_FEATURES_SEL, 1);
	d->offered |= (uint64_t)vreg(d, VM_DEVICE_FEATURES) << 32;
	return 0;
}

int vdev_negotiate(struct vdev *d, uint64_t want)
{
	uint32_t st;

	if (vdev_offer(d))
		return -1;
	if (want & ~d->offered) {
		print("negotiate: features ");
		print_hex(want & ~d->offered);
		print(" not offered (offered ");
		print_hex(d->offered);
		print(")\n");
		return -1;
	}
	vdev_write_features(d, want);
	vreg_write(d, VM_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	st = vreg(d, VM_STATUS);
	if (!(st & S_FEATURES_OK)) {
		print("negotiate: FEATURES_OK did not stick, Status ");
		print_hex(st);
		print("\n");
		return -1;
	}
	d->features = want;
	return 0;
}

void vdev_setup_queue_raw(struct vdev *d, uint32_t num, uint64_t desc,
			  uint64_t avail, uint64_t used, int ready)
{
	vreg_write(d, VM_QUEUE_SEL, 0);
	vreg_write(d, VM_QUEUE_NUM, num);
	vreg_write(d, VM_QUEUE_DESC_LOW, (uint32_t)desc);
	vreg_write(d, VM_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	vreg_write(d, VM_QUEUE_DRIVER_LOW, (uint32_t)avail);
	vreg_write(d, VM_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	vreg_write(d, VM_QUEUE_DEVICE_LOW, (uint32_t)used);
	vreg_write(d, VM_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	if (ready)
		vreg_write(d, VM_QUEUE_READY, 1);
}

int vdev_setup_queue(struct vdev *d, uint16_t size)
{
	uint64_t ring = RING_ADDR(d->slot);
	uint32_t max;

	vreg_write(d, VM_QUEUE_SEL, 0);
	if (vreg(d, VM_QUEUE_READY)) {
		print("queue: queue 0 is ready before setup\n");
		return -1;
	}
	max = vreg(d, VM_QUEUE_NUM_MAX);
	if (max < size) {
		print("queue: QueueNumMax ");
		print_uint(max);
		print(" < ");
		print_uint(size);
		print("\n");
		return -1;
	}
	mem_fill(ring, 0, 0x3000);
	d->qsize = size;
	d->desc = (volatile struct vq_desc *)ring;
	d->avail = (volatile uint16_t *)(ring + 0x1000);
	d->used = (volatile uint8_t *)(ring + 0x2000);
	d->avail_idx = 0;
	d->used_idx = 0;
	d->next_desc = 0;
	vdev_setup_queue_raw(d, size, ring, ring + 0x1000, ring + 0x2000, 1);
	if (vreg(d, VM_QUEUE_READY) != 1) {
		print("queue: QueueReady reads 0 after setup, Status ");
		print_hex(vreg(d, VM_STATUS));
		print("\n");
		return -1;
	}
	return 0;
}

int vdev_driver_ok(struct vdev *d)
{
	uint32_t st = vreg(d, VM_STATUS);

	vreg_write(d, VM_STATUS, st | S_DRIVER_OK);
	st = vreg(d, VM_STATUS);
	if ((st & (S_DRIVER_OK | S_NEEDS_RESET | S_FAILED)) != S_DRIVER_OK) {
		print("driver ok: Status ");
		print_hex(st);
		print("\n");
		return -1;
	}
	return 0;
}

int vdev_init(struct vdev *d, unsigned slot, uint32_t device_id,
	      uint64_t features, uint16_t qsize)
{
	if (vdev_probe(d, slot, device_id) || vdev_negotiate(d, features) ||
	    vdev_setup_queue(d, qsize) || vdev_driver_ok(d))
		return -1;
	return 0;
}

void vq_set_desc(struct vdev *d, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	d->desc[i].addr = addr;
	d->desc[i].len = len;
	d->desc[i].flags = flags;
	d->desc[i].next = next;
}

void vq_publish(struct vdev *d, uint16_t head)
{
	d->avail[2 + (d->avail_idx & (d->qsize - 1))] = head;
	/* The entry and the descriptors before the index (x86: stores are
	 * ordered, only the compiler must be kept from reordering). */
	barrier();
	d->avail_idx++;
	d->avail[1] = d->avail_idx;
	mb(); /* the index before the notification */
}

uint16_t vq_post(struct vdev *d, const struct vbuf *b, unsigned n)
{
	uint16_t head = d->next_desc, i = head;

	for (unsigned k = 0; k < n; k++) {
		uint16_t next = (uint16_t)((i + 1) & (d->qsize - 1));

		vq_set_desc(d, i, b[k].addr, b[k].len,
			    (uint16_t)(b[k].flags | (k + 1 < n ? D_NEXT : 0)),
			    k + 1 < n ? next : 0);
		i = next;
	}
	d->next_desc = i;
	vq_publish(d, head);
	return head;
}

void vq_kick(struct vdev *d)
{
	vreg_write(d, VM_QUEUE_NOTIFY, 0);
}

uint16_t vq_used_pending(struct vdev *d)
{
	uint16_t idx = *(volatile uint16_t *)(d->used + 2);

	return (uint16_t)(idx - d->used_idx);
}

int vq_wait(struct vdev *d, uint32_t *id, uint32_t *len, unsigned long spins)
{
	volatile uint8_t *e;

	for (unsigned long i = 0; i < spins; i++) {
		if (vq_used_pending(d)) {
			barrier(); /* the index before the element */
			e = d->used + 4 + 8 * (d->used_idx & (d->qsize - 1));
			*id = *(volatile uint32_t *)e;
			*len = *(volatile uint32_t *)(e + 4);
			d->used_idx++;
			return V_OK;
		}
		__asm__ volatile("pause");
	}
	return V_TIMEOUT;
}

int vq_request(struct vdev *d, const struct vbuf *b, unsigned n, uint32_t *len)
{
	uint16_t head = vq_post(d, b, n);
	uint32_t id;

	vq_kick(d);
	if (vq_wait(d, &id, len, WAIT_LONG)) {
		print("request: no used element (timeout), Status ");
		print_hex(vreg(d, VM_STATUS));
		print("\n");
		return V_TIMEOUT;
	}
	if (id != head) {
		print("request: used element for chain ");
		print_uint(id);
		print(", expected ");
		print_uint(head);
		print("\n");
		return V_BAD_ID;
	}
	return V_OK;
}

int blk_request(struct vdev *d, uint32_t type, uint64_t sector, uint64_t data,
		uint32_t len, uint32_t *used_len)
{
	uint64_t hdr = BUF_ADDR(0);
	volatile uint8_t *status = (volatile uint8_t *)(hdr + 16);
	struct vbuf b[3];
	unsigned n = 0;
	int ret;

	*(volatile uint32_t *)hdr = type;
	*(volatile uint32_t *)(hdr + 4) = 0;
	*(volatile uint64_t *)(hdr + 8) = sector;
	*status = 0xff;
	b[n++] = (struct vbuf){hdr, 16, 0};
	if (len)
		b[n++] = (struct vbuf){data, len,
				       blk_type_writes(type) ? 0 : D_WRITE};
	b[n++] = (struct vbuf){hdr + 16, 1, D_WRITE};
	ret = vq_request(d, b, n, used_len);
	if (ret)
		return ret;
	return *status;
}

uint64_t blk_capacity(struct vdev *d)
{
	uint32_t lo, hi;

	/* 4.2.2.2: a 64-bit field as two 32-bit accesses; the generation
	 * counter tells a torn read. */
	for (int i = 0; i < 10; i++) {
		uint32_t gen = vreg(d, VM_CONFIG_GENERATION);

		lo = vreg(d, VM_CONFIG);
		hi = vreg(d, VM_CONFIG + 4);
		if (gen == vreg(d, VM_CONFIG_GENERATION))
			break;
	}
	return (uint64_t)hi << 32 | lo;
}

void blk_sector_pattern(uint64_t s, uint8_t out[512])
{
	static const char unit[] = "sect 00000 data\n";

	for (int i = 0; i < 512; i++) {
		int k = i % 16;
		uint8_t c = (uint8_t)unit[k];

		if (k >= 5 && k <= 9) {
			uint64_t v = s;

			for (int j = 9; j > k; j--)
				v /= 10;
			c = (uint8_t)('0' + v % 10);
		}
		out[i] = c;
	}
}
