/* Token buckets: the refill is computed from the time passed, never by a
 * timer; the device arms a timer only for how long token_bucket_wait()
 * says.  See token_bucket.h. */
#include "token_bucket.h"
#include "../err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>

typedef unsigned __int128 u128;

#define NS_PER_MS 1000000ull

void token_bucket_init(struct token_bucket *b,
		       const struct token_bucket_config *c, uint64_t now_ns)
{
	memset(b, 0, sizeof(*b));
	if (!c->size || !c->refill_time_ms)
		return; /* off */
	b->size = c->size < TOKEN_BUCKET_MAX ? c->size : TOKEN_BUCKET_MAX;
	/* A refill time past 584 years is as good as never. */
	b->refill_ns = c->refill_time_ms > UINT64_MAX / NS_PER_MS
			       ? UINT64_MAX
			       : c->refill_time_ms * NS_PER_MS;
	b->budget = b->size; /* starts full */
	b->burst = c->one_time_burst;
	b->last_ns = now_ns;
}

bool token_bucket_on(const struct token_bucket *b)
{
	return b->size && b->refill_ns;
}

/* Adds the whole tokens the time since last_ns made: first to the debt,
 * then to the budget, up to size.  The fraction of a token left over is
 * kept exactly (carry, in token-ns: tokens * refill_ns), so that many
 * short intervals refill as much as one long one. */
static void token_bucket_refill(struct token_bucket *b, uint64_t now_ns)
{
	uint64_t t, want;
	u128 acc;

	if (now_ns <= b->last_ns)
		return;
	/* delta < 2^64, size < 2^63, carry < refill_ns < 2^64: fits. */
	acc = (u128)(now_ns - b->last_ns) * b->size + b->carry;
	b->last_ns = now_ns;
	/* debt and size are at most INT64_MAX: no overflow. */
	want = b->debt + (b->size - b->budget);
	if (acc / b->refill_ns >= want) {
		b->debt = 0;
		b->budget = b->size;
		b->carry = 0;
		return;
	}
	t = (uint64_t)(acc / b->refill_ns);
	b->carry = (uint64_t)(acc % b->refill_ns);
	if (t >= b->debt) {
		b->budget += t - b->debt;
		b->debt = 0;
	} else {
		b->debt -= t;
	}
}

uint64_t token_bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	uint64_t want;
	u128 ns;

	if (!token_bucket_on(b))
		return 0;
	token_bucket_refill(b, now_ns);
	if (n <= b->burst)
		return 0;
	n -= b->burst;
	if (n <= b->budget)
		return 0;
	if (n > b->size && b->budget == b->size)
		return 0; /* over-consumption from a full bucket */
	/* The tokens still to come: the debt, then the budget up to @n, or
	 * up to full for a request bigger than the bucket. */
	want = b->debt + ((n > b->size ? b->size : n) - b->budget);
	/* want < 2^64, refill_ns < 2^64; carry < refill_ns <= the product. */
	ns = ((u128)want * b->refill_ns - b->carry + b->size - 1) / b->size;
	if (now_ns < b->last_ns) /* the clock went back: wait as from last */
		ns += b->last_ns - now_ns;
	return ns > UINT64_MAX ? UINT64_MAX : ns ? (uint64_t)ns : 1;
}

bool token_bucket_take(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	if (token_bucket_wait(b, n, now_ns))
		return false;
	if (!token_bucket_on(b))
		return true;
	if (n <= b->burst) {
		b->burst -= n;
		return true;
	}
	n -= b->burst;
	b->burst = 0;
	if (n <= b->budget) {
		b->budget -= n;
		return true;
	}
	/* Over-consumption: the bucket is full (token_bucket_wait). */
	n -= b->budget;
	b->budget = 0;
	b->debt = n < TOKEN_BUCKET_MAX ? n : TOKEN_BUCKET_MAX;
	return true;
}

void throttle_init(struct throttle *t, const struct throttle_config *c,
		   uint64_t now_ns)
{
	token_bucket_init(&t->bw, &c->bw, now_ns);
	token_bucket_init(&t->ops, &c->ops, now_ns);
}

bool throttle_on(const struct throttle *t)
{
	return token_bucket_on(&t->bw) || token_bucket_on(&t->ops);
}

bool throttle_config_on(const struct throttle_config *c)
{
	return (c->bw.size && c->bw.refill_time_ms) ||
	       (c->ops.size && c->ops.refill_time_ms);
}

uint64_t throttle_take(struct throttle *t, uint64_t bytes, uint64_t now_ns)
{
	uint64_t wb = token_bucket_wait(&t->bw, bytes, now_ns);
	uint64_t wo = token_bucket_wait(&t->ops, 1, now_ns);

	if (wb || wo)
		return wb > wo ? wb : wo;
	token_bucket_take(&t->bw, bytes, now_ns);
	token_bucket_take(&t->ops, 1, now_ns);
	return 0;
}

/* A decimal number of @len bytes at @s, 1..TOKEN_BUCKET_MAX (0 allowed
 * if @zero_ok). */
static int tb_number(const char *s, size_t len, bool zero_ok, uint64_t *out)
{
	uint64_t v = 0;

	if (!len || len > 19)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > TOKEN_BUCKET_MAX || (!v && !zero_ok))
		return -EINVAL;
	*out = v;
	return 0;
}

int token_bucket_parse(const char *opt, const char *val, size_t len,
		       struct token_bucket_config *c)
{
	const char *slash = memchr(val, '/', len);
	const char *plus = memchr(val, '+', len);
	struct token_bucket_config t = {0};
	size_t n1, n2;

	if (!slash || (plus && plus < slash))
		goto bad;
	n1 = (size_t)(slash - val);
	n2 = (plus ? (size_t)(plus - slash) : len - n1) - 1;
	if (tb_number(val, n1, false, &t.size) ||
	    tb_number(slash + 1, n2, false, &t.refill_time_ms))
		goto bad;
	if (plus && tb_number(plus + 1, len - (size_t)(plus + 1 - val), true,
			      &t.one_time_burst))
		goto bad;
	*c = t;
	return 0;
bad:
	return err_set(
		-EINVAL,
		"%s=%.*s: expected SIZE/MS or SIZE/MS+BURST: SIZE tokens every MS milliseconds (each 1 to %llu), BURST extra tokens once",
		opt, (int)(len > 64 ? 64 : len), val,
		(unsigned long long)TOKEN_BUCKET_MAX);
}

int throttle_parse(const char *opt, const char *arg, struct throttle_config *c)
{
	char what[64];
	unsigned seen = 0;

	memset(c, 0, sizeof(*c));
	for (const char *item = arg;; item++) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);
		bool bw = len >= 3 && !memcmp(item, "bw=", 3);
		bool ops = len >= 5 && !memcmp(item, "iops=", 5);
		int ret;

		if (!bw && !ops)
			return err_set(
				-EINVAL,
				"%s: unknown key '%.*s': expected bw=BYTES/MS or iops=N/MS",
				opt, (int)(len > 32 ? 32 : len), item);
		if (seen & (bw ? 1u : 2u))
			return err_set(-EINVAL, "%s: '%s' given twice", opt,
				       bw ? "bw" : "iops");
		seen |= bw ? 1u : 2u;
		snprintf(what, sizeof(what), "%s: %s", opt, bw ? "bw" : "iops");
		ret = token_bucket_parse(what, item + (bw ? 3 : 5),
					 len - (bw ? 3 : 5),
					 bw ? &c->bw : &c->ops);
		if (ret)
			return ret;
		if (!comma)
			return 0;
		item = comma;
	}
}

void throttle_timer_arm(int fd, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(ns / 1000000000u),
			     .tv_nsec = (long)(ns % 1000000000u)},
	};
	struct itimerspec cur;

	if (ns && !timerfd_gettime(fd, &cur) &&
	    (cur.it_value.tv_sec || cur.it_value.tv_nsec) &&
	    (uint64_t)cur.it_value.tv_sec * 1000000000u +
			    (uint64_t)cur.it_value.tv_nsec <=
		    ns)
		return;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		/* cannot fail for a valid fd and time */
	}
}

uint64_t throttle_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
