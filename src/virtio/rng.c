/* virtio-rng: every device-writable buffer the guest posts is filled from
 * getrandom(2).  A request takes at most VIRTIO_RNG_MAX_BYTES, so one
 * guest cannot make the I/O thread stay long in one call; the driver asks
 * again for more.
 *
 * With a rate limiter (priv set), a request costs one op and the bytes it
 * will get; one the limiter refuses is kept popped ("held"), the queue is
 * not popped meanwhile, and a timerfd on the I/O thread serves it when the
 * tokens are there.  A reset drops it. */
#include "rng.h"
#include "../err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

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

struct virtio_rng {
	struct throttle thr;
	int timer_fd;
	bool held;		  /* chain waits for the limiter */
	uint64_t held_since;	  /* ns */
	struct virtq_chain chain; /* what virtq_pop() fills */
	uint64_t waits, wait_ns;  /* --stats, relaxed atomics */
	/* Counters (relaxed atomics: --stats and the metrics read them). */
	uint64_t requests; /* chains served */
	uint64_t bytes;	   /* random bytes given to the guest */
	uint64_t fails;	   /* getrandom(2) gave less than asked */
};

/* Fills chain @c's writable buffers, up to VIRTIO_RNG_MAX_BYTES, gives
 * it back, and counts it (@r NULL: nothing counted). */
static void rng_serve(struct virtio_rng *r, struct virtq *q,
		      const struct virtq_chain *c)
{
	uint32_t written = 0, room = VIRTIO_RNG_MAX_BYTES;
	bool short_read = false;

	for (unsigned i = c->nr_out; i < c->nr && room; i++) {
		uint32_t len = c->buf[i].len < room ? c->buf[i].len : room;
		uint32_t got = rng_fill(c->buf[i].host, len);

		written += got;
		room -= len;
		if (got < len) {
			short_read = true;
			break;
		}
	}
	virtq_push(q, c->head, written);
	if (!r)
		return;
	__atomic_fetch_add(&r->requests, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->bytes, written, __ATOMIC_RELAXED);
	if (short_read)
		__atomic_fetch_add(&r->fails, 1, __ATOMIC_RELAXED);
}

static void rng_timer_set(struct virtio_rng *r, uint64_t ns)
{
	throttle_timer_arm(r->timer_fd, ns);
}

/* Whether chain @c may be served now; else it is held and the timer
 * armed.  @r NULL: no limiter. */
static bool rng_throttle(struct virtio_rng *r, const struct virtq_chain *c)
{
	uint64_t now, wait;

	if (!r || !throttle_on(&r->thr))
		return true;
	now = throttle_now_ns();
	wait = throttle_take(&r->thr,
			     c->in_len < VIRTIO_RNG_MAX_BYTES
				     ? c->in_len
				     : VIRTIO_RNG_MAX_BYTES,
			     now);
	if (!wait) {
		if (r->held)
			__atomic_fetch_add(&r->wait_ns, now - r->held_since,
					   __ATOMIC_RELAXED);
		r->held = false;
		return true;
	}
	if (!r->held) {
		r->held = true;
		r->held_since = now;
		__atomic_fetch_add(&r->waits, 1, __ATOMIC_RELAXED);
	}
	rng_timer_set(r, wait);
	return false;
}

static void rng_queue_notify(struct virtio_dev *vd, unsigned qi)
{
	struct virtio_rng *r = virtio_dev_priv(vd);
	struct virtq *q = virtio_dev_queue(vd, qi);
	struct virtq_chain local, *c = r ? &r->chain : &local;
	int ret;

	if (!q)
		return;
	/* Notifications stay off while a chain is held: the timer calls. */
	if (r && r->held) {
		if (!rng_throttle(r, c))
			return;
		rng_serve(r, q, c);
	}
	for (;;) {
		virtq_disable_notify(q);
		while ((ret = virtq_pop(q, c)) != 0) {
			if (ret == -EBADMSG) {
				virtq_push(q, c->head, 0);
				continue;
			}
			if (ret < 0) {
				virtio_dev_needs_reset(vd);
				return;
			}
			if (!rng_throttle(r, c))
				goto out;
			rng_serve(r, q, c);
		}
		virtq_enable_notify(q);
		if (!virtq_has_work(q))
			break;
	}
out:
	virtio_dev_notify(vd, qi);
}

static void rng_timer(struct virtio_dev *vd, int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: spurious */
	}
	rng_queue_notify(vd, 0);
}

static int rng_init(struct virtio_dev *vd)
{
	struct virtio_rng *r = virtio_dev_priv(vd);

	return r ? virtio_dev_add_fd(vd, r->timer_fd, rng_timer) : 0;
}

static void rng_reset(struct virtio_dev *vd)
{
	struct virtio_rng *r = virtio_dev_priv(vd);

	/* Nothing in flight: requests complete in queue_notify; a held
	 * chain goes with the queue. */
	if (r) {
		r->held = false;
		rng_timer_set(r, 0);
	}
}

static uint64_t rng_load(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static void rng_print_stats(struct virtio_dev *vd, FILE *f)
{
	struct virtio_rng *r = virtio_dev_priv(vd);

	if (!r)
		return;
	fprintf(f,
		"  %" PRIu64 " requests, %" PRIu64 " bytes, %" PRIu64
		" short reads of getrandom\n",
		rng_load(&r->requests), rng_load(&r->bytes),
		rng_load(&r->fails));
	if (throttle_on(&r->thr))
		fprintf(f,
			"  rate limiter: %" PRIu64
			" requests waited, %.3f s in all\n",
			rng_load(&r->waits),
			(double)rng_load(&r->wait_ns) / 1e9);
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
	/* Requests that waited for the rate limiter. */
	m[3] = (struct virtio_metric){"entropy_rate_limiter_throttled",
				      rng_load(&r->waits), false};
	return 4;
}

int virtio_rng_create(struct virtio_rng **out,
		      const struct throttle_config *rate)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));

	if (!r)
		return err_set(-ENOMEM, "out of memory");
	r->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->timer_fd < 0) {
		int ret = err_set(-errno, "virtio-rng: timerfd_create: %s",
				  strerror(errno));

		free(r);
		return ret;
	}
	throttle_init(&r->thr, rate, throttle_now_ns());
	*out = r;
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	if (!r)
		return;
	close(r->timer_fd);
	free(r);
}

const struct virtio_device_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.init = rng_init,
	.nr_queues = 1,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
	.print_stats = rng_print_stats,
	.read_metrics = rng_read_metrics,
};
