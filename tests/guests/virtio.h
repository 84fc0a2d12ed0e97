/* A minimal polling virtio-mmio (version 2) driver for the freestanding
 * long-mode test guests, and what they all need besides: the 0xE9 debug
 * console, the 0x501 exit port, and 1-, 2-, 4- and 8-byte MMIO accesses.
 *
 * One split virtqueue (queue 0) per device, no interrupts (the bare
 * platform has no interrupt controller): a request is a descriptor chain
 * made available, a 4-byte write of the queue index to QueueNotify, and a
 * bounded poll of the used index.  Every wait gives up after a number of
 * iterations and says so, since a device that never answers must fail the
 * test, not hang it.
 *
 * Memory (identity-mapped by minivmm's page tables, free in any guest of
 * 64 MiB or more; the ELF is linked at 1 MiB and ends well below 2 MiB):
 *   0x200000 + slot * 0x10000  the rings of that slot's queue 0:
 *                              descriptors at +0, available ring at
 *                              +0x1000, used ring at +0x2000 (room for 256)
 *   0x280000-0x2fffff          indirect descriptor tables
 *   0x300000-0x3fffff          request buffers
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdint.h>

#define VIRTIO_MMIO_BASE 0xd0000000ull
#define VIRTIO_MMIO_SLOT(n) (VIRTIO_MMIO_BASE + 0x1000ull * (n))

/* Registers (virtio 1.2, 4.2.2, table 4.1). */
#define VM_MAGIC 0x000
#define VM_VERSION 0x004
#define VM_DEVICE_ID 0x008
#define VM_VENDOR_ID 0x00c
#define VM_DEVICE_FEATURES 0x010
#define VM_DEVICE_FEATURES_SEL 0x014
#define VM_DRIVER_FEATURES 0x020
#define VM_DRIVER_FEATURES_SEL 0x024
#define VM_QUEUE_SEL 0x030
#define VM_QUEUE_NUM_MAX 0x034
#define VM_QUEUE_NUM 0x038
#define VM_QUEUE_READY 0x044
#define VM_QUEUE_NOTIFY 0x050
#define VM_INTERRUPT_STATUS 0x060
#define VM_INTERRUPT_ACK 0x064
#define VM_STATUS 0x070
#define VM_QUEUE_DESC_LOW 0x080
#define VM_QUEUE_DESC_HIGH 0x084
#define VM_QUEUE_DRIVER_LOW 0x090
#define VM_QUEUE_DRIVER_HIGH 0x094
#define VM_QUEUE_DEVICE_LOW 0x0a0
#define VM_QUEUE_DEVICE_HIGH 0x0a4
#define VM_CONFIG_GENERATION 0x0fc
#define VM_CONFIG 0x100

#define VIRTIO_MAGIC 0x74726976 /* "virt" */

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4

#define S_ACKNOWLEDGE 0x01
#define S_DRIVER 0x02
#define S_DRIVER_OK 0x04
#define S_FEATURES_OK 0x08
#define S_NEEDS_RESET 0x40
#define S_FAILED 0x80

#define F_INDIRECT_DESC (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_VERSION_1 (1ull << 32)
#define F_ACCESS_PLATFORM (1ull << 33)
#define F_RING_PACKED (1ull << 34)

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

/* virtio-blk (5.2). */
#define BLK_F_SIZE_MAX (1ull << 1)
#define BLK_F_SEG_MAX (1ull << 2)
#define BLK_F_RO (1ull << 5)
#define BLK_F_BLK_SIZE (1ull << 6)
#define BLK_F_FLUSH (1ull << 9)
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_T_DISCARD 11
#define BLK_T_WRITE_ZEROES 13
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define BLK_ID_BYTES 20

#define RING_ADDR(slot) (0x200000ull + 0x10000ull * (slot))
#define INDIRECT_ADDR 0x280000ull
#define BUF_ADDR(n) (0x300000ull + 0x1000ull * (n))

/* Poll bounds, in loop iterations.  On a kvm_pvm host the guest's CPL0 code
 * is emulated (about 1 us an instruction): a used-ring poll takes about
 * 3 us, a register poll (an MMIO exit) about 11 us.  So WAIT_LONG is some
 * 9 s (a synced write on a busy host disk), WAIT_SHORT some 60 ms: long
 * enough for the device's I/O thread to have served a request it was going
 * to serve (a negative check waits WAIT_SHORT, then looks), and
 * WAIT_STATUS about a second. */
#define WAIT_LONG 3000000ul
#define WAIT_SHORT 20000ul
#define WAIT_STATUS 100000ul /* polls of Status for a bit to appear */
#define WAIT_REGS 20000ul    /* polls of Status to read 0 after a reset */

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vdev {
	uint64_t base;	   /* register window */
	unsigned slot;	   /* where the rings are (RING_ADDR) */
	uint32_t id;	   /* DeviceID */
	uint64_t offered;  /* DeviceFeatures */
	uint64_t features; /* what was accepted (FEATURES_OK) */
	uint16_t qsize;
	volatile struct vq_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[qsize], used_event */
	volatile uint8_t *used;	  /* flags, idx, {id, len}[qsize] */
	uint16_t avail_idx;	  /* the next available entry we publish */
	uint16_t used_idx;	  /* the next used entry we consume */
	uint16_t next_desc;	  /* where vq_post puts its next chain */
};

/* A buffer of a chain: D_WRITE in flags for a device-writable one. */
struct vbuf {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* Results of the waits and requests. */
#define V_OK 0
#define V_TIMEOUT (-1) /* nothing came within the bound */
#define V_BAD_ID (-2)  /* a used element for another chain */

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline void mb(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

static inline uint8_t mmio_read8(uint64_t a)
{
	return *(volatile uint8_t *)a;
}

static inline uint16_t mmio_read16(uint64_t a)
{
	return *(volatile uint16_t *)a;
}

static inline uint32_t mmio_read32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}

static inline uint64_t mmio_read64(uint64_t a)
{
	return *(volatile uint64_t *)a;
}

static inline void mmio_write8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}

static inline void mmio_write16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}

static inline void mmio_write32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static inline uint32_t vreg(const struct vdev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static inline void vreg_write(const struct vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

/* Console and exit. */
void print(const char *s);
void print_hex(uint64_t v);
void print_uint(uint64_t v);
/* Ends the VM with @status (minivmm's exit status). */
__attribute__((noreturn)) void guest_exit(unsigned status);
/* "@who: check @code: @why (0x@v)" on the console, then guest_exit(@code):
 * a guest's failed check. */
__attribute__((noreturn)) void guest_fail(const char *who, unsigned code,
					  const char *why, uint64_t v);

/* Byte helpers (no libc; volatile so that gcc makes no memset call). */
void mem_fill(uint64_t addr, uint8_t v, uint64_t len);
void mem_copy(uint64_t dst, const void *src, uint64_t len);
int mem_equal(uint64_t a, const void *b, uint64_t len);
int mem_all(uint64_t a, uint8_t v, uint64_t len); /* every byte is @v */
void spin(unsigned long n);			  /* busy wait */

/* The transport.  Each returns 0 or a negative code and prints why. */
/* Magic, version 2 and @device_id at slot @slot; fills @d. */
int vdev_probe(struct vdev *d, unsigned slot, uint32_t device_id);
/* Status = 0 and wait until it reads 0. */
int vdev_reset(struct vdev *d);
/* Reset, ACKNOWLEDGE|DRIVER, read the offered features into d->offered. */
int vdev_offer(struct vdev *d);
/* vdev_offer, then write @want
 * (which must be offered) and FEATURES_OK, read it back. */
int vdev_negotiate(struct vdev *d, uint64_t want);
/* Writes the driver features without checking them against the offer. */
void vdev_write_features(struct vdev *d, uint64_t f);
/* Queue 0: QueueNum = @size, the three ring addresses of d->slot, then
 * QueueReady = 1 and read back; zeroes the rings. */
int vdev_setup_queue(struct vdev *d, uint16_t size);
/* As vdev_setup_queue, but with the given addresses and no checks (the
 * hostile tests); QueueReady is written only if @ready. */
void vdev_setup_queue_raw(struct vdev *d, uint32_t num, uint64_t desc,
			  uint64_t avail, uint64_t used, int ready);
/* Adds DRIVER_OK. */
int vdev_driver_ok(struct vdev *d);
/* All of the above in order: a device ready for requests. */
int vdev_init(struct vdev *d, unsigned slot, uint32_t device_id,
	      uint64_t features, uint16_t qsize);
/* Polls Status until (Status & @bits) == @bits; 0 or V_TIMEOUT. */
int vdev_wait_status(struct vdev *d, uint32_t bits, unsigned long spins);

/* The queue.  vq_post writes @n descriptors (chained) at d->next_desc and
 * makes the chain available; returns its head.  vq_publish makes @head
 * available (a chain written by hand with vq_set_desc). */
uint16_t vq_post(struct vdev *d, const struct vbuf *b, unsigned n);
void vq_set_desc(struct vdev *d, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next);
void vq_publish(struct vdev *d, uint16_t head);
/* QueueNotify = 0 (4 bytes). */
void vq_kick(struct vdev *d);
/* Waits for the next used element: V_OK with its @id and @len, or
 * V_TIMEOUT after @spins polls. */
int vq_wait(struct vdev *d, uint32_t *id, uint32_t *len, unsigned long spins);
/* How many used elements wait unconsumed. */
uint16_t vq_used_pending(struct vdev *d);
/* Post, kick, wait WAIT_LONG, check the id: V_OK with *@len, or an error
 * (printed). */
int vq_request(struct vdev *d, const struct vbuf *b, unsigned n, uint32_t *len);

/* Whether a request of @type carries device-readable data (the others
 * read into device-writable buffers). */
static inline int blk_type_writes(uint32_t type)
{
	return type == BLK_T_OUT || type == BLK_T_DISCARD ||
	       type == BLK_T_WRITE_ZEROES;
}

/* virtio-blk: one request: a 16-byte header at BUF_ADDR(0), @data (@len
 * bytes, device-readable if blk_type_writes(@type), else device-writable),
 * status at BUF_ADDR(0) + 16.
 * Returns the status byte (0xff: the status was not written), or a negative
 * V_ code; *@used_len gets the used length. */
int blk_request(struct vdev *d, uint32_t type, uint64_t sector, uint64_t data,
		uint32_t len, uint32_t *used_len);
/* The capacity in 512-byte sectors (configuration space, two halves). */
uint64_t blk_capacity(struct vdev *d);

/* The test files' sector contents: sector @s is 32 copies of the 16 bytes
 * "sect NNNNN data\n" (tests/guests/virtio.sh writes the same). */
void blk_sector_pattern(uint64_t s, uint8_t out[512]);

#endif
