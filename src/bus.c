/* Sorted ranges, binary search, overlap refused at registration. */
#include "bus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	b->rl.burst = 10;
}

void bus_destroy(struct bus *b)
{
	free(b->ranges);
	b->ranges = NULL;
	b->nr = b->cap = 0;
}

/* Index of the first range that ends at or above @addr. */
static size_t bus_lower_bound(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];

		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_add(struct bus *b, uint64_t base, uint64_t len, const char *name,
	    bus_io_fn *fn, void *opaque)
{
	uint64_t last;
	size_t i;

	if (!len || !fn || __builtin_add_overflow(base, len - 1, &last))
		return err_set(-EINVAL,
			       "%s: invalid range 0x%" PRIx64 "+0x%" PRIx64
			       " for %s",
			       b->name, base, len, name);
	i = bus_lower_bound(b, base);
	if (i < b->nr && b->ranges[i].base <= last) {
		const struct bus_range *r = &b->ranges[i];

		return err_set(-EEXIST,
			       "%s: %s at 0x%" PRIx64 "+0x%" PRIx64
			       " overlaps %s at 0x%" PRIx64 "+0x%" PRIx64,
			       b->name, name, base, len, r->name, r->base,
			       r->len);
	}
	if (b->nr == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct bus_range *n = realloc(b->ranges, cap * sizeof(*n));

		if (!n)
			return err_set(-ENOMEM, "out of memory");
		b->ranges = n;
		b->cap = cap;
	}
	memmove(&b->ranges[i + 1], &b->ranges[i],
		(b->nr - i) * sizeof(b->ranges[0]));
	b->ranges[i] = (struct bus_range){
		.base = base,
		.len = len,
		.name = name,
		.fn = fn,
		.opaque = opaque,
	};
	b->nr++;
	return 0;
}

struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	size_t i = bus_lower_bound(b, addr);
	struct bus_range *r;

	if (i >= b->nr || !len)
		return NULL;
	r = &b->ranges[i];
	if (addr < r->base || addr - r->base >= r->len ||
	    len > r->len - (addr - r->base))
		return NULL;
	return r;
}

static void bus_log_unassigned(struct bus *b, uint64_t addr, uint32_t len,
			       bool is_write, const uint8_t *data)
{
	unsigned long dropped;
	uint64_t val = 0;

	if (b->quiet || !ratelimit_allow(&b->rl, &dropped))
		return;
	if (dropped)
		fprintf(stderr,
			"minivmm: %s: %lu more unassigned accesses not shown\n",
			b->name, dropped);
	if (is_write) {
		memcpy(&val, data, len < sizeof(val) ? len : sizeof(val));
		fprintf(stderr,
			"minivmm: %s: write of %u bytes to unassigned 0x%" PRIx64
			" (value 0x%" PRIx64 ")\n",
			b->name, len, addr, val);
	} else {
		fprintf(stderr,
			"minivmm: %s: read of %u bytes from unassigned 0x%" PRIx64
			" (all ones)\n",
			b->name, len, addr);
	}
}

void bus_log_summary(struct bus *b)
{
	if (b->rl.suppressed)
		fprintf(stderr,
			"minivmm: %s: %lu more unassigned accesses not shown\n",
			b->name, b->rl.suppressed);
	b->rl.suppressed = 0;
}

int bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
		 bool is_write)
{
	struct bus_range *r = bus_find(b, addr, len);
	uint64_t t0 = b->stats ? time_now_ns() : 0;

	if (!r) {
		if (!is_write)
			memset(data, 0xff, len);
		bus_log_unassigned(b, addr, len, is_write, data);
		if (b->stats) {
			__atomic_add_fetch(&b->unassigned_count, 1,
					   __ATOMIC_RELAXED);
			__atomic_add_fetch(&b->unassigned_ns,
					   time_now_ns() - t0,
					   __ATOMIC_RELAXED);
		}
		return -ENOENT;
	}
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	if (b->stats) {
		__atomic_add_fetch(&r->count, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&r->ns, time_now_ns() - t0,
				   __ATOMIC_RELAXED);
	}
	return 0;
}
