/* Faulting guest RAM in from a helper thread while the guest boots, so
 * that the guest finds memory ready instead of waiting for the host to
 * allocate and zero each page on first touch (--prefault).
 *
 * Guest RAM is handled in chunks of MEM_HOST_ALIGN (2 MiB: one host huge
 * page).  Two modes:
 *   all    every chunk, from the one holding the entry point upward; RSS
 *          becomes all of guest RAM.
 *   ahead  only ahead of the guest: the thread watches which chunks become
 *          resident (mincore: the stream's next chunks every millisecond,
 *          all of guest RAM in at most 1/PREFAULT_FULL_SCAN_RATIO of its
 *          time), and when the guest writes through memory in order
 *          (a kernel decompressing itself, copying an image, filling its
 *          page tables) it faults in the next chunks of that stream, at
 *          most PREFAULT_BUDGET chunks that the guest has not yet been seen
 *          to reach.  The thread ends once the guest has touched no new
 *          chunk for PREFAULT_IDLE_MS.
 * Neither changes a byte of guest memory. */
#ifndef MINIVMM_PREFAULT_H
#define MINIVMM_PREFAULT_H

#include "host/sandbox.h"
#include "mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum prefault_mode {
	PREFAULT_NONE,
	PREFAULT_AHEAD,
	PREFAULT_ALL,
};

#define PREFAULT_WINDOW_MIN 2 /* chunks ahead of a new stream */
#define PREFAULT_WINDOW_MAX 8 /* ... growing while the guest uses them */
#define PREFAULT_BUDGET 8     /* chunks faulted in, not yet reached */
#define PREFAULT_IDLE_MS 2000
#define PREFAULT_POLL_US 1000	    /* between polls */
#define PREFAULT_FULL_SCAN_RATIO 20 /* full scans: at most 1/20 of the time */

/* The policy of the "ahead" mode, apart from the thread so that unit tests
 * can drive it: one state byte per chunk and the stream being followed. */
enum prefault_chunk {
	CHUNK_FREE,   /* not resident */
	CHUNK_GUEST,  /* made resident by the guest (or by the loader) */
	CHUNK_AHEAD,  /* faulted in by us; the guest has not gone past it */
	CHUNK_PASSED, /* faulted in by us; the guest went past it */
};

struct fault_ahead {
	uint8_t *chunk;	      /* nr entries of enum prefault_chunk */
	uint64_t nr;	      /* chunks of guest RAM */
	int64_t head;	      /* the stream's last chunk the guest touched */
	int dir;	      /* +1 upward, -1 downward, 0: no stream */
	unsigned window;      /* chunks to keep ready beyond head */
	unsigned outstanding; /* CHUNK_AHEAD chunks (the budget's use) */
};

/* @chunk: @nr bytes, all CHUNK_FREE or CHUNK_GUEST (resident at start). */
void fault_ahead_init(struct fault_ahead *fa, uint8_t *chunk, uint64_t nr);
/* Takes in the chunks that became resident since the last call: @fresh has
 * nr entries, non-zero for those (they are CHUNK_FREE); all are cleared.
 * The stream being followed goes first, so that a new one found in the
 * same call replaces it. */
void fault_ahead_update(struct fault_ahead *fa, uint8_t *fresh);
/* The next chunk to fault in, now marked CHUNK_AHEAD, or -1 for none:
 * the far end of the window first, so that the guest, coming from the
 * near end, and the thread fault different chunks at the same time. */
int64_t fault_ahead_next(struct fault_ahead *fa);

/* The helper thread and what it did (for --stats). */
struct prefault {
	struct vm_mem *mem;
	pthread_t thread;
	bool running;	  /* the thread exists and has not been joined */
	int stop;	  /* atomic: asks the thread to finish early */
	uint64_t first;	  /* "all": the chunk it starts at */
	uint64_t done;	  /* atomic: bytes faulted in so far */
	uint64_t unused;  /* "ahead": bytes the guest had not reached */
	uint64_t scans;	  /* "ahead": full residency scans of guest RAM */
	uint64_t scan_ns; /* ... and the time they took */
	uint64_t ns;	  /* atomic: how long the thread ran, once done */
	enum prefault_mode mode;
	struct sandbox sandbox; /* its seccomp filter */
};

/* Starts the thread for @mode (nothing for PREFAULT_NONE); "all" starts
 * at the chunk holding guest address @from.  The thread installs the
 * prefault seccomp filter of @sb (NULL: none) first and stops at once if
 * it cannot (prefaulting is an optimization: the guest runs without). */
int prefault_start(struct prefault *pf, struct vm_mem *m,
		   enum prefault_mode mode, uint64_t from,
		   const struct sandbox *sb);
/* Stops (early, if need be) and joins the thread; safe if none. */
void prefault_stop(struct prefault *pf);

#endif
