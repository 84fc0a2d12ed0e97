/* The I/O bus: sorted, non-overlapping address ranges (port I/O or MMIO)
 * mapped to device handlers with one signature.  Ranges are added before the
 * vCPUs start; lookups are lock-free after that. */
#ifndef MINIVMM_BUS_H
#define MINIVMM_BUS_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A device access: @offset is relative to the range's base; on a read the
 * handler fills @data[0..len), on a write it consumes it. */
typedef void bus_io_fn(void *opaque, uint64_t offset, uint8_t *data,
		       uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	const char *name;
	bus_io_fn *fn;
	void *opaque;
	uint64_t count; /* statistics, updated atomically */
	uint64_t ns;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	struct bus_range *ranges;
	size_t nr;
	size_t cap;
	bool stats; /* time each access (costs two clock reads) */
	bool quiet; /* don't log unassigned accesses (a trace shows them) */
	uint64_t unassigned_count;
	uint64_t unassigned_ns;
	struct ratelimit rl;
};

void bus_init(struct bus *b, const char *name);
void bus_destroy(struct bus *b);
/* Maps [base, base + len) to @fn.  -EINVAL for an empty or wrapping range,
 * -EEXIST if it overlaps a range already there. */
int bus_add(struct bus *b, uint64_t base, uint64_t len, const char *name,
	    bus_io_fn *fn, void *opaque);
/* The range holding all of [addr, addr + len), or NULL. */
struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len);
/* Runs the handler for an access.  An access to nothing is logged
 * (rate-limited), reads as all ones, and returns -ENOENT. */
int bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
		 bool is_write);

/* Says how many unassigned-access lines the rate limit dropped. */
void bus_log_summary(struct bus *b);

#endif
