/* The prefault helper thread (--prefault all|ahead) and the policy that
 * decides, in "ahead" mode, which chunk of guest RAM to fault in next. */
#include "prefault.h"
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#define PREFAULT_STACK (64u << 10) /* madvise, mincore, little else */
#define PREFAULT_SCAN_PAGES 4096   /* mincore entries per call */

void fault_ahead_init(struct fault_ahead *fa, uint8_t *chunk, uint64_t nr)
{
	fa->chunk = chunk;
	fa->nr = nr;
	fa->head = -1;
	fa->dir = 0;
	fa->window = PREFAULT_WINDOW_MIN;
	fa->outstanding = 0;
}

static bool fault_ahead_resident(const struct fault_ahead *fa, int64_t c)
{
	return c >= 0 && (uint64_t)c < fa->nr && fa->chunk[c] != CHUNK_FREE;
}

/* The guest made chunk @c resident: it either moves the stream on (our
 * chunks it went past count as used, and the window grows), or starts a
 * new stream next to memory already resident, or stands alone. */
static void fault_ahead_touched(struct fault_ahead *fa, int64_t c)
{
	int64_t step = (c - fa->head) * fa->dir;
	unsigned passed = 0;

	fa->chunk[c] = CHUNK_GUEST;
	if (fa->dir && step >= 1 && step <= (int64_t)fa->window + 1) {
		for (int64_t k = fa->head + fa->dir; k != c; k += fa->dir) {
			if (fa->chunk[k] != CHUNK_AHEAD)
				continue;
			fa->chunk[k] = CHUNK_PASSED;
			fa->outstanding--;
			passed++;
		}
		fa->head = c;
		if (passed && fa->window < PREFAULT_WINDOW_MAX)
			fa->window = fa->window * 2 < PREFAULT_WINDOW_MAX
					     ? fa->window * 2
					     : PREFAULT_WINDOW_MAX;
		return;
	}
	if (fault_ahead_resident(fa, c - 1) && !fault_ahead_resident(fa, c + 1))
		fa->dir = 1;
	else if (fault_ahead_resident(fa, c + 1) &&
		 !fault_ahead_resident(fa, c - 1))
		fa->dir = -1;
	else
		return; /* alone, or filling a gap: not a stream */
	fa->head = c;
	fa->window = PREFAULT_WINDOW_MIN;
}

void fault_ahead_update(struct fault_ahead *fa, uint8_t *fresh)
{
	int64_t nr = (int64_t)fa->nr;

	/* The stream being followed, in its direction. */
	if (fa->dir) {
		for (int64_t k = fa->head + fa->dir; k >= 0 && k < nr;
		     k += fa->dir) {
			if (fresh[k]) {
				fresh[k] = 0;
				fault_ahead_touched(fa, k);
			} else if (fa->chunk[k] != CHUNK_AHEAD) {
				break;
			}
		}
	}
	/* Then each run of fresh chunks: downward if it ends next to resident
	 * memory above it and not below, upward otherwise. */
	for (int64_t a = 0; a < nr; a++) {
		int64_t b = a;

		if (!fresh[a])
			continue;
		while (b + 1 < nr && fresh[b + 1])
			b++;
		if (fault_ahead_resident(fa, b + 1) &&
		    !fault_ahead_resident(fa, a - 1)) {
			for (int64_t k = b; k >= a; k--)
				fault_ahead_touched(fa, k);
		} else {
			for (int64_t k = a; k <= b; k++)
				fault_ahead_touched(fa, k);
		}
		memset(fresh + a, 0, (size_t)(b - a + 1));
		a = b;
	}
}

int64_t fault_ahead_next(struct fault_ahead *fa)
{
	if (!fa->dir || fa->outstanding >= PREFAULT_BUDGET)
		return -1;
	for (int64_t d = fa->window; d >= 1; d--) {
		int64_t k = fa->head + d * fa->dir;

		if (k < 0 || (uint64_t)k >= fa->nr ||
		    fa->chunk[k] != CHUNK_FREE)
			continue;
		fa->chunk[k] = CHUNK_AHEAD;
		fa->outstanding++;
		return k;
	}
	return -1;
}

/* Faults in [p, p + len) for writing without changing a byte the guest may
 * be writing at the same moment; false if the host is out of memory. */
static bool prefault_range(uint8_t *p, uint64_t len, long page)
{
	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return true;
	if (errno != EINVAL)
		return false;
	/* Hosts before Linux 5.14: an atomic add of 0 writes each page,
	 * racing safely with the guest. */
	for (uint64_t off = 0; off < len; off += (uint64_t)page)
		__atomic_fetch_add(p + off, 0, __ATOMIC_RELAXED);
	return true;
}

/* The length of chunk @c of guest RAM (the last may be short); it starts
 * at host offset c * MEM_HOST_ALIGN. */
static uint64_t prefault_chunk_len(const struct vm_mem *m, uint64_t c)
{
	uint64_t off = c * MEM_HOST_ALIGN;

	return m->size - off < MEM_HOST_ALIGN ? m->size - off : MEM_HOST_ALIGN;
}

/* The host's page size (4 KiB if it cannot be had). */
static long prefault_page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? page : 4096;
}

/* Chunks of guest RAM. */
static uint64_t prefault_chunks(const struct vm_mem *m)
{
	return (m->size + MEM_HOST_ALIGN - 1) / MEM_HOST_ALIGN;
}

static void *prefault_all_thread(void *opaque)
{
	struct prefault *pf = opaque;
	struct vm_mem *m = pf->mem;
	uint64_t t0 = time_now_ns(), done = 0, nr = prefault_chunks(m);
	long page = prefault_page_size();

	/* One chunk (a huge page) at a time, each once, wrapping around. */
	for (uint64_t i = 0, c = pf->first; i < nr; i++, c = (c + 1) % nr) {
		uint64_t len = prefault_chunk_len(m, c);

		if (__atomic_load_n(&pf->stop, __ATOMIC_RELAXED) ||
		    !prefault_range(m->host + c * MEM_HOST_ALIGN, len, page))
			break;
		done += len;
		__atomic_store_n(&pf->done, done, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&pf->ns, time_now_ns() - t0, __ATOMIC_RELAXED);
	return NULL;
}

/* Marks in @out (one byte per chunk) the CHUNK_FREE chunks of @fa among
 * [@c0, @c1) that have a resident page now; returns how many. */
static uint64_t prefault_scan(const struct vm_mem *m,
			      const struct fault_ahead *fa, uint64_t c0,
			      uint64_t c1, uint8_t *out, unsigned char *vec,
			      long page)
{
	uint64_t per_chunk = MEM_HOST_ALIGN / (uint64_t)page, found = 0;
	uint64_t per_call = PREFAULT_SCAN_PAGES / per_chunk; /* chunks */

	for (uint64_t first = c0; first < c1; first += per_call) {
		uint64_t last = c1 - first < per_call ? c1 : first + per_call;
		uint64_t off = first * MEM_HOST_ALIGN;
		uint64_t end = last == fa->nr ? m->size : last * MEM_HOST_ALIGN;
		bool wanted = false;

		for (uint64_t c = first; c < last; c++)
			wanted |= fa->chunk[c] == CHUNK_FREE;
		if (!wanted || mincore(m->host + off, end - off, vec))
			continue;
		for (uint64_t c = first; c < last; c++) {
			const unsigned char *v = vec + (c - first) * per_chunk;
			uint64_t n = prefault_chunk_len(m, c) / (uint64_t)page;

			if (fa->chunk[c] != CHUNK_FREE)
				continue;
			for (uint64_t i = 0; i < n; i++) {
				if (v[i] & 1) {
					out[c] = 1;
					found++;
					break;
				}
			}
		}
	}
	return found;
}

/* Scans the stream's window and the chunk beyond it (cheap), or all of
 * guest RAM once @*next_full has passed; a full scan is then due again
 * after PREFAULT_FULL_SCAN_RATIO times as long as it took, so that scans
 * of a big guest stay a small part of the thread's time. */
static uint64_t prefault_poll(struct prefault *pf, const struct fault_ahead *fa,
			      uint8_t *fresh, unsigned char *vec, long page,
			      uint64_t *next_full)
{
	uint64_t t0 = time_now_ns(), found, c0 = 0, c1 = fa->nr, ns;
	bool full = t0 >= *next_full || !fa->dir;
	int64_t reach = (int64_t)fa->window + 1;

	if (!full && fa->dir > 0) {
		c0 = (uint64_t)fa->head + 1;
		c1 = fa->nr - c0 < (uint64_t)reach ? fa->nr
						   : c0 + (uint64_t)reach;
	} else if (!full) {
		c0 = fa->head > reach ? (uint64_t)(fa->head - reach) : 0;
		c1 = (uint64_t)fa->head;
	}
	found = prefault_scan(pf->mem, fa, c0, c1, fresh, vec, page);
	ns = time_now_ns() - t0;
	if (full) {
		*next_full = t0 + ns * PREFAULT_FULL_SCAN_RATIO;
		pf->scans++;
		pf->scan_ns += ns;
	}
	return found;
}

static void *prefault_ahead_thread(void *opaque)
{
	struct prefault *pf = opaque;
	struct vm_mem *m = pf->mem;
	uint64_t nr = prefault_chunks(m);
	uint64_t t0 = time_now_ns(), last = t0, done = 0, next_full = 0;
	uint8_t *chunk = calloc(nr, 1), *fresh = calloc(nr, 1);
	unsigned char *vec = malloc(PREFAULT_SCAN_PAGES);
	long page = prefault_page_size();
	struct fault_ahead fa;

	if (!chunk || !fresh || !vec || MEM_HOST_ALIGN % (uint64_t)page)
		goto out;
	/* What the loader wrote is resident already: no stream. */
	fault_ahead_init(&fa, chunk, nr);
	prefault_scan(m, &fa, 0, nr, chunk, vec, page);
	while (!__atomic_load_n(&pf->stop, __ATOMIC_RELAXED)) {
		uint64_t now = time_now_ns();
		int64_t c;

		if (prefault_poll(pf, &fa, fresh, vec, page, &next_full)) {
			fault_ahead_update(&fa, fresh);
			last = now;
		}
		c = fault_ahead_next(&fa);
		if (c >= 0) {
			uint64_t len = prefault_chunk_len(m, (uint64_t)c);

			if (!prefault_range(m->host + (uint64_t)c *
							      MEM_HOST_ALIGN,
					    len, page))
				break;
			done += len;
			__atomic_store_n(&pf->done, done, __ATOMIC_RELAXED);
			continue;
		}
		if (now - last > PREFAULT_IDLE_MS * 1000000ull)
			break;
		usleep(PREFAULT_POLL_US);
	}
	pf->unused = (uint64_t)fa.outstanding * MEM_HOST_ALIGN;
out:
	free(vec);
	free(fresh);
	free(chunk);
	__atomic_store_n(&pf->ns, time_now_ns() - t0, __ATOMIC_RELAXED);
	return NULL;
}

/* The thread: its filter first (without one it does nothing: prefaulting
 * only saves the guest time), then the mode's loop. */
static void *prefault_thread(void *opaque)
{
	struct prefault *pf = opaque;

	pthread_setname_np(pthread_self(), "prefault");
	if (sandbox_apply(&pf->sandbox, SANDBOX_PREFAULT)) {
		fprintf(stderr, "minivmm: prefault: %s\n", err_msg());
		return NULL;
	}
	return pf->mode == PREFAULT_ALL ? prefault_all_thread(pf)
					: prefault_ahead_thread(pf);
}

int prefault_start(struct prefault *pf, struct vm_mem *m,
		   enum prefault_mode mode, uint64_t from,
		   const struct sandbox *sb)
{
	uint8_t *p;
	pthread_attr_t attr;
	int ret;

	if (pf->running || !m->host || mode == PREFAULT_NONE)
		return 0;
	memset(pf, 0, sizeof(*pf));
	pf->mem = m;
	pf->mode = mode;
	if (sb)
		pf->sandbox = *sb;
	p = mem_ptr(m, from, 1);
	pf->first = p ? (uint64_t)(p - m->host) / MEM_HOST_ALIGN : 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PREFAULT_STACK);
	ret = pthread_create(&pf->thread, &attr, prefault_thread, pf);
	pthread_attr_destroy(&attr);
	if (ret)
		return err_set(-ret, "cannot start the prefault thread: %s",
			       strerror(ret));
	pf->running = true;
	return 0;
}

void prefault_stop(struct prefault *pf)
{
	if (!pf->running)
		return;
	__atomic_store_n(&pf->stop, 1, __ATOMIC_RELAXED);
	pthread_join(pf->thread, NULL);
	pf->running = false;
}
