/* The Intel MultiProcessor Specification 1.4 table: how a guest without ACPI
 * (or booted with acpi=off) finds its CPUs, the IOAPIC and the ISA interrupt
 * wiring.  Written into the BIOS area, where Linux scans for "_MP_". */
#include "platform.h"
#include "../err.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define MP_SPEC_REV 4 /* 1.4 */

enum {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_INTSRC = 3,
	MP_LINTSRC = 4,
};

enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };

#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_IOAPIC_ENABLED 0x01
/* irq_flag: polarity bits 0-1 (1 active high), trigger bits 2-3 (3 level);
 * 0 conforms to the bus (ISA: edge, active high). */
#define MP_IRQ_CONFORMS 0x0000
#define MP_IRQ_EDGE_HIGH 0x0005
#define MP_IRQ_LEVEL_HIGH 0x000D
#define MP_ISA_BUS 0
#define MP_ALL_LAPICS 0xFF

struct mp_floating {
	char signature[4]; /* "_MP_" */
	uint32_t config;   /* physical address of the config table */
	uint8_t length;	   /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5]; /* 0: a config table is present */
} __attribute__((packed));

struct mp_config {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* header plus entries */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entries;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

/* Both the I/O (type 3) and the local (type 4) interrupt entries. */
struct mp_intsrc {
	uint8_t type;
	uint8_t irq_type;
	uint16_t irq_flag;
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer");
_Static_assert(sizeof(struct mp_config) == 44, "MP config header");
_Static_assert(offsetof(struct mp_config, lapic_addr) == 36, "MP lapic");
_Static_assert(sizeof(struct mp_processor) == 20, "MP processor entry");
_Static_assert(sizeof(struct mp_bus) == 8, "MP bus entry");
_Static_assert(sizeof(struct mp_ioapic) == 8, "MP IOAPIC entry");
_Static_assert(sizeof(struct mp_intsrc) == 8, "MP interrupt entry");

/* Family 6, model 1, stepping 1; features FPU and APIC.  Linux only uses
 * these to print; the CPUs' real identity comes from CPUID. */
#define MP_CPU_SIGNATURE 0x611u
#define MP_CPU_FEATURES ((1u << 0) | (1u << 9))
#define MP_LAPIC_VERSION 0x14

/* ISA IRQs 0-15 except the cascade, IRQ 2, whose pin the PIT's IRQ 0 uses;
 * then ExtINT and NMI on LINT0/1.  Virtio GSIs below 16 are among those ISA
 * IRQs (conforming to the bus: edge, active high, as their _CRS says);
 * each one from 16 up gets an entry of its own. */
#define MP_NR_INTSRC 15
#define MP_NR_LINTSRC 2

/* How many virtio GSIs need an entry besides the ISA IRQs'. */
static unsigned mp_nr_virtio_intsrc(const struct platform_desc *pd)
{
	unsigned n = 0;

	for (unsigned i = 0; i < pd->nr_virtio; i++)
		if (pd->virtio[i].gsi >= 16)
			n++;
	return n;
}

static size_t mp_table_size(unsigned nr_vcpus, unsigned nr_extra)
{
	return sizeof(struct mp_config) +
	       nr_vcpus * sizeof(struct mp_processor) + sizeof(struct mp_bus) +
	       sizeof(struct mp_ioapic) +
	       (MP_NR_INTSRC + nr_extra + MP_NR_LINTSRC) *
		       sizeof(struct mp_intsrc);
}

int mptable_write(struct vm_mem *m, const struct platform_desc *pd,
		  uint64_t *addr)
{
	uint64_t base = PLATFORM_MPTABLE_ADDR;
	uint64_t cfg_addr = base + sizeof(struct mp_floating);
	unsigned nr_vcpus = pd->nr_vcpus, nr_extra;
	uint8_t ioapic_id = (uint8_t)nr_vcpus;
	struct mp_floating fp;
	struct mp_config cfg;
	struct mp_bus bus;
	struct mp_ioapic io;
	size_t size, off;
	uint8_t *dst;
	int ret;

	if (nr_vcpus < 1 || nr_vcpus > PLATFORM_MAX_VCPUS)
		return err_set(
			-EINVAL,
			"the MP table describes 1 to %d vCPUs, not %u: use fewer --cpus",
			PLATFORM_MAX_VCPUS, nr_vcpus);
	ret = platform_check_virtio(pd);
	if (ret)
		return ret;
	nr_extra = mp_nr_virtio_intsrc(pd);
	size = mp_table_size(nr_vcpus, nr_extra);
	/* 254 vCPUs need about 5 KiB, far below the 64 KiB area. */
	if (size > PLATFORM_MPTABLE_END - cfg_addr)
		return err_set(-E2BIG,
			       "the MP table does not fit the BIOS area");
	dst = mem_ptr(m, base, sizeof(fp) + size);
	if (!dst)
		return err_set(
			-ENOMEM,
			"guest memory is too small for the MP table at 0x%llx",
			(unsigned long long)base);
	memset(dst, 0, sizeof(fp) + size);

	cfg = (struct mp_config){
		.length = (uint16_t)size,
		.spec_rev = MP_SPEC_REV,
		/* processors, the bus, the IOAPIC, interrupt entries */
		.entries = (uint16_t)(nr_vcpus + 2 + MP_NR_INTSRC + nr_extra +
				      MP_NR_LINTSRC),
		.lapic_addr = PLATFORM_LAPIC_ADDR,
	};
	memcpy(cfg.signature, "PCMP", 4);
	memcpy(cfg.oem, "MINIVMM ", 8);
	memcpy(cfg.product, "MINIVMM     ", 12);
	off = sizeof(fp) + sizeof(cfg);

	for (unsigned i = 0; i < nr_vcpus; i++) {
		struct mp_processor p = {
			.type = MP_PROCESSOR,
			.apic_id = (uint8_t)i,
			.apic_version = MP_LAPIC_VERSION,
			.flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.signature = MP_CPU_SIGNATURE,
			.features = MP_CPU_FEATURES,
		};

		memcpy(dst + off, &p, sizeof(p));
		off += sizeof(p);
	}
	bus = (struct mp_bus){.type = MP_BUS, .bus_id = MP_ISA_BUS};
	memcpy(bus.bus_type, "ISA   ", 6);
	memcpy(dst + off, &bus, sizeof(bus));
	off += sizeof(bus);
	io = (struct mp_ioapic){
		.type = MP_IOAPIC,
		.apic_id = ioapic_id,
		.apic_version = PLATFORM_IOAPIC_VERSION,
		.flags = MP_IOAPIC_ENABLED,
		.addr = PLATFORM_IOAPIC_ADDR,
	};
	memcpy(dst + off, &io, sizeof(io));
	off += sizeof(io);
	for (unsigned irq = 0; irq < 16; irq++) {
		struct mp_intsrc s = {
			.type = MP_INTSRC,
			.irq_type = MP_IRQ_INT,
			.irq_flag = irq == PLATFORM_SCI_IRQ ? MP_IRQ_LEVEL_HIGH
							    : MP_IRQ_CONFORMS,
			.src_bus = MP_ISA_BUS,
			.src_irq = (uint8_t)irq,
			.dst_apic = ioapic_id,
			.dst_pin =
				(uint8_t)(irq == 0 ? PLATFORM_IRQ0_PIN : irq),
		};

		if (irq == 2)
			continue;
		memcpy(dst + off, &s, sizeof(s));
		off += sizeof(s);
	}
	/* GSIs 16-23 are no ISA IRQs, but Linux takes an ISA bus entry for
	 * any pin (as Firecracker writes them); the flags say edge, active
	 * high outright, and the IRQ number stays the GSI. */
	for (unsigned i = 0; i < pd->nr_virtio; i++) {
		uint32_t gsi = pd->virtio[i].gsi;
		struct mp_intsrc s = {
			.type = MP_INTSRC,
			.irq_type = MP_IRQ_INT,
			.irq_flag = MP_IRQ_EDGE_HIGH,
			.src_bus = MP_ISA_BUS,
			.src_irq = (uint8_t)gsi,
			.dst_apic = ioapic_id,
			.dst_pin = (uint8_t)gsi,
		};

		if (gsi < 16)
			continue;
		memcpy(dst + off, &s, sizeof(s));
		off += sizeof(s);
	}
	for (unsigned lint = 0; lint < MP_NR_LINTSRC; lint++) {
		struct mp_intsrc s = {
			.type = MP_LINTSRC,
			.irq_type = lint == 0 ? MP_IRQ_EXTINT : MP_IRQ_NMI,
			.irq_flag = MP_IRQ_CONFORMS,
			.src_bus = MP_ISA_BUS,
			.dst_apic = MP_ALL_LAPICS,
			.dst_pin = (uint8_t)lint,
		};

		memcpy(dst + off, &s, sizeof(s));
		off += sizeof(s);
	}
	/* The checksum covers the header and every entry. */
	memcpy(dst + sizeof(fp), &cfg, sizeof(cfg));
	cfg.checksum = (uint8_t)-platform_checksum(dst + sizeof(fp), size);
	memcpy(dst + sizeof(fp), &cfg, sizeof(cfg));

	fp = (struct mp_floating){
		.config = (uint32_t)cfg_addr,
		.length = 1,
		.spec_rev = MP_SPEC_REV,
	};
	memcpy(fp.signature, "_MP_", 4);
	fp.checksum = (uint8_t)-platform_checksum(&fp, sizeof(fp));
	memcpy(dst, &fp, sizeof(fp));
	*addr = base;
	return 0;
}
