/* virtio-rng (virtio 1.2, 5.4): an entropy device fed by getrandom(2),
 * optionally rate-limited (--rng=bw=...,iops=...; PUT /entropy's
 * rate_limiter): bandwidth in bytes handed out, ops in requests. */
#ifndef MINIVMM_VIRTIO_RNG_H
#define MINIVMM_VIRTIO_RNG_H

#include "virtio.h"
#include "../host/token_bucket.h"

struct virtio_rng;

/* The device model; priv is a struct virtio_rng from virtio_rng_create()
 * (its counters, for --stats and the metrics, and its rate limiter), or
 * NULL: nothing counted, no limiter. */
extern const struct virtio_device_ops virtio_rng_ops;

/* An rng limited by @rate (its timerfd); -errno with a message. */
int virtio_rng_create(struct virtio_rng **out,
		      const struct throttle_config *rate);
/* After the transport is gone. */
void virtio_rng_destroy(struct virtio_rng *r);

#endif
