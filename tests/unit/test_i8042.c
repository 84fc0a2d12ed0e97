/* Unit tests for the devices in dev/legacy.h other than the RTC: the
 * i8042 (Linux's init sequence, keyboard replies, the reset line, IRQ 1)
 * and the quiet legacy ports (0x92 and 0xCF9 resets, "no PCI"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bus.h"
#include "dev/legacy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
	struct i8042 *k;
	unsigned resets;
	bool level;
	unsigned rises;
};

static uint8_t status(struct fixture *f)
{
	uint8_t v = 0;

	i8042_cmd_io(f->k, 0, &v, 1, false);
	return v;
}

static void fx_reset(void *opaque)
{
	struct fixture *f = opaque;

	/* Called without the device lock: touching the device is fine. */
	status(f);
	f->resets++;
}

static void fx_set_level(void *opaque, unsigned irq, bool level)
{
	struct fixture *f = opaque;

	assert_int_equal(irq, I8042_KBD_IRQ);
	assert_true(level != f->level);
	f->level = level;
	if (level)
		f->rises++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct reset_sink rs = {.reset = fx_reset, .opaque = f};
	struct irq_sink irq = {.set_level = fx_set_level, .opaque = f};

	assert_non_null(f);
	assert_int_equal(i8042_create(&f->k, &rs, &irq), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	i8042_destroy(f->k);
	free(f);
	return 0;
}

static void cmd(struct fixture *f, uint8_t c)
{
	i8042_cmd_io(f->k, 0, &c, 1, true);
}

static void put(struct fixture *f, uint8_t d)
{
	i8042_data_io(f->k, 0, &d, 1, true);
}

static uint8_t get(struct fixture *f)
{
	uint8_t v = 0;

	i8042_data_io(f->k, 0, &v, 1, false);
	return v;
}

static void expect_bytes(struct fixture *f, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(status(f) & 0x01);
		assert_int_equal(get(f), want[i]);
	}
	assert_false(status(f) & 0x01);
}

/* i8042_controller_check/selftest/init and i8042_check_aux, in order. */
static void test_linux_init(void **state)
{
	struct fixture *f = *state;
	uint8_t ctr;

	/* Present, idle, keylock off, nothing to flush. */
	assert_int_equal(status(f) & 0x13, 0x10);
	cmd(f, 0xaa);
	assert_true(status(f) & 0x08); /* last write was a command */
	expect_bytes(f, (const uint8_t[]){0x55}, 1);
	cmd(f, 0x20);
	ctr = get(f);
	assert_int_equal(ctr & 0x40, 0x40); /* translation on */
	cmd(f, 0x60);
	put(f, (ctr | 0x10) & ~0x01);
	assert_false(status(f) & 0x08);
	cmd(f, 0x20);
	expect_bytes(f, (const uint8_t[]){(ctr | 0x10) & ~0x01}, 1);
	cmd(f, 0xab);
	expect_bytes(f, (const uint8_t[]){0x00}, 1);

	/* AUX loop: the echo lacks the AUX-data bit, so Linux gives up on
	 * it without reading it... */
	cmd(f, 0xd3);
	put(f, 0x5a);
	assert_int_equal(status(f) & 0x21, 0x01);
	/* ...and the AUX test's answer replaces it: no AUX port. */
	cmd(f, 0xa9);
	expect_bytes(f, (const uint8_t[]){0x01}, 1);

	cmd(f, 0xad);
	cmd(f, 0x20);
	assert_int_equal(get(f) & 0x10, 0x10);
	cmd(f, 0xae);
	cmd(f, 0x20);
	assert_int_equal(get(f) & 0x10, 0x00);
	cmd(f, 0xa7);
	cmd(f, 0x20);
	assert_int_equal(get(f) & 0x20, 0x20);
	cmd(f, 0xa8);
	cmd(f, 0x20);
	assert_int_equal(get(f) & 0x20, 0x00);
	assert_int_equal(f->resets, 0);
}

static void test_keyboard_commands(void **state)
{
	struct fixture *f = *state;

	put(f, 0xff);
	expect_bytes(f, (const uint8_t[]){0xfa, 0xaa}, 2);
	put(f, 0xf2);
	expect_bytes(f, (const uint8_t[]){0xfa, 0xab, 0x41}, 3);
	cmd(f, 0x60);
	put(f, 0x05); /* translation off */
	put(f, 0xf2);
	expect_bytes(f, (const uint8_t[]){0xfa, 0xab, 0x83}, 3);
	put(f, 0xf5);
	expect_bytes(f, (const uint8_t[]){0xfa}, 1);
	put(f, 0xf4);
	expect_bytes(f, (const uint8_t[]){0xfa}, 1);
	put(f, 0xed);
	put(f, 0x07);
	expect_bytes(f, (const uint8_t[]){0xfa, 0xfa}, 2);
	put(f, 0xf0);
	put(f, 0x00);
	expect_bytes(f, (const uint8_t[]){0xfa, 0xfa, 0x02}, 3);
	put(f, 0xee);
	expect_bytes(f, (const uint8_t[]){0xee}, 1);
	put(f, 0x12);
	expect_bytes(f, (const uint8_t[]){0xfe}, 1);
	/* An empty buffer reads the last byte again. */
	assert_int_equal(get(f), 0xfe);
}

static void test_reset_commands(void **state)
{
	struct fixture *f = *state;

	cmd(f, 0xff); /* pulse nothing */
	assert_int_equal(f->resets, 0);
	cmd(f, 0xfe);
	assert_int_equal(f->resets, 1);
	cmd(f, 0xd1);
	put(f, 0xdf); /* A20 on, reset line high */
	assert_int_equal(f->resets, 1);
	cmd(f, 0xd0);
	assert_int_equal(get(f), 0xdf);
	cmd(f, 0xd1);
	put(f, 0xde);
	assert_int_equal(f->resets, 2);
	/* A command in between abandons the pending 0xD1. */
	cmd(f, 0xd1);
	cmd(f, 0xae);
	put(f, 0x00);
	assert_int_equal(f->resets, 2);
}

static void test_irq(void **state)
{
	struct fixture *f = *state;

	assert_false(f->level);
	put(f, 0xff); /* CTR.KBDINT is on by default */
	assert_true(f->level);
	assert_int_equal(f->rises, 1);
	assert_int_equal(get(f), 0xfa);
	/* A new edge for the next byte. */
	assert_true(f->level);
	assert_int_equal(f->rises, 2);
	assert_int_equal(get(f), 0xaa);
	assert_false(f->level);

	/* Interrupts off in the command byte: polling only. */
	cmd(f, 0x60);
	put(f, 0x44);
	put(f, 0xee);
	assert_false(f->level);
	assert_true(status(f) & 0x01);
	cmd(f, 0x60);
	put(f, 0x45); /* enabling with data waiting raises it */
	assert_true(f->level);
	assert_int_equal(get(f), 0xee);
	assert_false(f->level);
}

static void test_queue_bounded(void **state)
{
	struct fixture *f = *state;
	unsigned n = 0;

	for (unsigned i = 0; i < 100; i++)
		put(f, 0xee);
	while (status(f) & 0x01) {
		assert_int_equal(get(f), 0xee);
		n++;
		assert_true(n <= 16);
	}
	assert_int_equal(n, 16);
}

/* SendCtrlAltDel: set 1 while the controller translates (Linux's default),
 * set 2 without translation, each byte with its own IRQ edge; refused
 * while the keyboard is off or the queue has no room. */
static void test_ctrl_alt_del(void **state)
{
	static const uint8_t set1[] = {0x1d, 0x38, 0xe0, 0x53,
				       0xe0, 0xd3, 0xb8, 0x9d};
	static const uint8_t set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
				       0x71, 0xf0, 0x11, 0xf0, 0x14};
	struct fixture *f = *state;
	unsigned rises = f->rises;

	assert_int_equal(i8042_ctrl_alt_del(f->k), 0);
	assert_true(f->level);
	for (size_t i = 0; i < sizeof(set1); i++) {
		assert_true(status(f) & 0x01);
		assert_int_equal(get(f), set1[i]);
	}
	assert_false(status(f) & 0x01);
	assert_int_equal(f->rises - rises, sizeof(set1));
	cmd(f, 0x60);
	put(f, 0x01); /* keyboard interrupt on, no translation */
	assert_int_equal(i8042_ctrl_alt_del(f->k), 0);
	expect_bytes(f, set2, sizeof(set2));
	/* Not read yet: no room for a second one. */
	assert_int_equal(i8042_ctrl_alt_del(f->k), 0);
	assert_int_equal(i8042_ctrl_alt_del(f->k), -ENOSPC);
	expect_bytes(f, set2, sizeof(set2));
	cmd(f, 0xad); /* disable the keyboard */
	assert_int_equal(i8042_ctrl_alt_del(f->k), -EAGAIN);
	assert_false(status(f) & 0x01);
	cmd(f, 0xae);
	put(f, 0xf5); /* disable scanning */
	expect_bytes(f, (const uint8_t[]){0xfa}, 1);
	assert_int_equal(i8042_ctrl_alt_del(f->k), -EAGAIN);
	put(f, 0xf4);
	expect_bytes(f, (const uint8_t[]){0xfa}, 1);
	assert_int_equal(i8042_ctrl_alt_del(f->k), 0);
	expect_bytes(f, set2, sizeof(set2));
}

static void test_garbage(void **state)
{
	struct fixture *f = *state;
	unsigned seed = 42;

	for (unsigned i = 0; i < 100000; i++) {
		uint8_t data[4];
		unsigned len;

		seed = seed * 1103515245 + 12345;
		memcpy(data, &seed, sizeof(data));
		len = 1 + (seed >> 20) % 4;
		/* Keep clear of the reset line: counted, not fatal. */
		if ((seed >> 16) & 1)
			i8042_cmd_io(f->k, 0, data, len, (seed >> 17) & 1);
		else
			i8042_data_io(f->k, 0, data, len, (seed >> 17) & 1);
		assert_false(status(f) & 0x02); /* never busy */
	}
	while (status(f) & 0x01)
		get(f);
}

static void test_no_sinks(void **state)
{
	struct i8042 *k;
	uint8_t v = 0xfe;

	(void)state;
	assert_int_equal(i8042_create(&k, NULL, NULL), 0);
	i8042_cmd_io(k, 0, &v, 1, true);
	v = 0xff;
	i8042_data_io(k, 0, &v, 1, true);
	i8042_data_io(k, 0, &v, 1, false);
	assert_int_equal(v, 0xfa);
	i8042_destroy(k);
	i8042_destroy(NULL);
}

/* --- legacy.c --- */

static void count_reset(void *opaque)
{
	(*(unsigned *)opaque)++;
}

static void test_port92(void **state)
{
	unsigned resets = 0;
	struct reset_sink rs = {.reset = count_reset, .opaque = &resets};
	struct legacy *l;
	uint8_t v;

	(void)state;
	assert_int_equal(legacy_create(&l, &rs), 0);
	legacy_port92_io(l, 0, &v, 1, false);
	assert_int_equal(v, 0x02); /* A20 on */
	v = 0x03;
	legacy_port92_io(l, 0, &v, 1, true);
	assert_int_equal(resets, 1);
	legacy_port92_io(l, 0, &v, 1, true); /* no edge */
	assert_int_equal(resets, 1);
	v = 0x02;
	legacy_port92_io(l, 0, &v, 1, true);
	v = 0x01;
	legacy_port92_io(l, 0, &v, 1, true);
	assert_int_equal(resets, 2);
	legacy_destroy(l);
}

static void test_pci_absent_and_cf9(void **state)
{
	unsigned resets = 0;
	struct reset_sink rs = {.reset = count_reset, .opaque = &resets};
	struct legacy *l;
	uint8_t d[4];
	uint32_t v;

	(void)state;
	assert_int_equal(legacy_create(&l, &rs), 0);
	/* pci_check_type1(): writes 0x80000000, expects it back. */
	v = 0x80000000;
	memcpy(d, &v, 4);
	legacy_pci_io(l, 0, d, 4, true);
	legacy_pci_io(l, 0, d, 4, false);
	memcpy(&v, d, 4);
	assert_int_not_equal(v, 0x80000000);
	/* ...then restores what it read: all ones, covering 0xCF9. */
	legacy_pci_io(l, 0, d, 4, true);
	assert_int_equal(resets, 0);
	/* pci_check_type2(): expects 0 back at 0xCF8 and 0xCFA. */
	d[0] = 0;
	legacy_pci_io(l, 0, d, 1, true);
	legacy_pci_io(l, 0, d, 1, false);
	assert_int_not_equal(d[0], 0);
	legacy_pci_io(l, 4, d, 4, false);
	assert_int_equal(d[0] & d[1] & d[2] & d[3], 0xff);
	/* Linux's CF9 reboot: read, write |2, then |6. */
	legacy_pci_io(l, 1, d, 1, false);
	d[0] = (uint8_t)((d[0] & ~6) | 2);
	legacy_pci_io(l, 1, d, 1, true);
	assert_int_equal(resets, 0);
	d[0] |= 6;
	legacy_pci_io(l, 1, d, 1, true);
	assert_int_equal(resets, 1);
	legacy_destroy(l);
}

/* Everything the lead registers coexists on one bus. */
static void test_all_on_one_bus(void **state)
{
	struct fixture *f = *state;
	struct legacy *l;
	struct serial *s;
	struct rtc *r;
	struct bus bus;
	uint8_t d[4];

	bus_init(&bus, "pio");
	bus.quiet = true;
	assert_int_equal(legacy_create(&l, NULL), 0);
	assert_int_equal(serial_create(&s, SERIAL_COM1_BASE, SERIAL_COM1_IRQ,
				       NULL, NULL),
			 0);
	assert_int_equal(rtc_create(&r, NULL), 0);
	assert_int_equal(legacy_register(l, &bus), 0);
	assert_int_equal(serial_register(s, &bus), 0);
	assert_int_equal(i8042_register(f->k, &bus), 0);
	assert_int_equal(rtc_register(r, &bus), 0);
	/* KVM's devices stay unclaimed. */
	assert_null(bus_find(&bus, 0x20, 1));
	assert_null(bus_find(&bus, 0x40, 1));
	assert_null(bus_find(&bus, 0x61, 1));
	assert_null(bus_find(&bus, 0xa0, 1));
	assert_null(bus_find(&bus, 0x4d0, 1));
	/* Absent COM2: Linux's IER test fails. */
	d[0] = 0;
	assert_int_equal(bus_dispatch(&bus, 0x2f9, d, 1, true), 0);
	assert_int_equal(bus_dispatch(&bus, 0x2f9, d, 1, false), 0);
	assert_int_equal(d[0], 0xff);
	assert_int_equal(bus_dispatch(&bus, 0x80, d, 1, true), 0);
	assert_int_equal(bus_dispatch(&bus, 0x3d4, d, 2, false), 0);
	assert_int_equal(bus_dispatch(&bus, 0x64, d, 1, false), 0);
	assert_int_equal(d[0] & 0x10, 0x10);
	assert_int_equal(bus.unassigned_count, 0);
	bus_destroy(&bus);
	rtc_destroy(r);
	serial_destroy(s);
	legacy_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linux_init, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_commands, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reset_commands, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_alt_del, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test(test_no_sinks),
		cmocka_unit_test(test_port92),
		cmocka_unit_test(test_pci_absent_and_cf9),
		cmocka_unit_test_setup_teardown(test_all_on_one_bus, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("i8042 and legacy ports", tests,
					   NULL, NULL);
}
