/* Unit tests for the virtio-mmio transport: the identification registers,
 * feature negotiation, queue setup and its checks, status and reset,
 * DEVICE_NEEDS_RESET, interrupt status, config space bounds, registers at
 * the wrong width, and notifications reaching the device on its I/O thread.
 * No KVM: no ioeventfd, no interrupt line (the guest would poll). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mem.h"
#include "virtio/mmio.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MiB (1ull << 20)
#define DESC 0x10000ull
#define AVAIL 0x11000ull
#define USED 0x12000ull

struct fake {
	struct vm_mem mem;
	struct virtio_dev *vd;
	uint8_t config[8];
	unsigned activated, resets, notified;
	uint64_t features;
	int activate_ret;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static struct fake *fake_of(struct virtio_dev *vd)
{
	return virtio_dev_priv(vd);
}

static void fake_config_read(struct virtio_dev *vd, uint32_t off, void *data,
			     uint32_t len)
{
	memcpy(data, fake_of(vd)->config + off, len);
}

static void fake_config_write(struct virtio_dev *vd, uint32_t off,
			      const void *data, uint32_t len)
{
	memcpy(fake_of(vd)->config + off, data, len);
}

static int fake_activate(struct virtio_dev *vd, uint64_t features)
{
	struct fake *f = fake_of(vd);

	f->activated++;
	f->features = features;
	return f->activate_ret;
}

static void fake_notify(struct virtio_dev *vd, unsigned q)
{
	struct fake *f = fake_of(vd);

	(void)q;
	pthread_mutex_lock(&f->lock);
	f->notified++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void fake_reset(struct virtio_dev *vd)
{
	fake_of(vd)->resets++;
}

static const struct virtio_device_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.features = 1ull << 5,
	.nr_queues = 2,
	.config_size = 8,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.queue_notify = fake_notify,
	.reset = fake_reset,
};

static uint32_t rd(struct fake *f, uint64_t off)
{
	uint32_t v;

	virtio_mmio_io(f->vd, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(struct fake *f, uint64_t off, uint32_t v)
{
	virtio_mmio_io(f->vd, off, (uint8_t *)&v, 4, true);
}

static int setup(void **state)
{
	static struct fake f;
	struct virtio_mmio_ctx ctx = {.mem = &f.mem,
				      .vm_fd = -1,
				      .base = 0xd0000000,
				      .gsi = -1,
				      .id = "fake0"};

	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	pthread_cond_init(&f.cond, NULL);
	if (mem_init(&f.mem, 4 * MiB))
		return -1;
	if (virtio_mmio_create(&f.vd, &fake_ops, &f, &ctx))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	virtio_mmio_destroy(f->vd);
	mem_destroy(&f->mem);
	return 0;
}

/* The driver's side of 3.1.1 up to FEATURES_OK, with @features. */
static void negotiate(struct fake *f, uint64_t features)
{
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		   VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(struct fake *f, unsigned q, uint32_t num, uint64_t desc)
{
	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void test_identity(void **state)
{
	struct fake *f = *state;

	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	/* The device's bit 5, INDIRECT_DESC (28) and EVENT_IDX (29) in word
	 * 0; VERSION_1 (32) in word 1. */
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES),
			 (1u << 5) | (3u << 28));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 1);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2); /* no such queue */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
}

static void test_negotiation(void **state)
{
	struct fake *f = *state;

	/* Without VERSION_1: FEATURES_OK does not stick. */
	negotiate(f, 1ull << 5);
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	/* A feature never offered: refused too. */
	negotiate(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << 6));
	assert_false(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	negotiate(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << 5));
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	/* Features are frozen after FEATURES_OK. */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	setup_queue(f, 0, 16, DESC);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(f, VIRTIO_MMIO_STATUS,
	   rd(f, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->activated, 1);
	assert_int_equal(f->features,
			 (1ull << VIRTIO_F_VERSION_1) | (1ull << 5));
	assert_non_null(virtio_dev_queue(f->vd, 0));
	assert_null(virtio_dev_queue(f->vd, 1)); /* not enabled */
	/* Queue registers of a live queue are ignored. */
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 8);
	assert_int_equal(virtio_dev_queue(f->vd, 0)->size, 16);
	/* Reset: the device forgets everything. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_null(virtio_dev_queue(f->vd, 0));
	assert_true(f->resets >= 1);
}

static void expect_needs_reset(struct fake *f)
{
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
}

static void test_bad_queues(void **state)
{
	struct fake *f = *state;
	uint64_t ok = 1ull << VIRTIO_F_VERSION_1;
	unsigned n;

	negotiate(f, ok);
	setup_queue(f, 0, 0, DESC); /* size 0 */
	expect_needs_reset(f);
	negotiate(f, ok);
	setup_queue(f, 0, 12, DESC); /* not a power of two */
	expect_needs_reset(f);
	negotiate(f, ok);
	setup_queue(f, 0, 512, DESC); /* above QueueNumMax */
	expect_needs_reset(f);
	negotiate(f, ok);
	setup_queue(f, 0, 16, 0x100000000000ull); /* outside RAM */
	expect_needs_reset(f);
	negotiate(f, ok);
	setup_queue(f, 0, 16, DESC + 8); /* misaligned */
	expect_needs_reset(f);
	negotiate(f, ok);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 0x10000); /* wider than 16 bits */
	/* DRIVER_OK without FEATURES_OK. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		   VIRTIO_STATUS_DRIVER_OK);
	expect_needs_reset(f);
	/* activate() failing. */
	f->activate_ret = -EINVAL;
	negotiate(f, ok);
	setup_queue(f, 0, 16, DESC);
	wr(f, VIRTIO_MMIO_STATUS,
	   rd(f, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	expect_needs_reset(f);
	f->activate_ret = 0;
	/* A live queue disabled alone: reads back 0, the device needs a
	 * reset. */
	negotiate(f, ok);
	setup_queue(f, 0, 16, DESC);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	expect_needs_reset(f);
	/* Status bits cleared without a reset: activate() is not called a
	 * second time, the device needs a reset. */
	negotiate(f, ok);
	setup_queue(f, 0, 16, DESC);
	wr(f, VIRTIO_MMIO_STATUS,
	   rd(f, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	n = f->activated;
	wr(f, VIRTIO_MMIO_STATUS, 0x0b);
	wr(f, VIRTIO_MMIO_STATUS, 0x0f);
	assert_int_equal(f->activated, n);
	expect_needs_reset(f);
	/* The driver cannot set NEEDS_RESET itself. */
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_NEEDS_RESET | 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 1);
}

static void test_widths_and_config(void **state)
{
	struct fake *f = *state;
	uint8_t b[8];
	uint16_t h = 0xffff;

	/* Registers at the wrong width: reads 0, writes ignored. */
	virtio_mmio_io(f->vd, VIRTIO_MMIO_MAGIC_VALUE, (uint8_t *)&h, 2, false);
	assert_int_equal(h, 0);
	memset(b, 0xff, sizeof(b));
	virtio_mmio_io(f->vd, VIRTIO_MMIO_STATUS, b, 1, true);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	virtio_mmio_io(f->vd, VIRTIO_MMIO_MAGIC_VALUE + 2, b, 4, false);
	assert_int_equal(b[0], 0);
	/* Config space: in bounds at 1, 2, 4 bytes; beyond it 0. */
	memcpy(f->config, "ABCDEFGH", 8);
	virtio_mmio_io(f->vd, VIRTIO_MMIO_CONFIG + 4, b, 4, false);
	assert_memory_equal(b, "EFGH", 4);
	virtio_mmio_io(f->vd, VIRTIO_MMIO_CONFIG + 1, b, 1, false);
	assert_int_equal(b[0], 'B');
	memset(b, 0xee, sizeof(b));
	virtio_mmio_io(f->vd, VIRTIO_MMIO_CONFIG + 6, b, 4, false);
	assert_int_equal(b[0], 0); /* unaligned and past the end */
	virtio_mmio_io(f->vd, VIRTIO_MMIO_CONFIG + 0xe00, b, 4, false);
	assert_int_equal(b[0], 0);
	virtio_mmio_io(f->vd, VIRTIO_MMIO_CONFIG + 2, (uint8_t *)"zz", 2, true);
	assert_memory_equal(f->config, "ABzzEFGH", 8);
	virtio_mmio_io(f->vd, VIRTIO_MMIO_CONFIG + 8, (uint8_t *)"zz", 2, true);
	assert_memory_equal(f->config, "ABzzEFGH", 8);
	/* Interrupt status: a config change sets bit 1 once the driver
	 * runs; ACK clears it. */
	virtio_dev_config_changed(f->vd);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	negotiate(f, 1ull << VIRTIO_F_VERSION_1);
	wr(f, VIRTIO_MMIO_STATUS,
	   rd(f, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	virtio_dev_config_changed(f->vd);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

/* QueueNotify (here through the MMIO exit path) reaches queue_notify on the
 * I/O thread, only for a ready queue of an active device. */
static void test_notify_thread(void **state)
{
	struct fake *f = *state;
	struct timespec until;
	unsigned n;

	assert_int_equal(virtio_mmio_start(f->vd), 0);
	negotiate(f, 1ull << VIRTIO_F_VERSION_1);
	setup_queue(f, 0, 16, DESC);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);  /* before DRIVER_OK: held */
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);  /* not ready */
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 77); /* no such queue */
	wr(f, VIRTIO_MMIO_STATUS,
	   rd(f, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&f->lock);
	while (f->notified < 1 &&
	       pthread_cond_timedwait(&f->cond, &f->lock, &until) == 0)
		;
	n = f->notified;
	pthread_mutex_unlock(&f->lock);
	/* One or two: a notify that came before DRIVER_OK may be served
	 * once DRIVER_OK is set, besides the one DRIVER_OK itself sends. */
	assert_true(n >= 1 && n <= 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	pthread_mutex_lock(&f->lock);
	while (f->notified < n + 1 &&
	       pthread_cond_timedwait(&f->cond, &f->lock, &until) == 0)
		;
	pthread_mutex_unlock(&f->lock);
	assert_true(f->notified >= n + 1);
	virtio_mmio_stop(f->vd);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0); /* stopped = reset */
}

/* A device's own fd: served by the I/O thread's loop (here
 * virtio_mmio_poll), not while turned off with virtio_dev_watch_fd. */
static int pipe_fds[2];
static unsigned pipe_ready;

static void pipe_ready_fn(struct virtio_dev *vd, int fd)
{
	(void)vd;
	(void)fd;
	pipe_ready++;
}

static int pipe_init(struct virtio_dev *vd)
{
	return virtio_dev_add_fd(vd, pipe_fds[0], pipe_ready_fn);
}

static void test_device_fd(void **state)
{
	struct fake *f = *state;
	struct virtio_device_ops ops = fake_ops;
	struct virtio_mmio_ctx ctx = {
		.mem = &f->mem, .vm_fd = -1, .base = 0, .gsi = -1, .id = "p"};
	struct virtio_dev *vd;

	ops.init = pipe_init;
	assert_int_equal(pipe(pipe_fds), 0);
	assert_int_equal(virtio_mmio_create(&vd, &ops, f, &ctx), 0);
	assert_int_equal(write(pipe_fds[1], "x", 1), 1);
	virtio_mmio_poll(vd);
	assert_int_equal(pipe_ready, 1);
	assert_int_equal(virtio_dev_watch_fd(vd, pipe_fds[0], false), 0);
	virtio_mmio_poll(vd);
	assert_int_equal(pipe_ready, 1);
	assert_int_equal(virtio_dev_watch_fd(vd, pipe_fds[0], true), 0);
	virtio_mmio_poll(vd);
	assert_int_equal(pipe_ready, 2);
	assert_int_equal(virtio_dev_watch_fd(vd, pipe_fds[1], true), -ENOENT);
	virtio_mmio_destroy(vd);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_identity),      T(test_negotiation),
		T(test_bad_queues),    T(test_widths_and_config),
		T(test_notify_thread), T(test_device_fd),
	};

	return cmocka_run_group_tests_name("virtio_mmio", tests, NULL, NULL);
}
