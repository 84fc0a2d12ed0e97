/* Quiet answers for the legacy ports a Linux boot probes that minivmm
 * doesn't implement, so a normal boot logs no unassigned access; plus the
 * two reset ports (0x92, 0xCF9) and a PCI config mechanism that says "none". */
#include "legacy.h"
#include "../bus.h"
#include "../err.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PORT92_RESET 0x01 /* a 0 -> 1 edge resets the CPU */
#define PORT92_A20 0x02
#define CF9_RST_CPU 0x04 /* with SYS_RST (0x02) it is a hard reset */

struct legacy {
	pthread_mutex_t lock;
	struct reset_sink reset;
	uint8_t port92;
};

static void legacy_do_reset(struct legacy *l)
{
	if (l->reset.reset)
		l->reset.reset(l->reset.opaque);
}

/* Nothing there: reads float high, writes vanish. */
static void legacy_absent_io(void *opaque, uint64_t offset, uint8_t *data,
			     uint32_t len, bool is_write)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0xff, len);
}

void legacy_port92_io(void *opaque, uint64_t offset, uint8_t *data,
		      uint32_t len, bool is_write)
{
	struct legacy *l = opaque;
	bool reset = false;

	(void)offset;
	pthread_mutex_lock(&l->lock);
	if (is_write) {
		reset = !(l->port92 & PORT92_RESET) && (data[0] & PORT92_RESET);
		/* A20 can't be disabled under KVM; the bit just reads back. */
		l->port92 = data[0] & (PORT92_RESET | PORT92_A20);
	} else {
		memset(data, 0xff, len);
		data[0] = l->port92;
	}
	pthread_mutex_unlock(&l->lock);
	if (reset)
		legacy_do_reset(l);
}

/* 0xCF8-0xCFF.  All ones everywhere makes both of Linux's PCI probes fail:
 * conf1 reads 0xCF8 back expecting 0x80000000, conf2 expects 0x00 at 0xCF8
 * and 0xCFA.  Only a byte write to 0xCF9 is the chipset's reset control
 * register; a dword write at 0xCF8 also covers that byte but isn't one. */
void legacy_pci_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct legacy *l = opaque;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	if (offset == 1 && len == 1 && (data[0] & CF9_RST_CPU))
		legacy_do_reset(l);
}

struct legacy_port {
	uint16_t base;
	uint16_t len;
	const char *name;
	bus_io_fn *fn;
	/* Why it is here (documentation only). */
	const char *why;
};

/* Not here, because KVM's in-kernel irqchip and PIT answer them without an
 * exit: PIC 0x20/0x21/0xA0/0xA1, ELCR 0x4D0/0x4D1, PIT 0x40-0x43, and 0x61
 * (only with KVM_PIT_SPEAKER_DUMMY; without it, Linux's TSC calibration
 * would read our 0xFF, so better an unassigned-port message).  The i8042
 * (0x60/0x64), the RTC (0x70/0x71) and COM1 (0x3F8) have their own files. */
static const struct legacy_port legacy_ports[] = {
	{0x0000, 0x20, "dma1", legacy_absent_io,
	 "8237 DMA 1: reserved by Linux, used only by ISA DMA drivers"},
	{0x002e, 0x02, "superio1", legacy_absent_io,
	 "Super I/O config (e.g. w83627hf_wdt, it87 probe 0x2E/0x2F)"},
	{0x004e, 0x02, "superio2", legacy_absent_io,
	 "Super I/O config, second address (0x4E/0x4F)"},
	{0x0080, 0x01, "post", legacy_absent_io,
	 "POST codes; Linux's outb_p() delay writes it constantly"},
	{0x0081, 0x0f, "dma-page", legacy_absent_io,
	 "DMA page registers next to 0x80"},
	{0x0092, 0x01, "port92", legacy_port92_io,
	 "system control port A: fast A20 and reset (reboot=...)"},
	{0x00c0, 0x20, "dma2", legacy_absent_io,
	 "8237 DMA 2 (cascade), like dma1"},
	{0x00ed, 0x01, "delay", legacy_absent_io,
	 "the alternative delay port (io_delay=0xed)"},
	{0x00f0, 0x02, "fpu", legacy_absent_io,
	 "i387 error latch: 32-bit kernels clear IRQ 13 there"},
	{0x0170, 0x08, "ide2", legacy_absent_io,
	 "legacy IDE: status 0xFF means no drive to pata_legacy/ide"},
	{0x01f0, 0x08, "ide1", legacy_absent_io, "legacy IDE, primary"},
	{0x0278, 0x03, "lpt2", legacy_absent_io,
	 "parport_pc probes; 0xFF doesn't read back what it wrote"},
	{0x02e8, 0x08, "com4", legacy_absent_io,
	 "8250 probe: IER reads 0x0F after writing 0, so no UART"},
	{0x02f8, 0x08, "com2", legacy_absent_io, "absent UART, as com4"},
	{0x0376, 0x01, "ide2-ctl", legacy_absent_io,
	 "IDE alternate status, secondary"},
	{0x0378, 0x03, "lpt1", legacy_absent_io, "absent parallel port"},
	{0x03b0, 0x0c, "mda", legacy_absent_io,
	 "MDA/Hercules CRTC: vgacon probes 0x3B4 for a mono adapter"},
	{0x03bc, 0x03, "lpt3", legacy_absent_io, "absent parallel port"},
	{0x03c0, 0x20, "vga", legacy_absent_io,
	 "VGA registers: vgacon touches 0x3C0-0x3DF if configured"},
	{0x03e8, 0x08, "com3", legacy_absent_io, "absent UART, as com4"},
	{0x03f0, 0x06, "fdc", legacy_absent_io,
	 "floppy controller: 0xFF status means none to floppy.c"},
	{0x03f6, 0x01, "ide1-ctl", legacy_absent_io,
	 "IDE alternate status, primary"},
	{0x03f7, 0x01, "fdc-dir", legacy_absent_io,
	 "floppy digital input register"},
	{0x0cf8, 0x08, "pci", legacy_pci_io,
	 "PCI config mechanisms 1/2 (none) and the 0xCF9 reset register"},
};

int legacy_create(struct legacy **lp, const struct reset_sink *reset)
{
	struct legacy *l;

	*lp = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&l->lock, NULL);
	if (reset)
		l->reset = *reset;
	l->port92 = PORT92_A20;
	*lp = l;
	return 0;
}

int legacy_register(struct legacy *l, struct bus *pio)
{
	size_t n = sizeof(legacy_ports) / sizeof(legacy_ports[0]);

	for (size_t i = 0; i < n; i++) {
		const struct legacy_port *p = &legacy_ports[i];
		int ret = bus_add(pio, p->base, p->len, p->name, p->fn, l);

		if (ret)
			return ret;
	}
	return 0;
}

void legacy_destroy(struct legacy *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}
