/* A new medium under a running guest (swap.sh): polled virtio-blk on the
 * drive in slot 0, which starts as image A (2048 sectors of 0xaa); the
 * host swaps it for image B (4096 sectors of 0xbb) with PATCH /drives/{id}
 * once the guest said "swap: A read".
 *
 * The guest reads sector 0 of A, prints that line, and polls
 * ConfigGeneration until it moves; then InterruptStatus must have the
 * configuration-change bit (set even on the bare platform, which has no
 * interrupt line), which InterruptAck clears; the capacity must be B's and
 * sector 0 read again B's bytes: "swap: B read".  Then the host makes B
 * 6144 sectors and PATCHes the same path again, as one does to have the
 * guest see a resized file: the generation moves again, with B's new
 * capacity.  Prints "virtio-blk-swap ok" and exits 0, or says what failed
 * and exits with the check's number. */
#include "virtio.h"

#define DATA BUF_ADDR(1)
#define CAP_A 2048
#define CAP_B 4096
#define CAP_B2 6144
/* Register polls (an MMIO exit each, some 11 us on kvm_pvm): about 30 s
 * for the host to send its PATCH. */
#define WAIT_SWAP 3000000ul

static void fail(unsigned code, const char *why, uint64_t v)
{
	guest_fail("virtio-blk-swap", code, why, v);
}

static void read_sector0(struct vdev *d, unsigned code, uint8_t want)
{
	uint32_t used;

	mem_fill(DATA, 0, 512);
	if (blk_request(d, BLK_T_IN, 0, DATA, 512, &used) != BLK_S_OK ||
	    used != 513)
		fail(code, "read of sector 0 failed: used", used);
	if (!mem_all(DATA, want, 512))
		fail(code, "sector 0: first byte", *(volatile uint8_t *)DATA);
}

/* Polls ConfigGeneration until it moves from @gen; checks and acks the
 * configuration-change bit.  The new generation. */
static uint32_t wait_change(struct vdev *d, unsigned code, uint32_t gen)
{
	uint32_t now = gen, isr;

	for (unsigned long i = 0; i < WAIT_SWAP && now == gen; i++)
		now = vreg(d, VM_CONFIG_GENERATION);
	if (now == gen)
		fail(code, "ConfigGeneration never moved", gen);
	isr = vreg(d, VM_INTERRUPT_STATUS);
	if (!(isr & 2))
		fail(code + 1, "no configuration change in InterruptStatus",
		     isr);
	vreg_write(d, VM_INTERRUPT_ACK, 2);
	if (vreg(d, VM_INTERRUPT_STATUS) & 2)
		fail(code + 2, "InterruptAck did not clear the change", 0);
	return now;
}

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	struct vdev d;
	uint32_t gen;

	(void)cpu;
	if (vdev_init(&d, 0, VIRTIO_ID_BLOCK, F_VERSION_1, 16))
		fail(1, "no virtio-blk in slot 0", 0);
	if (blk_capacity(&d) != CAP_A)
		fail(2, "capacity of A", blk_capacity(&d));
	read_sector0(&d, 3, 0xaa);
	gen = vreg(&d, VM_CONFIG_GENERATION);
	if (vreg(&d, VM_INTERRUPT_STATUS) & 2)
		fail(4, "a configuration change before the swap", 0);
	print("swap: A read\n");

	gen = wait_change(&d, 5, gen);
	if (blk_capacity(&d) != CAP_B)
		fail(8, "capacity of B", blk_capacity(&d));
	read_sector0(&d, 9, 0xbb);
	print("swap: B read\n");
	wait_change(&d, 10, gen);
	if (blk_capacity(&d) != CAP_B2)
		fail(13, "capacity of B resized", blk_capacity(&d));
	read_sector0(&d, 14, 0xbb);
	print("virtio-blk-swap ok\n");
	guest_exit(0);
}
