/* Unit tests for the 16550A: Linux's 8250 probe sequence, transmit and
 * receive paths, interrupt priorities and THRE semantics, overruns, the
 * divisor latch, and garbage from a hostile guest. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bus.h"
#include "dev/serial.h"

#include "host/output.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };
#define FCR IIR
#define THR RBR

struct fixture {
	struct serial *s;
	uint8_t out[4096];
	size_t out_len;
	bool level;
	unsigned irq_calls;
	unsigned last_irq;
	unsigned rx_ready;
};

static void fx_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct fixture *f = opaque;

	assert_true(f->out_len + len <= sizeof(f->out));
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
}

static void fx_rx_ready(void *opaque)
{
	struct fixture *f = opaque;

	f->rx_ready++;
}

static void fx_set_level(void *opaque, unsigned irq, bool level)
{
	struct fixture *f = opaque;

	/* Only changes are reported. */
	assert_true(level != f->level);
	f->level = level;
	f->last_irq = irq;
	f->irq_calls++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct serial_backend out = {
		.write = fx_write, .rx_ready = fx_rx_ready, .opaque = f};
	struct irq_sink irq = {.set_level = fx_set_level, .opaque = f};

	assert_non_null(f);
	assert_int_equal(serial_create(&f->s, SERIAL_COM1_BASE, SERIAL_COM1_IRQ,
				       &out, &irq),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial_destroy(f->s);
	free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
	uint8_t v = 0x5a;

	serial_io(f->s, reg, &v, 1, false);
	return v;
}

static void wr(struct fixture *f, unsigned reg, uint8_t v)
{
	serial_io(f->s, reg, &v, 1, true);
}

/* The order of accesses in Linux's autoconfig() and autoconfig_16550a(). */
static void test_linux_probe(void **state)
{
	struct fixture *f = *state;
	uint8_t save_mcr, iir;

	/* IER: only the low four bits exist. */
	wr(f, IER, 0);
	assert_int_equal(rd(f, IER) & 0x0f, 0);
	wr(f, IER, 0x0f);
	assert_int_equal(rd(f, IER) & 0x0f, 0x0f);
	wr(f, IER, 0);

	/* Loopback: RTS | OUT2 must read back as CTS | DCD. */
	save_mcr = rd(f, MCR);
	wr(f, MCR, 0x10 | 0x0a);
	assert_int_equal(rd(f, MSR) & 0xf0, 0x90);
	wr(f, MCR, save_mcr);

	/* EFR write with LCR = 0xBF lands on FCR here; harmless. */
	wr(f, LCR, 0xbf);
	wr(f, IIR, 0);
	wr(f, LCR, 0);
	wr(f, FCR, 0x01);
	iir = rd(f, IIR);
	assert_int_equal(iir >> 6, 3); /* 16550A */
	assert_int_equal(iir, 0xc1);

	/* No EFR in either configuration mode: reads must not be 0. */
	wr(f, LCR, 0x80);
	assert_int_not_equal(rd(f, IIR), 0);
	wr(f, LCR, 0xbf);
	assert_int_not_equal(rd(f, IIR), 0);

	/* Not a National SuperIO: "EXCR1" (IIR) doesn't follow MCR.LOOP. */
	wr(f, LCR, 0);
	save_mcr = rd(f, MCR);
	wr(f, LCR, 0xe0);
	assert_int_equal(rd(f, IIR) & 0x10, save_mcr & 0x10);
	wr(f, LCR, 0);
	wr(f, MCR, save_mcr ^ 0x10);
	wr(f, LCR, 0xe0);
	assert_int_equal(rd(f, IIR) & 0x10, 0);
	wr(f, LCR, 0);
	wr(f, MCR, save_mcr);

	/* Not a 16750: no 64-byte FIFO bit with or without DLAB. */
	wr(f, FCR, 0x21);
	assert_int_equal(rd(f, IIR) & 0xe0, 0xc0);
	wr(f, FCR, 0x01);
	wr(f, LCR, 0x80);
	wr(f, FCR, 0x21);
	assert_int_equal(rd(f, IIR) & 0xe0, 0xc0);
	wr(f, FCR, 0x01);
	wr(f, LCR, 0);

	/* Not an XScale: IER.UUE doesn't stick. */
	wr(f, IER, 0x40);
	assert_int_equal(rd(f, IER) & 0x40, 0);

	/* Scratch register. */
	wr(f, SCR, 0x55);
	assert_int_equal(rd(f, SCR), 0x55);
	wr(f, SCR, 0xaa);
	assert_int_equal(rd(f, SCR), 0xaa);

	/* The "LSR safety check" in startup. */
	assert_int_not_equal(rd(f, LSR), 0xff);
	assert_false(f->level);
	assert_int_equal(f->out_len, 0);
}

static void test_fifo_disable_reports_16450(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, IIR), 0x01);
	wr(f, FCR, 0xc7);
	assert_int_equal(rd(f, IIR), 0xc1);
	wr(f, FCR, 0x00);
	assert_int_equal(rd(f, IIR), 0x01);
}

static void test_thr_output(void **state)
{
	struct fixture *f = *state;

	wr(f, THR, 'h');
	wr(f, THR, 'i');
	assert_int_equal(f->out_len, 2);
	assert_memory_equal(f->out, "hi", 2);
	assert_int_equal(rd(f, LSR) & 0x60, 0x60); /* THRE | TEMT */
	assert_false(f->level);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, 0x07);
	wr(f, MCR, 0x10);
	wr(f, THR, 'L');
	wr(f, THR, 'B');
	assert_int_equal(f->out_len, 0); /* nothing leaves in loopback */
	assert_int_equal(rd(f, LSR) & 0x01, 0x01);
	assert_int_equal(rd(f, RBR), 'L');
	assert_int_equal(rd(f, RBR), 'B');
	assert_int_equal(rd(f, LSR) & 0x01, 0);

	/* MSR follows MCR: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	rd(f, MSR);
	wr(f, MCR, 0x10 | 0x01);
	assert_int_equal(rd(f, MSR), 0x20 | 0x02); /* DSR, DDSR */
	wr(f, MCR, 0x10 | 0x04);
	assert_int_equal(rd(f, MSR), 0x40 | 0x02); /* RI; DSR fell */
	wr(f, MCR, 0x10);
	assert_int_equal(rd(f, MSR), 0x04); /* trailing edge of RI */
	wr(f, MCR, 0x10 | 0x08 | 0x02);
	assert_int_equal(rd(f, MSR), 0x80 | 0x10 | 0x08 | 0x01);

	/* The outside world can't reach the receiver in loopback. */
	assert_int_equal(serial_can_accept(f->s), 0);
	assert_int_equal(serial_input(f->s, (const uint8_t *)"x", 1), 0);
	wr(f, MCR, 0);
	assert_int_equal(f->rx_ready, 1);
	assert_int_equal(rd(f, MSR) & 0xf0, 0xb0); /* CTS DSR DCD */
	assert_int_equal(serial_input(f->s, (const uint8_t *)"x", 1), 1);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x02);
	assert_true(f->level);
	assert_int_equal(f->last_irq, SERIAL_COM1_IRQ);
	assert_int_equal(rd(f, IIR), 0x02);
	/* Reading IIR while THRE is the source acknowledges it. */
	assert_false(f->level);
	assert_int_equal(rd(f, IIR), 0x01);
	/* Writing THR empties at once, so THRE comes back. */
	wr(f, THR, 'a');
	assert_true(f->level);
	assert_int_equal(rd(f, IIR), 0x02);
	assert_false(f->level);
	/* Linux's UART_BUG_THRE test: re-enabling ETBEI re-raises. */
	wr(f, IER, 0);
	wr(f, IER, 0x02);
	assert_int_equal(rd(f, IIR), 0x02);
	wr(f, IER, 0);
	wr(f, IER, 0x02);
	assert_int_equal(rd(f, IIR), 0x02);
	/* Disabling ETBEI hides it and drops the line. */
	wr(f, THR, 'b');
	assert_true(f->level);
	wr(f, IER, 0);
	assert_false(f->level);
	assert_int_equal(rd(f, IIR), 0x01);
}

static void test_rx_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x01);
	assert_false(f->level);
	assert_int_equal(serial_input(f->s, (const uint8_t *)"ab", 2), 1);
	assert_true(f->level);
	assert_int_equal(rd(f, IIR), 0x04);
	assert_int_equal(rd(f, LSR) & 0x01, 0x01);
	assert_int_equal(rd(f, RBR), 'a');
	assert_false(f->level);
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	assert_int_equal(rd(f, IIR), 0x01);
	/* The refused byte is announced once there is room. */
	assert_int_equal(f->rx_ready, 1);
	assert_int_equal(serial_input(f->s, (const uint8_t *)"b", 1), 1);
	assert_true(f->level);
	assert_int_equal(rd(f, RBR), 'b');
	assert_false(f->level);
	/* An empty RBR shows the last byte again. */
	assert_int_equal(rd(f, RBR), 'b');
	assert_int_equal(f->rx_ready, 1);
}

static void test_rx_fifo_trigger(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[20];

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)('A' + i);
	wr(f, FCR, 0x81); /* FIFO on, trigger level 8 */
	wr(f, IER, 0x01);
	assert_int_equal(serial_input(f->s, buf, 3), 3);
	assert_int_equal(rd(f, IIR), 0xcc); /* below trigger: timeout */
	assert_int_equal(serial_input(f->s, buf + 3, 17), 13);
	assert_int_equal(serial_can_accept(f->s), 0);
	assert_int_equal(rd(f, IIR), 0xc4);
	for (unsigned i = 0; i < SERIAL_FIFO_SIZE; i++) {
		assert_true(f->level);
		assert_int_equal(rd(f, RBR), 'A' + i);
	}
	assert_false(f->level);
	assert_int_equal(rd(f, LSR) & 0x03, 0); /* no DR, no overrun */
	assert_int_equal(f->rx_ready, 1);
	assert_int_equal(serial_can_accept(f->s), SERIAL_FIFO_SIZE);
}

static void test_fifo_clear(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, 0x01);
	assert_int_equal(serial_input(f->s, (const uint8_t *)"abc", 3), 3);
	wr(f, FCR, 0x03);
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	assert_int_equal(serial_input(f->s, (const uint8_t *)"abc", 3), 3);
	wr(f, FCR, 0x00); /* disabling resets the FIFOs too */
	assert_int_equal(rd(f, LSR) & 0x01, 0);
}

static void test_overrun(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, 0x01);
	wr(f, MCR, 0x10);
	wr(f, IER, 0x05); /* line status + data */
	for (unsigned i = 0; i < SERIAL_FIFO_SIZE + 1; i++)
		wr(f, THR, (uint8_t)i);
	/* Line status outranks received data. */
	assert_int_equal(rd(f, IIR), 0xc6);
	assert_int_equal(rd(f, LSR) & 0x63, 0x63); /* OE DR THRE TEMT */
	assert_int_equal(rd(f, LSR) & 0x02, 0);	   /* read clears OE */
	assert_int_equal(rd(f, IIR), 0xc4);
	/* The FIFO keeps its bytes; the 17th was lost. */
	for (unsigned i = 0; i < SERIAL_FIFO_SIZE; i++)
		assert_int_equal(rd(f, RBR), i);
	assert_int_equal(rd(f, LSR) & 0x01, 0);

	/* Without FIFOs the holding register is overwritten. */
	wr(f, FCR, 0x00);
	wr(f, THR, 1);
	wr(f, THR, 2);
	assert_int_equal(rd(f, LSR) & 0x03, 0x03);
	assert_int_equal(rd(f, RBR), 2);
	assert_false(f->level);
}

static void test_dlab(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x05);
	wr(f, LCR, 0x83);
	assert_int_equal(rd(f, RBR), 12); /* power-on divisor: 9600 */
	wr(f, RBR, 0x01);
	wr(f, IER, 0x02);
	assert_int_equal(rd(f, RBR), 0x01);
	assert_int_equal(rd(f, IER), 0x02);
	assert_int_equal(f->out_len, 0); /* DLL writes aren't output */
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, IER), 0x05);
	wr(f, LCR, 0x80);
	assert_int_equal(rd(f, RBR), 0x01);
	assert_int_equal(rd(f, IER), 0x02);
}

static void test_modem_status_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x08);
	assert_false(f->level);
	wr(f, MCR, 0x10); /* CTS, DSR, DCD all drop */
	assert_true(f->level);
	assert_int_equal(rd(f, IIR), 0x00);
	assert_int_equal(rd(f, MSR), 0x0b);
	assert_false(f->level);
	assert_int_equal(rd(f, IIR), 0x01);
}

static void test_priority_order(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x0f);
	assert_int_equal(rd(f, IIR), 0x02); /* THRE; acknowledged */
	wr(f, MCR, 0x10);		    /* modem status */
	assert_int_equal(rd(f, IIR), 0x00);
	wr(f, THR, 1); /* loopback: data, and THRE again */
	assert_int_equal(rd(f, IIR), 0x04);
	wr(f, THR, 2); /* overrun */
	assert_int_equal(rd(f, IIR), 0x06);
	rd(f, LSR);
	assert_int_equal(rd(f, IIR), 0x04);
	rd(f, RBR);
	assert_int_equal(rd(f, IIR), 0x02);
	assert_int_equal(rd(f, IIR), 0x00);
	rd(f, MSR);
	assert_int_equal(rd(f, IIR), 0x01);
	assert_false(f->level);
}

static void test_wide_access_and_bus(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4] = {0x03, 0x80, 0, 0};
	struct bus bus;

	/* A word write to LCR and MCR is two byte writes. */
	serial_io(f->s, LCR, data, 2, true);
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, MCR), 0x00); /* reserved bits dropped */

	bus_init(&bus, "pio");
	assert_int_equal(serial_register(f->s, &bus), 0);
	assert_non_null(bus_find(&bus, 0x3f8, 1));
	assert_non_null(bus_find(&bus, 0x3ff, 1));
	assert_null(bus_find(&bus, 0x400, 1));
	data[0] = 'Z';
	assert_int_equal(bus_dispatch(&bus, 0x3f8, data, 1, true), 0);
	assert_int_equal(f->out_len, 1);
	assert_int_equal(f->out[0], 'Z');
	assert_int_equal(bus_dispatch(&bus, 0x3fb, data, 1, false), 0);
	assert_int_equal(data[0], 0x03);
	bus_destroy(&bus);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0x02);
	wr(f, LCR, 0x1b);
	wr(f, FCR, 0x01);
	assert_true(f->level);
	serial_reset(f->s);
	assert_false(f->level);
	assert_int_equal(rd(f, LCR), 0);
	assert_int_equal(rd(f, IIR), 0x01);
}

/* A hostile guest: every value to every register, wide and odd accesses,
 * interleaved with input.  Invariants must hold throughout. */
static void test_garbage(void **state)
{
	struct fixture *f = *state;
	unsigned seed = 12345;

	for (unsigned reg = 0; reg < SERIAL_NR_PORTS; reg++) {
		for (unsigned v = 0; v < 256; v++) {
			wr(f, reg, (uint8_t)v);
			rd(f, (reg + 1) % SERIAL_NR_PORTS);
		}
	}
	for (unsigned i = 0; i < 200000; i++) {
		uint8_t data[4];
		unsigned reg, len, iir;

		seed = seed * 1103515245 + 12345;
		reg = (seed >> 8) % SERIAL_NR_PORTS;
		len = 1 + (seed >> 20) % 4;
		if (reg + len > SERIAL_NR_PORTS)
			len = SERIAL_NR_PORTS - reg;
		memcpy(data, &seed, sizeof(data));
		if (f->out_len > 2048)
			f->out_len = 0;
		serial_io(f->s, reg, data, len, (seed >> 16) & 1);
		if ((seed >> 24) % 16 == 0)
			serial_input(f->s, data, (seed >> 28) % 4);
		iir = rd(f, IIR);
		assert_int_equal(iir & 0x30, 0);
		assert_true((iir & 0x01) || (iir & 0x0e) != 0x0e);
		assert_true(serial_can_accept(f->s) <= SERIAL_FIFO_SIZE);
	}
	/* After all that the line agrees with IIR. */
	wr(f, LCR, 0);
	wr(f, MCR, 0);
	wr(f, IER, 0);
	assert_false(f->level);
	assert_int_equal(rd(f, IIR) & 0x01, 0x01);
}

static void test_no_sink_no_backend(void **state)
{
	struct serial *s;
	uint8_t v = 'q';

	(void)state;
	assert_int_equal(serial_create(&s, 0x2f8, 3, NULL, NULL), 0);
	serial_io(s, THR, &v, 1, true);
	v = 0x0f;
	serial_io(s, IER, &v, 1, true);
	assert_int_equal(serial_input(s, &v, 1), 1);
	serial_destroy(s);
	serial_destroy(NULL);
}

/* A console write that blocks (a reader that stalls) must not hold the
 * register lock: the main thread's input and other vCPUs' register reads
 * go on.  The backend here feeds input from another thread while the
 * guest's THR write is still in it. */
struct blocked {
	struct serial *s;
	bool fed;
};

static void *blocked_feed(void *arg)
{
	struct blocked *b = arg;

	b->fed = serial_input(b->s, (const uint8_t *)"k", 1) == 1;
	return NULL;
}

static void blocked_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct blocked *b = opaque;
	struct timespec until;
	pthread_t t;

	(void)buf;
	(void)len;
	assert_int_equal(pthread_create(&t, NULL, blocked_feed, b), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	/* Deadlocks (and fails after 5 s) if the lock is held here. */
	assert_int_equal(pthread_timedjoin_np(t, NULL, &until), 0);
}

static void test_write_outside_lock(void **state)
{
	struct blocked b = {0};
	struct serial_backend out = {.write = blocked_write, .opaque = &b};
	uint8_t c = 'x';

	(void)state;
	assert_int_equal(serial_create(&b.s, SERIAL_COM1_BASE, SERIAL_COM1_IRQ,
				       &out, NULL),
			 0);
	serial_io(b.s, THR, &c, 1, true);
	assert_true(b.fed);
	serial_io(b.s, RBR, &c, 1, false);
	assert_int_equal(c, 'k');
	serial_destroy(b.s);
}

/* output_write into a pipe nobody reads: blocked until the VM stops,
 * then it gives up; a reader that left is EPIPE. */
struct writer {
	int fd;
	int stopping;
	int ret;
};

static void *writer_run(void *arg)
{
	static uint8_t big[1 << 20];
	struct writer *w = arg;

	w->ret = output_write(w->fd, big, sizeof(big), &w->stopping);
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;
}

static void test_output_write_gives_up(void **state)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	struct writer w = {0};
	struct timespec until;
	pthread_t t;
	int p[2];

	(void)state;
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART, like the kick */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(p), 0);
	w.fd = p[1];
	assert_int_equal(pthread_create(&t, NULL, writer_run, &w), 0);
	usleep(100 * 1000); /* the pipe is full; the writer blocks */
	__atomic_store_n(&w.stopping, 1, __ATOMIC_RELEASE);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	for (;;) {
		struct timespec step = {0, 20 * 1000 * 1000};

		pthread_kill(t, SIGUSR1);
		nanosleep(&step, NULL);
		if (pthread_tryjoin_np(t, NULL) == 0)
			break;
		assert_true(time(NULL) < until.tv_sec);
	}
	assert_int_equal(w.ret, -ECANCELED);
	close(p[0]);
	w.stopping = 0;
	assert_int_equal(output_write(p[1], "x", 1, &w.stopping), -EPIPE);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linux_probe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fifo_disable_reports_16450,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_thr_output, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_interrupt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_fifo_trigger, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fifo_clear, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status_interrupt,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wide_access_and_bus, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test(test_no_sink_no_backend),
		cmocka_unit_test(test_write_outside_lock),
		cmocka_unit_test(test_output_write_gives_up),
	};

	return cmocka_run_group_tests_name("serial", tests, NULL, NULL);
}
