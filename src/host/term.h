/* The host terminal as the guest's console: raw mode on a tty (restored on
 * every way out, crashes included), non-blocking reads, and the Ctrl-A
 * escape: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
#ifndef MINIVMM_HOST_TERM_H
#define MINIVMM_HOST_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TERM_ESCAPE 0x01 /* Ctrl-A */
#define TERM_QUIT 'x'

/* The escape state machine, kept apart so it can be tested alone. */
struct term_esc {
	bool pending; /* a Ctrl-A was the last byte seen */
};

struct term {
	int fd;
	bool is_tty; /* raw mode and escape processing only on a tty */
	bool eof;    /* input ended: stop polling fd */
	struct term_esc esc;
};

/* Pure: turns @n input bytes into guest bytes in @out, which must hold
 * n + 1 bytes (a Ctrl-A held from the last call plus every byte).  Returns
 * how many were written; on Ctrl-A x sets *quit and ignores the rest. */
size_t term_escape(struct term_esc *st, const uint8_t *in, size_t n,
		   uint8_t *out, bool *quit);

/* Opens @in_fd as the console.  On a tty: raw mode except output
 * processing (\n -> \r\n), restored by term_restore(), at exit, and on a
 * crash signal.  Anything else (pipe, file) is used as is, without escape
 * processing so binary input passes through.  The fd's flags are left
 * alone: O_NONBLOCK would also hit stdout when both share a tty.
 * Returns 0, -EBUSY if a terminal is already open, or -errno. */
int term_open(struct term *t, int in_fd);

/* Reads what is available without blocking (on a tty at most len - 1
 * bytes, leaving room for the escape expansion; @len must be at least 2).  Returns the bytes
 * for the guest (possibly 0: nothing to read, or only a held Ctrl-A), sets
 * *quit on Ctrl-A x and t->eof at end of input, or returns -errno. */
ssize_t term_read(struct term *t, uint8_t *buf, size_t len, bool *quit);

/* Puts the tty back as term_open found it; idempotent and async-signal-
 * safe.  Call it before printing anything after the VM stops. */
void term_restore(void);

#endif
