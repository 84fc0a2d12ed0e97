/* ACPI tables for Linux guests: RSDP, XSDT, FADT (+FACS), a DSDT naming
 * \_S5 so the guest can power off and the virtio-mmio devices so it finds
 * them, and a MADT listing the vCPUs, the IOAPIC and the PC interrupt
 * overrides.  Layout, ports and virtio slots: platform.h. */
#include "platform.h"
#include "aml.h"
#include "../err.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define ACPI_OEM_ID "MINIVM"
#define ACPI_OEM_TABLE_ID "MINIVMM "
#define ACPI_CREATOR_ID "MVMM"

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* of the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision; /* 2: has length and xsdt */
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum; /* of all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space_id; /* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1 byte, 2 word, 3 dword */
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type; /* 0 */
	uint8_t length;
	uint8_t uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type; /* 1 */
	uint8_t length;
	uint8_t id;
	uint8_t reserved;
	uint32_t addr;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_iso {
	uint8_t type; /* 2 */
	uint8_t length;
	uint8_t bus;
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type; /* 4 */
	uint8_t length;
	uint8_t uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(offsetof(struct acpi_rsdp, xsdt) == 24, "RSDP xsdt");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(offsetof(struct acpi_fadt, sci_int) == 46, "FADT SCI_INT");
_Static_assert(offsetof(struct acpi_fadt, pm1a_evt_blk) == 56, "FADT PM1a");
_Static_assert(offsetof(struct acpi_fadt, pm1_evt_len) == 88, "FADT lens");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT arch");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, reset_reg) == 116, "FADT reset");
_Static_assert(offsetof(struct acpi_fadt, minor_version) == 131, "FADT minor");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(offsetof(struct acpi_fadt, x_pm1a_evt_blk) == 148, "FADT X_PM");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header");
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT local APIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");
_Static_assert(sizeof(struct madt_iso) == 10, "MADT override");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT local APIC NMI");

#define ACPI_GAS_IO 1

#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4) /* no fixed power button */
#define FADT_SLP_BUTTON (1u << 5) /* no fixed sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
/* IAPC_BOOT_ARCH: ISA devices (UART, RTC) and an i8042 are there, VGA is
 * not; the CMOS RTC (NO_CMOS_RTC, bit 5, clear) keeps the century in
 * CMOS byte 0x32. */
#define FADT_ARCH_LEGACY_DEVICES (1u << 0)
#define FADT_ARCH_8042 (1u << 1)
#define FADT_ARCH_NO_VGA (1u << 2)
#define FADT_RTC_CENTURY 0x32

#define MADT_PCAT_COMPAT (1u << 0) /* dual 8259s present (KVM's PIC) */
#define MADT_LAPIC_ENABLED (1u << 0)
#define MADT_IRQ_LEVEL_HIGH 0x000D /* active high (01), level (11) */

/* Linux's virtio_mmio driver binds to this _HID (virtio_mmio_acpi_match). */
#define ACPI_VIRTIO_MMIO_HID "LNRO0005"

uint8_t platform_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return sum;
}

static void acpi_header_init(struct acpi_header *h, const char *sig,
			     uint32_t len, uint8_t rev)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Sets the checksum byte so that the whole table at @t sums to 0. */
static void acpi_table_sum(uint8_t *t, size_t len)
{
	t[offsetof(struct acpi_header, checksum)] = 0;
	t[offsetof(struct acpi_header, checksum)] =
		(uint8_t)-platform_checksum(t, len);
}

static struct acpi_gas acpi_gas_io(uint16_t port, uint8_t bytes)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_IO,
		.bit_width = (uint8_t)(bytes * 8),
		.access_size = bytes == 4   ? 3
			       : bytes == 2 ? 2
					    : 1,
		.address = port,
	};
}

/* Hands out guest addresses in the ACPI area, each @align-aligned. */
struct acpi_alloc {
	uint64_t next;
};

static uint64_t acpi_alloc(struct acpi_alloc *a, uint64_t len, uint64_t align)
{
	uint64_t addr = (a->next + align - 1) & ~(align - 1);

	a->next = addr + len;
	return addr;
}

static void acpi_write_fadt(uint8_t *dst, uint64_t facs, uint64_t dsdt)
{
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	acpi_header_init(&f.h, "FACP", sizeof(f), 6);
	f.firmware_ctrl = (uint32_t)facs;
	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;
	f.sci_int = PLATFORM_SCI_IRQ;
	/* smi_cmd 0: the platform is always in ACPI mode. */
	f.pm1a_evt_blk = PLATFORM_PM1A_EVT_PORT;
	f.pm1a_cnt_blk = PLATFORM_PM1A_CNT_PORT;
	f.pm1_evt_len = PLATFORM_PM1_EVT_LEN;
	f.pm1_cnt_len = PLATFORM_PM1_CNT_LEN;
	f.x_pm1a_evt_blk =
		acpi_gas_io(PLATFORM_PM1A_EVT_PORT, PLATFORM_PM1_EVT_LEN);
	f.x_pm1a_cnt_blk =
		acpi_gas_io(PLATFORM_PM1A_CNT_PORT, PLATFORM_PM1_CNT_LEN);
	/* Latencies above 100 and 1000 us say C2 and C3 are unsupported. */
	f.p_lvl2_lat = 101;
	f.p_lvl3_lat = 1001;
	f.century = FADT_RTC_CENTURY;
	f.iapc_boot_arch = FADT_ARCH_LEGACY_DEVICES | FADT_ARCH_8042 |
			   FADT_ARCH_NO_VGA;
	f.flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON |
		  FADT_SLP_BUTTON | FADT_RESET_REG_SUP;
	f.reset_reg = acpi_gas_io(PLATFORM_RESET_PORT, 1);
	f.reset_value = PLATFORM_RESET_VALUE;
	f.minor_version = 0; /* 6.0 */
	memcpy(dst, &f, sizeof(f));
	acpi_table_sum(dst, sizeof(f));
}

static void acpi_write_facs(uint8_t *dst)
{
	struct acpi_facs f;

	memset(&f, 0, sizeof(f));
	memcpy(f.signature, "FACS", 4);
	f.length = sizeof(f);
	f.version = 2;
	memcpy(dst, &f, sizeof(f));
}

/* One virtio-mmio device, as this ASL says it:
 *   Device (VRnn) {	// nn: the slot in hex
 *     Name (_HID, "LNRO0005")
 *     Name (_UID, n)
 *     Name (_CRS, ResourceTemplate () {
 *       Memory32Fixed (ReadWrite, base, size)
 *       Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }
 *     })
 *   } */
static void acpi_dsdt_virtio(struct aml *a, unsigned n,
			     const struct platform_virtio *v)
{
	static const char hex[] = "0123456789ABCDEF";
	char name[5] = {'V', 'R', hex[(n >> 4) & 0xF], hex[n & 0xF], '\0'};
	uint8_t crs[32];
	struct aml r;
	size_t dev;

	aml_init(&r, crs, sizeof(crs));
	aml_res_memory32_fixed(&r, true, (uint32_t)v->base, v->size);
	aml_res_interrupt(&r, AML_RES_IRQ_CONSUMER | AML_RES_IRQ_EDGE, v->gsi);
	aml_res_end(&r);
	if (r.overflow)
		a->overflow = true;

	dev = aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_string(a, ACPI_VIRTIO_MMIO_HID);
	aml_name(a, "_UID");
	aml_integer(a, n);
	aml_name(a, "_CRS");
	aml_buffer(a, crs, r.len);
	aml_pkg_end(a, dev);
}

/* The DSDT's AML:
 *   Name (_S5, Package () { 5, 5, 0, 0 })	// SLP_TYPa, SLP_TYPb
 *   Scope (\_SB) { Device (VR00) ... }	// if there are devices
 * At the root, "_SB_" names \_SB; iasl writes it so too. */
static void acpi_dsdt_aml(struct aml *a, const struct platform_desc *pd)
{
	size_t pkg, scope;

	aml_name(a, "_S5_");
	aml_byte(a, AML_PACKAGE_OP);
	pkg = aml_pkg_begin(a);
	aml_byte(a, 4); /* NumElements */
	aml_integer(a, PLATFORM_SLP_TYP_S5);
	aml_integer(a, PLATFORM_SLP_TYP_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_pkg_end(a, pkg);
	if (!pd->nr_virtio)
		return;
	scope = aml_scope_begin(a, "_SB_");
	for (unsigned i = 0; i < pd->nr_virtio; i++)
		acpi_dsdt_virtio(a, i, &pd->virtio[i]);
	aml_pkg_end(a, scope);
}

/* The DSDT's length for @pd and the room writing it takes, header
 * included; -E2BIG if the AML cannot be encoded. */
static int acpi_dsdt_size(const struct platform_desc *pd, size_t *len,
			  size_t *room)
{
	struct aml a;

	aml_init(&a, NULL, 0);
	acpi_dsdt_aml(&a, pd);
	if (a.overflow)
		return err_set(-E2BIG, "the DSDT's AML is too long to encode");
	*len = sizeof(struct acpi_header) + a.len;
	*room = sizeof(struct acpi_header) + a.peak;
	return 0;
}

/* The DSDT of @len bytes at @dst, which has @room (acpi_dsdt_size). */
static int acpi_write_dsdt(uint8_t *dst, size_t len, size_t room,
			   const struct platform_desc *pd)
{
	struct acpi_header h;
	struct aml a;

	aml_init(&a, dst + sizeof(h), room - sizeof(h));
	acpi_dsdt_aml(&a, pd);
	if (a.overflow || a.len != len - sizeof(h))
		return err_set(-EOVERFLOW,
			       "the DSDT's AML came out %zu bytes, not %zu",
			       a.len, len - sizeof(h));
	/* What the packages' PkgLength room left past the end. */
	memset(dst + len, 0, room - len);
	/* Revision 2: AML integers are 64 bits. */
	acpi_header_init(&h, "DSDT", (uint32_t)len, 2);
	memcpy(dst, &h, sizeof(h));
	acpi_table_sum(dst, len);
	return 0;
}

static uint32_t madt_size(unsigned nr_vcpus)
{
	return (uint32_t)(sizeof(struct acpi_madt) +
			  nr_vcpus * sizeof(struct madt_lapic) +
			  sizeof(struct madt_ioapic) +
			  2 * sizeof(struct madt_iso) +
			  sizeof(struct madt_lapic_nmi));
}

static void acpi_write_madt(uint8_t *dst, unsigned nr_vcpus)
{
	uint32_t len = madt_size(nr_vcpus);
	struct acpi_madt h;
	struct madt_ioapic io = {
		.type = 1,
		.length = sizeof(io),
		.id = (uint8_t)nr_vcpus,
		.addr = PLATFORM_IOAPIC_ADDR,
		.gsi_base = 0,
	};
	/* The PIT's IRQ 0 is GSI 2; the SCI is level-triggered.  The virtio
	 * GSIs below 16 (platform.h) need no override: they are ISA IRQs
	 * mapped to the same pin, and an ISA IRQ without one is edge
	 * triggered and active high, as their _CRS says, so Linux keeps the
	 * _CRS setting without an "override" warning.  GSIs 16-23 are not
	 * ISA IRQs and take their trigger from _CRS. */
	struct madt_iso iso[2] = {
		{.type = 2,
		 .length = sizeof(iso[0]),
		 .source = 0,
		 .gsi = PLATFORM_IRQ0_PIN,
		 .flags = 0},
		{.type = 2,
		 .length = sizeof(iso[0]),
		 .source = PLATFORM_SCI_IRQ,
		 .gsi = PLATFORM_SCI_IRQ,
		 .flags = MADT_IRQ_LEVEL_HIGH},
	};
	/* NMI on LINT1 of every processor, as in the MP table. */
	struct madt_lapic_nmi nmi = {
		.type = 4,
		.length = sizeof(nmi),
		.uid = 0xFF,
		.lint = 1,
	};
	size_t off = sizeof(h);

	memset(&h, 0, sizeof(h));
	/* Revision 4 goes with ACPI 6.0, as the FADT. */
	acpi_header_init(&h.h, "APIC", len, 4);
	h.lapic_addr = PLATFORM_LAPIC_ADDR;
	h.flags = MADT_PCAT_COMPAT;
	memcpy(dst, &h, sizeof(h));
	for (unsigned i = 0; i < nr_vcpus; i++) {
		struct madt_lapic l = {
			.type = 0,
			.length = sizeof(l),
			.uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = MADT_LAPIC_ENABLED,
		};

		memcpy(dst + off, &l, sizeof(l));
		off += sizeof(l);
	}
	memcpy(dst + off, &io, sizeof(io));
	off += sizeof(io);
	memcpy(dst + off, iso, sizeof(iso));
	off += sizeof(iso);
	memcpy(dst + off, &nmi, sizeof(nmi));
	acpi_table_sum(dst, len);
}

int acpi_write(struct vm_mem *m, const struct platform_desc *pd,
	       uint64_t *rsdp_addr)
{
	struct acpi_alloc a = {.next = PLATFORM_ACPI_ADDR};
	uint64_t rsdp, xsdt, fadt, facs, dsdt, madt, tables[2];
	uint32_t xsdt_len = sizeof(struct acpi_header) + sizeof(tables);
	unsigned nr_vcpus = pd->nr_vcpus;
	struct acpi_header xh;
	struct acpi_rsdp r;
	size_t dsdt_len = 0, dsdt_room = 0;
	uint8_t *area;
	int ret;

	if (nr_vcpus < 1 || nr_vcpus > PLATFORM_MAX_VCPUS)
		return err_set(
			-EINVAL,
			"the ACPI tables describe 1 to %d vCPUs, not %u: use fewer --cpus",
			PLATFORM_MAX_VCPUS, nr_vcpus);
	ret = platform_check_virtio(pd);
	if (ret)
		return ret;
	/* About 60 bytes per virtio device. */
	ret = acpi_dsdt_size(pd, &dsdt_len, &dsdt_room);
	if (ret)
		return ret;
	/* RSDP on a 16-byte boundary, FACS on 64; the rest on 16. */
	rsdp = acpi_alloc(&a, sizeof(r), 16);
	xsdt = acpi_alloc(&a, xsdt_len, 16);
	fadt = acpi_alloc(&a, sizeof(struct acpi_fadt), 16);
	facs = acpi_alloc(&a, sizeof(struct acpi_facs), 64);
	dsdt = acpi_alloc(&a, dsdt_room, 16);
	madt = acpi_alloc(&a, madt_size(nr_vcpus), 16);
	/* 254 vCPUs and every virtio slot take under 4 KiB. */
	if (a.next > PLATFORM_ACPI_END)
		return err_set(-E2BIG,
			       "the ACPI tables do not fit the BIOS area");
	area = mem_ptr(m, PLATFORM_ACPI_ADDR, a.next - PLATFORM_ACPI_ADDR);
	if (!area)
		return err_set(
			-ENOMEM,
			"guest memory is too small for the ACPI tables at 0x%llx",
			(unsigned long long)PLATFORM_ACPI_ADDR);
	memset(area, 0, a.next - PLATFORM_ACPI_ADDR);
#define AT(gpa) (area + ((gpa)-PLATFORM_ACPI_ADDR))

	acpi_write_facs(AT(facs));
	ret = acpi_write_dsdt(AT(dsdt), dsdt_len, dsdt_room, pd);
	if (ret)
		return ret;
	acpi_write_fadt(AT(fadt), facs, dsdt);
	acpi_write_madt(AT(madt), nr_vcpus);

	tables[0] = fadt;
	tables[1] = madt;
	acpi_header_init(&xh, "XSDT", xsdt_len, 1);
	memcpy(AT(xsdt), &xh, sizeof(xh));
	memcpy(AT(xsdt) + sizeof(xh), tables, sizeof(tables));
	acpi_table_sum(AT(xsdt), xsdt_len);

	memset(&r, 0, sizeof(r));
	memcpy(r.signature, "RSD PTR ", 8);
	memcpy(r.oem_id, ACPI_OEM_ID, 6);
	r.revision = 2;
	r.length = sizeof(r);
	r.xsdt = xsdt;
	r.checksum = (uint8_t)-platform_checksum(&r, 20);
	r.ext_checksum = (uint8_t)-platform_checksum(&r, sizeof(r));
	memcpy(AT(rsdp), &r, sizeof(r));
#undef AT
	*rsdp_addr = rsdp;
	return 0;
}
