/* virtio-rng (virtio 1.2, 5.4): an entropy device fed by getrandom(2). */
#ifndef MINIVMM_VIRTIO_RNG_H
#define MINIVMM_VIRTIO_RNG_H

#include "virtio.h"

/* Its counters (relaxed atomics: --stats and the metrics read them). */
struct virtio_rng {
	uint64_t requests; /* chains served */
	uint64_t bytes;	   /* random bytes given to the guest */
	uint64_t fails;	   /* getrandom(2) gave less than asked */
};

/* priv: a struct virtio_rng, or NULL (nothing counted). */
extern const struct virtio_device_ops virtio_rng_ops;

#endif
