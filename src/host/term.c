/* Raw-mode terminal handling for the console and its Ctrl-A escape.  The
 * saved termios is global because a crash handler must restore it. */
#include "term.h"
#include "../err.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios term_saved;
static int term_saved_fd = -1;
static volatile sig_atomic_t term_raw; /* 1 while the tty is in raw mode */
static bool term_atexit_done;

/* The signals that kill us without running atexit handlers. */
static const int term_crash_signals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE,
					 SIGILL};

size_t term_escape(struct term_esc *st, const uint8_t *in, size_t n,
		   uint8_t *out, bool *quit)
{
	size_t o = 0;

	*quit = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];

		if (!st->pending) {
			if (c == TERM_ESCAPE)
				st->pending = true;
			else
				out[o++] = c;
			continue;
		}
		st->pending = false;
		if (c == TERM_QUIT) {
			*quit = true;
			break;
		}
		/* Ctrl-A Ctrl-A is one Ctrl-A; anything else was not an
		 * escape, so the guest gets both bytes. */
		out[o++] = TERM_ESCAPE;
		if (c != TERM_ESCAPE)
			out[o++] = c;
	}
	return o;
}

void term_restore(void)
{
	/* Only tcsetattr() here: this runs in signal handlers too. */
	if (!term_raw)
		return;
	term_raw = 0;
	tcsetattr(term_saved_fd, TCSANOW, &term_saved);
}

static void term_atexit(void)
{
	term_restore();
}

static void term_crash(int sig)
{
	int saved_errno = errno;

	term_restore();
	/* SA_RESETHAND made the action the default again: the re-raised
	 * signal (or the re-executed faulting instruction) now kills us
	 * with the usual status and core dump. */
	raise(sig);
	errno = saved_errno;
}

/* atexit once; the crash handlers on every open, since SA_RESETHAND and
 * anything else installing handlers (a test framework) may have replaced
 * them since. */
static int term_install_hooks(void)
{
	struct sigaction sa;

	if (!term_atexit_done) {
		if (atexit(term_atexit))
			return err_set(-ENOMEM, "atexit: cannot register the "
						"terminal restore handler");
		term_atexit_done = true;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = term_crash;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(term_crash_signals) / sizeof(int); i++) {
		if (sigaction(term_crash_signals[i], &sa, NULL))
			return err_set(-errno, "sigaction: %s",
				       strerror(errno));
	}
	return 0;
}

int term_open(struct term *t, int in_fd)
{
	struct termios raw;
	int ret;

	memset(t, 0, sizeof(*t));
	t->fd = in_fd;
	if (!isatty(in_fd))
		return 0;
	if (term_raw)
		return err_set(-EBUSY, "the terminal is already in raw mode; "
				       "close the other console first");
	if (tcgetattr(in_fd, &term_saved))
		return err_set(-errno, "tcgetattr on fd %d: %s", in_fd,
			       strerror(errno));
	ret = term_install_hooks();
	if (ret)
		return ret;
	raw = term_saved;
	cfmakeraw(&raw);
	/* The guest's console may send bare \n; keep the host's screen
	 * readable. */
	raw.c_oflag |= OPOST | ONLCR;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	term_saved_fd = in_fd;
	term_raw = 1;
	if (tcsetattr(in_fd, TCSANOW, &raw)) {
		ret = -errno;
		term_raw = 0;
		return err_set(ret, "cannot put the terminal in raw mode: %s",
			       strerror(-ret));
	}
	t->is_tty = true;
	return 0;
}

ssize_t term_read(struct term *t, uint8_t *buf, size_t len, bool *quit)
{
	struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
	uint8_t in[4096];
	size_t want = t->is_tty ? len - 1 : len;
	ssize_t n;
	int r;

	*quit = false;
	if (len < 2)
		return err_set(-EINVAL,
			       "term_read: buffer of %zu bytes; pass "
			       "at least 2",
			       len);
	if (t->eof)
		return 0;
	r = poll(&pfd, 1, 0);
	if (r < 0)
		return errno == EINTR
			       ? 0
			       : err_set(-errno, "poll: %s", strerror(errno));
	if (r == 0)
		return 0;
	if (want > sizeof(in))
		want = sizeof(in);
	n = read(t->fd, t->is_tty ? in : buf, want);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		/* A hung-up tty reads EIO: that is the end of input too. */
		if (errno == EIO) {
			t->eof = true;
			return 0;
		}
		return err_set(-errno, "reading the console: %s",
			       strerror(errno));
	}
	if (n == 0) {
		t->eof = true;
		return 0;
	}
	if (!t->is_tty)
		return n;
	return (ssize_t)term_escape(&t->esc, in, (size_t)n, buf, quit);
}
