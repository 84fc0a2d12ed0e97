/* Unit tests for the logger: Firecracker's line format (timestamp,
 * [id:thread], :LEVEL and :FILE:LINE when asked), level names, and the
 * level filter on a log file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "host/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fmt(char *buf, int size, enum log_level l, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = log_format(buf, size, 1796076289, 602284305, "fc_api", l, "src/x.c",
		       7, f, ap);
	va_end(ap);
	return n;
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("Error"), LOG_ERROR);
	assert_int_equal(log_level_parse("warning"), LOG_WARNING);
	assert_int_equal(log_level_parse("Warn"), LOG_WARNING);
	assert_int_equal(log_level_parse("INFO"), LOG_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("Off"), LOG_OFF);
	assert_true(log_level_parse("Loud") < 0);
	assert_string_equal(log_level_name(LOG_WARNING), "WARN");
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_format_and_filter(void **state)
{
	char path[] = "/tmp/minivmm-log-XXXXXX", buf[256];
	int fd = mkstemp(path), n;
	const char *text;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	log_set_id("vm_1");
	assert_int_equal(log_open(path, false, false), 0);
	n = fmt(buf, sizeof(buf), LOG_INFO, "hello %d", 42);
	assert_string_equal(
		buf, "2026-11-30T22:04:49.602284305 [vm_1:fc_api] hello 42\n");
	assert_int_equal(n, (int)strlen(buf));
	/* A line too long is cut, and still ends in a newline. */
	n = fmt(buf, 40, LOG_INFO, "%s", "a very long message indeed, longer");
	assert_int_equal(n, 39);
	assert_int_equal(buf[38], '\n');
	assert_int_equal(log_open(path, true, true), 0);
	fmt(buf, sizeof(buf), LOG_WARNING, "x");
	assert_string_equal(
		buf,
		"2026-11-30T22:04:49.602284305 [vm_1:fc_api:WARN:src/x.c:7] x\n");

	log_set_thread("main");
	log_set_level(LOG_WARNING);
	log_write(LOG_ERROR, "an error");
	log_write(LOG_WARNING, "a warning");
	log_write(LOG_INFO, "some info");
	log_set_level(LOG_DEBUG);
	log_write(LOG_DEBUG, "a debug line");
	log_set_level(LOG_OFF);
	log_write(LOG_ERROR, "nothing at all");
	log_close();
	text = slurp(path);
	assert_non_null(
		strstr(text, " [vm_1:main:ERROR:tests/unit/test_log.c:"));
	assert_non_null(strstr(text, "] an error\n"));
	assert_non_null(strstr(text, ":WARN:"));
	assert_non_null(strstr(text, "] a warning\n"));
	assert_null(strstr(text, "some info"));
	assert_non_null(strstr(text, ":DEBUG:"));
	assert_null(strstr(text, "nothing at all"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_format_and_filter),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
