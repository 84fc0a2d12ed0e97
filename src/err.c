/* Thread-local error messages and the rate limiter used for guest-triggered
 * log lines. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static _Thread_local char err_buf[512];

int err_set(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	return err;
}

const char *err_msg(void)
{
	return err_buf;
}

void err_clear(void)
{
	err_buf[0] = '\0';
}

uint64_t time_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool ratelimit_allow(struct ratelimit *rl, unsigned long *suppressed)
{
	uint64_t now = time_now_ns();
	bool ok = false;

	while (__atomic_exchange_n(&rl->lock, 1, __ATOMIC_ACQUIRE))
		;
	if (!rl->burst)
		rl->burst = 10;
	if (!rl->last_ns) {
		rl->last_ns = now;
		rl->tokens = rl->burst;
	}
	if (now - rl->last_ns >= 1000000000ull) {
		rl->last_ns = now;
		rl->tokens = rl->tokens < rl->burst ? rl->tokens + 1
						    : rl->burst;
	}
	*suppressed = 0;
	if (rl->tokens) {
		rl->tokens--;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
		ok = true;
	} else {
		rl->suppressed++;
	}
	__atomic_store_n(&rl->lock, 0, __ATOMIC_RELEASE);
	return ok;
}
