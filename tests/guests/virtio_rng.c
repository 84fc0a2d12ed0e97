/* virtio-rng through virtio-mmio, polled (run with --rng): finds the rng
 * among the slots, reads 64 random bytes twice; each read must fill all 64
 * bytes, not all zero, and the two must differ.  Prints "virtio-rng ok in
 * slot N" and exits 0, or says what failed and exits with that check's
 * number. */
#include "virtio.h"

#define LEN 64

static void fail(unsigned code, const char *why)
{
	print("virtio-rng: ");
	print(why);
	print("\n");
	guest_exit(code);
}

static void read_random(struct vdev *d, uint64_t buf, unsigned code)
{
	struct vbuf b = {buf, LEN, D_WRITE};
	uint32_t len;

	mem_fill(buf, 0, LEN);
	if (vq_request(d, &b, 1, &len))
		fail(code, "request failed");
	if (len != LEN) {
		print("used length ");
		print_uint(len);
		print("\n");
		fail(code + 1, "used length is not 64");
	}
	if (mem_all(buf, 0, LEN))
		fail(code + 2, "64 zero bytes");
}

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	struct vdev d;
	unsigned slot;

	(void)cpu;
	/* The first rng among the slots (after the drives, if any). */
	for (slot = 0; slot < 17; slot++)
		if (mmio_read32(VIRTIO_MMIO_SLOT(slot) + VM_MAGIC) ==
			    VIRTIO_MAGIC &&
		    mmio_read32(VIRTIO_MMIO_SLOT(slot) + VM_DEVICE_ID) ==
			    VIRTIO_ID_RNG)
			break;
	if (slot == 17)
		fail(1, "no virtio-rng in slots 0-16");
	if (vdev_init(&d, slot, VIRTIO_ID_RNG, F_VERSION_1, 8))
		fail(1, "device setup failed");
	read_random(&d, BUF_ADDR(1), 2);
	read_random(&d, BUF_ADDR(2), 5);
	if (mem_equal(BUF_ADDR(1), (const void *)BUF_ADDR(2), LEN))
		fail(8, "the two reads are equal");
	/* A reset device is quiet: Status 0, queue not ready. */
	if (vdev_reset(&d) || vreg(&d, VM_QUEUE_READY))
		fail(9, "reset did not clear the device");
	print("virtio-rng ok in slot ");
	print_uint(slot);
	print("\n");
	guest_exit(0);
}
