/* Token buckets for the devices' rate limiters, with Firecracker's
 * semantics (its RateLimiter: a bandwidth and an ops bucket).
 *
 * A bucket holds up to @size tokens and refills continuously at @size
 * tokens per @refill_time_ms; it starts full.  @one_time_burst is an extra
 * budget, used before the bucket and never refilled.  A request of more
 * tokens than the bucket holds passes when the bucket is full (Firecracker's
 * over-consumption): the bucket is emptied and the rest is a debt that the
 * refill pays first, so later requests wait for it.  A zero size or
 * refill_time turns the bucket off (everything passes).
 *
 * Pure: the caller passes the time (ns of CLOCK_MONOTONIC, or a test's
 * clock); no locks, no allocation.  The arithmetic is 128-bit and cannot
 * overflow for any size and refill time up to INT64_MAX. */
#ifndef MINIVMM_HOST_TOKEN_BUCKET_H
#define MINIVMM_HOST_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest size, burst or refill time accepted (Firecracker's JSON
 * takes these as int64). */
#define TOKEN_BUCKET_MAX ((uint64_t)INT64_MAX)

/* What the configuration says about one bucket. */
struct token_bucket_config {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

/* A rate limiter: both buckets, as the options of a drive, an interface's
 * direction or the entropy device carry it.  All zeroes: no limit. */
struct throttle_config {
	struct token_bucket_config bw;	/* bytes */
	struct token_bucket_config ops; /* requests */
};

struct token_bucket {
	uint64_t size;	    /* 0: off */
	uint64_t refill_ns; /* for @size tokens; 0: off */
	uint64_t budget;    /* <= size */
	uint64_t burst;	    /* one_time_burst left */
	uint64_t debt;	    /* over-consumed, paid before the budget grows */
	uint64_t last_ns;   /* refilled up to here */
	uint64_t carry; /* a fraction of a token, in token-ns (< refill_ns) */
};

void token_bucket_init(struct token_bucket *b,
		       const struct token_bucket_config *c, uint64_t now_ns);
bool token_bucket_on(const struct token_bucket *b);
/* How long (ns) until token_bucket_take(@n) succeeds: 0 if it would now. */
uint64_t token_bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now_ns);
/* Takes @n tokens if token_bucket_wait() is 0 (then true); else takes
 * nothing and returns false. */
bool token_bucket_take(struct token_bucket *b, uint64_t n, uint64_t now_ns);

/* A bandwidth and an ops bucket. */
struct throttle {
	struct token_bucket bw, ops;
};

void throttle_init(struct throttle *t, const struct throttle_config *c,
		   uint64_t now_ns);
bool throttle_on(const struct throttle *t);
/* Whether @c limits anything (a bucket with a size and a refill time). */
bool throttle_config_on(const struct throttle_config *c);
/* One request of @bytes: 0 if both buckets let it pass (the tokens are
 * taken), else the ns until they will (nothing is taken). */
uint64_t throttle_take(struct throttle *t, uint64_t bytes, uint64_t now_ns);

/* Parses the value of a bucket option, "SIZE/MS" or "SIZE/MS+BURST"
 * (decimal, each at most TOKEN_BUCKET_MAX), into @c.  -EINVAL with a
 * message naming @opt ("--drive: bw") and the value. */
int token_bucket_parse(const char *opt, const char *val, size_t len,
		       struct token_bucket_config *c);

/* Parses "bw=BYTES/MS[+BURST][,iops=N/MS[+BURST]]" (either or both, in
 * any order) into @c (zeroed first).  -EINVAL with a message naming @opt
 * ("--rng") for an unknown key, a key given twice or a bad value. */
int throttle_parse(const char *opt, const char *arg, struct throttle_config *c);

/* Arms the timerfd @fd (CLOCK_MONOTONIC) to expire @ns from now, unless
 * it is armed to expire sooner (one timer serves every request a device
 * holds: the earliest wins, and each retry arms it again); @ns 0 disarms
 * it. */
void throttle_timer_arm(int fd, uint64_t ns);

/* CLOCK_MONOTONIC in ns. */
uint64_t throttle_now_ns(void);

#endif
