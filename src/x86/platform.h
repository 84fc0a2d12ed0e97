/* The PC platform a Linux guest expects to find in memory: the e820 memory
 * map, the MP table and the ACPI tables, and the fixed addresses, I/O ports,
 * interrupt wiring and virtio-mmio slots they describe. */
#ifndef MINIVMM_PLATFORM_H
#define MINIVMM_PLATFORM_H

#include "../mem.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Low memory as the guest sees it (e820):
 *   0x00000-0x9FBFF  RAM (minivmm's boot tables and the boot protocol's
 *                    structures live here, see boot/linux.h)
 *   0x9FC00-0xFFFFF  reserved: EBDA, VGA hole, BIOS area
 *     0xE0000-0xEFFFF  ACPI tables, RSDP first (at PLATFORM_ACPI_ADDR)
 *     0xF0000-0xFFFFF  MP floating pointer and MP config table
 *   0x100000-        RAM up to the end of region 0, then RAM above 4 GiB
 */
#define PLATFORM_EBDA_START 0x9FC00ull
#define PLATFORM_BIOS_START 0xE0000ull
#define PLATFORM_BIOS_END 0x100000ull
#define PLATFORM_ACPI_ADDR 0xE0000ull /* RSDP; the tables follow it */
#define PLATFORM_ACPI_END 0xF0000ull
#define PLATFORM_MPTABLE_ADDR 0xF0000ull /* floating pointer, then table */
#define PLATFORM_MPTABLE_END 0x100000ull

#define PLATFORM_LAPIC_ADDR 0xFEE00000u
#define PLATFORM_IOAPIC_ADDR 0xFEC00000u
#define PLATFORM_IOAPIC_VERSION 0x11
#define PLATFORM_IOAPIC_PINS 24
/* Both tables use 8-bit xAPIC ids and the IOAPIC takes id nr_vcpus, so 254
 * vCPUs is the most they can describe (0xFF is the broadcast id). */
#define PLATFORM_MAX_VCPUS 254

/*
 * Interrupt wiring both tables describe, as on a PC with the in-kernel
 * irqchip: ISA IRQ n is IOAPIC pin n, except the PIT's IRQ 0 which is pin 2
 * (the 8259 cascade does not appear on the IOAPIC).  KVM's default GSI
 * routing sends GSI 0 to IOAPIC pin 0, so the VMM must route GSI 0 to pin 2
 * (KVM_SET_GSI_ROUTING, as QEMU does) for the PIT to reach the IOAPIC.
 * The SCI is IRQ 9, level-triggered, active high.
 */
#define PLATFORM_IRQ0_PIN 2
#define PLATFORM_SCI_IRQ 9

/*
 * GSIs the PC devices already use (each is its IOAPIC pin): 0 the PIT (its
 * pin is 2), 1 the i8042 keyboard, 2 the 8259 cascade, 4 COM1, 8 the RTC,
 * 9 the SCI.  The i8042 has no AUX port (dev/i8042.c), so 12 is free; 3
 * (COM2, absent) is left alone.
 */
#define PLATFORM_GSI_USED                                            \
	((1u << 0) | (1u << 1) | (1u << 2) | (1u << 4) | (1u << 8) | \
	 (1u << PLATFORM_SCI_IRQ))

/*
 * virtio-mmio devices, one per slot.  Slot n is the 4 KiB at
 * PLATFORM_VIRTIO_BASE + n * PLATFORM_VIRTIO_SIZE, in the MMIO hole below
 * 4 GiB, with its own edge-triggered, active-high interrupt on an IOAPIC
 * GSI: the free pins from 5 up, in order (platform.c):
 *
 *   slot  0  1  2  3   4   5   6   7   8   9  10  11  12  13  14  15  16
 *   GSI   5  6  7  10  11  12  13  14  15  16  17  18  19  20  21  22  23
 *
 * The DSDT names the n-th virtio device \_SB.VRnn (nn in hex), _HID
 * "LNRO0005", _UID n, which Linux's virtio_mmio driver binds to; the MP
 * table has an I/O interrupt entry for each GSI (ISA bus, identity pin) and
 * KVM's GSI routing (pc.c) sends each to its own IOAPIC pin.  The transport
 * must use the addresses and GSIs in struct platform_desc (filled by
 * platform_add_virtio()), never its own numbers.
 *
 * With Firecracker's boot timer (--boot-timer, dev/boot_timer.h) slot 0 is
 * the boot timer's (PLATFORM_BOOT_TIMER_BASE; its GSI stays unused) and the
 * virtio devices start at slot 1 (0xD0001000, GSI 6), as Firecracker's do
 * after it: platform_desc.first_slot is 1, and 16 devices fit.  Without
 * it, the first device is in slot 0 (raw guests rely on that, README).
 */
#define PLATFORM_VIRTIO_BASE 0xD0000000ull
#define PLATFORM_VIRTIO_SIZE 0x1000u
#define PLATFORM_VIRTIO_GSI_FIRST 5
#define PLATFORM_VIRTIO_SLOTS 17 /* IOAPIC pins 5-23 minus 8 and 9 */
#define PLATFORM_BOOT_TIMER_BASE PLATFORM_VIRTIO_BASE /* slot 0 */

/*
 * ACPI fixed hardware (FADT), I/O ports the VMM must implement:
 *   PM1a_EVT_BLK 0x600, 4 bytes: PM1_STS (0x600, 16 bit, write 1 to clear),
 *                PM1_EN (0x602, 16 bit); reading 0 is fine, no events.
 *   PM1a_CNT_BLK 0x604, 2 bytes: PM1_CNT; bit 0 SCI_EN should read as 1
 *                (there is no SMI_CMD, so ACPI mode is always on);
 *                a write with SLP_EN (bit 13) set and SLP_TYP (bits 10-12)
 *                equal to PLATFORM_SLP_TYP_S5 powers the VM off.
 *   Reset register: I/O port 0xCF9, writing 0x06 resets the machine.
 * There is no PM timer, no GPE block and no SMI command port.  The FADT
 * also says: legacy ISA devices and an i8042 are present (so Linux probes
 * ports 0x60/0x64), VGA is not, and the CMOS RTC keeps the century in CMOS
 * byte 0x32 (dev/rtc.c).
 */
#define PLATFORM_PM1A_EVT_PORT 0x600
#define PLATFORM_PM1_EVT_LEN 4
#define PLATFORM_PM1A_CNT_PORT 0x604
#define PLATFORM_PM1_CNT_LEN 2
#define PLATFORM_PM1_CNT_SCI_EN (1u << 0)
#define PLATFORM_PM1_CNT_SLP_TYP_SHIFT 10
#define PLATFORM_PM1_CNT_SLP_TYP_MASK (7u << 10)
#define PLATFORM_PM1_CNT_SLP_EN (1u << 13)
#define PLATFORM_SLP_TYP_S5 5 /* the DSDT's \_S5 package */
#define PLATFORM_RESET_PORT 0xCF9
#define PLATFORM_RESET_VALUE 0x06

/* e820 memory map; the layout of the zero page's e820_table entries. */
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_MAX_ENTRIES 128 /* what the zero page has room for */

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry is 20 bytes");

/* What the firmware tables describe: the vCPUs and the virtio-mmio
 * devices, in slot order (virtio[i] is slot first_slot + i when built with
 * platform_add_virtio). */
struct platform_virtio {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

struct platform_desc {
	unsigned nr_vcpus;
	/* Slots below this one hold no virtio device: 1 with the boot
	 * timer in slot 0, else 0.  Set before the first device is added. */
	unsigned first_slot;
	unsigned nr_virtio;
	struct platform_virtio virtio[PLATFORM_VIRTIO_SLOTS];
};

/* Guest physical base and GSI of virtio slot @slot; 0 for a slot at or past
 * PLATFORM_VIRTIO_SLOTS (GSI 0 is the PIT's, never a virtio GSI). */
uint64_t platform_virtio_base(unsigned slot);
uint32_t platform_virtio_gsi(unsigned slot);
/* Adds the next free slot's device to @pd (slot first_slot + nr_virtio)
 * and sets *@index to its index in @pd->virtio; -ENOSPC ("too many virtio
 * devices: minivmm has N slots", N the slots from first_slot on) when all
 * are taken. */
int platform_add_virtio(struct platform_desc *pd, unsigned *index);
/* How many virtio devices fit in @pd: the slots from first_slot on. */
unsigned platform_virtio_room(const struct platform_desc *pd);
/* -EINVAL with a message unless every device in @pd lies in the MMIO hole
 * below 4 GiB and has its own GSI among the free IOAPIC pins. */
int platform_check_virtio(const struct platform_desc *pd);

/* Fills @out (room for @max entries) with the map of @m: RAM below the EBDA,
 * the reserved EBDA and BIOS area, RAM from 1 MiB to the end of region 0,
 * RAM above 4 GiB if any.  Sets *@n; -ENOSPC if @max is too small. */
int e820_build(const struct vm_mem *m, struct e820_entry *out, unsigned max,
	       unsigned *n);

/* Writes the MP floating pointer and MP configuration table for @pd's
 * vCPUs (APIC ids 0..nr_vcpus-1, vCPU 0 the BSP, IOAPIC id nr_vcpus) and
 * virtio GSIs at PLATFORM_MPTABLE_ADDR; *@addr gets the floating pointer's
 * address. */
int mptable_write(struct vm_mem *m, const struct platform_desc *pd,
		  uint64_t *addr);

/* Writes RSDP, XSDT, FADT, FACS, DSDT (\_S5 and @pd's virtio devices) and
 * MADT (@pd's vCPUs) from PLATFORM_ACPI_ADDR on; *@rsdp_addr gets the
 * RSDP's address. */
int acpi_write(struct vm_mem *m, const struct platform_desc *pd,
	       uint64_t *rsdp_addr);

/* 8-bit sum of @len bytes; ACPI and MP structures sum to 0. */
uint8_t platform_checksum(const void *p, size_t len);

#endif
