/* The i8042 keyboard controller, as much as Linux needs: the command byte,
 * self tests, the reset line (0xFE, output port bit 0) and a keyboard that
 * acknowledges its commands.  There is no AUX (mouse) port. */
#include "legacy.h"
#include "../bus.h"
#include "../err.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define STR_OBF 0x01	  /* output buffer full */
#define STR_SYS 0x04	  /* system flag, mirrors CTR bit 2 */
#define STR_CMD 0x08	  /* last write went to 0x64 */
#define STR_UNLOCKED 0x10 /* keylock off: Linux warns otherwise */

#define CTR_KBDINT 0x01
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

#define KBD_ACK 0xfa
#define KBD_RESEND 0xfe
#define KBD_BAT_OK 0xaa

#define I8042_QUEUE 16 /* bounds what a guest can make us hold */

struct i8042 {
	pthread_mutex_t lock;
	struct reset_sink reset;
	struct irq_sink irq;
	bool has_irq;
	bool irq_level;

	uint8_t ctr;	     /* the command byte */
	uint8_t outport;     /* bit 0: reset line (active low), bit 1: A20 */
	uint8_t status_cmd;  /* STR_CMD or 0 */
	uint8_t pending;     /* controller command waiting for a data byte */
	uint8_t kbd_pending; /* keyboard command waiting for its argument */
	uint8_t kbd_set;     /* scancode set */
	bool kbd_scanning;

	uint8_t q[I8042_QUEUE];
	uint8_t last; /* last byte read: what an empty buffer shows */
	unsigned head;
	unsigned count;
};

static void i8042_update_irq(struct i8042 *k)
{
	bool level = k->count && (k->ctr & CTR_KBDINT);

	if (level == k->irq_level)
		return;
	k->irq_level = level;
	if (k->has_irq)
		k->irq.set_level(k->irq.opaque, I8042_KBD_IRQ, level);
}

static void i8042_queue(struct i8042 *k, uint8_t byte)
{
	if (k->count == I8042_QUEUE)
		return; /* the guest isn't reading; drop, like a full buffer */
	k->q[(k->head + k->count) % I8042_QUEUE] = byte;
	k->count++;
}

/* The controller's own replies go through its one-byte output buffer and
 * replace anything unread, so a reply never queues behind stale bytes. */
static void i8042_reply(struct i8042 *k, uint8_t byte)
{
	k->head = 0;
	k->count = 0;
	i8042_queue(k, byte);
}

/* Commands 0xF0-0xFF pulse the output port bits that are clear in the
 * low nibble; bit 0 is the CPU reset line. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case 0x20: /* read command byte */
		i8042_reply(k, k->ctr);
		return false;
	case 0x60: /* write command byte */
	case 0xd1: /* write output port */
	case 0xd2: /* write keyboard output buffer */
	case 0xd3: /* write AUX output buffer (loopback) */
	case 0xd4: /* write to AUX device */
		k->pending = cmd;
		return false;
	case 0xa7: /* disable AUX */
		k->ctr |= CTR_AUXDIS;
		return false;
	case 0xa8: /* enable AUX: there is none, but the bit is the guest's */
		k->ctr &= (uint8_t)~CTR_AUXDIS;
		return false;
	case 0xa9: /* AUX interface test */
		/* "Clock line stuck low": Linux then decides quickly that
		 * there is no AUX port instead of probing for a mouse. */
		i8042_reply(k, 0x01);
		return false;
	case 0xaa: /* controller self test */
		i8042_reply(k, 0x55);
		return false;
	case 0xab: /* keyboard interface test */
		i8042_reply(k, 0x00);
		return false;
	case 0xad: /* disable keyboard */
		k->ctr |= CTR_KBDDIS;
		return false;
	case 0xae: /* enable keyboard */
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		return false;
	case 0xc0: /* read input port: nothing pressed, not inhibited */
		i8042_reply(k, 0x80);
		return false;
	case 0xd0: /* read output port */
		i8042_reply(k, k->outport);
		return false;
	default:
		break;
	}
	return (cmd & 0xf0) == 0xf0 && !(cmd & 0x01);
}

static void i8042_kbd_arg(struct i8042 *k, uint8_t cmd, uint8_t arg)
{
	i8042_queue(k, KBD_ACK);
	if (cmd == 0xf0) { /* scancode set: 0 asks, 1-3 select */
		if (arg == 0)
			i8042_queue(k, k->kbd_set);
		else if (arg <= 3)
			k->kbd_set = arg;
	}
}

/* A byte for the keyboard itself. */
static void i8042_kbd_write(struct i8042 *k, uint8_t byte)
{
	if (k->kbd_pending) {
		uint8_t cmd = k->kbd_pending;

		k->kbd_pending = 0;
		i8042_kbd_arg(k, cmd, byte);
		return;
	}
	switch (byte) {
	case 0xed: /* set LEDs */
	case 0xf3: /* set typematic rate */
	case 0xf0: /* get/set scancode set */
		k->kbd_pending = byte;
		i8042_queue(k, KBD_ACK);
		break;
	case 0xee: /* echo */
		i8042_queue(k, 0xee);
		break;
	case 0xf2: /* identify: an MF2 keyboard, ID translated if asked */
		i8042_queue(k, KBD_ACK);
		i8042_queue(k, 0xab);
		i8042_queue(k, k->ctr & CTR_XLATE ? 0x41 : 0x83);
		break;
	case 0xf4: /* enable scanning */
		k->kbd_scanning = true;
		i8042_queue(k, KBD_ACK);
		break;
	case 0xf5: /* disable scanning, restore defaults */
		k->kbd_scanning = false;
		k->kbd_set = 2;
		i8042_queue(k, KBD_ACK);
		break;
	case 0xf6: /* restore defaults */
		k->kbd_set = 2;
		i8042_queue(k, KBD_ACK);
		break;
	case 0xf7: /* set-3 key modes: accepted, meaningless here */
	case 0xf8:
	case 0xf9:
	case 0xfa:
		i8042_queue(k, KBD_ACK);
		break;
	case 0xff: /* reset and self test */
		k->kbd_scanning = true;
		k->kbd_set = 2;
		i8042_queue(k, KBD_ACK);
		i8042_queue(k, KBD_BAT_OK);
		break;
	default:
		i8042_queue(k, KBD_RESEND);
		break;
	}
}

/* A data byte on 0x60: a pending controller command's argument, or a
 * byte for the keyboard.  Returns true to reset the machine. */
static bool i8042_data(struct i8042 *k, uint8_t byte)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case 0x60:
		k->ctr = byte;
		return false;
	case 0xd1:
		k->outport = byte;
		return !(byte & 0x01);
	case 0xd2:
		i8042_reply(k, byte);
		return false;
	case 0xd3:
		/* Echoed without the AUX-data status bit, as a controller
		 * with no AUX port wired would: Linux's AUX loop test
		 * fails at once instead of timing out. */
		i8042_reply(k, byte);
		return false;
	case 0xd4:
		return false; /* no AUX device to talk to */
	default:
		i8042_kbd_write(k, byte);
		return false;
	}
}

static void i8042_do_reset(struct i8042 *k, bool reset)
{
	if (reset && k->reset.reset)
		k->reset.reset(k->reset.opaque);
}

void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct i8042 *k = opaque;
	bool reset = false;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->status_cmd = 0;
		reset = i8042_data(k, data[0]);
	} else {
		/* Reading an empty buffer returns the last byte again. */
		if (k->count) {
			k->last = k->q[k->head];
			k->head = (k->head + 1) % I8042_QUEUE;
			k->count--;
		}
		data[0] = k->last;
		for (uint32_t i = 1; i < len; i++)
			data[i] = 0xff;
		/* Drop the line between bytes: IRQ 1 is edge triggered and
		 * each byte needs its own edge. */
		if (k->irq_level && k->count) {
			k->irq_level = false;
			if (k->has_irq)
				k->irq.set_level(k->irq.opaque, I8042_KBD_IRQ,
						 false);
		}
	}
	i8042_update_irq(k);
	pthread_mutex_unlock(&k->lock);
	i8042_do_reset(k, reset);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct i8042 *k = opaque;
	bool reset = false;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->status_cmd = STR_CMD;
		k->pending = 0; /* a new command abandons a half-given one */
		reset = i8042_command(k, data[0]);
	} else {
		/* Input buffer never full: every write is handled at once. */
		data[0] = STR_UNLOCKED | k->status_cmd |
			  (k->ctr & CTR_SYS ? STR_SYS : 0) |
			  (k->count ? STR_OBF : 0);
		for (uint32_t i = 1; i < len; i++)
			data[i] = 0xff;
	}
	i8042_update_irq(k);
	pthread_mutex_unlock(&k->lock);
	i8042_do_reset(k, reset);
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Make Ctrl, make Alt, make Delete, then the breaks in reverse. */
	static const uint8_t set1[] = {0x1d, 0x38, 0xe0, 0x53,
				       0xe0, 0xd3, 0xb8, 0x9d};
	static const uint8_t set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
				       0x71, 0xf0, 0x11, 0xf0, 0x14};
	const uint8_t *codes;
	size_t n;
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	if (k->ctr & CTR_XLATE || k->kbd_set == 1) {
		codes = set1;
		n = sizeof(set1);
	} else {
		codes = set2;
		n = sizeof(set2);
	}
	if ((k->ctr & CTR_KBDDIS) || !k->kbd_scanning) {
		ret = err_set(
			-EAGAIN,
			"the guest has turned its keyboard off: no Ctrl-Alt-Del");
	} else if (k->count + n > I8042_QUEUE) {
		ret = err_set(
			-ENOSPC,
			"the guest has not read the keyboard's last bytes: try again");
	} else {
		for (size_t i = 0; i < n; i++)
			i8042_queue(k, codes[i]);
		i8042_update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

int i8042_create(struct i8042 **kp, const struct reset_sink *reset,
		 const struct irq_sink *irq)
{
	struct i8042 *k;

	*kp = NULL;
	if (irq && !irq->set_level)
		return err_set(-EINVAL, "i8042: IRQ sink without set_level; "
					"pass NULL for no IRQ");
	k = calloc(1, sizeof(*k));
	if (!k)
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&k->lock, NULL);
	if (reset)
		k->reset = *reset;
	if (irq) {
		k->irq = *irq;
		k->has_irq = true;
	}
	/* What a BIOS leaves: translation on, system flag, keyboard
	 * interrupt enabled, AUX disabled. */
	k->ctr = CTR_XLATE | CTR_AUXDIS | CTR_SYS | CTR_KBDINT;
	k->outport = 0x03; /* not in reset, A20 enabled */
	k->kbd_set = 2;
	k->kbd_scanning = true;
	*kp = k;
	return 0;
}

int i8042_register(struct i8042 *k, struct bus *pio)
{
	int ret;

	ret = bus_add(pio, I8042_DATA_PORT, 1, "i8042-data", i8042_data_io, k);
	if (ret)
		return ret;
	return bus_add(pio, I8042_CMD_PORT, 1, "i8042-cmd", i8042_cmd_io, k);
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}
