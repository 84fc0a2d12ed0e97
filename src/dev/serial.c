/* 16550A UART emulation: the registers Linux's 8250 driver uses, a 16-byte
 * receive FIFO, instant transmission and a level-computed interrupt line.
 * Guest writes are masked to the bits the chip has: any value is safe. */
#include "serial.h"
#include "../bus.h"
#include "../err.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Register offsets (DLAB selects the divisor latch at 0 and 1). */
#define UART_RBR 0 /* read: receive buffer; write: THR */
#define UART_IER 1
#define UART_IIR 2 /* read: interrupt ident; write: FCR */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f  /* the upper bits don't exist on a 16550A */

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO 0xc0 /* both bits set: a 16550A with working FIFOs */

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_KEEP 0xc9 /* enable, DMA mode, trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_DELTAS 0x0f

struct serial {
	/* The transmitter: held by a vCPU from the THR write to the end of
	 * the host write, so bytes from several vCPUs leave in order.  Only
	 * writes take it, before lock; the host write happens with lock
	 * released, so a console that blocks never stops the main thread's
	 * input or another vCPU's register reads. */
	pthread_mutex_t tx_lock;
	pthread_mutex_t lock; /* the registers */
	uint16_t base;
	unsigned irq;
	const char *name;
	struct serial_backend out;
	struct irq_sink sink;
	bool has_sink;
	bool irq_level; /* what the sink was last told */

	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned rx_head;
	unsigned rx_count;
	uint8_t rbr;	/* last byte read: what an empty RBR shows */
	bool rx_wanted; /* serial_input() was refused bytes */

	uint8_t ier;
	uint8_t fcr;
	uint8_t lcr;
	uint8_t mcr;
	uint8_t lsr_err; /* the sticky LSR error bits, cleared by reading */
	uint8_t msr_delta;
	uint8_t scr;
	uint8_t dll;
	uint8_t dlm;
	/* The THRE interrupt is an event, not a level: raised when THR
	 * empties or ETBEI is enabled, cleared by reading IIR while it is
	 * the reported source or by writing THR. */
	bool thr_ipending;
	/* Bytes written to THR under lock, sent once it is released. */
	uint8_t tx[SERIAL_NR_PORTS];
	unsigned tx_len;
};

static const char *serial_port_name(uint16_t base)
{
	switch (base) {
	case SERIAL_COM1_BASE:
		return "com1";
	case SERIAL_COM2_BASE:
		return "com2";
	case SERIAL_COM3_BASE:
		return "com3";
	case SERIAL_COM4_BASE:
		return "com4";
	default:
		return "serial";
	}
}

static bool serial_fifo_on(const struct serial *s)
{
	return s->fcr & FCR_ENABLE;
}

/* Without FIFOs (16450 mode) the receiver holds one byte. */
static unsigned serial_rx_depth(const struct serial *s)
{
	return serial_fifo_on(s) ? SERIAL_FIFO_SIZE : 1;
}

static unsigned serial_rx_trigger(const struct serial *s)
{
	static const unsigned level[4] = {1, 4, 8, 14};

	return serial_fifo_on(s) ? level[s->fcr >> 6] : 1;
}

/* The modem status inputs.  Nothing is attached to COM1, so the lines a
 * driver waits for (CTS, DSR, DCD) are asserted; in loopback the chip
 * wires MCR's outputs to them, which is what Linux's probe checks. */
static uint8_t serial_msr_lines(const struct serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	if (s->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (s->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (s->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

/* The highest-priority pending interrupt, as IIR bits 3:0. */
static uint8_t serial_iir_id(const struct serial *s)
{
	if ((s->ier & IER_ELSI) && (s->lsr_err & LSR_ERRORS))
		return IIR_RLSI;
	if ((s->ier & IER_ERBFI) && s->rx_count) {
		/* No character timer here: data below the trigger level
		 * reports the timeout at once, so it is never stranded. */
		if (s->rx_count < serial_rx_trigger(s))
			return IIR_TIMEOUT;
		return IIR_RDI;
	}
	if ((s->ier & IER_ETBEI) && s->thr_ipending)
		return IIR_THRI;
	if ((s->ier & IER_EDSSI) && (s->msr_delta & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Recomputed after every access.  OUT2 does not gate the line: QEMU and
 * kvmtool don't either, and guests tested there rely on it. */
static void serial_update_irq(struct serial *s)
{
	bool level = serial_iir_id(s) != IIR_NO_INT;

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->has_sink)
		s->sink.set_level(s->sink.opaque, s->irq, level);
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/* A byte arriving at the receiver; with no room it is an overrun, as on
 * the chip: a full FIFO keeps its contents, a 16450 holding register is
 * overwritten. */
static void serial_rx_push(struct serial *s, uint8_t byte)
{
	unsigned depth = serial_rx_depth(s);

	if (s->rx_count >= depth) {
		s->lsr_err |= LSR_OE;
		if (!serial_fifo_on(s))
			s->rx[s->rx_head] = byte;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
	s->rx_count++;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	if (s->rx_count) {
		s->rbr = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
		s->rx_count--;
	}
	return s->rbr;
}

static size_t serial_room(const struct serial *s)
{
	/* In loopback the receiver is cut off from the outside world. */
	if (s->mcr & MCR_LOOP)
		return 0;
	return serial_rx_depth(s) - s->rx_count;
}

static void serial_write_fcr(struct serial *s, uint8_t val)
{
	/* Toggling the enable bit resets both FIFOs; the other bits only
	 * take effect while the FIFOs are enabled. */
	if ((val ^ s->fcr) & FCR_ENABLE)
		serial_rx_clear(s);
	if (!(val & FCR_ENABLE)) {
		s->fcr = 0;
		return;
	}
	if (val & FCR_CLEAR_RX)
		serial_rx_clear(s);
	if (val & FCR_CLEAR_TX)
		s->thr_ipending = true; /* the (always empty) THR is empty */
	s->fcr = val & FCR_KEEP;
}

static void serial_write_mcr(struct serial *s, uint8_t val)
{
	uint8_t old = serial_msr_lines(s), now, changed;

	s->mcr = val & MCR_MASK;
	now = serial_msr_lines(s);
	changed = old ^ now;
	if (changed & MSR_CTS)
		s->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr_delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI))
		s->msr_delta |= MSR_TERI; /* trailing edge only */
	if (changed & MSR_DCD)
		s->msr_delta |= MSR_DDCD;
}

static void serial_write_thr(struct serial *s, uint8_t val)
{
	if (s->mcr & MCR_LOOP)
		serial_rx_push(s, val);
	else if (s->out.write)
		s->tx[s->tx_len++] = val; /* serial_io keeps room for one */
	/* Transmission is instant, so THR is empty again right away. */
	s->thr_ipending = true;
}

static void serial_write_ier(struct serial *s, uint8_t val)
{
	uint8_t old = s->ier;

	s->ier = val & IER_MASK;
	/* Enabling ETBEI with THR empty raises THRE again even if it was
	 * acknowledged: Linux's startup test (UART_BUG_THRE) checks that. */
	if (!(old & IER_ETBEI) && (s->ier & IER_ETBEI))
		s->thr_ipending = true;
	else if (!(s->ier & IER_ETBEI))
		s->thr_ipending = false;
}

static void serial_write(struct serial *s, unsigned reg, uint8_t val)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case UART_RBR:
		if (dlab)
			s->dll = val;
		else
			serial_write_thr(s, val);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = val;
		else
			serial_write_ier(s, val);
		break;
	case UART_IIR:
		serial_write_fcr(s, val);
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		serial_write_mcr(s, val);
		break;
	case UART_SCR:
		s->scr = val;
		break;
	default:
		break; /* LSR and MSR are read-only (factory test otherwise) */
	}
}

static uint8_t serial_read(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case UART_RBR:
		return dlab ? s->dll : serial_rx_pop(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir_id(s);
		if (v == IIR_THRI)
			s->thr_ipending = false;
		return v | (serial_fifo_on(s) ? IIR_FIFO : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | s->lsr_err;
		if (s->rx_count)
			v |= LSR_DR;
		s->lsr_err = 0;
		return v;
	case UART_MSR:
		v = serial_msr_lines(s) | s->msr_delta;
		s->msr_delta = 0;
		return v;
	case UART_SCR:
		return s->scr;
	default:
		return 0xff;
	}
}

/* Tells the backend about new room once, outside the lock. */
static bool serial_take_rx_ready(struct serial *s)
{
	if (!s->rx_wanted || !serial_room(s))
		return false;
	s->rx_wanted = false;
	return s->out.rx_ready != NULL;
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
	       bool is_write)
{
	struct serial *s = opaque;
	uint8_t tx[SERIAL_NR_PORTS];
	unsigned ntx;
	uint32_t i = 0;
	bool notify;

	if (is_write)
		pthread_mutex_lock(&s->tx_lock);
	do {
		pthread_mutex_lock(&s->lock);
		for (; i < len && s->tx_len < sizeof(s->tx); i++) {
			unsigned reg =
				(unsigned)((offset + i) % SERIAL_NR_PORTS);

			if (is_write)
				serial_write(s, reg, data[i]);
			else
				data[i] = serial_read(s, reg);
		}
		serial_update_irq(s);
		notify = serial_take_rx_ready(s);
		ntx = s->tx_len;
		memcpy(tx, s->tx, ntx);
		s->tx_len = 0;
		pthread_mutex_unlock(&s->lock);
		if (ntx)
			s->out.write(s->out.opaque, tx, ntx);
		if (notify)
			s->out.rx_ready(s->out.opaque);
	} while (i < len);
	if (is_write)
		pthread_mutex_unlock(&s->tx_lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = serial_room(s);
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		serial_rx_push(s, buf[i]);
	if (n < len)
		s->rx_wanted = true;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_can_accept(struct serial *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = serial_room(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void serial_reset_locked(struct serial *s)
{
	serial_rx_clear(s);
	s->rbr = 0;
	s->ier = 0;
	s->fcr = 0;
	s->lcr = 0;
	s->mcr = 0;
	s->lsr_err = 0;
	s->msr_delta = 0;
	s->scr = 0;
	s->dll = 12; /* 9600 baud, what firmware would leave behind */
	s->dlm = 0;
	s->thr_ipending = false;
}

void serial_reset(struct serial *s)
{
	bool notify;

	pthread_mutex_lock(&s->lock);
	serial_reset_locked(s);
	serial_update_irq(s);
	notify = serial_take_rx_ready(s);
	pthread_mutex_unlock(&s->lock);
	if (notify)
		s->out.rx_ready(s->out.opaque);
}

int serial_create(struct serial **sp, uint16_t base, unsigned irq,
		  const struct serial_backend *out,
		  const struct irq_sink *irq_sink)
{
	struct serial *s;

	*sp = NULL;
	if (irq_sink && !irq_sink->set_level)
		return err_set(-EINVAL,
			       "serial at 0x%x: IRQ sink without "
			       "set_level; pass NULL for no IRQ",
			       base);
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&s->tx_lock, NULL);
	pthread_mutex_init(&s->lock, NULL);
	s->base = base;
	s->irq = irq;
	s->name = serial_port_name(base);
	if (out)
		s->out = *out;
	if (irq_sink) {
		s->sink = *irq_sink;
		s->has_sink = true;
	}
	serial_reset_locked(s);
	*sp = s;
	return 0;
}

int serial_register(struct serial *s, struct bus *pio)
{
	return bus_add(pio, s->base, SERIAL_NR_PORTS, s->name, serial_io, s);
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->tx_lock);
	free(s);
}
