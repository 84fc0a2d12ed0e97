/* virtio-rng: every device-writable buffer the guest posts is filled from
 * getrandom(2).  A request takes at most VIRTIO_RNG_MAX_BYTES, so one
 * guest cannot make the I/O thread stay long in one call; the driver asks
 * again for more. */
#include "rng.h"
#include "../err.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/random.h>

#define VIRTIO_RNG_MAX_BYTES (64 * 1024)

/* Fills @len bytes at @p: a short count only if the kernel's pool fails. */
static uint32_t rng_fill(uint8_t *p, uint32_t len)
{
	uint32_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (uint32_t)n;
	}
	return done;
}

static void rng_count(struct virtio_dev *vd, uint32_t written, bool short_)
{
	struct virtio_rng *r = virtio_dev_priv(vd);

	if (!r)
		return;
	__atomic_fetch_add(&r->requests, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->bytes, written, __ATOMIC_RELAXED);
	if (short_)
		__atomic_fetch_add(&r->fails, 1, __ATOMIC_RELAXED);
}

static void rng_queue_notify(struct virtio_dev *vd, unsigned qi)
{
	struct virtq *q = virtio_dev_queue(vd, qi);
	struct virtq_chain c;
	int ret;

	if (!q)
		return;
	for (;;) {
		virtq_disable_notify(q);
		while ((ret = virtq_pop(q, &c)) != 0) {
			uint32_t written = 0, room = VIRTIO_RNG_MAX_BYTES;
			bool short_read = false;

			if (ret == -EBADMSG) {
				virtq_push(q, c.head, 0);
				continue;
			}
			if (ret < 0) {
				virtio_dev_needs_reset(vd);
				return;
			}
			for (unsigned i = c.nr_out; i < c.nr && room; i++) {
				uint32_t len = c.buf[i].len < room
						       ? c.buf[i].len
						       : room;
				uint32_t got = rng_fill(c.buf[i].host, len);

				written += got;
				room -= len;
				if (got < len) {
					short_read = true;
					break;
				}
			}
			virtq_push(q, c.head, written);
			rng_count(vd, written, short_read);
		}
		virtq_enable_notify(q);
		if (!virtq_has_work(q))
			break;
	}
	virtio_dev_notify(vd, qi);
}

static void rng_reset(struct virtio_dev *vd)
{
	(void)vd; /* nothing in flight: requests complete in queue_notify */
}

static uint64_t rng_load(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static void rng_print_stats(struct virtio_dev *vd, FILE *f)
{
	struct virtio_rng *r = virtio_dev_priv(vd);

	if (r)
		fprintf(f,
			"  %" PRIu64 " requests, %" PRIu64 " bytes, %" PRIu64
			" short reads of getrandom\n",
			rng_load(&r->requests), rng_load(&r->bytes),
			rng_load(&r->fails));
}

/* Firecracker's entropy fields. */
static unsigned rng_read_metrics(struct virtio_dev *vd, struct virtio_metric *m)
{
	struct virtio_rng *r = virtio_dev_priv(vd);

	if (!r)
		return 0;
	m[0] = (struct virtio_metric){"entropy_event_count",
				      rng_load(&r->requests), false};
	m[1] = (struct virtio_metric){"entropy_bytes", rng_load(&r->bytes),
				      false};
	m[2] = (struct virtio_metric){"host_rng_fails", rng_load(&r->fails),
				      false};
	return 3;
}

const struct virtio_device_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
	.print_stats = rng_print_stats,
	.read_metrics = rng_read_metrics,
};
