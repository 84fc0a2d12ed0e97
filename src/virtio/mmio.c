/* virtio-mmio, version 2: the register window, feature negotiation, queue
 * setup, status and reset, interrupts, and each device's I/O thread.  Every
 * value the guest writes is checked before use; a driver that breaks the
 * protocol gets DEVICE_NEEDS_RESET, never a crash. */
#include "mmio.h"
#include "../err.h"
#include "../host/log.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define VIRTIO_MMIO_MAX_FDS 4 /* extra fds a device may add */

/* What the transport offers besides the device's own features. */
#define VIRTIO_MMIO_TRANSPORT_FEATURES                                      \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC))

struct virtio_mmio_queue {
	uint16_t num; /* QueueNum, checked when the queue is made ready */
	bool ready;
	uint64_t desc, driver, device;
	struct virtq vq;
	int notify_fd; /* eventfd: KVM writes it on QueueNotify (or we do) */
};

struct virtio_mmio_fd {
	int fd;
	void (*ready)(struct virtio_dev *vd, int fd);
};

struct virtio_dev {
	const struct virtio_device_ops *ops;
	void *priv;
	struct virtio_mmio_ctx ctx;
	/* Held for every register access and every device callback. */
	pthread_mutex_t lock;

	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t config_generation;
	uint32_t isr; /* InterruptStatus, atomic */
	bool active;  /* DRIVER_OK and activate() succeeded: serving */
	struct virtio_mmio_queue q[VIRTIO_MAX_QUEUES];

	int irq_fd;	       /* eventfd bound with KVM_IRQFD, or -1 */
	bool notify_ioeventfd; /* QueueNotify never exits to minivmm */
	struct virtio_mmio_fd fds[VIRTIO_MMIO_MAX_FDS];
	unsigned nr_fds;

	int epoll_fd;
	int stop_fd; /* eventfd: the I/O thread ends, or parks (below) */
	pthread_t thread;
	bool thread_started;
	/* A pause (virtio_mmio_pause) parks the I/O thread where it waits,
	 * instead of ending it: a thread started again would run under the
	 * seccomp filter of the thread that resumes (the API's) stacked on
	 * its own.  Under park_lock. */
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	bool park;	 /* asked: the thread parks when it sees stop_fd */
	bool parked;	 /* it has */
	sem_t sandboxed; /* posted once the I/O thread has its filter */
	int sandbox_ret; /* and how that went: 0 or -errno, */
	char sandbox_msg[160]; /* with its message */

	/* --stats, atomic */
	uint64_t notifies;   /* queue notifications served */
	uint64_t exits;	     /* QueueNotify writes that exited to us */
	uint64_t interrupts; /* interrupts raised */
	uint64_t needs_reset;
	struct ratelimit rl; /* log lines about a misbehaving driver */
};

void *virtio_dev_priv(struct virtio_dev *vd)
{
	return vd->priv;
}

struct virtq *virtio_dev_queue(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->ops->nr_queues || !vd->q[q].ready)
		return NULL;
	return &vd->q[q].vq;
}

/* Rate-limited: a guest can trigger these at will. */
static void virtio_mmio_log(struct virtio_dev *vd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void virtio_mmio_log(struct virtio_dev *vd, const char *fmt, ...)
{
	unsigned long dropped = 0;
	char msg[512];
	va_list ap;

	if (!ratelimit_allow(&vd->rl, &dropped))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (dropped)
		log_write(LOG_WARNING,
			  "%s (%s): %s (%lu similar lines dropped)", vd->ctx.id,
			  vd->ops->name, msg, dropped);
	else
		log_write(LOG_WARNING, "%s (%s): %s", vd->ctx.id, vd->ops->name,
			  msg);
}

/* Sets @bit in InterruptStatus and pulses the device's edge-triggered
 * line: through the irqfd, or KVM_IRQ_LINE up and down. */
static void virtio_mmio_raise(struct virtio_dev *vd, uint32_t bit)
{
	uint64_t one = 1;

	__atomic_fetch_or(&vd->isr, bit, __ATOMIC_SEQ_CST);
	if (vd->ctx.gsi < 0)
		return; /* no interrupt controller: the guest polls */
	__atomic_fetch_add(&vd->interrupts, 1, __ATOMIC_RELAXED);
	if (vd->irq_fd >= 0) {
		if (write(vd->irq_fd, &one, sizeof(one)) < 0) {
			/* Only on counter overflow: the line is pending. */
		}
	} else {
		struct kvm_irq_level l = {.irq = (uint32_t)vd->ctx.gsi};

		l.level = 1;
		ioctl(vd->ctx.vm_fd, KVM_IRQ_LINE, &l);
		l.level = 0;
		ioctl(vd->ctx.vm_fd, KVM_IRQ_LINE, &l);
	}
}

void virtio_dev_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtq *vq = virtio_dev_queue(vd, q);

	if (vq && virtq_should_notify(vq))
		virtio_mmio_raise(vd, VIRTIO_MMIO_INT_VRING);
}

void virtio_dev_needs_reset(struct virtio_dev *vd)
{
	if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	vd->active = false; /* serve nothing until the driver resets us */
	__atomic_fetch_add(&vd->needs_reset, 1, __ATOMIC_RELAXED);
	virtio_mmio_log(
		vd, "the driver broke the protocol (%s): device needs reset",
		err_msg());
	/* Only once the driver has seen the device as alive. */
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_mmio_raise(vd, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev_config_changed(struct virtio_dev *vd)
{
	vd->config_generation++;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_mmio_raise(vd, VIRTIO_MMIO_INT_CONFIG);
}

int virtio_dev_add_fd(struct virtio_dev *vd, int fd,
		      void (*ready)(struct virtio_dev *vd, int fd))
{
	if (vd->nr_fds == VIRTIO_MMIO_MAX_FDS)
		return err_set(-ENOSPC, "%s: too many event fds", vd->ctx.id);
	vd->fds[vd->nr_fds++] = (struct virtio_mmio_fd){fd, ready};
	return 0;
}

int virtio_dev_watch_fd(struct virtio_dev *vd, int fd, bool on)
{
	for (unsigned i = 0; i < vd->nr_fds; i++) {
		struct epoll_event ev = {
			.events = on ? EPOLLIN : 0,
			.data.u64 = VIRTIO_MAX_QUEUES + i,
		};

		if (vd->fds[i].fd != fd)
			continue;
		if (epoll_ctl(vd->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0)
			return err_set(-errno, "epoll_ctl: %s",
				       strerror(errno));
		return 0;
	}
	return err_set(-ENOENT, "%s: fd %d is not watched", vd->ctx.id, fd);
}

static uint64_t virtio_mmio_features(const struct virtio_dev *vd)
{
	return vd->ops->features | VIRTIO_MMIO_TRANSPORT_FEATURES;
}

/* Back to the state after creation: the device drops everything in
 * flight, the queues and the negotiation are forgotten. */
static void virtio_mmio_reset(struct virtio_dev *vd)
{
	vd->ops->reset(vd);
	vd->active = false;
	vd->status = 0;
	vd->device_features_sel = 0;
	vd->driver_features_sel = 0;
	vd->driver_features = 0;
	vd->queue_sel = 0;
	__atomic_store_n(&vd->isr, 0, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < vd->ops->nr_queues; i++) {
		struct virtio_mmio_queue *q = &vd->q[i];

		q->num = 0;
		q->ready = false;
		q->desc = q->driver = q->device = 0;
		memset(&q->vq, 0, sizeof(q->vq));
	}
}

/* QueueReady = 1: the ring must be valid now; a bad one breaks the
 * device (the driver sees NEEDS_RESET), it is never used. */
static void virtio_mmio_queue_ready(struct virtio_dev *vd,
				    struct virtio_mmio_queue *q)
{
	uint64_t f = vd->driver_features;
	int ret;

	ret = virtq_init(&q->vq, vd->ctx.mem, q->num, q->desc, q->driver,
			 q->device, f & (1ull << VIRTIO_RING_F_EVENT_IDX),
			 f & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
	if (ret) {
		virtio_dev_needs_reset(vd);
		return;
	}
	q->ready = true;
}

static void virtio_mmio_set_status(struct virtio_dev *vd, uint32_t val)
{
	uint32_t old = vd->status;

	if (val == 0) {
		virtio_mmio_reset(vd);
		return;
	}
	val &= 0xff;
	/* The driver only adds bits; NEEDS_RESET is ours to set. */
	val = (val & ~VIRTIO_STATUS_NEEDS_RESET) |
	      (old & VIRTIO_STATUS_NEEDS_RESET);
	/* Clearing a bit without a reset (2.1.2) would activate the device
	 * twice with requests in flight: the driver must reset instead. */
	if (old & ~val & ~VIRTIO_STATUS_NEEDS_RESET) {
		err_set(-EPROTO,
			"status 0x%x written over 0x%x without a reset", val,
			old);
		virtio_dev_needs_reset(vd);
		return;
	}
	if ((val & VIRTIO_STATUS_FEATURES_OK) &&
	    !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t f = vd->driver_features;

		/* Accept only what we offered, and only version 1: the
		 * driver reads FEATURES_OK back and gives up if it is not
		 * set. */
		if ((f & ~virtio_mmio_features(vd)) ||
		    !(f & (1ull << VIRTIO_F_VERSION_1))) {
			virtio_mmio_log(vd,
					"driver features 0x%" PRIx64
					" refused (offered 0x%" PRIx64 ")",
					f, virtio_mmio_features(vd));
			val &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	if ((val & VIRTIO_STATUS_DRIVER_OK) &&
	    !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(val & VIRTIO_STATUS_FEATURES_OK)) {
			vd->status = val;
			err_set(-EPROTO, "DRIVER_OK without FEATURES_OK");
			virtio_dev_needs_reset(vd);
			return;
		}
		vd->status = val;
		if (!(val & VIRTIO_STATUS_NEEDS_RESET)) {
			if (vd->ops->activate &&
			    vd->ops->activate(vd, vd->driver_features))
				virtio_dev_needs_reset(vd);
			else
				vd->active = true;
		}
		/* Buffers made available before DRIVER_OK. */
		for (unsigned i = 0; vd->active && i < vd->ops->nr_queues;
		     i++) {
			uint64_t one = 1;

			if (vd->q[i].ready &&
			    write(vd->q[i].notify_fd, &one, sizeof(one)) < 0) {
				/* counter overflow: already readable */
			}
		}
		return;
	}
	vd->status = val;
}

static uint32_t virtio_mmio_read_reg(struct virtio_dev *vd, uint64_t off)
{
	struct virtio_mmio_queue *q = vd->queue_sel < vd->ops->nr_queues
					      ? &vd->q[vd->queue_sel]
					      : NULL;
	uint64_t f = virtio_mmio_features(vd);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION_REG:
		return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return vd->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (vd->device_features_sel > 1)
			return 0;
		return (uint32_t)(f >> (32 * vd->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? VIRTQ_MAX_SIZE : 0; /* 0: no such queue */
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&vd->isr, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS:
		return vd->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffff; /* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vd->config_generation;
	default:
		return 0; /* write-only or reserved */
	}
}

/* A queue register written while the queue is live is ignored (4.2.2.3). */
static struct virtio_mmio_queue *virtio_mmio_setup_queue(struct virtio_dev *vd)
{
	struct virtio_mmio_queue *q;

	if (vd->queue_sel >= vd->ops->nr_queues) {
		virtio_mmio_log(vd, "queue %u does not exist", vd->queue_sel);
		return NULL;
	}
	q = &vd->q[vd->queue_sel];
	if (q->ready) {
		virtio_mmio_log(vd, "queue %u set up while ready: ignored",
				vd->queue_sel);
		return NULL;
	}
	return q;
}

static void set_low(uint64_t *v, uint32_t lo)
{
	*v = (*v & ~0xffffffffull) | lo;
}

static void set_high(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffull) | (uint64_t)hi << 32;
}

static void virtio_mmio_write_reg(struct virtio_dev *vd, uint64_t off,
				  uint32_t val)
{
	struct virtio_mmio_queue *q;
	uint64_t one = 1;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		vd->device_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		vd->driver_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (vd->status & VIRTIO_STATUS_FEATURES_OK) {
			virtio_mmio_log(
				vd,
				"features written after FEATURES_OK: ignored");
			return;
		}
		if (vd->driver_features_sel == 0)
			set_low(&vd->driver_features, val);
		else if (vd->driver_features_sel == 1)
			set_high(&vd->driver_features, val);
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		vd->queue_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
		if ((q = virtio_mmio_setup_queue(vd)))
			q->num = val > 0xffff ? 0 : (uint16_t)val;
		return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		if ((q = virtio_mmio_setup_queue(vd)))
			set_low(&q->desc, val);
		return;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((q = virtio_mmio_setup_queue(vd)))
			set_high(&q->desc, val);
		return;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
		if ((q = virtio_mmio_setup_queue(vd)))
			set_low(&q->driver, val);
		return;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if ((q = virtio_mmio_setup_queue(vd)))
			set_high(&q->driver, val);
		return;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
		if ((q = virtio_mmio_setup_queue(vd)))
			set_low(&q->device, val);
		return;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if ((q = virtio_mmio_setup_queue(vd)))
			set_high(&q->device, val);
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		if (vd->queue_sel >= vd->ops->nr_queues)
			return;
		q = &vd->q[vd->queue_sel];
		if (val == 1 && !q->ready) {
			virtio_mmio_queue_ready(vd, q);
		} else if (val == 0 && q->ready) {
			/* Disabling one queue alone is not supported by our
			 * devices: they reset as a whole.  The register reads
			 * back what was written (4.2.2). */
			err_set(-EPROTO, "queue %u disabled while in use",
				vd->queue_sel);
			q->ready = false;
			virtio_dev_needs_reset(vd);
		}
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Here only without an ioeventfd, or for a value none
		 * matched: hand it to the I/O thread like KVM would. */
		__atomic_fetch_add(&vd->exits, 1, __ATOMIC_RELAXED);
		if (val < vd->ops->nr_queues &&
		    write(vd->q[val].notify_fd, &one, sizeof(one)) < 0) {
			/* counter overflow: already readable */
		}
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&vd->isr, ~val, __ATOMIC_SEQ_CST);
		return;
	case VIRTIO_MMIO_STATUS:
		virtio_mmio_set_status(vd, val);
		return;
	case VIRTIO_MMIO_SHM_SEL:
		return;
	default:
		virtio_mmio_log(
			vd,
			"write of 0x%x to read-only or reserved register 0x%03" PRIx64
			": ignored",
			val, off);
		return;
	}
}

static void virtio_mmio_config_io(struct virtio_dev *vd, uint64_t off,
				  uint8_t *data, uint32_t len, bool is_write)
{
	const struct virtio_device_ops *ops = vd->ops;

	if (len > 4 || (len & (len - 1)) || off % len ||
	    off + len > ops->config_size) {
		virtio_mmio_log(vd,
				"config %s of %u bytes at 0x%" PRIx64
				": ignored",
				is_write ? "write" : "read", len, off);
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		if (ops->config_write)
			ops->config_write(vd, (uint32_t)off, data, len);
	} else if (ops->config_read) {
		ops->config_read(vd, (uint32_t)off, data, len);
	} else {
		memset(data, 0, len);
	}
}

void virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct virtio_dev *vd = opaque;
	uint32_t val;

	pthread_mutex_lock(&vd->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		virtio_mmio_config_io(vd, offset - VIRTIO_MMIO_CONFIG, data,
				      len, is_write);
	} else if (len != 4 || offset % 4) {
		/* The registers are 32-bit (4.2.2.2). */
		virtio_mmio_log(vd,
				"%u-byte %s of register 0x%03" PRIx64
				": ignored",
				len, is_write ? "write" : "read", offset);
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&val, data, 4);
		virtio_mmio_write_reg(vd, offset, val);
	} else {
		val = virtio_mmio_read_reg(vd, offset);
		memcpy(data, &val, 4);
	}
	pthread_mutex_unlock(&vd->lock);
}

/* Waits up to @timeout ms (-1: for ever) for queue notifications and the
 * device's own fds, and handles them with the device lock held.  False
 * once stop_fd was written. */
static bool virtio_mmio_wait(struct virtio_dev *vd, int timeout)
{
	struct epoll_event ev[8];
	int n = epoll_wait(vd->epoll_fd, ev, 8, timeout);

	if (n < 0)
		return errno == EINTR;
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64, v;

		if (tag == UINT64_MAX)
			return false; /* stop_fd */
		if (tag < VIRTIO_MAX_QUEUES) {
			unsigned qi = (unsigned)tag;

			if (read(vd->q[qi].notify_fd, &v, sizeof(v)) < 0)
				continue; /* spurious */
			pthread_mutex_lock(&vd->lock);
			if (vd->active && vd->q[qi].ready) {
				__atomic_fetch_add(&vd->notifies, 1,
						   __ATOMIC_RELAXED);
				vd->ops->queue_notify(vd, qi);
			}
			pthread_mutex_unlock(&vd->lock);
		} else {
			struct virtio_mmio_fd *f =
				&vd->fds[tag - VIRTIO_MAX_QUEUES];

			pthread_mutex_lock(&vd->lock);
			f->ready(vd, f->fd);
			pthread_mutex_unlock(&vd->lock);
		}
	}
	return true;
}

/* stop_fd was written: park until resumed if a pause asked for it (true:
 * go on serving), else end (false). */
static bool virtio_mmio_park(struct virtio_dev *vd)
{
	bool go_on;
	uint64_t v;

	pthread_mutex_lock(&vd->park_lock);
	go_on = vd->park;
	if (go_on) {
		if (read(vd->stop_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: drained already */
		}
		vd->parked = true;
		pthread_cond_broadcast(&vd->park_cond);
		while (vd->park)
			pthread_cond_wait(&vd->park_cond, &vd->park_lock);
		vd->parked = false;
	}
	pthread_mutex_unlock(&vd->park_lock);
	return go_on;
}

/* The I/O thread, until stop_fd is written (and no pause asked). */
static void *virtio_mmio_thread(void *arg)
{
	struct virtio_dev *vd = arg;
	char name[16];

	/* "io vda", "io eth0": its name in ps and top -H, before the filter. */
	snprintf(name, sizeof(name), "io %s", vd->ctx.id);
	pthread_setname_np(pthread_self(), name);
	log_set_thread(vd->ctx.id);
	vd->sandbox_ret = sandbox_apply(&vd->ctx.sandbox, vd->ctx.sandbox_kind);
	if (vd->sandbox_ret)
		snprintf(vd->sandbox_msg, sizeof(vd->sandbox_msg), "%s",
			 err_msg());
	sem_post(&vd->sandboxed);
	if (vd->sandbox_ret)
		return NULL;
	do {
		while (virtio_mmio_wait(vd, -1))
			;
	} while (virtio_mmio_park(vd));
	return NULL;
}

void virtio_mmio_poll(struct virtio_dev *vd)
{
	virtio_mmio_wait(vd, 0);
}

static int epoll_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return err_set(-errno, "epoll_ctl: %s", strerror(errno));
	return 0;
}

/* Notifications through KVM_IOEVENTFD: a 4-byte write of the queue index to
 * QueueNotify signals that queue's eventfd inside KVM, without an exit. */
static void virtio_mmio_wire_notify(struct virtio_dev *vd)
{
	for (unsigned i = 0; vd->ctx.ioeventfd && i < vd->ops->nr_queues; i++) {
		struct kvm_ioeventfd io = {
			.datamatch = i,
			.addr = vd->ctx.base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = vd->q[i].notify_fd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};

		if (ioctl(vd->ctx.vm_fd, KVM_IOEVENTFD, &io) < 0)
			return; /* the exit path serves the rest */
		if (i + 1 == vd->ops->nr_queues)
			vd->notify_ioeventfd = true;
	}
}

static int virtio_mmio_wire_irq(struct virtio_dev *vd)
{
	struct kvm_irqfd irqfd = {0};

	if (vd->ctx.gsi < 0 || !vd->ctx.irqfd)
		return 0;
	vd->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vd->irq_fd < 0)
		return err_set(-errno, "eventfd: %s", strerror(errno));
	irqfd.fd = (uint32_t)vd->irq_fd;
	irqfd.gsi = (uint32_t)vd->ctx.gsi;
	if (ioctl(vd->ctx.vm_fd, KVM_IRQFD, &irqfd) < 0) {
		close(vd->irq_fd); /* KVM_IRQ_LINE instead */
		vd->irq_fd = -1;
	}
	return 0;
}

int virtio_mmio_create(struct virtio_dev **out,
		       const struct virtio_device_ops *ops, void *priv,
		       const struct virtio_mmio_ctx *ctx)
{
	struct virtio_dev *vd;
	int ret;

	if (!ops->nr_queues || ops->nr_queues > VIRTIO_MAX_QUEUES)
		return err_set(-EINVAL, "%s: %u queues", ops->name,
			       ops->nr_queues);
	vd = calloc(1, sizeof(*vd));
	if (!vd)
		return err_set(-ENOMEM, "out of memory");
	vd->ops = ops;
	vd->priv = priv;
	vd->ctx = *ctx;
	vd->irq_fd = vd->epoll_fd = vd->stop_fd = -1;
	vd->rl.burst = 10;
	pthread_mutex_init(&vd->lock, NULL);
	pthread_mutex_init(&vd->park_lock, NULL);
	pthread_cond_init(&vd->park_cond, NULL);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vd->q[i].notify_fd = -1;
	for (unsigned i = 0; i < ops->nr_queues; i++) {
		vd->q[i].notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->q[i].notify_fd < 0) {
			ret = err_set(-errno, "eventfd: %s", strerror(errno));
			goto fail;
		}
	}
	vd->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vd->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (vd->stop_fd < 0 || vd->epoll_fd < 0) {
		ret = err_set(-errno, "eventfd/epoll: %s", strerror(errno));
		goto fail;
	}
	ret = ops->init ? ops->init(vd) : 0;
	if (ret)
		goto fail;
	ret = epoll_add(vd->epoll_fd, vd->stop_fd, UINT64_MAX);
	for (unsigned i = 0; !ret && i < ops->nr_queues; i++)
		ret = epoll_add(vd->epoll_fd, vd->q[i].notify_fd, i);
	for (unsigned i = 0; !ret && i < vd->nr_fds; i++)
		ret = epoll_add(vd->epoll_fd, vd->fds[i].fd,
				VIRTIO_MAX_QUEUES + i);
	if (!ret)
		ret = virtio_mmio_wire_irq(vd);
	if (ret)
		goto fail;
	virtio_mmio_wire_notify(vd);
	*out = vd;
	return 0;
fail:
	virtio_mmio_destroy(vd);
	return ret;
}

int virtio_mmio_register(struct virtio_dev *vd, struct bus *mmio)
{
	return bus_add(mmio, vd->ctx.base, VIRTIO_MMIO_SIZE, vd->ctx.id,
		       virtio_mmio_io, vd);
}

int virtio_mmio_start(struct virtio_dev *vd)
{
	int ret;

	if (sem_init(&vd->sandboxed, 0, 0))
		return err_set(-errno, "sem_init: %s", strerror(errno));
	ret = pthread_create(&vd->thread, NULL, virtio_mmio_thread, vd);
	if (ret) {
		sem_destroy(&vd->sandboxed);
		return err_set(-ret, "cannot start the I/O thread of %s: %s",
			       vd->ctx.id, strerror(ret));
	}
	while (sem_wait(&vd->sandboxed) && errno == EINTR)
		;
	sem_destroy(&vd->sandboxed);
	if (vd->sandbox_ret) {
		pthread_join(vd->thread, NULL);
		return err_set(vd->sandbox_ret, "%s: %s", vd->ctx.id,
			       vd->sandbox_msg);
	}
	vd->thread_started = true;
	return 0;
}

void virtio_mmio_pause(struct virtio_dev *vd)
{
	uint64_t one = 1;

	if (!vd->thread_started)
		return;
	pthread_mutex_lock(&vd->park_lock);
	vd->park = true;
	pthread_mutex_unlock(&vd->park_lock);
	if (write(vd->stop_fd, &one, sizeof(one)) < 0) {
		/* counter overflow: already readable */
	}
	pthread_mutex_lock(&vd->park_lock);
	while (!vd->parked)
		pthread_cond_wait(&vd->park_cond, &vd->park_lock);
	pthread_mutex_unlock(&vd->park_lock);
}

void virtio_mmio_resume(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->park_lock);
	vd->park = false;
	pthread_cond_broadcast(&vd->park_cond);
	pthread_mutex_unlock(&vd->park_lock);
}

void virtio_mmio_stop(struct virtio_dev *vd)
{
	uint64_t one = 1;

	if (vd->thread_started) {
		virtio_mmio_resume(vd); /* a parked thread goes on, to end */
		if (write(vd->stop_fd, &one, sizeof(one)) < 0) {
			/* counter overflow: already readable */
		}
		pthread_join(vd->thread, NULL);
		vd->thread_started = false;
	}
	pthread_mutex_lock(&vd->lock);
	virtio_mmio_reset(vd);
	pthread_mutex_unlock(&vd->lock);
}

void virtio_mmio_destroy(struct virtio_dev *vd)
{
	if (!vd)
		return;
	virtio_mmio_stop(vd);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (vd->q[i].notify_fd >= 0)
			close(vd->q[i].notify_fd);
	if (vd->irq_fd >= 0)
		close(vd->irq_fd);
	if (vd->stop_fd >= 0)
		close(vd->stop_fd);
	if (vd->epoll_fd >= 0)
		close(vd->epoll_fd);
	pthread_mutex_destroy(&vd->lock);
	pthread_cond_destroy(&vd->park_cond);
	pthread_mutex_destroy(&vd->park_lock);
	free(vd);
}

void virtio_mmio_print_stats(struct virtio_dev *vd, FILE *f)
{
	fprintf(f,
		"%s %s at 0x%" PRIx64
		": notify through %s, interrupts %s; %" PRIu64
		" notifications (%" PRIu64 " through MMIO exits), %" PRIu64
		" interrupts, %" PRIu64 " resets asked\n",
		vd->ctx.id, vd->ops->name, vd->ctx.base,
		vd->notify_ioeventfd ? "ioeventfd" : "MMIO exits",
		vd->ctx.gsi < 0	  ? "none (the guest polls)"
		: vd->irq_fd >= 0 ? "through irqfd"
				  : "through KVM_IRQ_LINE",
		vd->notifies, vd->exits, vd->interrupts, vd->needs_reset);
	if (vd->ops->print_stats)
		vd->ops->print_stats(vd, f);
}

unsigned virtio_mmio_read_metrics(struct virtio_dev *vd,
				  struct virtio_metric *m)
{
	return vd->ops->read_metrics ? vd->ops->read_metrics(vd, m) : 0;
}

uint32_t virtio_mmio_device_id(const struct virtio_dev *vd)
{
	return vd->ops->device_id;
}
