/* One-line error messages.  A failing function records what went wrong and
 * what to do about it with err_set(), returns -errno, and only main() prints
 * the message and picks the exit status. */
#ifndef MINIVMM_ERR_H
#define MINIVMM_ERR_H

#include <stdbool.h>
#include <stdint.h>

/* Records the message (thread-local) and returns @err, which is -errno. */
int err_set(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread, "" if none. */
const char *err_msg(void);
void err_clear(void);

/* A token bucket for log lines a guest can trigger: at most @burst lines, then
 * one more per second; what is dropped is counted and reported later. */
struct ratelimit {
	uint64_t last_ns;
	unsigned tokens;
	unsigned burst;
	unsigned long suppressed;
	int lock;
};

bool ratelimit_allow(struct ratelimit *rl, unsigned long *suppressed);
uint64_t time_now_ns(void);

#endif
