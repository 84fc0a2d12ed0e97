/* Unit tests for the console terminal: the pure Ctrl-A escape machine,
 * pipes (no mode change, no escapes, EOF), and on a pseudo-terminal raw
 * mode and its restoration by term_restore(), exit() and a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "host/term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static size_t esc(struct term_esc *st, const char *in, size_t n, uint8_t *out,
		  bool *quit)
{
	return term_escape(st, (const uint8_t *)in, n, out, quit);
}

static void test_escape_plain(void **state)
{
	struct term_esc st = {0};
	uint8_t out[16];
	bool quit;

	(void)state;
	assert_int_equal(esc(&st, "hello", 5, out, &quit), 5);
	assert_memory_equal(out, "hello", 5);
	assert_false(quit);
	assert_int_equal(esc(&st, "", 0, out, &quit), 0);
	assert_false(quit);
}

static void test_escape_quit(void **state)
{
	struct term_esc st = {0};
	uint8_t out[16];
	bool quit;

	(void)state;
	assert_int_equal(esc(&st, "ab\001xcd", 6, out, &quit), 2);
	assert_true(quit);
	assert_memory_equal(out, "ab", 2);
	assert_false(st.pending);
	/* Split across two reads. */
	assert_int_equal(esc(&st, "z\001", 2, out, &quit), 1);
	assert_false(quit);
	assert_true(st.pending);
	assert_int_equal(esc(&st, "x", 1, out, &quit), 0);
	assert_true(quit);
}

static void test_escape_literal(void **state)
{
	struct term_esc st = {0};
	uint8_t out[16];
	bool quit;

	(void)state;
	/* Ctrl-A Ctrl-A sends one Ctrl-A. */
	assert_int_equal(esc(&st, "\001\001", 2, out, &quit), 1);
	assert_int_equal(out[0], 0x01);
	assert_false(quit);
	/* Ctrl-A then anything else sends both. */
	assert_int_equal(esc(&st, "\001c", 2, out, &quit), 2);
	assert_memory_equal(out, "\001c", 2);
	/* Three Ctrl-As: one sent, one held; then x quits. */
	assert_int_equal(esc(&st, "\001\001\001", 3, out, &quit), 1);
	assert_true(st.pending);
	assert_int_equal(esc(&st, "x", 1, out, &quit), 0);
	assert_true(quit);
	/* The worst case fills n + 1 bytes: a held Ctrl-A plus each byte. */
	assert_int_equal(esc(&st, "\001", 1, out, &quit), 0);
	assert_int_equal(esc(&st, "ab", 2, out, &quit), 3);
	assert_memory_equal(out, "\001ab", 3);
	/* Uppercase X is not the quit key. */
	assert_int_equal(esc(&st, "\001X", 2, out, &quit), 2);
	assert_false(quit);
}

static void test_pipe(void **state)
{
	struct term t;
	uint8_t buf[64];
	bool quit;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(term_open(&t, p[0]), 0);
	assert_false(t.is_tty);
	/* Nothing there: returns at once. */
	assert_int_equal(term_read(&t, buf, sizeof(buf), &quit), 0);
	assert_false(t.eof);
	/* No escape processing on a pipe. */
	assert_int_equal(write(p[1], "a\001xb", 4), 4);
	assert_int_equal(term_read(&t, buf, sizeof(buf), &quit), 4);
	assert_false(quit);
	assert_memory_equal(buf, "a\001xb", 4);
	close(p[1]);
	assert_int_equal(term_read(&t, buf, sizeof(buf), &quit), 0);
	assert_true(t.eof);
	assert_int_equal(term_read(&t, buf, sizeof(buf), &quit), 0);
	assert_int_equal(term_read(&t, buf, 1, &quit), -EINVAL);
	close(p[0]);
}

/* A pseudo-terminal pair; skips the test if the host has none. */
static void open_pty(int *master, int *slave)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY);
	if (*master < 0 || grantpt(*master) || unlockpt(*master))
		skip();
	*slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
	if (*slave < 0)
		skip();
}

static bool is_cooked(int fd)
{
	struct termios tio;

	assert_int_equal(tcgetattr(fd, &tio), 0);
	return (tio.c_lflag & ICANON) && (tio.c_lflag & ECHO);
}

static void test_tty_raw_and_restore(void **state)
{
	struct termios before, raw, after;
	int master, slave;
	struct term t, t2;
	uint8_t buf[64];
	bool quit;
	ssize_t n;

	(void)state;
	open_pty(&master, &slave);
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_true(is_cooked(slave));
	assert_int_equal(term_open(&t, slave), 0);
	assert_true(t.is_tty);
	assert_int_equal(term_open(&t2, slave), -EBUSY);
	assert_int_equal(tcgetattr(slave, &raw), 0);
	assert_int_equal(raw.c_lflag & (ICANON | ECHO | ISIG), 0);
	assert_int_equal(raw.c_iflag & (ICRNL | IXON), 0);
	assert_int_equal(raw.c_oflag & (OPOST | ONLCR), OPOST | ONLCR);
	/* Non-blocking without O_NONBLOCK on the shared file. */
	assert_int_equal(fcntl(slave, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(term_read(&t, buf, sizeof(buf), &quit), 0);

	/* Bytes arrive unprocessed (no CR->NL) and Ctrl-A x quits. */
	assert_int_equal(write(master, "a\r\001\001\001x", 6), 6);
	n = 0;
	for (int i = 0; i < 100 && n == 0; i++) {
		n = term_read(&t, buf, sizeof(buf), &quit);
		if (n == 0 && !quit)
			usleep(1000);
	}
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "a\r\001", 3);
	assert_true(quit);

	term_restore();
	term_restore(); /* idempotent */
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_iflag, before.c_iflag);
	assert_int_equal(after.c_oflag, before.c_oflag);
	/* Open again after a restore. */
	assert_int_equal(term_open(&t2, slave), 0);
	term_restore();
	close(slave);
	close(master);
}

/* In a child: raw mode, then @how (0: exit(), else a signal). */
static void child_then_check(int how)
{
	int master, slave, status;
	pid_t pid;

	open_pty(&master, &slave);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		struct term t;

		setrlimit(RLIMIT_CORE, &no_core);
		if (term_open(&t, slave) || is_cooked(slave))
			_exit(3);
		if (how == 0)
			exit(7);
		if (how == SIGSEGV) {
			/* A real fault (the handler returns into it), and one
			 * the sanitizers don't intercept first. */
			volatile int *p = mmap(NULL, 4096, PROT_READ,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1,
					       0);

			if (p != MAP_FAILED)
				*p = 1;
		}
		raise(how);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (how == 0) {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 7);
	} else {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), how);
	}
	assert_true(is_cooked(slave));
	close(slave);
	close(master);
}

static void test_restore_at_exit(void **state)
{
	(void)state;
	child_then_check(0);
}

static void test_restore_on_crash(void **state)
{
	(void)state;
	child_then_check(SIGABRT);
	child_then_check(SIGSEGV);
	child_then_check(SIGFPE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_plain),
		cmocka_unit_test(test_escape_quit),
		cmocka_unit_test(test_escape_literal),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_tty_raw_and_restore),
		cmocka_unit_test(test_restore_at_exit),
		cmocka_unit_test(test_restore_on_crash),
	};

	return cmocka_run_group_tests_name("term", tests, NULL, NULL);
}
