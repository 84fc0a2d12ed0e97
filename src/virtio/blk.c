/* virtio-blk: requests from the guest's queues to the drive's I/O engine.
 *
 * A request's way: queue_notify pops each chain the driver made available,
 * blk_parse() checks it once and copies out every guest value it needs, a
 * request that needs no disk I/O (a bad one, GET_ID, an empty transfer) is
 * answered at once, the others are collected and handed to the disk as one
 * batch (one io_uring submission).  Completions come back through
 * disk_reap(): from the same call for io=sync, from the io_uring eventfd
 * for io=uring; each writes the status byte and pushes the chain.
 *
 * Each queue has q->size request slots.  A driver may make chains
 * available again before we completed them, so the ring alone does not
 * bound what is in flight: when a queue has no free slot, or the disk no
 * room, we stop popping that queue ("stalled") and go on once completions
 * free some; the chains wait in the ring meanwhile.
 *
 * The rate limiter (disk_options.rate: ops are requests, bandwidth bytes of
 * data; a FLUSH is one op and no bytes) is asked after a chain is popped
 * and parsed, before it is started: when a bucket is short, the request
 * stays in its slot ("held", one per queue at most), the queue stops being
 * popped, and a timerfd on the I/O thread is armed for when the tokens
 * will be there; the guest just sees the request complete later.  A reset
 * drops what is held and disarms the timer.  A live update of the limits
 * (the API's PATCH, from another thread) is stored under rate_lock with a
 * generation, and taken by the I/O thread, which the update wakes through
 * the same timer.
 *
 * A new medium (the API's PATCH of path_on_host, virtio_blk_swap) is opened
 * and locked on the API thread, which hands the open file over under
 * swap_lock and wakes the I/O thread through swap_fd.  The I/O thread then
 * stops starting requests ("swapping": the queues stall, held requests
 * stay held) until nothing is in flight on the old file, so every request
 * the guest made before completes on the medium it was made for; then it
 * puts the new file in place, closes the old one, fills the configuration
 * space again (capacity, discard alignment) and has the transport bump the
 * generation and raise a configuration-change interrupt.  Requests popped
 * afterwards are parsed against the new capacity; a held one, parsed
 * before, is checked again by the disk against the new size.
 *
 * All of it runs with the transport's device lock held (virtio.h), on the
 * I/O thread or, for activate and reset, on a vCPU thread. */
#include "blk.h"
#include "../err.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "blk.c assumes a little-endian host");
#define le32(v) ((uint32_t)(v))
#define le64(v) ((uint64_t)(v))

/* The layout of 5.2.4. */
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "config");
_Static_assert(offsetof(struct virtio_blk_config, writeback) == 32, "config");
_Static_assert(offsetof(struct virtio_blk_config, num_queues) == 34, "config");
_Static_assert(offsetof(struct virtio_blk_config, max_discard_sectors) == 36,
	       "config");
_Static_assert(offsetof(struct virtio_blk_config, write_zeroes_may_unmap) == 56,
	       "config");
_Static_assert(offsetof(struct virtio_blk_config, unused1) + 3 ==
		       VIRTIO_BLK_CONFIG_SIZE,
	       "config");

#define BIT(n) (1ull << (n))

/* ---- parsing ---- */

/* Appends @len bytes of buffers [@first, @end), from byte @skip on, to
 * @r's iovecs. */
static void chain_iov(const struct virtq_chain *c, unsigned first, unsigned end,
		      uint64_t skip, uint64_t len, struct blk_req *r)
{
	for (unsigned i = first; i < end && len; i++) {
		const struct virtq_buf *b = &c->buf[i];
		uint64_t n;

		if (skip >= b->len) {
			skip -= b->len;
			continue;
		}
		n = b->len - skip < len ? b->len - skip : len;
		r->iov[r->nr_iov].iov_base = (uint8_t *)b->host + skip;
		r->iov[r->nr_iov].iov_len = n;
		r->nr_iov++;
		len -= n;
		skip = 0;
	}
}

/* @bytes (a multiple of 512) from @sector lie within @capacity sectors;
 * no multiplication, so no overflow. */
static bool range_ok(uint64_t capacity, uint64_t sector, uint64_t bytes)
{
	return sector <= capacity &&
	       bytes / DISK_SECTOR_SIZE <= capacity - sector;
}

/* DISCARD and WRITE_ZEROES: one segment after the header (we offer
 * max_discard_seg = max_write_zeroes_seg = 1).  The statuses follow
 * 5.2.6.2 and QEMU: more segments than offered, unknown flags and a
 * discard with unmap are UNSUPP; a range too long or past the end IOERR. */
static int blk_parse_dwz(const struct virtq_chain *c, uint64_t capacity,
			 bool ro, struct blk_req *r)
{
	uint8_t seg[VIRTIO_BLK_DWZ_SEG_SIZE];
	uint64_t sector;
	uint32_t num, flags;

	if (ro)
		return VIRTIO_BLK_S_IOERR;
	if (c->out_len - VIRTIO_BLK_HDR_SIZE > VIRTIO_BLK_DWZ_SEG_SIZE)
		return VIRTIO_BLK_S_UNSUPP;
	if (virtq_chain_read(c, VIRTIO_BLK_HDR_SIZE, seg, sizeof(seg)) <
	    sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	memcpy(&sector, seg, 8);
	memcpy(&num, seg + 8, 4);
	memcpy(&flags, seg + 12, 4);
	sector = le64(sector);
	num = le32(num);
	flags = le32(flags);
	if (num > VIRTIO_BLK_MAX_DWZ_SECTORS ||
	    !range_ok(capacity, sector, (uint64_t)num * DISK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		return VIRTIO_BLK_S_UNSUPP;
	if (r->type == VIRTIO_BLK_T_DISCARD &&
	    (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
		return VIRTIO_BLK_S_UNSUPP;
	r->offset = sector * DISK_SECTOR_SIZE;
	r->bytes = (uint64_t)num * DISK_SECTOR_SIZE;
	r->unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	return VIRTIO_BLK_S_OK;
}

int blk_parse(const struct virtq_chain *c, uint64_t capacity, bool ro,
	      struct blk_req *r)
{
	uint8_t hdr[VIRTIO_BLK_HDR_SIZE];
	uint64_t data;
	uint32_t type;
	uint64_t sector;
	unsigned last;

	r->type = 0;
	r->sector = 0;
	r->status = NULL;
	r->nr_iov = 0;
	r->len = 0;
	r->offset = 0;
	r->bytes = 0;
	r->unmap = false;
	r->written = 1;

	/* The status byte is the last device-writable byte (virtio 1.x has
	 * no fixed layout: trailing empty buffers do not count).  Without
	 * one the request cannot even be answered. */
	for (last = c->nr; last > c->nr_out; last--)
		if (c->buf[last - 1].len)
			break;
	if (last == c->nr_out)
		return -EBADMSG;
	r->status = (uint8_t *)c->buf[last - 1].host + c->buf[last - 1].len - 1;

	/* The header may be split across readable buffers, but must be
	 * there whole. */
	if (virtq_chain_read(c, 0, hdr, sizeof(hdr)) < sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	r->type = le32(type);
	r->sector = le64(sector);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		/* Into every writable byte before the status. */
		data = c->in_len - 1;
		if (data % DISK_SECTOR_SIZE ||
		    !range_ok(capacity, r->sector, data))
			return VIRTIO_BLK_S_IOERR;
		chain_iov(c, c->nr_out, c->nr, 0, data, r);
		r->len = data;
		r->written = (uint32_t)data + 1;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		/* IOERR, not UNSUPP: 5.2.6.2 says so for a write to a
		 * device that offers RO, and the guest then sees an I/O
		 * error on a read-only disk, which is what happened. */
		if (ro)
			return VIRTIO_BLK_S_IOERR;
		/* From every readable byte after the header. */
		data = c->out_len - VIRTIO_BLK_HDR_SIZE;
		if (data % DISK_SECTOR_SIZE ||
		    !range_ok(capacity, r->sector, data))
			return VIRTIO_BLK_S_IOERR;
		chain_iov(c, 0, c->nr_out, VIRTIO_BLK_HDR_SIZE, data, r);
		r->len = data;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		data = c->in_len - 1;
		if (data > VIRTIO_BLK_ID_BYTES)
			data = VIRTIO_BLK_ID_BYTES;
		chain_iov(c, c->nr_out, c->nr, 0, data, r);
		r->len = data;
		r->written = (uint32_t)data + 1;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_parse_dwz(c, capacity, ro, r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* ---- the device ---- */

struct blk_slot {
	struct disk_req dr;
	struct blk_req r;
	uint16_t head;
	uint16_t queue;
};

struct blk_queue {
	struct virtq *vq; /* between activate and reset */
	struct blk_slot *slots;
	uint16_t *free; /* a stack of free slot indexes */
	unsigned nr_free;
	bool stalled; /* stopped popping: no slot or no disk room */
	bool pushed;  /* pushed since the last virtio_dev_notify */
	/* Popped and parsed, waiting for the rate limiter (its status in
	 * held_st); the queue is not popped meanwhile. */
	struct blk_slot *held;
	int held_st;
	uint64_t held_since; /* ns */
};

struct virtio_blk {
	struct disk disk;
	struct virtio_device_ops ops; /* this drive's features */
	struct virtio_blk_config cfg;
	unsigned nr_queues;
	struct virtio_dev *vd;
	bool active;
	uint64_t features; /* negotiated */
	struct blk_queue q[VIRTIO_MAX_QUEUES];
	/* Requests parsed, not yet handed to the disk. */
	struct disk_req *batch[DISK_DEPTH];
	unsigned nr_batch;
	struct virtq_chain chain; /* what virtq_pop() fills */

	/* The rate limiter, the I/O thread's (device lock). */
	struct throttle thr;
	int timer_fd;	    /* armed while a request is held */
	unsigned rate_seen; /* the generation thr was built from */
	uint64_t waits;	    /* for --stats, relaxed atomics */
	uint64_t wait_ns;
	/* A new limit from another thread: rate_new under rate_lock, then
	 * rate_gen moves. */
	pthread_mutex_t rate_lock;
	struct throttle_config rate_new;
	unsigned rate_gen;
	bool disk_rate_set; /* a limit was ever set: --stats shows it */

	/* A new medium from the API thread: swap_new (opened, no engine)
	 * under swap_lock, then swap_gen moves and swap_fd wakes the I/O
	 * thread, which takes it (swap_seen) once nothing is in flight and
	 * reports it done (swap_done, swap_cond). */
	pthread_mutex_t swap_lock;
	pthread_cond_t swap_cond;
	struct disk swap_new; /* fd -1: none waiting */
	int cur_fd;	      /* disk.fd, for the API thread */
	unsigned swap_gen, swap_done;
	unsigned swap_seen; /* the I/O thread's */
	bool swapping;	    /* waiting for the old file to go idle */
	int swap_fd;	    /* eventfd */
	uint64_t updates;   /* media swapped, relaxed atomics */
};

static void blk_count(struct virtio_blk *b)
{
	__atomic_fetch_add(&b->disk.stats.requests, 1, __ATOMIC_RELAXED);
}

/* Answers @s's request with @status, gives the chain back and frees the
 * slot. */
static void blk_complete(struct virtio_blk *b, struct blk_slot *s,
			 uint8_t status)
{
	struct blk_queue *bq = &b->q[s->queue];

	*s->r.status = status;
	/* On an error only the status byte is sure to be written. */
	virtq_push(bq->vq, s->head,
		   status == VIRTIO_BLK_S_OK ? s->r.written : 1);
	bq->pushed = true;
	bq->free[bq->nr_free++] = (uint16_t)(s - bq->slots);
}

static void blk_done(struct disk_req *dr, void *arg)
{
	struct blk_slot *s = (struct blk_slot *)((uint8_t *)dr -
						 offsetof(struct blk_slot, dr));

	blk_complete(arg, s, dr->result ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

/* GET_ID: the serial, NUL-padded to 20 bytes, cut to the buffer. */
static void blk_get_id(struct virtio_blk *b, struct blk_req *r)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = {0};
	uint64_t off = 0;

	memcpy(id, b->disk.serial, strnlen(b->disk.serial, sizeof(id)));
	for (unsigned i = 0; i < r->nr_iov; i++) {
		memcpy(r->iov[i].iov_base, id + off, r->iov[i].iov_len);
		off += r->iov[i].iov_len;
	}
}

/* Serves the chain just popped into slot @s: at once, or by queueing a
 * disk request into the batch. */
static void blk_start(struct virtio_blk *b, struct blk_slot *s, int st)
{
	struct blk_req *r = &s->r;
	struct disk_req *dr = &s->dr;

	if (st < 0) {
		struct blk_queue *bq = &b->q[s->queue];

		virtq_push(bq->vq, s->head, 0);
		bq->pushed = true;
		bq->free[bq->nr_free++] = (uint16_t)(s - bq->slots);
		return;
	}
	memset(dr, 0, sizeof(*dr));
	/* A driver that did not take FLUSH expects every write on stable
	 * storage when it completes (write-through); the disk ignores this
	 * for cache=unsafe. */
	dr->fua = !(b->features & BIT(VIRTIO_BLK_F_FLUSH));
	switch (st == VIRTIO_BLK_S_OK ? r->type : UINT32_MAX) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (!r->len)
			break;
		dr->op = r->type == VIRTIO_BLK_T_IN ? DISK_OP_READ
						    : DISK_OP_WRITE;
		dr->offset = r->sector * DISK_SECTOR_SIZE;
		dr->len = r->len;
		dr->iov = r->iov;
		dr->iovcnt = r->nr_iov;
		b->batch[b->nr_batch++] = dr;
		return;
	case VIRTIO_BLK_T_FLUSH:
		/* cache=unsafe: nothing is ever synced. */
		if (b->disk.cache == DISK_CACHE_UNSAFE)
			break;
		dr->op = DISK_OP_FLUSH;
		b->batch[b->nr_batch++] = dr;
		return;
	case VIRTIO_BLK_T_GET_ID:
		blk_get_id(b, r);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (!r->bytes)
			break;
		dr->op = r->type == VIRTIO_BLK_T_DISCARD ? DISK_OP_DISCARD
							 : DISK_OP_WRITE_ZEROES;
		dr->offset = r->offset;
		dr->len = r->bytes;
		dr->unmap = r->unmap;
		b->batch[b->nr_batch++] = dr;
		return;
	}
	blk_count(b);
	blk_complete(b, s, (uint8_t)st);
}

static bool blk_queue_full(const struct virtio_blk *b,
			   const struct blk_queue *bq)
{
	return b->swapping || !bq->nr_free ||
	       disk_room(&b->disk) <= b->nr_batch;
}

static void blk_config_fill(struct virtio_blk *b);

/* Takes the medium the API handed over, if there is one: at once when
 * nothing is in flight on the old file, else it marks the device swapping
 * (no request starts) and is called again as completions come.  True if
 * it swapped. */
static bool blk_swap_take(struct virtio_blk *b)
{
	struct disk old;

	if (__atomic_load_n(&b->swap_gen, __ATOMIC_ACQUIRE) == b->swap_seen)
		return false;
	b->swapping = true;
	if (b->disk.inflight || b->nr_batch)
		return false;
	pthread_mutex_lock(&b->swap_lock);
	old = b->swap_new;
	b->swap_new.fd = -1;
	b->swap_new.path = NULL;
	b->swap_seen = b->swap_gen;
	if (old.fd >= 0) {
		disk_swap_file(&b->disk, &old);
		b->cur_fd = b->disk.fd;
	}
	pthread_mutex_unlock(&b->swap_lock);
	if (old.fd >= 0) {
		/* The old file, and its lock (unless the new fd shares it:
		 * the same file again), go now. */
		disk_close(&old);
		blk_config_fill(b);
		__atomic_fetch_add(&b->updates, 1, __ATOMIC_RELAXED);
		if (b->vd)
			virtio_dev_config_changed(b->vd);
	}
	b->swapping = false;
	pthread_mutex_lock(&b->swap_lock);
	b->swap_done = b->swap_seen;
	pthread_cond_broadcast(&b->swap_cond);
	pthread_mutex_unlock(&b->swap_lock);
	return true;
}

/* Takes a new limit the API stored, if there is one: the buckets start
 * over, full, as Firecracker's do on an update. */
static void blk_rate_update(struct virtio_blk *b)
{
	unsigned gen = __atomic_load_n(&b->rate_gen, __ATOMIC_ACQUIRE);
	struct throttle_config c;

	if (gen == b->rate_seen)
		return;
	pthread_mutex_lock(&b->rate_lock);
	c = b->rate_new;
	gen = b->rate_gen;
	pthread_mutex_unlock(&b->rate_lock);
	throttle_init(&b->thr, &c, throttle_now_ns());
	b->rate_seen = gen;
}

/* Arms the timer @ns from now, or sooner if it already is (0: disarms). */
static void blk_timer_set(struct virtio_blk *b, uint64_t ns)
{
	throttle_timer_arm(b->timer_fd, ns);
	/* An update stored before we armed must not wait for this timer:
	 * fire at once (the update's own arming may have come first). */
	if (ns &&
	    __atomic_load_n(&b->rate_gen, __ATOMIC_SEQ_CST) != b->rate_seen)
		throttle_timer_arm(b->timer_fd, 1);
}

/* The request in @s (parsed, status @st) asks the limiter: true if it may
 * start now; else it is held in its queue and the timer armed. */
static bool blk_throttle(struct virtio_blk *b, struct blk_queue *bq,
			 struct blk_slot *s, int st)
{
	uint64_t now, wait, bytes = 0;

	if (!throttle_on(&b->thr))
		return true;
	if (st == VIRTIO_BLK_S_OK &&
	    (s->r.type == VIRTIO_BLK_T_IN || s->r.type == VIRTIO_BLK_T_OUT))
		bytes = s->r.len;
	now = throttle_now_ns();
	wait = throttle_take(&b->thr, bytes, now);
	if (!wait)
		return true;
	bq->held = s;
	bq->held_st = st;
	bq->held_since = now;
	__atomic_fetch_add(&b->waits, 1, __ATOMIC_RELAXED);
	blk_timer_set(b, wait);
	return false;
}

/* Starts the request held in @bq if the limiter lets it now.  False if it
 * is still held, or the disk has no room for it (stalled). */
static bool blk_release(struct virtio_blk *b, struct blk_queue *bq)
{
	struct blk_slot *s = bq->held;
	uint64_t now, wait, bytes = 0;

	if (b->swapping || disk_room(&b->disk) <= b->nr_batch) {
		bq->stalled = true;
		return false;
	}
	if (throttle_on(&b->thr)) {
		if (bq->held_st == VIRTIO_BLK_S_OK &&
		    (s->r.type == VIRTIO_BLK_T_IN ||
		     s->r.type == VIRTIO_BLK_T_OUT))
			bytes = s->r.len;
		now = throttle_now_ns();
		wait = throttle_take(&b->thr, bytes, now);
		if (wait) {
			blk_timer_set(b, wait);
			return false;
		}
	} else {
		now = throttle_now_ns();
	}
	__atomic_fetch_add(&b->wait_ns, now - bq->held_since, __ATOMIC_RELAXED);
	bq->held = NULL;
	blk_start(b, s, bq->held_st);
	return true;
}

/* Pops and starts what queue @qi has, until it is empty or full, or the
 * rate limiter holds a request. */
static void blk_kick(struct virtio_blk *b, unsigned qi)
{
	struct blk_queue *bq = &b->q[qi];
	struct virtq *q = bq->vq;
	int ret;

	bq->stalled = false;
	if (!q)
		return;
	blk_rate_update(b);
	/* A new medium handed over stops the popping now: what the driver
	 * makes available from here on is for the new file. */
	blk_swap_take(b);
	/* Notifications stay off while held: the timer kicks us. */
	if (bq->held && !blk_release(b, bq))
		return;
	for (;;) {
		virtq_disable_notify(q);
		while (!blk_queue_full(b, bq)) {
			struct blk_slot *s;

			ret = virtq_pop(q, &b->chain);
			if (ret == 0)
				break;
			if (ret == -EBADMSG) {
				virtq_push(q, b->chain.head, 0);
				bq->pushed = true;
				continue;
			}
			if (ret < 0) {
				virtio_dev_needs_reset(b->vd);
				return;
			}
			s = &bq->slots[bq->free[--bq->nr_free]];
			s->head = b->chain.head;
			s->queue = (uint16_t)qi;
			ret = blk_parse(&b->chain, b->cfg.capacity, b->disk.ro,
					&s->r);
			/* A chain without a status byte cannot be answered
			 * but with length 0, and costs nothing. */
			if (ret >= 0 && !blk_throttle(b, bq, s, ret))
				return;
			blk_start(b, s, ret);
		}
		if (blk_queue_full(b, bq)) {
			/* Notifications stay off: completions kick us. */
			bq->stalled = true;
			return;
		}
		virtq_enable_notify(q);
		if (!virtq_has_work(q))
			return;
	}
}

/* Submits the batch, takes completions, restarts stalled queues, until
 * nothing moves; then interrupts the driver once per queue. */
static void blk_process(struct virtio_blk *b)
{
	for (;;) {
		bool progress = false;

		if (b->nr_batch) {
			/* blk_queue_full() kept the batch within the
			 * disk's room. */
			disk_submit(&b->disk, b->batch, b->nr_batch);
			b->nr_batch = 0;
			progress = true;
		}
		if (disk_reap(&b->disk, blk_done, b))
			progress = true;
		if (blk_swap_take(b))
			progress = true;
		for (unsigned i = 0; i < b->nr_queues; i++)
			if (b->q[i].stalled && !blk_queue_full(b, &b->q[i]))
				blk_kick(b, i);
		if (!progress && !b->nr_batch)
			break;
	}
	for (unsigned i = 0; i < b->nr_queues; i++) {
		if (b->q[i].pushed) {
			b->q[i].pushed = false;
			virtio_dev_notify(b->vd, i);
		}
	}
}

static void blk_queue_notify(struct virtio_dev *vd, unsigned qi)
{
	struct virtio_blk *b = virtio_dev_priv(vd);

	if (!b->active || qi >= b->nr_queues)
		return;
	blk_kick(b, qi);
	blk_process(b);
}

/* The io_uring eventfd: completions to take. */
static void blk_event(struct virtio_dev *vd, int fd)
{
	struct virtio_blk *b = virtio_dev_priv(vd);
	uint64_t v;

	/* Cleared before reaping: a completion after the reap signals
	 * again. */
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new, but reaping is harmless */
	}
	/* Nothing is in flight when inactive: reset drained it. */
	if (b->active)
		blk_process(b);
}

/* The rate limiter's timer: the held requests may go, or a new limit is
 * there. */
static void blk_timer(struct virtio_dev *vd, int fd)
{
	struct virtio_blk *b = virtio_dev_priv(vd);
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: spurious */
	}
	blk_rate_update(b);
	if (!b->active)
		return;
	for (unsigned i = 0; i < b->nr_queues; i++)
		if (b->q[i].held)
			blk_kick(b, i);
	blk_process(b);
}

/* swap_fd: the API thread handed over a new medium. */
static void blk_swap_event(struct virtio_dev *vd, int fd)
{
	struct virtio_blk *b = virtio_dev_priv(vd);
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: spurious */
	}
	if (b->active)
		blk_process(b); /* swaps once the old file is idle */
	else
		blk_swap_take(b); /* nothing in flight: reset drained it */
}

static int blk_init(struct virtio_dev *vd)
{
	struct virtio_blk *b = virtio_dev_priv(vd);
	int fd = disk_event_fd(&b->disk);
	int ret;

	b->vd = vd;
	ret = fd < 0 ? 0 : virtio_dev_add_fd(vd, fd, blk_event);
	if (!ret)
		ret = virtio_dev_add_fd(vd, b->timer_fd, blk_timer);
	if (!ret)
		ret = virtio_dev_add_fd(vd, b->swap_fd, blk_swap_event);
	return ret;
}

static void blk_free_queues(struct virtio_blk *b)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		free(b->q[i].slots);
		free(b->q[i].free);
		memset(&b->q[i], 0, sizeof(b->q[i]));
	}
}

static int blk_activate(struct virtio_dev *vd, uint64_t features)
{
	struct virtio_blk *b = virtio_dev_priv(vd);

	/* The transport resets between two activations; if it did not, the
	 * old queues must not leak or be served. */
	disk_drain(&b->disk);
	blk_free_queues(b);
	b->nr_batch = 0;
	b->vd = vd;
	b->features = features;
	for (unsigned i = 0; i < b->nr_queues; i++) {
		struct blk_queue *bq = &b->q[i];
		struct virtq *q = virtio_dev_queue(vd, i);

		if (!q)
			continue; /* not enabled: never served */
		/* Slots only as the driver's queue is long; untouched ones
		 * cost no memory (calloc of large blocks maps zero pages). */
		bq->slots = calloc(q->size, sizeof(*bq->slots));
		bq->free = calloc(q->size, sizeof(*bq->free));
		if (!bq->slots || !bq->free) {
			blk_free_queues(b);
			return err_set(-ENOMEM, "virtio-blk: out of memory");
		}
		for (unsigned j = 0; j < q->size; j++)
			bq->free[j] = (uint16_t)(q->size - 1 - j);
		bq->nr_free = q->size;
		bq->vq = q;
	}
	b->active = true;
	return 0;
}

/* Waits for every request in flight and drops its completion: the driver
 * reset the device, its rings are gone, and after this no host I/O may
 * land in guest memory. */
static void blk_reset(struct virtio_dev *vd)
{
	struct virtio_blk *b = virtio_dev_priv(vd);

	disk_drain(&b->disk);
	b->nr_batch = 0;
	/* Held requests are dropped with their queue: the ring is gone. */
	blk_free_queues(b);
	blk_timer_set(b, 0);
	b->active = false;
	b->features = 0;
	/* A swap that waited for the requests just drained: the I/O thread
	 * finishes it (it may close files; this may be a vCPU thread). */
	if (b->swapping) {
		uint64_t one = 1;

		b->swapping = false;
		if (write(b->swap_fd, &one, sizeof(one)) < 0) {
			/* counter overflow: already readable */
		}
	}
}

void virtio_blk_config_read(const struct virtio_blk *b, uint32_t off,
			    void *data, uint32_t len)
{
	if (off > VIRTIO_BLK_CONFIG_SIZE ||
	    len > VIRTIO_BLK_CONFIG_SIZE - off) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)&b->cfg + off, len);
}

static void blk_config_read(struct virtio_dev *vd, uint32_t off, void *data,
			    uint32_t len)
{
	virtio_blk_config_read(virtio_dev_priv(vd), off, data, len);
}

static void blk_print_stats(struct virtio_dev *vd, FILE *f)
{
	struct virtio_blk *b = virtio_dev_priv(vd);
	const struct disk_stats *s = &b->disk.stats;
	const double mib = 1024.0 * 1024.0;

	fprintf(f,
		"  %" PRIu64
		" requests, %.1f MiB read, %.1f MiB written, %" PRIu64
		" flushes, %" PRIu64 " discards, %" PRIu64
		" I/O errors (io=%s)\n",
		__atomic_load_n(&s->requests, __ATOMIC_RELAXED),
		(double)__atomic_load_n(&s->bytes_read, __ATOMIC_RELAXED) / mib,
		(double)__atomic_load_n(&s->bytes_written, __ATOMIC_RELAXED) /
			mib,
		__atomic_load_n(&s->flushes, __ATOMIC_RELAXED),
		__atomic_load_n(&s->discards, __ATOMIC_RELAXED),
		__atomic_load_n(&s->errors, __ATOMIC_RELAXED),
		disk_io_name(b->disk.io));
	if (__atomic_load_n(&b->disk_rate_set, __ATOMIC_RELAXED))
		fprintf(f,
			"  rate limiter: %" PRIu64
			" requests waited, %.3f s in all\n",
			__atomic_load_n(&b->waits, __ATOMIC_RELAXED),
			(double)__atomic_load_n(&b->wait_ns, __ATOMIC_RELAXED) /
				1e9);
}

static unsigned blk_read_metrics(struct virtio_dev *vd, struct virtio_metric *m)
{
	struct virtio_blk *b = virtio_dev_priv(vd);
	const struct disk_stats *s = &b->disk.stats;
	const struct {
		const char *name;
		const uint64_t *c;
	} f[] = {
		{"read_bytes", &s->bytes_read},
		{"write_bytes", &s->bytes_written},
		{"read_count", &s->reads},
		{"write_count", &s->writes},
		{"flush_count", &s->flushes},
		{"discard_count", &s->discards},
		{"execute_fails", &s->errors},
		{"requests_count", &s->requests},
		{"update_count", &b->updates},
		/* requests that waited for the rate limiter */
		{"rate_limiter_throttled_events", &b->waits},
	};
	unsigned n = sizeof(f) / sizeof(f[0]);

	for (unsigned i = 0; i < n; i++)
		m[i] = (struct virtio_metric){
			f[i].name, __atomic_load_n(f[i].c, __ATOMIC_RELAXED),
			false};
	return n;
}

#define BLK_BASE_FEATURES                                         \
	(BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_SIZE_MAX) | \
	 BIT(VIRTIO_BLK_F_BLK_SIZE))

const struct virtio_device_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.init = blk_init,
	.device_id = VIRTIO_ID_BLOCK,
	.features = BLK_BASE_FEATURES | BIT(VIRTIO_BLK_F_FLUSH) |
		    BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES),
	.nr_queues = 1,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.print_stats = blk_print_stats,
	.read_metrics = blk_read_metrics,
};

static uint64_t blk_features(const struct virtio_blk *b)
{
	uint64_t f = BLK_BASE_FEATURES;

	if (b->disk.cache == DISK_CACHE_WRITEBACK)
		f |= BIT(VIRTIO_BLK_F_FLUSH);
	if (b->disk.ro)
		f |= BIT(VIRTIO_BLK_F_RO);
	else
		f |= BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	if (b->nr_queues > 1)
		f |= BIT(VIRTIO_BLK_F_MQ);
	return f;
}

static void blk_config_fill(struct virtio_blk *b)
{
	struct virtio_blk_config *c = &b->cfg;

	memset(c, 0, sizeof(*c));
	c->capacity = b->disk.size / DISK_SECTOR_SIZE;
	c->size_max = VIRTIO_BLK_SIZE_MAX;
	c->seg_max = VIRTIO_BLK_SEG_MAX;
	c->blk_size = DISK_SECTOR_SIZE;
	c->num_queues = (uint16_t)b->nr_queues;
	if (!b->disk.ro) {
		c->max_discard_sectors = VIRTIO_BLK_MAX_DWZ_SECTORS;
		c->max_discard_seg = 1;
		c->discard_sector_alignment =
			b->disk.block_size / DISK_SECTOR_SIZE;
		c->max_write_zeroes_sectors = VIRTIO_BLK_MAX_DWZ_SECTORS;
		c->max_write_zeroes_seg = 1;
		/* With unmap a write-zeroes punches a hole, which reads
		 * back as zeroes. */
		c->write_zeroes_may_unmap = 1;
	}
}

int virtio_blk_create(struct virtio_blk **out, const struct disk_options *o,
		      unsigned nr_queues)
{
	struct virtio_blk *b;
	int ret;

	if (nr_queues < 1 || nr_queues > VIRTIO_MAX_QUEUES)
		return err_set(-EINVAL,
			       "virtio-blk: %u queues: expected 1 to %d",
			       nr_queues, VIRTIO_MAX_QUEUES);
	b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(-ENOMEM, "out of memory");
	/* Always, limited or not: a PATCH may set a limit later. */
	b->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	b->swap_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->timer_fd < 0 || b->swap_fd < 0) {
		ret = err_set(-errno, "virtio-blk: timerfd/eventfd: %s",
			      strerror(errno));
		goto fail;
	}
	ret = disk_open(&b->disk, o);
	if (ret)
		goto fail;
	pthread_mutex_init(&b->rate_lock, NULL);
	pthread_mutex_init(&b->swap_lock, NULL);
	pthread_cond_init(&b->swap_cond, NULL);
	b->swap_new.fd = -1;
	b->swap_new.event_fd = -1;
	b->cur_fd = b->disk.fd;
	b->rate_new = o->rate;
	b->disk_rate_set = throttle_config_on(&o->rate);
	throttle_init(&b->thr, &o->rate, throttle_now_ns());
	b->nr_queues = nr_queues;
	blk_config_fill(b);
	b->ops = virtio_blk_ops;
	b->ops.features = blk_features(b);
	b->ops.nr_queues = nr_queues;
	*out = b;
	return 0;
fail:
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	if (b->swap_fd >= 0)
		close(b->swap_fd);
	free(b);
	return ret;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	disk_close(&b->disk);
	if (b->swap_new.fd >= 0)
		disk_close(&b->swap_new);
	blk_free_queues(b);
	close(b->timer_fd);
	close(b->swap_fd);
	pthread_mutex_destroy(&b->rate_lock);
	pthread_cond_destroy(&b->swap_cond);
	pthread_mutex_destroy(&b->swap_lock);
	free(b);
}

int virtio_blk_swap(struct virtio_blk *b, const char *path, bool wait)
{
	struct disk nf, prev = {.fd = -1};
	struct timespec until;
	uint64_t one = 1;
	unsigned gen;
	int ret;

	pthread_mutex_lock(&b->swap_lock);
	/* ro as the drive was made: the guest was told so (VIRTIO_BLK_F_RO)
	 * and features cannot change under a driver.  The file the drive
	 * will have before this one (a swap not taken yet, or its own) may
	 * be this one again. */
	ret = disk_file_open(&nf, path, b->disk.ro,
			     b->swap_new.fd >= 0 ? b->swap_new.fd : b->cur_fd);
	if (ret) {
		pthread_mutex_unlock(&b->swap_lock);
		return ret;
	}
	/* One the I/O thread has not taken yet (a paused VM) is replaced. */
	if (b->swap_new.fd >= 0)
		prev = b->swap_new;
	b->swap_new = nf;
	gen = __atomic_add_fetch(&b->swap_gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&b->swap_lock);
	if (prev.fd >= 0)
		disk_close(&prev);
	if (write(b->swap_fd, &one, sizeof(one)) < 0) {
		/* counter overflow: already readable */
	}
	if (!wait)
		return 0;
	/* Until the I/O thread has it, which takes as long as the requests
	 * in flight on the old file: a second at most, then the swap
	 * happens when they complete. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&b->swap_lock);
	while ((int)(b->swap_done - gen) < 0)
		if (pthread_cond_timedwait(&b->swap_cond, &b->swap_lock,
					   &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&b->swap_lock);
	return 0;
}

void virtio_blk_set_rate(struct virtio_blk *b, const struct throttle_config *c)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 1}};

	pthread_mutex_lock(&b->rate_lock);
	b->rate_new = *c;
	__atomic_add_fetch(&b->rate_gen, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&b->rate_lock);
	__atomic_store_n(&b->disk_rate_set, true, __ATOMIC_RELAXED);
	/* Wakes the I/O thread, which takes the new limit. */
	timerfd_settime(b->timer_fd, 0, &its, NULL);
}

const struct virtio_device_ops *virtio_blk_get_ops(const struct virtio_blk *b)
{
	return &b->ops;
}

struct disk *virtio_blk_disk(struct virtio_blk *b)
{
	return &b->disk;
}
