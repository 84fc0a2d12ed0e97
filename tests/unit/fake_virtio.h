/* A fake virtio transport for device unit tests: the struct virtio_dev a
 * device sees and the virtio_dev_* calls it makes, recorded for the test
 * to check (notifications per queue, reset requests, the fds it asked to
 * be watched and whether they are on).  The test fills priv and q[]; it
 * calls ready[i] itself where the I/O thread would; configuration changes
 * are counted.  Include it in one file
 * of a test binary that does not link the real transport (mmio.o). */
#ifndef MINIVMM_TESTS_FAKE_VIRTIO_H
#define MINIVMM_TESTS_FAKE_VIRTIO_H

#include "virtio/virtio.h"

#include <errno.h>
#include <stdbool.h>

#define FAKE_VIRTIO_FDS 4

struct virtio_dev {
	void *priv;
	struct virtq *q[VIRTIO_MAX_QUEUES];
	unsigned notified[VIRTIO_MAX_QUEUES];
	unsigned needs_reset;
	unsigned config_changed;
	int fd[FAKE_VIRTIO_FDS];
	bool on[FAKE_VIRTIO_FDS];
	void (*ready[FAKE_VIRTIO_FDS])(struct virtio_dev *vd, int fd);
	unsigned nr_fds;
};

void *virtio_dev_priv(struct virtio_dev *vd)
{
	return vd->priv;
}

struct virtq *virtio_dev_queue(struct virtio_dev *vd, unsigned q)
{
	return q < VIRTIO_MAX_QUEUES ? vd->q[q] : NULL;
}

void virtio_dev_notify(struct virtio_dev *vd, unsigned q)
{
	vd->notified[q]++;
}

void virtio_dev_needs_reset(struct virtio_dev *vd)
{
	vd->needs_reset++;
}

void virtio_dev_config_changed(struct virtio_dev *vd)
{
	vd->config_changed++;
}

int virtio_dev_add_fd(struct virtio_dev *vd, int fd,
		      void (*ready)(struct virtio_dev *vd, int fd))
{
	if (vd->nr_fds == FAKE_VIRTIO_FDS)
		return -ENOSPC;
	vd->fd[vd->nr_fds] = fd;
	vd->on[vd->nr_fds] = true;
	vd->ready[vd->nr_fds++] = ready;
	return 0;
}

int virtio_dev_watch_fd(struct virtio_dev *vd, int fd, bool on)
{
	for (unsigned i = 0; i < vd->nr_fds; i++) {
		if (vd->fd[i] == fd) {
			vd->on[i] = on;
			return 0;
		}
	}
	return -ENOENT;
}

#endif
