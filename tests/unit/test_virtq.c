/* Unit tests for split virtqueues: a driver written by hand into fake guest
 * memory (4 MiB, or 3 GiB + 2 MiB reserved but untouched for the MMIO hole),
 * the device side under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "virtio/virtq.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Guest physical layout of the fake driver. */
#define DESC 0x1000
#define AVAIL 0x3000
#define USED 0x4000
#define TABLE 0x8000 /* indirect tables */
#define TABLE2 0x9000
#define DATA 0x10000 /* buffers */
#define RAM (4 * MiB)

struct fx {
	struct vm_mem m;
	struct virtq q;
	struct virtq_chain c;
	uint16_t avail_idx; /* the driver's */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || mem_init(&f->m, RAM))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mem_destroy(&f->m);
	free(f);
	return 0;
}

/* Guest memory is little-endian, and so is every host minivmm runs on. */
static void put(struct fx *f, uint64_t gpa, const void *v, size_t len)
{
	void *p = mem_ptr(&f->m, gpa, len);

	assert_non_null(p);
	memcpy(p, v, len);
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	put(f, gpa, &v, 2);
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, mem_ptr(&f->m, gpa, 2), 2);
	return v;
}

static uint32_t get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, mem_ptr(&f->m, gpa, 4), 4);
	return v;
}

/* Entry @i of the descriptor table at @table. */
static void desc(struct fx *f, uint64_t table, unsigned i, uint64_t addr,
		 uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	put(f, table + 16ull * i, d, sizeof(d));
}

/* The driver makes chain @head available. */
static void avail_add(struct fx *f, uint16_t head)
{
	put16(f, AVAIL + 4 + 2 * (f->avail_idx % f->q.size), head);
	f->avail_idx++;
	put16(f, AVAIL + 2, f->avail_idx);
}

static void qinit(struct fx *f, uint16_t size, bool event_idx, bool indirect)
{
	/* A driver starts a queue with zeroed ring headers. */
	put16(f, AVAIL, 0);
	put16(f, AVAIL + 2, 0);
	put16(f, USED, 0);
	put16(f, USED + 2, 0);
	f->avail_idx = 0;
	assert_int_equal(virtq_init(&f->q, &f->m, size, DESC, AVAIL, USED,
				    event_idx, indirect),
			 0);
}

static uint16_t used_idx(struct fx *f)
{
	return get16(f, USED + 2);
}

/* One device-writable descriptor, a good chain on its own. */
static void good_chain(struct fx *f, uint16_t head)
{
	desc(f, DESC, head, DATA + 0x8000, 64, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, head);
}

/* The chain made available last is refused as bad for the reason @why,
 * with its head given to complete it; the queue stays usable: a good chain
 * after it pops. */
static void expect_bad_chain(struct fx *f, uint16_t head, const char *why)
{
	uint16_t good = f->q.size - 1;

	assert_int_equal(virtq_pop(&f->q, &f->c), -EBADMSG);
	if (!strstr(err_msg(), why))
		fail_msg("\"%s\" is not about \"%s\"", err_msg(), why);
	assert_int_equal(f->c.head, head);
	assert_int_equal(f->c.nr, 0);
	assert_int_equal(f->c.nr_out, 0);
	assert_int_equal(f->c.in_len, 0);
	assert_int_equal(f->c.out_len, 0);
	assert_false(f->q.broken);
	virtq_push(&f->q, f->c.head, 0);
	good_chain(f, good);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, good);
	assert_int_equal(f->c.nr, 1);
	virtq_push(&f->q, f->c.head, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
}

/* The queue is broken: this pop and every later one fail. */
static void expect_broken(struct fx *f)
{
	assert_int_equal(virtq_pop(&f->q, &f->c), -EPROTO);
	assert_true(f->q.broken);
	assert_false(virtq_has_work(&f->q));
	assert_int_equal(virtq_pop(&f->q, &f->c), -EPROTO);
}

static void test_init_rejects(void **state)
{
	struct fx *f = *state;
	struct virtq *q = &f->q;
	const struct vm_mem *m = &f->m;

	assert_int_equal(virtq_init(q, m, 0, DESC, AVAIL, USED, 0, 0), -EINVAL);
	assert_int_equal(virtq_init(q, m, 3, DESC, AVAIL, USED, 0, 0), -EINVAL);
	assert_int_equal(virtq_init(q, m, 257, DESC, AVAIL, USED, 0, 0),
			 -EINVAL);
	assert_int_equal(virtq_init(q, m, 512, DESC, AVAIL, USED, 0, 0),
			 -EINVAL);
	assert_int_equal(virtq_init(q, m, 1, DESC, AVAIL, USED, 0, 0), 0);
	assert_int_equal(virtq_init(q, m, 256, DESC, AVAIL, USED, 1, 1), 0);
	/* Alignment: 16, 2 and 4 bytes (2.7.1). */
	assert_int_equal(virtq_init(q, m, 8, DESC + 8, AVAIL, USED, 0, 0),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "is not aligned to 16 bytes"));
	assert_int_equal(virtq_init(q, m, 8, DESC, AVAIL + 1, USED, 0, 0),
			 -EINVAL);
	assert_int_equal(virtq_init(q, m, 8, DESC, AVAIL, USED + 2, 0, 0),
			 -EINVAL);
	assert_int_equal(virtq_init(q, m, 8, DESC, AVAIL + 2, USED + 4, 0, 0),
			 0);
	/* Wholly in RAM, the event index fields included when negotiated. */
	assert_int_equal(virtq_init(q, m, 8, RAM - 64, AVAIL, USED, 0, 0),
			 -EFAULT);
	assert_int_equal(virtq_init(q, m, 8, RAM - 128, AVAIL, USED, 0, 0), 0);
	assert_int_equal(virtq_init(q, m, 8, 1ull << 40, AVAIL, USED, 0, 0),
			 -EFAULT);
	assert_int_equal(virtq_init(q, m, 8, DESC, RAM - 20, USED, 0, 0), 0);
	assert_int_equal(virtq_init(q, m, 8, DESC, RAM - 20, USED, 1, 0),
			 -EFAULT);
	assert_int_equal(virtq_init(q, m, 8, DESC, AVAIL, RAM - 68, 0, 0), 0);
	assert_int_equal(virtq_init(q, m, 8, DESC, AVAIL, RAM - 68, 1, 0),
			 -EFAULT);
	assert_int_equal(virtq_init(q, m, 8, DESC, AVAIL, UINT64_MAX - 3, 0, 0),
			 -EFAULT);
	/* A queue that failed to set up does nothing and pops nothing. */
	assert_true(q->broken);
	assert_int_equal(virtq_pop(q, &f->c), -EPROTO);
	assert_false(virtq_has_work(q));
	assert_false(virtq_should_notify(q));
	virtq_push(q, 0, 0);
	virtq_enable_notify(q);
	virtq_disable_notify(q);
}

static void test_pop_chain(void **state)
{
	struct fx *f = *state;
	struct virtq_chain *c = &f->c;

	qinit(f, 8, false, false);
	assert_false(virtq_has_work(&f->q));
	assert_int_equal(virtq_pop(&f->q, c), 0);
	/* A request: header and data to read, status to write. */
	desc(f, DESC, 2, DATA, 16, VIRTQ_DESC_F_NEXT, 5);
	desc(f, DESC, 5, DATA + 0x1000, 100, VIRTQ_DESC_F_NEXT, 0);
	desc(f, DESC, 0, DATA + 0x2000, 512,
	     VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 7);
	desc(f, DESC, 7, DATA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, 2);
	good_chain(f, 3);
	assert_true(virtq_has_work(&f->q));
	assert_int_equal(virtq_pop(&f->q, c), 1);
	assert_int_equal(c->head, 2);
	assert_int_equal(c->nr, 4);
	assert_int_equal(c->nr_out, 2);
	assert_int_equal(c->out_len, 116);
	assert_int_equal(c->in_len, 513);
	assert_ptr_equal(c->buf[0].host, mem_ptr(&f->m, DATA, 16));
	assert_int_equal(c->buf[0].len, 16);
	assert_false(c->buf[0].writable);
	assert_ptr_equal(c->buf[1].host, mem_ptr(&f->m, DATA + 0x1000, 100));
	assert_false(c->buf[1].writable);
	assert_ptr_equal(c->buf[2].host, mem_ptr(&f->m, DATA + 0x2000, 512));
	assert_int_equal(c->buf[2].len, 512);
	assert_true(c->buf[2].writable);
	assert_true(c->buf[3].writable);
	/* The next chain, in ring order. */
	assert_int_equal(virtq_pop(&f->q, c), 1);
	assert_int_equal(c->head, 3);
	assert_int_equal(c->nr, 1);
	assert_int_equal(c->nr_out, 0);
	assert_int_equal(virtq_pop(&f->q, c), 0);
	assert_false(virtq_has_work(&f->q));
	/* A zero-length buffer is legal, if pointless. */
	desc(f, DESC, 1, DATA, 0, 0, 0);
	avail_add(f, 1);
	assert_int_equal(virtq_pop(&f->q, c), 1);
	assert_int_equal(c->nr, 1);
	assert_int_equal(c->buf[0].len, 0);
}

static void test_push_used(void **state)
{
	struct fx *f = *state;

	qinit(f, 8, false, false);
	good_chain(f, 6);
	good_chain(f, 4);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	/* Completed out of order: the used ring says which. */
	virtq_push(&f->q, 4, 17);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(get32(f, USED + 4), 4);
	assert_int_equal(get32(f, USED + 8), 17);
	virtq_push(&f->q, 6, 0);
	assert_int_equal(used_idx(f), 2);
	assert_int_equal(get32(f, USED + 12), 6);
	assert_int_equal(get32(f, USED + 16), 0);
	assert_int_equal(f->q.used_idx, 2);
}

/* Both free-running 16-bit indexes wrap; batches of 3 in a queue of 4 put
 * the wrap in the middle of a batch and at every ring slot. */
static void test_wraparound(void **state)
{
	struct fx *f = *state;
	unsigned n = 0;

	qinit(f, 4, false, false);
	for (unsigned round = 0; round < 65536 / 3 + 5; round++) {
		for (uint16_t h = 0; h < 3; h++)
			good_chain(f, h);
		for (uint16_t h = 0; h < 3; h++) {
			assert_int_equal(virtq_pop(&f->q, &f->c), 1);
			assert_int_equal(f->c.head, h);
			virtq_push(&f->q, h, h);
			n++;
			assert_int_equal(used_idx(f), (uint16_t)n);
			assert_int_equal(get32(f, USED + 4 + 8 * ((n - 1) % 4)),
					 h);
		}
		assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	}
	assert_true(n > 65536);
	assert_int_equal(f->q.last_avail, (uint16_t)n);
	assert_int_equal(f->q.used_idx, (uint16_t)n);
}

static void test_event_idx_notify(void **state)
{
	struct fx *f = *state;
	const uint64_t used_event = AVAIL + 4 + 2 * 8;
	const uint64_t avail_event = USED + 4 + 8 * 8;

	qinit(f, 8, true, false);
	assert_false(virtq_should_notify(&f->q)); /* nothing pushed */
	put16(f, used_event, 0);
	virtq_push(&f->q, 0, 0); /* used idx 0 -> 1 passes 0 */
	assert_true(virtq_should_notify(&f->q));
	virtq_push(&f->q, 0, 0); /* 1 -> 2 does not */
	assert_false(virtq_should_notify(&f->q));
	put16(f, used_event, 3);
	virtq_push(&f->q, 0, 0);
	virtq_push(&f->q, 0, 0); /* 2 -> 4 passes 3 */
	assert_true(virtq_should_notify(&f->q));
	assert_false(virtq_should_notify(&f->q));
	put16(f, used_event, 10);
	virtq_push(&f->q, 0, 0); /* 4 -> 5: not yet */
	assert_false(virtq_should_notify(&f->q));
	/* NO_INTERRUPT means nothing with EVENT_IDX. */
	put16(f, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	put16(f, used_event, 5);
	virtq_push(&f->q, 0, 0);
	assert_true(virtq_should_notify(&f->q));
	/* Across the 16-bit wrap: 65534 -> 2 passes 65535 and 1. */
	f->q.used_idx = f->q.signalled_used = 65534;
	put16(f, used_event, 65535);
	for (int i = 0; i < 4; i++)
		virtq_push(&f->q, 0, 0);
	assert_int_equal(used_idx(f), 2);
	assert_true(virtq_should_notify(&f->q));
	f->q.signalled_used = 65534;
	put16(f, used_event, 2);
	assert_false(virtq_should_notify(&f->q));
	/* Notification suppression is avail_event; flags stay 0. */
	good_chain(f, 1);
	good_chain(f, 2);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	virtq_enable_notify(&f->q);
	assert_int_equal(get16(f, avail_event), 1);
	assert_int_equal(get16(f, USED), 0);
	virtq_disable_notify(&f->q);
	assert_int_equal(get16(f, USED), 0);
	assert_int_equal(get16(f, avail_event), 1);
	assert_true(virtq_has_work(&f->q));
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	virtq_enable_notify(&f->q);
	assert_int_equal(get16(f, avail_event), 2);
	assert_false(virtq_has_work(&f->q));
}

static void test_no_interrupt_flag(void **state)
{
	struct fx *f = *state;

	qinit(f, 8, false, false);
	assert_false(virtq_should_notify(&f->q));
	virtq_push(&f->q, 0, 0);
	assert_true(virtq_should_notify(&f->q));
	assert_false(virtq_should_notify(&f->q)); /* nothing new */
	put16(f, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	virtq_push(&f->q, 0, 0);
	assert_false(virtq_should_notify(&f->q));
	put16(f, AVAIL, 0);
	assert_false(virtq_should_notify(&f->q)); /* counted already */
	virtq_push(&f->q, 0, 0);
	assert_true(virtq_should_notify(&f->q));
	/* The device's side: NO_NOTIFY in the used ring's flags. */
	virtq_disable_notify(&f->q);
	assert_int_equal(get16(f, USED), VIRTQ_USED_F_NO_NOTIFY);
	good_chain(f, 0);
	virtq_enable_notify(&f->q);
	assert_int_equal(get16(f, USED), 0);
	/* The buffer that came while notifications were off is seen. */
	assert_true(virtq_has_work(&f->q));
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_false(virtq_has_work(&f->q));
}

static void test_indirect_chain(void **state)
{
	struct fx *f = *state;
	struct virtq_chain *c = &f->c;

	qinit(f, 8, false, true);
	/* Direct descriptors, then one indirect table ending the chain; the
	 * WRITE flag of the indirect descriptor is ignored (2.7.5.3.2). */
	desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC, 1, TABLE, 3 * 16,
	     VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	desc(f, TABLE, 0, DATA + 0x100, 32, VIRTQ_DESC_F_NEXT, 2);
	desc(f, TABLE, 2, DATA + 0x200, 64,
	     VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(f, TABLE, 1, DATA + 0x300, 128, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, 0);
	assert_int_equal(virtq_pop(&f->q, c), 1);
	assert_int_equal(c->head, 0);
	assert_int_equal(c->nr, 4);
	assert_int_equal(c->nr_out, 2);
	assert_int_equal(c->out_len, 48);
	assert_int_equal(c->in_len, 192);
	assert_ptr_equal(c->buf[1].host, mem_ptr(&f->m, DATA + 0x100, 32));
	assert_ptr_equal(c->buf[2].host, mem_ptr(&f->m, DATA + 0x200, 64));
	assert_ptr_equal(c->buf[3].host, mem_ptr(&f->m, DATA + 0x300, 128));
	assert_true(c->buf[3].writable);
	/* Only an indirect table as the head; an unaligned table is fine. */
	desc(f, DESC, 3, TABLE + 1, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(f, TABLE + 1, 0, DATA, 8, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, 3);
	assert_int_equal(virtq_pop(&f->q, c), 1);
	assert_int_equal(c->nr, 1);
	assert_int_equal(c->in_len, 8);
}

/* A chain of exactly the queue size is fine, one more is not. */
static void test_chain_limits(void **state)
{
	struct fx *f = *state;

	qinit(f, VIRTQ_MAX_SIZE, false, true);
	for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++)
		desc(f, DESC, i, DATA + 16 * i, 16,
		     i + 1 < VIRTQ_MAX_SIZE ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	avail_add(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nr, VIRTQ_MAX_SIZE);
	assert_int_equal(f->c.out_len, 16 * VIRTQ_MAX_SIZE);
	/* The same chain made one longer by closing it into a ring. */
	desc(f, DESC, VIRTQ_MAX_SIZE - 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "more than the queue size");

	/* Indirect entries count toward the queue size too. */
	qinit(f, 4, false, true);
	for (unsigned i = 0; i < 5; i++)
		desc(f, TABLE, i, DATA, 16, VIRTQ_DESC_F_NEXT, i + 1);
	desc(f, TABLE, 3, DATA, 16, 0, 0); /* 4 entries */
	desc(f, DESC, 0, TABLE, 4 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nr, 4);
	desc(f, TABLE, 3, DATA, 16, VIRTQ_DESC_F_NEXT, 4); /* 5 entries */
	desc(f, DESC, 0, TABLE, 5 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "more than the queue size");
	/* 2 direct + 3 indirect = 5 > 4. */
	desc(f, TABLE, 2, DATA, 16, 0, 0);
	desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(f, DESC, 2, TABLE, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "more than the queue size");
}

static void test_bad_loop(void **state)
{
	struct fx *f = *state;

	qinit(f, 8, false, false);
	desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "more than the queue size");
	desc(f, DESC, 4, DATA, 16, VIRTQ_DESC_F_NEXT, 4); /* onto itself */
	avail_add(f, 4);
	expect_bad_chain(f, 4, "more than the queue size");
	/* A loop inside an indirect table. */
	qinit(f, 8, false, true);
	desc(f, DESC, 2, TABLE, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(f, TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(f, TABLE, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	avail_add(f, 2);
	expect_bad_chain(f, 2, "more than the queue size");
}

static void test_bad_next(void **state)
{
	struct fx *f = *state;

	qinit(f, 8, false, true);
	desc(f, DESC, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 8);
	avail_add(f, 1);
	expect_bad_chain(f, 1, "beyond the queue");
	desc(f, DESC, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0xffff);
	avail_add(f, 1);
	expect_bad_chain(f, 1, "beyond the queue");
	/* Inside an indirect table: beyond its entries, not the queue's. */
	desc(f, DESC, 1, TABLE, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(f, TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	avail_add(f, 1);
	expect_bad_chain(f, 1, "beyond the indirect table");
}

static void test_bad_buffer(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{RAM - 8, 16}, /* runs off the end of RAM */
		{RAM, 1},
		{1ull << 40, 16},
		{UINT64_MAX - 7, 16}, /* wraps around */
		{DATA, 0xffffffff},
	};

	qinit(f, 8, false, false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		desc(f, DESC, 3, bad[i].addr, bad[i].len, 0, 0);
		avail_add(f, 3);
		expect_bad_chain(f, 3, "buffer at");
		/* Also as the second buffer of a chain. */
		desc(f, DESC, 2, DATA, 16, VIRTQ_DESC_F_NEXT, 3);
		avail_add(f, 2);
		expect_bad_chain(f, 2, "buffer at");
	}
	/* The last byte of RAM is fine. */
	desc(f, DESC, 3, RAM - 1, 1, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, 3);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_ptr_equal(f->c.buf[0].host, mem_ptr(&f->m, RAM - 1, 1));
}

static void test_bad_order(void **state)
{
	struct fx *f = *state;

	qinit(f, 8, false, true);
	desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC, 1, DATA, 16, 0, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "readable buffer after");
	/* Across the step into an indirect table. */
	desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(f, TABLE, 0, DATA, 16, 0, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "readable buffer after");
}

static void test_bad_indirect(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad_len[] = {
		0, 8, 24, 16 * (VIRTQ_MAX_SIZE + 1), 0xfffffff0,
	};

	/* Not negotiated. */
	qinit(f, 8, false, false);
	desc(f, TABLE, 0, DATA, 16, 0, 0);
	desc(f, DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "not negotiated");

	qinit(f, 8, false, true);
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		desc(f, DESC, 0, TABLE, bad_len[i], VIRTQ_DESC_F_INDIRECT, 0);
		avail_add(f, 0);
		expect_bad_chain(f, 0, "indirect table of");
	}
	/* The table itself outside RAM. */
	desc(f, DESC, 0, RAM - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "indirect table at");
	/* INDIRECT with NEXT. */
	desc(f, DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
	     1);
	desc(f, DESC, 1, DATA, 16, 0, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "with NEXT");
	/* A table in a table. */
	desc(f, DESC, 0, TABLE, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(f, TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(f, TABLE, 1, TABLE2, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(f, TABLE2, 0, DATA, 16, 0, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "inside an indirect table");
	/* A buffer in the table outside RAM. */
	desc(f, DESC, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(f, TABLE, 0, RAM, 16, 0, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "buffer at");
}

static void test_broken_avail_jump(void **state)
{
	struct fx *f = *state;

	qinit(f, 8, false, false);
	good_chain(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	/* 9 new entries in a ring of 8 cannot be. */
	put16(f, AVAIL + 2, 1 + 9);
	expect_broken(f);
	/* Putting it right does not help: only a reset does. */
	put16(f, AVAIL + 2, 1);
	good_chain(f, 1);
	expect_broken(f);
	qinit(f, 8, false, false);
	good_chain(f, 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	/* Exactly a full ring is fine. */
	for (int i = 0; i < 8; i++)
		good_chain(f, i);
	for (int i = 0; i < 8; i++)
		assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	/* Backwards is a jump of almost 2^16. */
	put16(f, AVAIL + 2, f->q.last_avail - 1);
	expect_broken(f);
}

static void test_broken_head(void **state)
{
	struct fx *f = *state;

	qinit(f, 8, false, false);
	good_chain(f, 0);
	avail_add(f, 8);
	good_chain(f, 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	expect_broken(f);
	assert_int_equal(f->q.last_avail, 1);
}

/* The MMIO hole: guest RAM of 3 GiB + 2 MiB has 2 MiB at 4 GiB.  The
 * mapping is reserved, not touched: the queue reads only its rings. */
static void test_hole(void **state)
{
	const uint64_t size = 3 * GiB + 2 * MiB;
	struct fx *f = *state;
	struct vm_mem big;
	uint8_t *host;

	host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (host == MAP_FAILED)
		skip();
	assert_int_equal(mem_layout(&big, size, host), 0);
	assert_int_equal(big.nr_regions, 2);
	/* Rings in the hole or across it are refused. */
	assert_int_equal(virtq_init(&f->q, &big, 8, 3 * GiB, AVAIL, USED, 0, 0),
			 -EFAULT);
	assert_int_equal(virtq_init(&f->q, &big, 8, DESC, AVAIL, 3 * GiB - 16,
				    0, 0),
			 -EFAULT);
	assert_int_equal(virtq_init(&f->q, &big, 8, DESC, 4 * GiB, USED, 0, 0),
			 0);
	/* The fake driver writes through f->m, so give the test's rings the
	 * same low addresses in the big layout (both start at gpa 0). */
	mem_destroy(&f->m);
	f->m = big;
	qinit(f, 8, false, false);
	/* A buffer running from RAM into the hole. */
	desc(f, DESC, 0, 3 * GiB - 4096, 8192, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "buffer at");
	/* One inside the hole, one across its end. */
	desc(f, DESC, 0, 0xfee00000, 4, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "buffer at");
	desc(f, DESC, 0, 4 * GiB - 8, 16, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "buffer at");
	/* Either side of it is RAM. */
	desc(f, DESC, 0, 3 * GiB - 4096, 4096, VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC, 1, 4 * GiB, 2 * MiB, VIRTQ_DESC_F_WRITE, 0);
	avail_add(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_ptr_equal(f->c.buf[0].host, host + 3 * GiB - 4096);
	assert_ptr_equal(f->c.buf[1].host, host + 3 * GiB);
	assert_int_equal(f->c.in_len, 2 * MiB);
	/* Buffers may overlap, but not add up to 4 GiB (2.7.5.2). */
	desc(f, DESC, 0, 0, 3 * GiB - 4096, VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC, 1, 4096, 3 * GiB - 4096, 0, 0);
	avail_add(f, 0);
	expect_bad_chain(f, 0, "4 GiB or more");
	/* teardown() unmaps it as f->m. */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_rejects, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pop_chain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_push_used, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wraparound, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_notify, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_indirect_chain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chain_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_buffer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_indirect, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_broken_avail_jump, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_broken_head, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hole, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtq", tests, NULL, NULL);
}
