/* Unit tests for the prefault policy ("ahead": which chunk of guest RAM to
 * fault in next) and for the thread on a real mapping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "mem.h"
#include "prefault.h"

#include <string.h>
#include <unistd.h>

#define NR 64

struct sim {
	uint8_t chunk[NR];
	uint8_t fresh[NR];
	struct fault_ahead fa;
};

/* A policy with chunks [lo, hi) resident at the start. */
static void sim_init(struct sim *s, int lo, int hi)
{
	memset(s, 0, sizeof(*s));
	for (int c = lo; c < hi; c++)
		s->chunk[c] = CHUNK_GUEST;
	fault_ahead_init(&s->fa, s->chunk, NR);
}

/* The guest touches chunks @c... (ends with -1), seen in one scan. */
static void sim_touch(struct sim *s, ...)
{
	va_list ap;
	int c;

	va_start(ap, s);
	while ((c = va_arg(ap, int)) >= 0)
		s->fresh[c] = 1;
	va_end(ap);
	fault_ahead_update(&s->fa, s->fresh);
	for (int i = 0; i < NR; i++)
		assert_int_equal(s->fresh[i], 0);
}

static void test_ahead_upward_stream(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 0, 4);
	/* A chunk on its own is not a stream. */
	sim_touch(&s, 10, -1);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
	/* The next one up is: two chunks ahead, the far one first. */
	sim_touch(&s, 11, -1);
	assert_int_equal(fault_ahead_next(&s.fa), 13);
	assert_int_equal(fault_ahead_next(&s.fa), 12);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
	assert_int_equal(s.fa.outstanding, 2);
	/* The guest went past both: they count as used, the window doubles. */
	sim_touch(&s, 14, -1);
	assert_int_equal(s.chunk[12], CHUNK_PASSED);
	assert_int_equal(s.chunk[13], CHUNK_PASSED);
	assert_int_equal(s.fa.outstanding, 0);
	assert_int_equal(fault_ahead_next(&s.fa), 18);
	assert_int_equal(fault_ahead_next(&s.fa), 17);
	assert_int_equal(fault_ahead_next(&s.fa), 16);
	/* Meeting the thread in the middle: the guest faulted 15 itself
	 * before the thread got to it. */
	sim_touch(&s, 15, -1);
	assert_int_equal(s.fa.head, 15);
	assert_int_equal(s.fa.outstanding, 3);
	assert_int_equal(fault_ahead_next(&s.fa), 19);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
}

static void test_ahead_window_is_capped(void **state)
{
	struct sim s;
	int64_t c, far = 0;

	(void)state;
	sim_init(&s, 0, 1);
	sim_touch(&s, 1, -1);
	/* The guest always passes everything we faulted in. */
	for (int round = 0; round < 6; round++) {
		while ((c = fault_ahead_next(&s.fa)) >= 0)
			far = c > far ? c : far;
		assert_true(s.fa.window <= PREFAULT_WINDOW_MAX);
		assert_true(far - s.fa.head <= PREFAULT_WINDOW_MAX);
		if (far + 1 >= NR)
			break;
		sim_touch(&s, (int)far + 1, -1);
	}
	assert_int_equal(s.fa.window, PREFAULT_WINDOW_MAX);
}

static void test_ahead_downward_stream(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 40, 41);
	sim_touch(&s, 39, -1);
	assert_int_equal(s.fa.dir, -1);
	assert_int_equal(fault_ahead_next(&s.fa), 37);
	assert_int_equal(fault_ahead_next(&s.fa), 38);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
	/* Several chunks in one scan, written downward from resident memory:
	 * taken in that order, past our two. */
	sim_touch(&s, 36, 35, -1);
	assert_int_equal(s.fa.dir, -1);
	assert_int_equal(s.fa.head, 35);
	assert_int_equal(s.fa.outstanding, 0);
}

static void test_ahead_run_direction(void **state)
{
	struct sim s;

	(void)state;
	/* A run ending next to resident memory above it went downward. */
	sim_init(&s, 30, 31);
	sim_touch(&s, 27, 28, 29, -1);
	assert_int_equal(s.fa.dir, -1);
	assert_int_equal(s.fa.head, 27);
	/* A run on its own is taken as going upward. */
	sim_init(&s, 0, 1);
	sim_touch(&s, 20, 21, 22, -1);
	assert_int_equal(s.fa.dir, 1);
	assert_int_equal(s.fa.head, 22);
}

static void test_ahead_new_stream_wins(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 0, 1);
	sim_touch(&s, 10, 11, -1);
	assert_int_equal(fault_ahead_next(&s.fa), 13);
	/* In one scan: the old stream moves on and a new one starts; the new
	 * one is followed from then on. */
	sim_touch(&s, 12, 40, 41, -1);
	assert_int_equal(s.fa.dir, 1);
	assert_int_equal(s.fa.head, 41);
	assert_int_equal(s.fa.window, PREFAULT_WINDOW_MIN);
	/* 13 stays outstanding: the guest was not seen past it. */
	assert_int_equal(s.chunk[13], CHUNK_AHEAD);
	assert_int_equal(s.fa.outstanding, 1);
}

static void test_ahead_gap_is_not_a_stream(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 0, 1);
	s.chunk[30] = s.chunk[32] = CHUNK_GUEST;
	sim_touch(&s, 31, -1);
	assert_int_equal(s.fa.dir, 0);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
}

static void test_ahead_budget(void **state)
{
	struct sim s;
	int64_t c;
	unsigned total = 0;

	(void)state;
	sim_init(&s, 0, 1);
	/* Streams that stop at once: what we faulted in for them is never
	 * reached, and the budget caps it. */
	for (int start = 2; start + 2 < NR; start += 6) {
		sim_touch(&s, start, start + 1, -1);
		while ((c = fault_ahead_next(&s.fa)) >= 0)
			total++;
		assert_true(s.fa.outstanding <= PREFAULT_BUDGET);
	}
	assert_int_equal(total, PREFAULT_BUDGET);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
}

static void test_ahead_edges(void **state)
{
	struct sim s;

	(void)state;
	/* A stream at the top of RAM has nothing ahead of it. */
	sim_init(&s, NR - 3, NR - 2);
	sim_touch(&s, NR - 2, NR - 1, -1);
	assert_int_equal(s.fa.dir, 1);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
	/* Nor one going down at the bottom. */
	sim_init(&s, 2, 3);
	sim_touch(&s, 1, 0, -1);
	assert_int_equal(s.fa.dir, -1);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
	/* Going down from chunk 1: only chunk 0 is ahead. */
	sim_init(&s, 2, 3);
	sim_touch(&s, 1, -1);
	assert_int_equal(fault_ahead_next(&s.fa), 0);
	assert_int_equal(fault_ahead_next(&s.fa), -1);
}

/* Waits up to 5 s for @pred bytes of @m to be resident. */
static bool wait_resident(const struct vm_mem *m, uint64_t bytes)
{
	for (int i = 0; i < 500; i++) {
		if (mem_resident(m) >= bytes)
			return true;
		usleep(10000);
	}
	return false;
}

static void test_thread_all(void **state)
{
	struct prefault pf;
	struct vm_mem m;
	uint8_t *p;

	(void)state;
	memset(&pf, 0, sizeof(pf));
	assert_int_equal(mem_init(&m, 8 * MEM_HOST_ALIGN), 0);
	p = mem_ptr(&m, 3 * MEM_HOST_ALIGN + 5, 1);
	*p = 0xa5;
	assert_int_equal(prefault_start(&pf, &m, PREFAULT_ALL, 0x1000, NULL),
			 0);
	assert_true(wait_resident(&m, m.size));
	prefault_stop(&pf);
	prefault_stop(&pf); /* twice is fine */
	assert_int_equal(pf.done, m.size);
	assert_int_equal(*p, 0xa5); /* contents untouched */
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 7 * MEM_HOST_ALIGN, 1), 0);
	mem_destroy(&m);
}

static void test_thread_ahead(void **state)
{
	struct prefault pf;
	struct vm_mem m;

	(void)state;
	memset(&pf, 0, sizeof(pf));
	assert_int_equal(mem_init(&m, 32 * MEM_HOST_ALIGN), 0);
	/* Resident before the thread starts: no stream. */
	*(uint8_t *)mem_ptr(&m, 0, 1) = 1;
	assert_int_equal(prefault_start(&pf, &m, PREFAULT_AHEAD, 0, NULL), 0);
	usleep(20000);
	/* A "guest" writing upward from chunk 10: the thread follows. */
	*(uint8_t *)mem_ptr(&m, 10 * MEM_HOST_ALIGN, 1) = 1;
	usleep(20000);
	*(uint8_t *)mem_ptr(&m, 11 * MEM_HOST_ALIGN + 4096, 1) = 1;
	assert_true(wait_resident(&m, 3 * 4096 + 2 * MEM_HOST_ALIGN));
	prefault_stop(&pf);
	assert_int_equal(pf.done, 2 * MEM_HOST_ALIGN);
	assert_int_equal(pf.unused, 2 * MEM_HOST_ALIGN);
	/* Chunk 12 and 13, and nothing else. */
	assert_non_null(mem_ptr(&m, 13 * MEM_HOST_ALIGN, 1));
	assert_true(mem_resident(&m) <= 4 * MEM_HOST_ALIGN);
	mem_destroy(&m);
}

static void test_thread_none(void **state)
{
	struct prefault pf;
	struct vm_mem m;

	(void)state;
	memset(&pf, 0, sizeof(pf));
	assert_int_equal(mem_init(&m, 4 * MEM_HOST_ALIGN), 0);
	assert_int_equal(prefault_start(&pf, &m, PREFAULT_NONE, 0, NULL), 0);
	assert_false(pf.running);
	prefault_stop(&pf);
	mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ahead_upward_stream),
		cmocka_unit_test(test_ahead_window_is_capped),
		cmocka_unit_test(test_ahead_downward_stream),
		cmocka_unit_test(test_ahead_run_direction),
		cmocka_unit_test(test_ahead_new_stream_wins),
		cmocka_unit_test(test_ahead_gap_is_not_a_stream),
		cmocka_unit_test(test_ahead_budget),
		cmocka_unit_test(test_ahead_edges),
		cmocka_unit_test(test_thread_all),
		cmocka_unit_test(test_thread_ahead),
		cmocka_unit_test(test_thread_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
