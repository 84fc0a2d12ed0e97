/* The PC's legacy ISA devices besides the UART: the i8042 keyboard
 * controller (reset line), the CMOS RTC, and quiet answers for the ports a
 * Linux boot probes that nothing here implements. */
#ifndef MINIVMM_DEV_LEGACY_H
#define MINIVMM_DEV_LEGACY_H

#include "serial.h" /* struct irq_sink */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct bus;

/* What the guest's "reset the machine" writes call.  Called on a vCPU
 * thread without any device lock held, so it may stop the VM. */
struct reset_sink {
	void (*reset)(void *opaque);
	void *opaque;
};

/* i8042 keyboard controller at 0x60 (data) and 0x64 (status/command). */
#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1

struct i8042;

/* @reset may be NULL (reset writes are then ignored).  @irq may be NULL:
 * guests must poll; with it, IRQ 1 follows "output buffer full" while the
 * command byte enables keyboard interrupts, which Linux's atkbd needs to
 * probe the keyboard without timeouts.  Returns 0 or -errno. */
int i8042_create(struct i8042 **kp, const struct reset_sink *reset,
		 const struct irq_sink *irq);
/* Maps ports 0x60 and 0x64 (not 0x61: KVM's PIT owns it). */
int i8042_register(struct i8042 *k, struct bus *pio);
void i8042_destroy(struct i8042 *k);
/* Presses and releases Ctrl, Alt and Delete on the keyboard (the API's
 * SendCtrlAltDel): set 1 scancodes when the controller translates (or the
 * guest chose set 1), else set 2, queued for the guest with IRQ 1.
 * -EAGAIN if the guest has turned the keyboard off, -ENOSPC if it has not
 * read what is queued; the message says so. */
int i8042_ctrl_alt_del(struct i8042 *k);
/* The bus handlers for 0x60 and 0x64; @opaque is the struct i8042. */
void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write);

/* MC146818 CMOS RTC at 0x70 (index) and 0x71 (data), on the host's UTC. */
#define RTC_PORT 0x70

struct rtc;

/* @now returns the host's time (NULL: time(NULL)); tests pass a fixed
 * clock.  Returns 0 or -errno. */
int rtc_create(struct rtc **rp, time_t (*now)(void));
int rtc_register(struct rtc *r, struct bus *pio);
void rtc_destroy(struct rtc *r);
void rtc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
	    bool is_write);

/* Everything else a Linux boot touches: absent COM2-4, LPT, VGA, DMA,
 * IDE and floppy ports (read 0xFF, writes ignored), the POST/delay ports,
 * port 0x92 and 0xCF9 resets, and "no PCI" at 0xCF8-0xCFF. */
struct legacy;

int legacy_create(struct legacy **lp, const struct reset_sink *reset);
/* Maps every port in the table (legacy.c); the bus keeps pointers to @l:
 * destroy the bus first. */
int legacy_register(struct legacy *l, struct bus *pio);
void legacy_destroy(struct legacy *l);
/* Port 0x92 (system control port A) and 0xCF8-0xCFF, for tests. */
void legacy_port92_io(void *opaque, uint64_t offset, uint8_t *data,
		      uint32_t len, bool is_write);
void legacy_pci_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write);

#endif
