/* Firecracker's metrics: one JSON object per line appended to the file (or
 * FIFO) --metrics-path or PUT /metrics names, written by the main thread's
 * timer every 60 s, by the API thread on FlushMetrics, and once when the VM
 * ends.  The counters are those the devices, the vCPUs and the API keep
 * anyway (the --stats ones), read with relaxed atomics; most fields are, as
 * Firecracker's, what changed since the previous line (a gauge, such as
 * vsock's open connections, is the value now). */
#ifndef MINIVMM_METRICS_H
#define MINIVMM_METRICS_H

#include "virtio/virtio.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define METRICS_FIELDS_MAX 64
#define METRICS_SECTIONS_MAX 32
#define METRICS_PERIOD_MS 60000

/* One object of the line ("block_rootfs", "vcpu"). */
struct metrics_section {
	char name[80];
	/* Sections of one kind ("block", "net") are also summed into a
	 * section of that name, as Firecracker's aggregate; NULL: none. */
	const char *kind;
	struct virtio_metric f[METRICS_FIELDS_MAX];
	unsigned nr;
};

/* Every counter at one moment. */
struct metrics_sample {
	struct metrics_section s[METRICS_SECTIONS_MAX];
	unsigned nr;
};

struct vm;
struct api_ctx;

struct metrics {
	pthread_mutex_t lock;
	int fd;			   /* -1 until opened */
	struct vm *vm;		   /* while it runs */
	const struct api_ctx *api; /* or NULL (--no-api) */
	struct metrics_sample prev, cur;
	uint64_t fails; /* lines not written */
};

/* A new section in @s (NULL if full); its fields are added with
 * metrics_add. */
struct metrics_section *metrics_section(struct metrics_sample *s,
					const char *name, const char *kind);
void metrics_add(struct metrics_section *sec, const char *name, uint64_t value,
		 bool gauge);

/* The line for @cur after @prev (what the previous line saw; an empty
 * sample for the first): utc_timestamp_ms, then each section of @cur with
 * its deltas, then the aggregate of each kind.  A new reference, or NULL
 * (out of memory). */
json_t *metrics_json(const struct metrics_sample *cur,
		     const struct metrics_sample *prev, uint64_t utc_ms);

/* The running VM's counters into @s: the vCPUs' exits and each virtio
 * device's (ops->read_metrics). */
void metrics_sample_vm(struct vm *vm, struct metrics_sample *s);

void metrics_init(struct metrics *m, const struct api_ctx *api);
void metrics_destroy(struct metrics *m);
/* Opens @path for appending (created if missing; a FIFO without a reader
 * is fine, and a full one drops lines).  -EINVAL with Firecracker's
 * message if already open, -errno with err_msg() set. */
int metrics_open(struct metrics *m, const char *path);
bool metrics_is_open(struct metrics *m);
/* The VM whose counters the lines show from now on (NULL: none).  Before
 * a VM goes, metrics_flush writes its last counters. */
void metrics_attach_vm(struct metrics *m, struct vm *vm);
/* Writes one line (nothing if no path was set: 0).  From any thread.
 * -errno with err_msg() set if the write failed. */
int metrics_flush(struct metrics *m);
/* The period of the timer: METRICS_PERIOD_MS, or for tests the
 * environment's MINIVMM_METRICS_PERIOD_MS. */
unsigned metrics_period_ms(void);

#endif
