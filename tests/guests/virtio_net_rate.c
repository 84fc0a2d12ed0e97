/* A polled virtio-net transmit load for the rate limiter's measured test
 * (virtio_net.sh): the interface in slot 0 sends 3000 frames of 1000 bytes
 * (broadcast, EtherType 0x88b5, the local experimental one: nobody
 * answers), one at a time, each waited for.  Prints "net-rate done" and
 * exits 0, or says what failed and exits with the check's number.  The
 * host times the run. */
#include "virtio.h"

#define VIRTIO_ID_NET 1
#define NET_F_MAC (1ull << 5)
#define HS 12
#define COUNT 3000
#define LEN 1000
#define FRAME BUF_ADDR(8)

static void fail(unsigned code, const char *why, uint64_t v)
{
	guest_fail("virtio-net-rate", code, why, v);
}

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	static const uint8_t head[14] = {0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0x02, 0x4d, 0x56, 0,
					 0,    2,    0x88, 0xb5};
	uint64_t ring = RING_ADDR(0) + 0x4000;
	struct vdev d;
	struct vbuf b = {FRAME, HS + LEN, 0};

	(void)cpu;
	if (vdev_probe(&d, 0, VIRTIO_ID_NET) ||
	    vdev_negotiate(&d, F_VERSION_1 | NET_F_MAC))
		fail(1, "device setup failed", vreg(&d, VM_STATUS));
	/* Only the transmit queue (1). */
	mem_fill(ring, 0, 0x3000);
	d.qsize = 16;
	d.desc = (volatile struct vq_desc *)ring;
	d.avail = (volatile uint16_t *)(ring + 0x1000);
	d.used = (volatile uint8_t *)(ring + 0x2000);
	d.avail_idx = d.used_idx = d.next_desc = 0;
	vreg_write(&d, VM_QUEUE_SEL, 1);
	vreg_write(&d, VM_QUEUE_NUM, 16);
	vreg_write(&d, VM_QUEUE_DESC_LOW, (uint32_t)ring);
	vreg_write(&d, VM_QUEUE_DESC_HIGH, 0);
	vreg_write(&d, VM_QUEUE_DRIVER_LOW, (uint32_t)(ring + 0x1000));
	vreg_write(&d, VM_QUEUE_DRIVER_HIGH, 0);
	vreg_write(&d, VM_QUEUE_DEVICE_LOW, (uint32_t)(ring + 0x2000));
	vreg_write(&d, VM_QUEUE_DEVICE_HIGH, 0);
	vreg_write(&d, VM_QUEUE_READY, 1);
	if (vdev_driver_ok(&d))
		fail(2, "DRIVER_OK refused", vreg(&d, VM_STATUS));
	mem_fill(FRAME, 0, HS + LEN);
	mem_copy(FRAME + HS, head, sizeof(head));
	for (unsigned i = 0; i < COUNT; i++) {
		uint16_t h = vq_post(&d, &b, 1);
		uint32_t id, len;

		vreg_write(&d, VM_QUEUE_NOTIFY, 1);
		if (vq_wait(&d, &id, &len, WAIT_LONG))
			fail(3, "frame not given back, Status",
			     vreg(&d, VM_STATUS));
		if (id != h)
			fail(4, "used element for chain", id);
	}
	print("net-rate done\n");
	guest_exit(0);
}
