/* A 16550A UART, usable without a VM: the guest side is serial_io() (a bus
 * handler), the host side is a byte sink for output, serial_input() for
 * input and an IRQ callback the VMM backs with KVM_IRQ_LINE. */
#ifndef MINIVMM_DEV_SERIAL_H
#define MINIVMM_DEV_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct serial;

/* The ISA COM ports.  Only COM1 is a UART; legacy.c answers for the others
 * as absent (reads 0xFF) so Linux's probe finds nothing, quietly. */
#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_COM2_BASE 0x2f8
#define SERIAL_COM3_BASE 0x3e8
#define SERIAL_COM4_BASE 0x2e8
#define SERIAL_NR_PORTS 8 /* registers per UART */
#define SERIAL_FIFO_SIZE 16

/* An interrupt line.  set_level() is called only when the level changes,
 * with the device's lock held (so level changes from different threads
 * reach KVM in order); it must not call back into the device. */
struct irq_sink {
	void (*set_level)(void *opaque, unsigned irq, bool level);
	void *opaque;
};

struct serial_backend {
	/* The guest transmitted @len bytes.  Called on a vCPU thread with
	 * the register lock released (it may block: serial_input and register
	 * reads go on meanwhile) and the transmitter held, which keeps bytes
	 * from several vCPUs in order; must not write to the UART.  NULL:
	 * output is dropped. */
	void (*write)(void *opaque, const uint8_t *buf, size_t len);
	/* Optional: serial_input() refused bytes earlier and the receiver
	 * now has room (the guest read some, or left loopback).  Called
	 * without the lock held, typically to wake the main thread's poll. */
	void (*rx_ready)(void *opaque);
	void *opaque;
};

/* Allocates a UART at @base raising @irq through @irq_sink (NULL: no
 * interrupt, polling guests only).  @out and @irq_sink are copied.  Returns
 * 0 or -ENOMEM / -EINVAL with err_set(). */
int serial_create(struct serial **sp, uint16_t base, unsigned irq,
		  const struct serial_backend *out,
		  const struct irq_sink *irq_sink);
/* Maps the UART's eight ports on @pio (COM1: 0x3F8-0x3FF).  The bus keeps a
 * pointer to @s: destroy the bus before the UART. */
int serial_register(struct serial *s, struct bus *pio);
void serial_destroy(struct serial *s);
/* Back to the power-on state (a VM reset); the IRQ line drops. */
void serial_reset(struct serial *s);

/* The bus handler; @opaque is the struct serial.  A wider access acts as
 * that many byte accesses at consecutive ports. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
	       bool is_write);

/* From the main thread: offers @len received bytes; returns how many the
 * receive FIFO took (0..16).  The caller keeps the rest and offers them
 * again once rx_ready fires or serial_can_accept() says there is room. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
/* How many bytes serial_input() would take now. */
size_t serial_can_accept(struct serial *s);

#endif
