/* Unit tests for command-line parsing: numbers, sizes, every option, and
 * each way a user can get it wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config.h"

#include <errno.h>
#include <string.h>

#define PARSE(c, ...)                                                          \
	({                                                                     \
		char *argv_[] = {"minivmm", __VA_ARGS__, NULL};                \
		config_parse((c), (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, \
			     argv_);                                           \
	})

static void test_parse_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_u64("0x10000", &v), 0);
	assert_int_equal(v, 0x10000);
	assert_int_equal(parse_u64("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", &v), -EINVAL);
	assert_int_equal(parse_u64("-1", &v), -EINVAL);
	assert_int_equal(parse_u64("+1", &v), -EINVAL);
	assert_int_equal(parse_u64(" 1", &v), -EINVAL);
	assert_int_equal(parse_u64("1 ", &v), -EINVAL);
	assert_int_equal(parse_u64("", &v), -EINVAL);
	assert_int_equal(parse_u64("0x", &v), -EINVAL);
	assert_int_equal(parse_u64("12abc", &v), -EINVAL);
	assert_int_equal(parse_u64(NULL, &v), -EINVAL);
}

static void test_parse_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size("256M", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(parse_size("256", &v), 0); /* MiB, like QEMU -m */
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("2G", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(parse_size("3584MB", &v), 0);
	assert_int_equal(v, 3584ull << 20);
	assert_int_equal(parse_size("1T", &v), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(parse_size("99999999999999999999", &v), -EINVAL);
	assert_int_equal(parse_size("1Q", &v), -EINVAL);
	assert_int_equal(parse_size("1MM", &v), -EINVAL);
	assert_int_equal(parse_size("M", &v), -EINVAL);
	assert_int_equal(parse_size("-1M", &v), -EINVAL);
	assert_int_equal(parse_size("0x10M", &v), -EINVAL);
	assert_int_equal(parse_size("", &v), -EINVAL);
}

static void test_defaults(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(PARSE(&c, "run", "--raw", "vm.bin"), 0);
	assert_int_equal(c.command, CONFIG_RUN);
	assert_string_equal(c.boot.raw_path, "vm.bin");
	assert_null(c.boot.kernel_path);
	assert_int_equal(c.vm.mem_size, 256ull << 20);
	assert_int_equal(c.vm.cpus, 1);
	assert_int_equal(c.boot.mode, CPU_MODE_REAL);
	assert_int_equal(c.boot.load_addr, 0x10000);
	assert_false(c.boot.entry_set);
	assert_false(c.vm.trace_io);
	assert_int_equal(c.vm.max_exits, 0);
	/* The sandbox is on unless --no-seccomp. */
	assert_false(c.vm.no_seccomp);
	assert_int_equal(PARSE(&c, "run", "--raw", "vm.bin", "--no-seccomp"),
			 0);
	assert_true(c.vm.no_seccomp);
	assert_int_not_equal(
		PARSE(&c, "run", "--raw", "vm.bin", "--no-seccomp=yes"), 0);
	/* No boot timer unless --boot-timer. */
	assert_false(c.vm.boot_timer);
	assert_int_equal(PARSE(&c, "run", "--raw", "vm.bin", "--boot-timer"),
			 0);
	assert_true(c.vm.boot_timer);
}

static void test_all_options(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(PARSE(&c, "run", "--raw", "g.bin", "--mode", "long",
			       "--load-addr", "0x200000", "--entry", "0x200010",
			       "--mem", "1G", "--cpus", "4", "--trace-io",
			       "--trace-mmio", "--max-exits", "10", "--stats",
			       "--prefault", "all"),
			 0);
	assert_int_equal(c.boot.mode, CPU_MODE_LONG);
	assert_int_equal(c.boot.load_addr, 0x200000);
	assert_int_equal(c.boot.entry, 0x200010);
	assert_true(c.boot.entry_set);
	assert_int_equal(c.vm.mem_size, 1ull << 30);
	assert_int_equal(c.vm.cpus, 4);
	assert_true(c.vm.trace_io);
	assert_true(c.vm.trace_mmio);
	assert_true(c.vm.stats);
	assert_int_equal(c.vm.prefault, PREFAULT_ALL);
	assert_true(c.prefault_set);
	assert_int_equal(c.vm.max_exits, 10);
	assert_int_equal(PARSE(&c, "run", "--kernel=k.elf", "--mem=512M"), 0);
	assert_string_equal(c.boot.kernel_path, "k.elf");
	assert_int_equal(c.vm.mem_size, 512ull << 20);
	assert_int_equal(PARSE(&c, "run", "--mode", "protected", "--raw", "x"),
			 0);
	assert_int_equal(c.boot.mode, CPU_MODE_PROTECTED);
	/* Not given: main picks by the kind of guest. */
	assert_false(c.prefault_set);
	assert_int_equal(PARSE(&c, "run", "--kernel", "k", "--prefault=ahead"),
			 0);
	assert_int_equal(c.vm.prefault, PREFAULT_AHEAD);
	assert_int_equal(
		PARSE(&c, "run", "--kernel", "k", "--prefault", "none"), 0);
	assert_int_equal(c.vm.prefault, PREFAULT_NONE);
	assert_true(c.prefault_set);
}

static void test_linux_options(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(PARSE(&c, "run", "--kernel", "bzImage", "--initrd",
			       "initrd.img", "--cmdline", "console=ttyS0 quiet",
			       "--serial", "file:/tmp/console.log",
			       "--on-reboot", "restart"),
			 0);
	assert_string_equal(c.boot.initrd_path, "initrd.img");
	assert_string_equal(c.boot.cmdline, "console=ttyS0 quiet");
	assert_int_equal(c.vm.serial, VM_SERIAL_FILE);
	assert_string_equal(c.vm.serial_path, "/tmp/console.log");
	assert_true(c.restart_on_reboot);
	assert_int_equal(PARSE(&c, "run", "--kernel", "k", "--serial", "none",
			       "--on-reboot", "exit"),
			 0);
	assert_int_equal(c.vm.serial, VM_SERIAL_NONE);
	assert_false(c.restart_on_reboot);
	assert_int_equal(PARSE(&c, "run", "--kernel", "k"), 0);
	assert_int_equal(c.vm.serial, VM_SERIAL_STDIO);
	assert_null(c.boot.initrd_path);
	assert_null(c.boot.cmdline);
}

static void test_help_version(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--help"), 0);
	assert_int_equal(c.command, CONFIG_HELP);
	assert_int_equal(PARSE(&c, "run", "-h"), 0);
	assert_int_equal(c.command, CONFIG_HELP);
	assert_int_equal(PARSE(&c, "--version"), 0);
	assert_int_equal(c.command, CONFIG_VERSION);
	/* Every option is documented in --help. */
	assert_non_null(strstr(config_usage, "--raw"));
	assert_non_null(strstr(config_usage, "--kernel"));
	assert_non_null(strstr(config_usage, "--load-addr"));
	assert_non_null(strstr(config_usage, "--entry"));
	assert_non_null(strstr(config_usage, "--mode"));
	assert_non_null(strstr(config_usage, "--mem"));
	assert_non_null(strstr(config_usage, "--cpus"));
	assert_non_null(strstr(config_usage, "--trace-io"));
	assert_non_null(strstr(config_usage, "--trace-mmio"));
	assert_non_null(strstr(config_usage, "--max-exits"));
	assert_non_null(strstr(config_usage, "--stats"));
	assert_non_null(strstr(config_usage, "--initrd"));
	assert_non_null(strstr(config_usage, "--cmdline"));
	assert_non_null(strstr(config_usage, "--serial"));
	assert_non_null(strstr(config_usage, "--on-reboot"));
	assert_non_null(strstr(config_usage, "--prefault"));
}

/* Each bad command line fails with a message naming the problem. */
static void expect_error(int ret, const char *needle)
{
	assert_int_equal(ret, -EINVAL);
	if (!strstr(err_msg(), needle))
		fail_msg("message '%s' lacks '%s'", err_msg(), needle);
	assert_null(strchr(err_msg(), '\n'));
}

static void test_errors(void **state)
{
	struct config c;
	char *no_args[] = {"minivmm", NULL};

	(void)state;
	expect_error(config_parse(&c, 1, no_args), "no command");
	expect_error(PARSE(&c, "start"), "unknown command 'start'");
	expect_error(PARSE(&c, "run"), "no guest image");
	expect_error(PARSE(&c, "run", "--raw", "a", "--kernel", "b"),
		     "one guest image");
	expect_error(PARSE(&c, "run", "--raw", "a", "--bogus"),
		     "unknown option '--bogus'");
	expect_error(PARSE(&c, "run", "--raw"), "needs a value");
	expect_error(PARSE(&c, "run", "--raw", "a", "extra"),
		     "unexpected argument 'extra'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--mem", "0"), "--mem '0'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--mem", "lots"),
		     "--mem 'lots'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--mem", "-1"),
		     "--mem '-1'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--mem", "1000K"),
		     "at least 1M");
	expect_error(PARSE(&c, "run", "--raw", "a", "--mem", "1025K"),
		     "multiple of 4K");
	expect_error(PARSE(&c, "run", "--raw", "a", "--cpus", "0"),
		     "--cpus '0'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--cpus", "-2"),
		     "--cpus '-2'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--cpus", "two"),
		     "--cpus 'two'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--cpus", "100000"),
		     "--cpus '100000'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--mode", "unreal"),
		     "--mode 'unreal'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--load-addr", "here"),
		     "--load-addr 'here'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--entry", "0xzz"),
		     "--entry '0xzz'");
	expect_error(PARSE(&c, "run", "--raw", "a", "--max-exits", "0"),
		     "--max-exits '0'");
	expect_error(PARSE(&c, "run", "--kernel", "k", "--mode", "long"),
		     "--raw images only");
	expect_error(PARSE(&c, "run", "--raw", ""), "empty file name");
	expect_error(PARSE(&c, "run", "--raw", "a", "--initrd", "i"),
		     "apply to Linux kernels");
	expect_error(PARSE(&c, "run", "--raw", "a", "--cmdline", "x"),
		     "apply to Linux kernels");
	expect_error(PARSE(&c, "run", "--kernel", "k", "--initrd", ""),
		     "empty file name");
	expect_error(PARSE(&c, "run", "--kernel", "k", "--serial", "tty"),
		     "--serial 'tty'");
	expect_error(PARSE(&c, "run", "--kernel", "k", "--serial", "file:"),
		     "--serial 'file:'");
	expect_error(PARSE(&c, "run", "--kernel", "k", "--prefault", "some"),
		     "--prefault 'some': expected none, ahead or all");
	expect_error(PARSE(&c, "run", "--kernel", "k", "--prefault"),
		     "--prefault");
	expect_error(PARSE(&c, "run", "--kernel", "k", "--on-reboot", "halt"),
		     "--on-reboot 'halt'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_linux_options),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
