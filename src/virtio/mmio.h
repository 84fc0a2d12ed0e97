/* The virtio-mmio transport, version 2 only (virtio 1.2, 4.2.2): one 4 KiB
 * register window per device, queue notifications through KVM_IOEVENTFD
 * (one eventfd per queue, matched on the queue index) and interrupts
 * through KVM_IRQFD, both checked with KVM_CHECK_EXTENSION; where either is
 * missing, the MMIO exit does the same work.  Each device gets one I/O
 * thread, waiting on its queues' eventfds with epoll. */
#ifndef MINIVMM_VIRTIO_MMIO_H
#define MINIVMM_VIRTIO_MMIO_H

#include "virtio.h"
#include "../bus.h"
#include "../host/sandbox.h"
#include "../mem.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION 2
#define VIRTIO_MMIO_VENDOR 0x4d56494d /* "MIVM" */
#define VIRTIO_MMIO_SIZE 0x1000

/* Register offsets (virtio 1.2, table 4.1). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION_REG 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING 0x1
#define VIRTIO_MMIO_INT_CONFIG 0x2

/* Where a device sits and what KVM offers it: all it knows of the VM. */
struct virtio_mmio_ctx {
	const struct vm_mem *mem;
	int vm_fd;	/* KVM_IOEVENTFD, KVM_IRQFD, KVM_IRQ_LINE */
	uint64_t base;	/* guest physical address of the window */
	int gsi;	/* its interrupt, or -1: none (the guest polls) */
	bool ioeventfd; /* KVM_CAP_IOEVENTFD */
	bool irqfd;	/* KVM_CAP_IRQFD (needs an irqchip) */
	const char *id; /* "vda", "rng0": for messages and --stats */
	struct sandbox sandbox;		  /* the I/O thread's filter, */
	enum sandbox_thread sandbox_kind; /* installed as it starts */
};

/* Creates the device's transport state around @ops and @priv (calls
 * ops->init) and wires its notifications and interrupt into KVM. */
int virtio_mmio_create(struct virtio_dev **out,
		       const struct virtio_device_ops *ops, void *priv,
		       const struct virtio_mmio_ctx *ctx);
/* Maps the register window on @mmio (the bus keeps a pointer: destroy the
 * bus first). */
int virtio_mmio_register(struct virtio_dev *vd, struct bus *mmio);
/* Starts the I/O thread (vm_run, before the vCPUs) and waits until it has
 * installed its seccomp filter (an error if it could not). */
int virtio_mmio_start(struct virtio_dev *vd);
/* Stops and joins the I/O thread, then resets the device, so nothing is in
 * flight and no guest memory is touched after it returns (the VM ends). */
void virtio_mmio_stop(struct virtio_dev *vd);
/* Parks the I/O thread without a reset (a paused VM) and returns once it
 * has: nothing new is taken from the rings or the device's fds; requests
 * in flight stay so, and are reaped when virtio_mmio_resume lets it go on.
 * The thread is the same one (with its own seccomp filter) after it. */
void virtio_mmio_pause(struct virtio_dev *vd);
void virtio_mmio_resume(struct virtio_dev *vd);
void virtio_mmio_destroy(struct virtio_dev *vd);
/* The bus handler (exposed for tests). */
void virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write);
/* Without an I/O thread (tests, fuzzing): handles what is pending now on
 * the calling thread. */
void virtio_mmio_poll(struct virtio_dev *vd);
/* The device's --stats lines. */
void virtio_mmio_print_stats(struct virtio_dev *vd, FILE *f);
/* The device's counters for the metrics (ops->read_metrics): how many,
 * 0 if it has none.  From any thread. */
unsigned virtio_mmio_read_metrics(struct virtio_dev *vd,
				  struct virtio_metric *m);
/* The device type (VIRTIO_ID_*). */
uint32_t virtio_mmio_device_id(const struct virtio_dev *vd);

#endif
