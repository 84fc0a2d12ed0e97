/* Split virtqueues (virtio 1.2, section 2.7), the device side: taking
 * descriptor chains the driver made available, returning them through the
 * used ring, and deciding when to notify.  Every guest address goes through
 * mem_ptr(); every guest value is read once.  Transport-independent: the
 * virtio-mmio device model owns the registers and calls these.
 *
 * Threading: one queue is used by one thread at a time (the thread that
 * handles its notifications); different queues may run on different
 * threads.  virtq_init() must not race with the other calls on that queue.
 *
 * A device's notification handler runs the classic loop, so that a buffer
 * the driver adds while notifications are off is never missed:
 *
 *	for (;;) {
 *		virtq_disable_notify(q);
 *		while ((ret = virtq_pop(q, &c)) != 0) {
 *			if (ret == -EBADMSG)
 *				virtq_push(q, c.head, 0);
 *			else if (ret < 0)
 *				return ...set DEVICE_NEEDS_RESET...;
 *			else
 *				virtq_push(q, c.head, ...serve c...);
 *		}
 *		virtq_enable_notify(q);
 *		if (!virtq_has_work(q))
 *			break;
 *	}
 *	if (virtq_should_notify(q))
 *		...interrupt the driver...
 */
#ifndef MINIVMM_VIRTIO_VIRTQ_H
#define MINIVMM_VIRTIO_VIRTQ_H

#include "../mem.h"

#include <stdbool.h>
#include <stdint.h>

/* The largest queue the transport offers (QueueNumMax). */
#define VIRTQ_MAX_SIZE 256

/* Feature bits (virtio 1.2, 6). */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29

/* Descriptor flags. */
#define VIRTQ_DESC_F_NEXT 1	/* the chain goes on at .next */
#define VIRTQ_DESC_F_WRITE 2	/* device-writable (else device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4 /* the buffer is a table of descriptors */
/* The driver asks for no interrupts (without EVENT_IDX). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
/* The device asks for no notifications (without EVENT_IDX). */
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq {
	const struct vm_mem *mem;
	uint16_t size;	     /* negotiated: a power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa;   /* descriptor table */
	uint64_t avail_gpa;  /* available (driver) ring */
	uint64_t used_gpa;   /* used (device) ring */
	bool event_idx;	     /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	     /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint16_t last_avail; /* next available ring entry to consume */
	uint16_t used_idx;   /* shadow of used->idx, which only we write */
	uint16_t signalled_used; /* used_idx at the last should_notify */
	/* The driver broke the ring protocol: every pop fails until the
	 * device is reset (and virtq_init() is called again). */
	bool broken;
	/* Host addresses of the rings, checked by virtq_init(): guest RAM stays
	 * mapped for the VM's life, and the ring addresses cannot change while
	 * the queue is enabled. */
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;
};

struct virtq_buf {
	void *host; /* len bytes of guest RAM, checked by mem_ptr() */
	uint32_t len;
	bool writable; /* device-writable */
};

struct virtq_chain {
	uint16_t head;	 /* what virtq_push() takes */
	unsigned nr;	 /* buffers in buf[] */
	unsigned nr_out; /* the first nr_out are device-readable */
	struct virtq_buf buf[VIRTQ_MAX_SIZE];
	uint64_t out_len; /* total device-readable bytes */
	uint64_t in_len;  /* total device-writable bytes */
};

/* Sets up @q for a queue the driver enabled: @size entries, rings at the
 * guest physical addresses @desc, @avail and @used, with the negotiated ring
 * features.  -EINVAL for a size that is 0, not a power of two or above
 * VIRTQ_MAX_SIZE, or a ring not aligned as 2.7 requires (16, 2, 4 bytes);
 * -EFAULT for a ring (with its event-index field if negotiated) that is not
 * wholly in one region of guest RAM.  On failure @q is broken: virtq_pop()
 * fails and the other calls do nothing. */
int virtq_init(struct virtq *q, const struct vm_mem *m, uint16_t size,
	       uint64_t desc, uint64_t avail, uint64_t used, bool event_idx,
	       bool indirect);

/* Takes the next available chain into @c: 1, or 0 if there is none.
 * A chain has at most q->size buffers, those of its indirect table
 * included, and less than 4 GiB in total.
 * -EBADMSG: this chain is malformed (index out of range, a loop or a chain
 * too long, a buffer not in guest RAM, a readable buffer after a writable
 * one, a bad indirect table): @c->head is set and @c holds no buffers;
 * complete it with virtq_push(q, c->head, 0) and go on.
 * -EPROTO: the ring itself is corrupt (the available index moved by more
 * than the queue size, or a head index out of range) or was already: the
 * queue is broken, the device must set DEVICE_NEEDS_RESET.  Both set a
 * message with err_set(). */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/* Returns chain @head to the driver with @written bytes written into its
 * device-writable buffers, and publishes it (release: the data and the used
 * element are visible before the new used index). */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/* Whether to interrupt the driver for what was pushed since the last call:
 * with EVENT_IDX when the used index passed the driver's used_event, else
 * unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT.  False if nothing was
 * pushed. */
bool virtq_should_notify(struct virtq *q);

/* Asks the driver to notify when it makes buffers available (EVENT_IDX:
 * avail_event = last_avail; else clears VIRTQ_USED_F_NO_NOTIFY), then
 * fences: call virtq_has_work() afterwards, a buffer may have come before
 * the driver saw the request. */
void virtq_enable_notify(struct virtq *q);

/* Asks the driver not to notify while the device is busy with the queue
 * anyway.  Without EVENT_IDX this sets VIRTQ_USED_F_NO_NOTIFY; with it,
 * avail_event stays where virtq_enable_notify() put it, so the driver
 * notifies at most once more.  A hint: notifications may still come. */
void virtq_disable_notify(struct virtq *q);

/* Whether the driver made a buffer available that virtq_pop() has not taken
 * (false for a broken queue). */
bool virtq_has_work(struct virtq *q);

/* Copies @len bytes from byte @off of @c's device-readable buffers into
 * @dst, once (a device parses a request header from the copy, never from
 * guest memory the guest may rewrite); returns how many there were. */
uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst,
			  uint64_t len);

#endif
