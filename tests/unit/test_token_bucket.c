/* Unit tests of the rate limiters' token buckets on a fake clock: the
 * continuous refill, the one-time burst, over-consumption and its debt,
 * zero meaning off, a long idle time, huge values, and the option syntax. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "host/token_bucket.h"
#include "err.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MS 1000000ull
#define S (1000 * MS)

static void bucket(struct token_bucket *b, uint64_t size, uint64_t burst,
		   uint64_t refill_ms, uint64_t now)
{
	struct token_bucket_config c = {size, burst, refill_ms};

	token_bucket_init(b, &c, now);
}

static void test_starts_full_and_refills(void **state)
{
	struct token_bucket b;
	uint64_t t = 5 * S;

	(void)state;
	bucket(&b, 1000, 0, 100, t); /* 1000 tokens per 100 ms */
	assert_true(token_bucket_on(&b));
	assert_true(token_bucket_take(&b, 1000, t));
	assert_false(token_bucket_take(&b, 1, t));
	/* One token per 100 us. */
	assert_int_equal(token_bucket_wait(&b, 1, t), 100000);
	assert_int_equal(token_bucket_wait(&b, 500, t), 50 * MS);
	assert_false(token_bucket_take(&b, 500, t + 50 * MS - 1));
	assert_true(token_bucket_take(&b, 500, t + 50 * MS));
	/* Never above size, however long it waited. */
	assert_true(token_bucket_take(&b, 1, t + 10 * S));
	assert_true(token_bucket_take(&b, 999, t + 10 * S));
	assert_false(token_bucket_take(&b, 1, t + 10 * S));
}

/* Fractions of a token carry over: many tiny steps refill as one big. */
static void test_fractions_carry(void **state)
{
	struct token_bucket b;
	uint64_t t = 0, got = 0;

	(void)state;
	bucket(&b, 3, 0, 1000, t); /* 3 tokens a second */
	assert_true(token_bucket_take(&b, 3, t));
	for (int i = 0; i < 10000; i++) {
		t += 100 * 1000; /* 100 us: 0.0003 token */
		while (token_bucket_take(&b, 1, t))
			got++;
	}
	/* One second: 3 tokens, not fewer. */
	assert_int_equal(got, 3);
}

/* The measured rate over a long run equals size / refill_time. */
static void test_rate(void **state)
{
	struct token_bucket b;
	uint64_t t = 0, got = 0;

	(void)state;
	bucket(&b, 100, 0, 1000, t); /* 100 a second */
	while (t < 10 * S) {
		uint64_t w;

		if (token_bucket_take(&b, 1, t)) {
			got++;
			continue;
		}
		w = token_bucket_wait(&b, 1, t);
		assert_true(w > 0);
		t += w;
	}
	/* The first 100 are the full bucket, then 100 a second. */
	assert_in_range(got, 1099, 1101);
}

static void test_burst(void **state)
{
	struct token_bucket b;

	(void)state;
	bucket(&b, 100, 250, 1000, 0);
	/* The burst first, then the bucket. */
	assert_true(token_bucket_take(&b, 200, 0));
	assert_int_equal(b.budget, 100);
	assert_true(token_bucket_take(&b, 100, 0)); /* 50 burst + 50 */
	assert_int_equal(b.burst, 0);
	assert_int_equal(b.budget, 50);
	assert_true(token_bucket_take(&b, 50, 0));
	assert_false(token_bucket_take(&b, 1, 0));
	/* The burst is never refilled. */
	assert_true(token_bucket_take(&b, 100, 100 * S));
	assert_int_equal(b.burst, 0);
	assert_false(token_bucket_take(&b, 1, 100 * S));
}

/* A request bigger than the bucket passes when it is full; the debt is
 * paid by waiting. */
static void test_over_consumption(void **state)
{
	struct token_bucket b;

	(void)state;
	bucket(&b, 100, 0, 1000, 0);
	assert_true(token_bucket_take(&b, 10, 0));
	/* Not full: a big request waits until it is. */
	assert_int_equal(token_bucket_wait(&b, 250, 0), 100 * MS);
	assert_false(token_bucket_take(&b, 250, 0));
	assert_true(token_bucket_take(&b, 250, 100 * MS));
	assert_int_equal(b.budget, 0);
	assert_int_equal(b.debt, 150);
	/* 150 of debt, then 1 token: 1.51 s. */
	assert_int_equal(token_bucket_wait(&b, 1, 100 * MS), 1510 * MS);
	assert_false(token_bucket_take(&b, 1, 1609 * MS));
	assert_true(token_bucket_take(&b, 1, 1610 * MS));
	assert_int_equal(b.debt, 0);
}

static void test_zero_is_off(void **state)
{
	struct token_bucket b;
	struct throttle t;
	struct throttle_config c = {0};

	(void)state;
	bucket(&b, 0, 10, 100, 0);
	assert_false(token_bucket_on(&b));
	assert_true(token_bucket_take(&b, UINT64_MAX, 0));
	assert_int_equal(token_bucket_wait(&b, UINT64_MAX, 0), 0);
	bucket(&b, 10, 10, 0, 0);
	assert_false(token_bucket_on(&b));
	throttle_init(&t, &c, 0);
	assert_false(throttle_on(&t));
	for (int i = 0; i < 1000; i++)
		assert_int_equal(throttle_take(&t, 1u << 30, 0), 0);
}

/* Days idle, the clock going back, a clock at its end. */
static void test_long_idle_and_clock(void **state)
{
	struct token_bucket b;

	(void)state;
	bucket(&b, 100, 0, 1000, 1 * S);
	assert_true(token_bucket_take(&b, 100, 1 * S));
	assert_true(token_bucket_take(&b, 100, 1 * S + 86400 * S * 365));
	assert_int_equal(b.budget, 0);
	/* An earlier time refills nothing and breaks nothing. */
	assert_false(token_bucket_take(&b, 1, 0));
	assert_true(token_bucket_wait(&b, 1, 0) > 0);
	bucket(&b, 100, 0, 1000, 0);
	assert_true(token_bucket_take(&b, 100, 0));
	assert_true(token_bucket_take(&b, 100, UINT64_MAX));
	assert_int_equal(b.last_ns, UINT64_MAX);
}

static void test_huge_values(void **state)
{
	struct token_bucket b;

	(void)state;
	/* The largest size and refill time: no overflow. */
	bucket(&b, TOKEN_BUCKET_MAX, TOKEN_BUCKET_MAX, TOKEN_BUCKET_MAX, 0);
	assert_true(token_bucket_on(&b));
	assert_true(token_bucket_take(&b, TOKEN_BUCKET_MAX, 0));
	assert_true(token_bucket_take(&b, TOKEN_BUCKET_MAX, 0));
	assert_false(token_bucket_take(&b, 1, 0));
	assert_int_equal(token_bucket_wait(&b, 1, 1), 2);
	assert_true(token_bucket_take(&b, 1, UINT64_MAX));
	/* A size beyond the maximum is clamped; a huge debt saturates. */
	bucket(&b, 1, 0, 1, 0);
	assert_true(token_bucket_take(&b, UINT64_MAX, 0));
	assert_int_equal(b.debt, TOKEN_BUCKET_MAX);
	assert_int_equal(token_bucket_wait(&b, 1, 0), UINT64_MAX);
	/* Fast and big: 2^62 tokens a ns. */
	bucket(&b, 1ull << 62, 0, 1, 0);
	assert_true(token_bucket_take(&b, 1ull << 62, 0));
	assert_int_equal(token_bucket_wait(&b, 1ull << 62, 0), MS);
	assert_true(token_bucket_take(&b, 1ull << 62, MS));
}

static void test_throttle_both(void **state)
{
	struct throttle t;
	struct throttle_config c = {
		.bw = {.size = 4096, .refill_time_ms = 1000},
		.ops = {.size = 2, .refill_time_ms = 1000},
	};

	(void)state;
	throttle_init(&t, &c, 0);
	assert_true(throttle_on(&t));
	assert_int_equal(throttle_take(&t, 1024, 0), 0);
	assert_int_equal(throttle_take(&t, 1024, 0), 0);
	/* Out of ops; bytes are left, and nothing is taken on a wait. */
	assert_int_equal(throttle_take(&t, 1024, 0), 500 * MS);
	assert_int_equal(t.bw.budget, 2048);
	/* A flush: one op, no bytes. */
	assert_int_equal(throttle_take(&t, 0, 500 * MS), 0);
	assert_int_equal(t.bw.budget, 4096);
	/* Bytes are the limit now. */
	assert_int_equal(throttle_take(&t, 4096, 1000 * MS), 0);
	assert_int_equal(throttle_take(&t, 4096, 1000 * MS), 1000 * MS);
}

static void test_parse(void **state)
{
	static const char *const bad[] = {
		"",
		"100",
		"/10",
		"100/",
		"100/0",
		"0/10",
		"-1/10",
		"1/-10",
		"1/10+",
		"1/10+x",
		"1/10+1+2",
		"1/2/3",
		"+1/10",
		"a/10",
		" 1/10",
		"9223372036854775808/1",
		"1/99999999999999999999",
	};
	struct token_bucket_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0xaa, sizeof(c));
		assert_int_equal(token_bucket_parse("--drive: bw", bad[i],
						    strlen(bad[i]), &c),
				 -EINVAL);
		assert_non_null(strstr(err_msg(), "--drive: bw="));
	}
	assert_int_equal(token_bucket_parse("x", "1048576/100", 11, &c), 0);
	assert_int_equal(c.size, 1048576);
	assert_int_equal(c.refill_time_ms, 100);
	assert_int_equal(c.one_time_burst, 0);
	assert_int_equal(token_bucket_parse("x", "10/1000+0", 9, &c), 0);
	assert_int_equal(token_bucket_parse("x", "9223372036854775807/1+5,ro",
					    23, &c),
			 0);
	assert_int_equal(c.size, TOKEN_BUCKET_MAX);
	assert_int_equal(c.one_time_burst, 5);
}

static void test_throttle_parse(void **state)
{
	struct throttle_config c;

	(void)state;
	assert_int_equal(throttle_parse("--rng", "iops=5/100,bw=4096/10+1", &c),
			 0);
	assert_int_equal(c.ops.size, 5);
	assert_int_equal(c.ops.refill_time_ms, 100);
	assert_int_equal(c.bw.size, 4096);
	assert_int_equal(c.bw.refill_time_ms, 10);
	assert_int_equal(c.bw.one_time_burst, 1);
	assert_true(throttle_config_on(&c));
	assert_int_equal(throttle_parse("--rng", "bw=1/1", &c), 0);
	assert_int_equal(c.ops.size, 0);
	assert_int_equal(throttle_parse("--rng", "", &c), -EINVAL);
	assert_non_null(strstr(err_msg(), "--rng: unknown key ''"));
	assert_int_equal(throttle_parse("--rng", "bw=1/1,", &c), -EINVAL);
	assert_int_equal(throttle_parse("--rng", "iops=1/1,iops=1/1", &c),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "'iops' given twice"));
	assert_int_equal(throttle_parse("--rng", "bw=1/0", &c), -EINVAL);
	assert_non_null(strstr(err_msg(), "--rng: bw=1/0: expected"));
	assert_int_equal(throttle_parse("--rng", "ops=1/1", &c), -EINVAL);
}

/* The earliest expiry wins; 0 disarms. */
static void test_timer_arm(void **state)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its;

	(void)state;
	assert_true(fd >= 0);
	throttle_timer_arm(fd, 2 * S);
	throttle_timer_arm(fd, 3 * S); /* later: kept at 2 s */
	assert_int_equal(timerfd_gettime(fd, &its), 0);
	assert_int_equal(its.it_value.tv_sec, 1);
	throttle_timer_arm(fd, 5 * MS); /* sooner: taken */
	assert_int_equal(timerfd_gettime(fd, &its), 0);
	assert_int_equal(its.it_value.tv_sec, 0);
	assert_true(its.it_value.tv_nsec <= (long)(5 * MS));
	throttle_timer_arm(fd, 0);
	assert_int_equal(timerfd_gettime(fd, &its), 0);
	assert_int_equal(its.it_value.tv_sec | its.it_value.tv_nsec, 0);
	/* Expired (read): armed afresh. */
	throttle_timer_arm(fd, 1 * MS);
	{
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t v;

		assert_int_equal(poll(&p, 1, 1000), 1);
		assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	}
	throttle_timer_arm(fd, 4 * S);
	assert_int_equal(timerfd_gettime(fd, &its), 0);
	assert_int_equal(its.it_value.tv_sec, 3);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_full_and_refills),
		cmocka_unit_test(test_fractions_carry),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_over_consumption),
		cmocka_unit_test(test_zero_is_off),
		cmocka_unit_test(test_long_idle_and_clock),
		cmocka_unit_test(test_huge_values),
		cmocka_unit_test(test_throttle_both),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_throttle_parse),
		cmocka_unit_test(test_timer_arm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
