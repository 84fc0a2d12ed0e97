/* Split virtqueues, the device side (virtio 1.2, 2.7).  The rings are guest
 * RAM the driver writes while we read, so: every descriptor is copied once
 * before it is checked or used, every address goes through mem_ptr(), every
 * walk is bounded by the queue size, and the driver's and the device's index
 * updates are ordered with acquire/release and full fences as the spec and
 * Linux's virtio_ring.c pair them.
 *
 * What breaks the queue and what only drops a chain: a chain is the
 * driver's request, so a malformed one (-EBADMSG) is completed with length 0
 * and the next one is served, as a disk answers a bad request with an error
 * instead of going offline.  But when the available index or a head index
 * is wrong (-EPROTO), the ring itself can no longer be trusted: we cannot
 * tell which entries are real, and a head out of range cannot even be
 * returned to the driver.  Then the queue stays broken until a reset. */
#include "virtq.h"
#include "../err.h"

#include <errno.h>
#include <string.h>

/* Ring layouts (2.7.5, 2.7.6, 2.7.8), in bytes. */
#define DESC_SIZE 16
#define RING_FLAGS 0	   /* le16 flags, in both rings */
#define RING_IDX 2	   /* le16 idx, in both rings */
#define RING_ENTRIES 4	   /* then the entries, then the event index */
#define AVAIL_ENTRY_SIZE 2 /* le16 head */
#define USED_ENTRY_SIZE 8  /* le32 id, le32 len */

/* Drivers must not make a chain longer than 2^32 bytes (2.7.5.2); one byte
 * less, so that what a device writes into a chain always fits the used
 * ring's le32 len. */
#define CHAIN_MAX_BYTES 0xffffffffull

/* Guest values are little-endian, as is every host minivmm builds for
 * (x86-64); le16/32/64 mark each guest value read as such. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "virtq.c assumes a little-endian host");
#define le16(v) ((uint16_t)(v))
#define le32(v) ((uint32_t)(v))
#define le64(v) ((uint64_t)(v))

/* Ring fields are naturally aligned (virtq_init() checks the ring bases),
 * so each is one atomic access: a single load or store the compiler can
 * neither tear nor repeat. */
static inline uint16_t ring_load16(uint8_t *p, int order)
{
	return le16(__atomic_load_n((uint16_t *)p, order));
}

static inline void ring_store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, le16(v), order);
}

static inline void ring_store32(uint8_t *p, uint32_t v, int order)
{
	__atomic_store_n((uint32_t *)p, le32(v), order);
}

static inline uint8_t *avail_entry(const struct virtq *q, uint16_t idx)
{
	return q->avail + RING_ENTRIES +
	       AVAIL_ENTRY_SIZE * (idx & (q->size - 1u));
}

/* used_event: the last entry of the available ring (EVENT_IDX only). */
static inline uint8_t *avail_used_event(const struct virtq *q)
{
	return q->avail + RING_ENTRIES + AVAIL_ENTRY_SIZE * q->size;
}

static inline uint8_t *used_entry(const struct virtq *q, uint16_t idx)
{
	return q->used + RING_ENTRIES +
	       USED_ENTRY_SIZE * (idx & (q->size - 1u));
}

/* avail_event: the last entry of the used ring (EVENT_IDX only). */
static inline uint8_t *used_avail_event(const struct virtq *q)
{
	return q->used + RING_ENTRIES + USED_ENTRY_SIZE * q->size;
}

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Copies entry @i of a descriptor table once.  The driver may rewrite it
 * meanwhile, so all checks and uses must see this one copy; the compiler
 * barrier keeps the compiler from reloading a field from guest memory
 * instead of the copy (what READ_ONCE() is for in Linux).  memcpy because
 * an indirect table need not be aligned. */
static struct vdesc desc_fetch(const uint8_t *table, unsigned i)
{
	uint8_t raw[DESC_SIZE];
	struct vdesc d;
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;

	memcpy(raw, table + (size_t)i * DESC_SIZE, DESC_SIZE);
	__asm__ __volatile__("" ::: "memory");
	memcpy(&addr, raw, 8);
	memcpy(&len, raw + 8, 4);
	memcpy(&flags, raw + 12, 2);
	memcpy(&next, raw + 14, 2);
	d.addr = le64(addr);
	d.len = le32(len);
	d.flags = le16(flags);
	d.next = le16(next);
	return d;
}

/* The host address of ring @name at @gpa, @len bytes aligned to @align, or
 * an error.  The host mapping is at least as aligned as the guest address
 * (mem_init() maps 2 MiB aligned); checked anyway, since the ring accessors
 * rely on it. */
static int ring_map(const struct vm_mem *m, const char *name, uint64_t gpa,
		    uint64_t len, uint64_t align, uint8_t **host)
{
	if (gpa & (align - 1))
		return err_set(
			-EINVAL,
			"virtqueue %s at 0x%llx is not aligned to %llu bytes",
			name, (unsigned long long)gpa,
			(unsigned long long)align);
	*host = mem_ptr(m, gpa, len);
	if (!*host)
		return err_set(
			-EFAULT,
			"virtqueue %s at 0x%llx (%llu bytes) is not in guest RAM",
			name, (unsigned long long)gpa, (unsigned long long)len);
	if ((uintptr_t)*host & (align - 1))
		return err_set(-EINVAL,
			       "virtqueue %s: host mapping is not aligned",
			       name);
	return 0;
}

int virtq_init(struct virtq *q, const struct vm_mem *m, uint16_t size,
	       uint64_t desc, uint64_t avail, uint64_t used, bool event_idx,
	       bool indirect)
{
	uint64_t event = event_idx ? 2 : 0;
	uint8_t *desc_host, *avail_host, *used_host;
	int ret;

	/* Zero size: the other calls see no queue and do nothing. */
	memset(q, 0, sizeof(*q));
	q->broken = true;
	if (!size || (size & (size - 1)) || size > VIRTQ_MAX_SIZE)
		return err_set(
			-EINVAL,
			"virtqueue size %u is not a power of two from 1 to %u",
			size, VIRTQ_MAX_SIZE);
	ret = ring_map(m, "descriptor table", desc, (uint64_t)DESC_SIZE * size,
		       16, &desc_host);
	if (ret)
		return ret;
	ret = ring_map(m, "available ring", avail,
		       RING_ENTRIES + AVAIL_ENTRY_SIZE * size + event, 2,
		       &avail_host);
	if (ret)
		return ret;
	ret = ring_map(m, "used ring", used,
		       RING_ENTRIES + USED_ENTRY_SIZE * size + event, 4,
		       &used_host);
	if (ret)
		return ret;
	q->mem = m;
	q->size = size;
	q->desc_gpa = desc;
	q->avail_gpa = avail;
	q->used_gpa = used;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->desc = desc_host;
	q->avail = avail_host;
	q->used = used_host;
	q->broken = false;
	return 0;
}

/* Checks indirect descriptor @d of the chain at @head and returns its
 * table's host address in @table and entries in @n. */
static int chain_indirect(const struct virtq *q, uint16_t head,
			  const struct vdesc *d, bool in_table,
			  const uint8_t **table, unsigned *n)
{
	if (!q->indirect)
		return err_set(
			-EBADMSG,
			"virtqueue chain %u: indirect descriptor, but VIRTIO_RING_F_INDIRECT_DESC was not negotiated",
			head);
	if (in_table)
		return err_set(
			-EBADMSG,
			"virtqueue chain %u: indirect descriptor inside an indirect table",
			head);
	/* The table must end the chain (2.7.5.3.1); its WRITE flag means
	 * nothing and is ignored (2.7.5.3.2). */
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return err_set(
			-EBADMSG,
			"virtqueue chain %u: indirect descriptor with NEXT set",
			head);
	if (!d->len || d->len % DESC_SIZE ||
	    d->len / DESC_SIZE > VIRTQ_MAX_SIZE)
		return err_set(
			-EBADMSG,
			"virtqueue chain %u: indirect table of %u bytes is not 1 to %u descriptors",
			head, d->len, VIRTQ_MAX_SIZE);
	*table = mem_ptr(q->mem, d->addr, d->len);
	if (!*table)
		return err_set(
			-EBADMSG,
			"virtqueue chain %u: indirect table at 0x%llx (%u bytes) is not in guest RAM",
			head, (unsigned long long)d->addr, d->len);
	*n = d->len / DESC_SIZE;
	return 0;
}

/* Follows the chain at @c->head into @c.  Every pass either adds a buffer
 * (at most q->size of them, the indirect ones included) or enters the one
 * indirect table a chain may have, so the walk ends whatever the guest
 * wrote. */
static int chain_walk(const struct virtq *q, struct virtq_chain *c)
{
	const uint8_t *table = q->desc;
	unsigned n = q->size, i = c->head;
	bool in_table = false;
	int ret;

	for (;;) {
		struct vdesc d;
		struct virtq_buf *b;

		if (i >= n)
			return err_set(
				-EBADMSG,
				"virtqueue chain %u: descriptor index %u is beyond the %s of %u",
				c->head, i,
				in_table ? "indirect table" : "queue", n);
		d = desc_fetch(table, i);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			ret = chain_indirect(q, c->head, &d, in_table, &table,
					     &n);
			if (ret)
				return ret;
			in_table = true;
			i = 0;
			continue;
		}
		/* Also what ends a loop. */
		if (c->nr >= q->size)
			return err_set(
				-EBADMSG,
				"virtqueue chain %u: more than the queue size of %u descriptors (a loop?)",
				c->head, q->size);
		if (!(d.flags & VIRTQ_DESC_F_WRITE) && c->nr > c->nr_out)
			return err_set(
				-EBADMSG,
				"virtqueue chain %u: device-readable buffer after a device-writable one",
				c->head);
		b = &c->buf[c->nr];
		b->host = mem_ptr(q->mem, d.addr, d.len);
		if (!b->host)
			return err_set(
				-EBADMSG,
				"virtqueue chain %u: buffer at 0x%llx (%u bytes) is not in guest RAM",
				c->head, (unsigned long long)d.addr, d.len);
		if (c->in_len + c->out_len + d.len > CHAIN_MAX_BYTES)
			return err_set(-EBADMSG,
				       "virtqueue chain %u: 4 GiB or more",
				       c->head);
		b->len = d.len;
		b->writable = d.flags & VIRTQ_DESC_F_WRITE;
		if (b->writable) {
			c->in_len += d.len;
		} else {
			c->out_len += d.len;
			c->nr_out++;
		}
		c->nr++;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t avail_idx, pending, head;
	int ret;

	if (q->broken)
		return err_set(-EPROTO,
			       "virtqueue is broken and needs a device reset");
	/* Acquire: the ring entry and the descriptors it names were written
	 * before the driver published this index. */
	avail_idx = ring_load16(q->avail + RING_IDX, __ATOMIC_ACQUIRE);
	pending = avail_idx - q->last_avail;
	if (!pending)
		return 0;
	if (pending > q->size) {
		q->broken = true;
		return err_set(
			-EPROTO,
			"virtqueue available index went from %u to %u, more than the queue size %u",
			q->last_avail, avail_idx, q->size);
	}
	head = ring_load16(avail_entry(q, q->last_avail), __ATOMIC_RELAXED);
	if (head >= q->size) {
		q->broken = true;
		return err_set(
			-EPROTO,
			"virtqueue available entry %u names head %u, beyond the queue size %u",
			q->last_avail, head, q->size);
	}
	q->last_avail++;
	c->head = head;
	c->nr = 0;
	c->nr_out = 0;
	c->out_len = 0;
	c->in_len = 0;
	ret = chain_walk(q, c);
	if (ret) {
		/* Nothing of a bad chain may be used, only its head. */
		c->nr = 0;
		c->nr_out = 0;
		c->out_len = 0;
		c->in_len = 0;
		return ret;
	}
	return 1;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *e;

	if (!q->size)
		return;
	e = used_entry(q, q->used_idx);
	ring_store32(e, head, __ATOMIC_RELAXED);
	ring_store32(e + 4, written, __ATOMIC_RELAXED);
	q->used_idx++;
	/* Release: the buffers' data and the element above are visible
	 * before the driver can see the new index. */
	ring_store16(q->used + RING_IDX, q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, new = q->used_idx, event;

	if (!q->size)
		return false;
	q->signalled_used = new;
	/* Full fence between our used index store and the load of the
	 * driver's used_event or flags: the driver stores those, fences, then
	 * reads the used index.  Without it both sides could read the other's
	 * stale value, and an interrupt the driver waits for is never sent. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx) {
		event = ring_load16(avail_used_event(q), __ATOMIC_RELAXED);
		/* vring_need_event(): did [old, new) pass used_event? */
		return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
	}
	if (new == old)
		return false;
	return !(ring_load16(q->avail + RING_FLAGS, __ATOMIC_RELAXED) &
		 VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void virtq_enable_notify(struct virtq *q)
{
	if (!q->size)
		return;
	if (q->event_idx)
		ring_store16(used_avail_event(q), q->last_avail,
			     __ATOMIC_RELAXED);
	else
		ring_store16(q->used + RING_FLAGS, 0, __ATOMIC_RELAXED);
	/* Full fence before virtq_has_work() loads the available index: the
	 * driver stores its index, fences, then reads what we store here.
	 * Without it, a buffer added now could find notifications still off
	 * while we see no buffer, and wait until the next notification. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void virtq_disable_notify(struct virtq *q)
{
	/* With EVENT_IDX the flags field must stay 0 (2.7.10); leaving
	 * avail_event behind is how notifications stop. */
	if (!q->size || q->event_idx)
		return;
	ring_store16(q->used + RING_FLAGS, VIRTQ_USED_F_NO_NOTIFY,
		     __ATOMIC_RELAXED);
}

bool virtq_has_work(struct virtq *q)
{
	if (!q->size || q->broken)
		return false;
	return ring_load16(q->avail + RING_IDX, __ATOMIC_ACQUIRE) !=
	       q->last_avail;
}

uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst,
			  uint64_t len)
{
	uint8_t *d = dst;
	uint64_t got = 0;

	for (unsigned i = 0; i < c->nr_out && got < len; i++) {
		const struct virtq_buf *b = &c->buf[i];
		uint64_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off < len - got ? b->len - off : len - got;
		memcpy(d + got, (uint8_t *)b->host + off, n);
		got += n;
		off = 0;
	}
	/* The guest may rewrite its buffers meanwhile: only the copy
	 * counts, and the compiler must not read guest memory again in its
	 * place. */
	__asm__ __volatile__("" ::: "memory");
	return got;
}
