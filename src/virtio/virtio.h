/* The virtio device model (virtio 1.2): what a device type provides
 * (struct virtio_device_ops), and what the transport (virtio-mmio, mmio.c)
 * gives it back.  A device sees its queues, guest memory through them, and
 * three requests: notify the driver, report a broken driver, report a
 * changed configuration.  It never sees struct vm.
 *
 * Threads: each device has one I/O thread (started by the transport) that
 * waits on the queues' notification eventfds and on fds the device adds
 * (virtio_dev_add_fd: an io_uring completion eventfd, a tap).  Every device
 * callback runs with the device's lock held, either on that I/O thread
 * (queue_notify, fd handlers) or on a vCPU thread (the register accesses:
 * config_read/write, activate, reset), so a device needs no lock of its
 * own for state those callbacks share. */
#ifndef MINIVMM_VIRTIO_VIRTIO_H
#define MINIVMM_VIRTIO_VIRTIO_H

#include "virtq.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Device types (virtio 1.2, 5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19

/* Feature bits the transport handles (virtio 1.2, 6). */
#define VIRTIO_F_VERSION_1 32

/* Device status bits (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* The most queues a device has (virtio-blk: one per vCPU, up to 16). */
#define VIRTIO_MAX_QUEUES 16

struct virtio_dev; /* the transport's state of one device */

/* One counter for the metrics (Firecracker's field name where it has one):
 * a count since the device was made, or a @gauge (a value now). */
struct virtio_metric {
	const char *name;
	uint64_t value;
	bool gauge;
};

#define VIRTIO_METRICS_MAX 24 /* the most a device reports */

struct virtio_device_ops {
	const char *name; /* "virtio-blk", for messages and --stats */
	/* Optional: called once by virtio_mmio_create(), before the VM runs,
	 * to register fds with virtio_dev_add_fd().  0 or -errno. */
	int (*init)(struct virtio_dev *vd);
	uint32_t device_id;
	/* Device-specific feature bits offered; the transport adds
	 * VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX and
	 * VIRTIO_RING_F_INDIRECT_DESC. */
	uint64_t features;
	unsigned nr_queues;   /* 1..VIRTIO_MAX_QUEUES */
	uint32_t config_size; /* bytes of device configuration space */
	/* Reads @len bytes at @off of the configuration space; the transport
	 * has checked off + len <= config_size.  NULL: reads as 0. */
	void (*config_read)(struct virtio_dev *vd, uint32_t off, void *data,
			    uint32_t len);
	/* The driver writes configuration space (checked as for reads).
	 * NULL: writes are ignored. */
	void (*config_write)(struct virtio_dev *vd, uint32_t off,
			     const void *data, uint32_t len);
	/* The driver set DRIVER_OK: the negotiated features are final and the
	 * ready queues are initialised (virtio_dev_queue).  0, or -errno: the
	 * device then reports DEVICE_NEEDS_RESET.  NULL: nothing to do. */
	int (*activate)(struct virtio_dev *vd, uint64_t features);
	/* Queue @q has new buffers (or may have: spurious calls are fine).
	 * Pop, serve or submit, push, virtio_dev_notify. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/* The driver reset the device (status 0), or the VM ends: finish or
	 * cancel every request in flight, and forget the queues.  When it
	 * returns the device no longer touches guest memory. */
	void (*reset)(struct virtio_dev *vd);
	/* Optional: a line or two for --stats. */
	void (*print_stats)(struct virtio_dev *vd, FILE *f);
	/* Optional: the counters print_stats shows, for the metrics, read
	 * with relaxed atomics from any thread: how many filled in @m (at
	 * most VIRTIO_METRICS_MAX). */
	unsigned (*read_metrics)(struct virtio_dev *vd,
				 struct virtio_metric *m);
};

/* What the device passed to virtio_mmio_create(). */
void *virtio_dev_priv(struct virtio_dev *vd);
/* Queue @q (< nr_queues), valid between activate and reset; NULL if the
 * driver did not enable it. */
struct virtq *virtio_dev_queue(struct virtio_dev *vd, unsigned q);
/* After pushing to queue @q: interrupts the driver if the ring asks for
 * it (virtq_should_notify). */
void virtio_dev_notify(struct virtio_dev *vd, unsigned q);
/* The driver broke the protocol (a broken ring): the device stops
 * serving, sets DEVICE_NEEDS_RESET and raises a configuration-change
 * interrupt; the driver must reset it. */
void virtio_dev_needs_reset(struct virtio_dev *vd);
/* The configuration space changed (a new medium): the generation counter
 * moves and the driver gets a configuration-change interrupt. */
void virtio_dev_config_changed(struct virtio_dev *vd);
/* Has the I/O thread watch @fd (readable) and call @ready with the device
 * lock held.  Only from ops->init. */
int virtio_dev_add_fd(struct virtio_dev *vd, int fd,
		      void (*ready)(struct virtio_dev *vd, int fd));
/* Stops (@on false) or resumes watching an fd added with
 * virtio_dev_add_fd: a device that cannot take what the fd has (virtio-net
 * with no receive buffers posted) turns it off instead of being called in
 * a loop, and on again when the driver posts buffers.  From any device
 * callback; 0 or -errno. */
int virtio_dev_watch_fd(struct virtio_dev *vd, int fd, bool on);

#endif
