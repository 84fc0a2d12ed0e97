/* virtio-rng (virtio 1.2, 5.4): an entropy device fed by getrandom(2). */
#ifndef MINIVMM_VIRTIO_RNG_H
#define MINIVMM_VIRTIO_RNG_H

#include "virtio.h"

/* The rng has no state of its own: priv is unused (NULL). */
extern const struct virtio_device_ops virtio_rng_ops;

#endif
