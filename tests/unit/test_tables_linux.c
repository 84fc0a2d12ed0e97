/* Unit tests for the platform tables a Linux guest reads: the e820 map, the
 * MP table and the ACPI tables, parsed back the way a guest finds them, with
 * 0 to PLATFORM_VIRTIO_SLOTS virtio-mmio devices; and the virtio slots,
 * also after the boot timer's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dev/legacy.h"
#include "dev/serial.h"
#include "err.h"
#include "mem.h"
#include "x86/platform.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define RTC_IRQ 8

static uint8_t *const fake_host = (uint8_t *)0x100000000000ull;

static uint8_t rd8(const struct vm_mem *m, uint64_t gpa)
{
	uint8_t *p = mem_ptr(m, gpa, 1);

	assert_non_null(p);
	return *p;
}

static uint16_t rd16(const struct vm_mem *m, uint64_t gpa)
{
	return (uint16_t)(rd8(m, gpa) | rd8(m, gpa + 1) << 8);
}

static uint32_t rd32(const struct vm_mem *m, uint64_t gpa)
{
	return rd16(m, gpa) | (uint32_t)rd16(m, gpa + 2) << 16;
}

static uint64_t rd64(const struct vm_mem *m, uint64_t gpa)
{
	return rd32(m, gpa) | (uint64_t)rd32(m, gpa + 4) << 32;
}

static uint8_t sum(const struct vm_mem *m, uint64_t gpa, uint64_t len)
{
	uint8_t *p = mem_ptr(m, gpa, len);

	assert_non_null(p);
	return platform_checksum(p, len);
}

static bool is(const struct vm_mem *m, uint64_t gpa, const char *s)
{
	uint8_t *p = mem_ptr(m, gpa, strlen(s));

	return p && memcmp(p, s, strlen(s)) == 0;
}

/* @nr_vcpus vCPUs and @nr_virtio virtio devices from slot @first on (1:
 * the boot timer has slot 0). */
static struct platform_desc desc_at(unsigned nr_vcpus, unsigned nr_virtio,
				    unsigned first)
{
	struct platform_desc pd = {.nr_vcpus = nr_vcpus, .first_slot = first};
	unsigned slot = ~0u;

	for (unsigned i = 0; i < nr_virtio; i++) {
		assert_int_equal(platform_add_virtio(&pd, &slot), 0);
		assert_int_equal(slot, i);
	}
	assert_int_equal(pd.nr_virtio, nr_virtio);
	return pd;
}

/* @nr_vcpus vCPUs and the first @nr_virtio virtio slots. */
static struct platform_desc desc(unsigned nr_vcpus, unsigned nr_virtio)
{
	return desc_at(nr_vcpus, nr_virtio, 0);
}

/* The virtio GSIs of @pd as a mask. */
static uint32_t virtio_gsi_mask(const struct platform_desc *pd)
{
	uint32_t mask = 0;

	for (unsigned i = 0; i < pd->nr_virtio; i++)
		mask |= 1u << pd->virtio[i].gsi;
	return mask;
}

static void expect_entry(const struct e820_entry *e, uint64_t addr,
			 uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_e820_small(void **state)
{
	struct e820_entry map[8];
	struct vm_mem m;
	unsigned n;

	(void)state;
	assert_int_equal(mem_layout(&m, 128 * MiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 8, &n), 0);
	assert_int_equal(n, 3);
	expect_entry(&map[0], 0, 0x9FC00, E820_RAM);
	expect_entry(&map[1], 0x9FC00, 0x100000 - 0x9FC00, E820_RESERVED);
	expect_entry(&map[2], 0x100000, 127 * MiB, E820_RAM);

	assert_int_equal(mem_layout(&m, 1 * GiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 8, &n), 0);
	assert_int_equal(n, 3);
	expect_entry(&map[2], 0x100000, 1 * GiB - 1 * MiB, E820_RAM);
}

static void test_e820_split(void **state)
{
	struct e820_entry map[8];
	struct vm_mem m;
	unsigned n;

	(void)state;
	assert_int_equal(mem_layout(&m, 3584 * MiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 8, &n), 0);
	assert_int_equal(n, 4);
	expect_entry(&map[0], 0, 0x9FC00, E820_RAM);
	expect_entry(&map[1], 0x9FC00, 0x60400, E820_RESERVED);
	expect_entry(&map[2], 1 * MiB, 3 * GiB - 1 * MiB, E820_RAM);
	expect_entry(&map[3], 4 * GiB, 512 * MiB, E820_RAM);
}

static void test_e820_minimum_and_overflow(void **state)
{
	struct e820_entry map[8];
	struct vm_mem m;
	unsigned n;

	(void)state;
	/* Exactly 1 MiB: no RAM above it, and no empty entry for it. */
	assert_int_equal(mem_layout(&m, 1 * MiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 8, &n), 0);
	assert_int_equal(n, 2);

	err_clear();
	assert_int_equal(mem_layout(&m, 3584 * MiB, fake_host), 0);
	assert_int_equal(e820_build(&m, map, 3, &n), -ENOSPC);
	assert_true(strlen(err_msg()) > 0);
}

/* Finds the MP floating pointer the way Linux does: "_MP_" on a 16-byte
 * boundary in 0xF0000-0xFFFFF with a valid checksum. */
static uint64_t mp_find(const struct vm_mem *m)
{
	for (uint64_t a = 0xF0000; a < 0x100000; a += 16)
		if (is(m, a, "_MP_") && sum(m, a, 16) == 0)
			return a;
	return 0;
}

static void check_mptable_at(unsigned nr, unsigned nr_virtio, unsigned first)
{
	struct platform_desc pd = desc_at(nr, nr_virtio, first);
	uint32_t virtio = virtio_gsi_mask(&pd), irq_seen = 0;
	struct vm_mem m;
	uint64_t addr = 0, fp, cfg, p;
	unsigned cpus = 0, ioapics = 0, entries, irq0_pin = 0xFF;

	assert_int_equal(mem_init(&m, 64 * MiB), 0);
	assert_int_equal(mptable_write(&m, &pd, &addr), 0);
	fp = mp_find(&m);
	assert_int_equal(fp, addr);
	assert_int_equal(rd8(&m, fp + 8), 1);  /* length: 16 bytes */
	assert_int_equal(rd8(&m, fp + 9), 4);  /* spec 1.4 */
	assert_int_equal(rd8(&m, fp + 11), 0); /* config table present */
	cfg = rd32(&m, fp + 4);
	assert_true(is(&m, cfg, "PCMP"));
	assert_int_equal(sum(&m, cfg, rd16(&m, cfg + 4)), 0);
	assert_true(cfg + rd16(&m, cfg + 4) <= PLATFORM_MPTABLE_END);
	assert_int_equal(rd32(&m, cfg + 36), 0xFEE00000);
	entries = rd16(&m, cfg + 34);
	p = cfg + 44;
	for (unsigned i = 0; i < entries; i++) {
		uint8_t type = rd8(&m, p);

		assert_true(p < cfg + rd16(&m, cfg + 4));
		if (type == 0) {
			assert_int_equal(rd8(&m, p + 1), cpus); /* APIC id */
			assert_true(rd8(&m, p + 3) & 1);	/* enabled */
			assert_int_equal(!!(rd8(&m, p + 3) & 2), cpus == 0);
			cpus++;
			p += 20;
			continue;
		}
		if (type == 2) {
			assert_int_equal(rd8(&m, p + 1), nr);
			assert_int_equal(rd8(&m, p + 2), 0x11);
			assert_int_equal(rd32(&m, p + 4), 0xFEC00000);
			ioapics++;
		}
		if (type == 3) {
			unsigned src = rd8(&m, p + 5), pin = rd8(&m, p + 7);
			uint16_t flags = rd16(&m, p + 2);

			assert_int_equal(rd8(&m, p + 4), 0); /* the ISA bus */
			assert_int_equal(rd8(&m, p + 6), nr);
			assert_true(src < PLATFORM_IOAPIC_PINS);
			assert_false(irq_seen & (1u << src)); /* once each */
			irq_seen |= 1u << src;
			/* Virtio GSIs are edge, active high: ISA's default
			 * below 16, said outright from 16 up. */
			if (virtio & (1u << src))
				assert_int_equal(flags, src < 16 ? 0 : 0x0005);
			if (src == 0)
				irq0_pin = pin;
			else
				assert_int_equal(pin, src);
		}
		p += 8;
	}
	assert_int_equal(p, cfg + rd16(&m, cfg + 4));
	assert_int_equal(cpus, nr);
	assert_int_equal(ioapics, 1);
	assert_int_equal(irq0_pin, 2);
	/* The ISA IRQs but the cascade, and every virtio GSI. */
	assert_int_equal(irq_seen, (0xFFFF & ~(1u << 2)) | virtio);
	mem_destroy(&m);
}

static void check_mptable(unsigned nr, unsigned nr_virtio)
{
	check_mptable_at(nr, nr_virtio, 0);
}

static void test_mptable(void **state)
{
	(void)state;
	check_mptable(1, 0);
	check_mptable(4, 1);
	check_mptable(2, 3);
	check_mptable(3, 10); /* the first GSI above 15 */
	check_mptable(1, PLATFORM_VIRTIO_SLOTS);
	check_mptable(PLATFORM_MAX_VCPUS, 0);
	check_mptable(PLATFORM_MAX_VCPUS, PLATFORM_VIRTIO_SLOTS);
}

static void test_mptable_too_many(void **state)
{
	struct platform_desc pd = desc(PLATFORM_MAX_VCPUS + 1, 0);
	struct vm_mem m;
	uint64_t addr;

	(void)state;
	assert_int_equal(mem_init(&m, 16 * MiB), 0);
	err_clear();
	assert_int_equal(mptable_write(&m, &pd, &addr), -EINVAL);
	assert_non_null(strstr(err_msg(), "--cpus"));
	pd.nr_vcpus = 0;
	assert_int_equal(acpi_write(&m, &pd, &addr), -EINVAL);
	mem_destroy(&m);
}

/* The RSDP the way a guest finds it: "RSD PTR " on a 16-byte boundary in
 * 0xE0000-0xFFFFF, both checksums valid. */
static uint64_t rsdp_find(const struct vm_mem *m)
{
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
		if (is(m, a, "RSD PTR ") && sum(m, a, 20) == 0 &&
		    sum(m, a, 36) == 0)
			return a;
	return 0;
}

static void check_madt(const struct vm_mem *m, uint64_t madt, unsigned nr)
{
	uint64_t p = madt + 44, end = madt + rd32(m, madt + 4);
	unsigned cpus = 0, ioapics = 0, isos = 0, nmis = 0;

	assert_int_equal(rd32(m, madt + 36), 0xFEE00000);
	assert_int_equal(rd32(m, madt + 40), 1); /* PCAT_COMPAT */
	while (p < end) {
		uint8_t type = rd8(m, p), len = rd8(m, p + 1);

		assert_true(len >= 2);
		if (type == 0) {
			assert_int_equal(len, 8);
			assert_int_equal(rd8(m, p + 3), cpus);
			assert_int_equal(rd32(m, p + 4) & 1, 1);
			cpus++;
		} else if (type == 1) {
			assert_int_equal(rd8(m, p + 2), nr);
			assert_int_equal(rd32(m, p + 4), 0xFEC00000);
			assert_int_equal(rd32(m, p + 8), 0);
			ioapics++;
		} else if (type == 2) {
			uint8_t src = rd8(m, p + 3);

			/* None for the virtio GSIs: ISA's edge, active high
			 * is what their _CRS says. */
			if (src == 0)
				assert_int_equal(rd32(m, p + 4), 2);
			else if (src == 9)
				assert_int_equal(rd16(m, p + 8), 0x000D);
			else
				fail_msg("unexpected override for IRQ %u", src);
			isos++;
		} else if (type == 4) {
			assert_int_equal(rd8(m, p + 5), 1); /* LINT1 */
			nmis++;
		}
		p += len;
	}
	assert_int_equal(p, end);
	assert_int_equal(cpus, nr);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 2);
	assert_int_equal(nmis, 1);
}

/*
 * An AML decoder for what the DSDT may hold (ACPI 6.x 20.2): Name,
 * Package, Scope, Device, integers, strings, buffers, and in a buffer the
 * resource descriptors of 6.4.  Every read is checked against the end of
 * the enclosing package; anything else fails the test.
 */
struct aml_cur {
	const uint8_t *p, *end;
};

struct aml_dev {
	char name[5];
	char hid[16];
	uint64_t uid;
	uint8_t mem_info, irq_flags;
	uint32_t base, size, gsi;
	unsigned nr_mem, nr_irq, nr_hid, nr_uid, nr_crs;
};

static uint8_t aml_next(struct aml_cur *c)
{
	assert_true(c->p < c->end);
	return *c->p++;
}

static uint64_t aml_le(struct aml_cur *c, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)aml_next(c) << (8 * i);
	return v;
}

/* A PkgLength; returns the cursor for the package's remaining bytes and
 * moves @c past the whole package. */
static struct aml_cur aml_pkg(struct aml_cur *c)
{
	const uint8_t *start = c->p;
	uint8_t lead = aml_next(c);
	unsigned follow = lead >> 6;
	size_t len = lead & 0x3F;
	struct aml_cur body;

	if (follow) {
		assert_int_equal(lead & 0x30, 0); /* reserved bits */
		len = lead & 0x0F;
		for (unsigned i = 0; i < follow; i++)
			len |= (size_t)aml_next(c) << (4 + 8 * i);
		/* The shortest form, as iasl writes it. */
		assert_true(len >
			    (follow == 1
				     ? 0x3Fu
				     : (1u << (4 + 8 * (follow - 1))) - 1u));
	}
	assert_true(len >= (size_t)(c->p - start));
	assert_true(len <= (size_t)(c->end - start));
	body = (struct aml_cur){.p = c->p, .end = start + len};
	c->p = start + len;
	return body;
}

static void aml_seg(struct aml_cur *c, char out[5])
{
	for (int i = 0; i < 4; i++) {
		out[i] = (char)aml_next(c);
		assert_true((out[i] >= 'A' && out[i] <= 'Z') || out[i] == '_' ||
			    (i && out[i] >= '0' && out[i] <= '9'));
	}
	out[4] = '\0';
}

static uint64_t aml_int(struct aml_cur *c)
{
	switch (aml_next(c)) {
	case 0x00:
		return 0;
	case 0x01:
		return 1;
	case 0x0A:
		return aml_le(c, 1);
	case 0x0B:
		return aml_le(c, 2);
	case 0x0C:
		return aml_le(c, 4);
	case 0x0E:
		return aml_le(c, 8);
	}
	fail_msg("not an integer at AML byte %02x", c->p[-1]);
	return 0;
}

static void aml_str(struct aml_cur *c, char *out, size_t max)
{
	size_t n = 0;
	uint8_t ch;

	assert_int_equal(aml_next(c), 0x0D); /* StringPrefix */
	do {
		ch = aml_next(c);
		assert_true(ch <= 0x7F); /* ASCII, then the NullChar */
		assert_true(n < max);
		out[n++] = (char)ch;
	} while (ch);
}

/* Name (_CRS, ResourceTemplate () { ... }) */
static void aml_crs(struct aml_cur *c, struct aml_dev *d)
{
	struct aml_cur b;
	uint64_t size;

	assert_int_equal(aml_next(c), 0x11); /* BufferOp */
	b = aml_pkg(c);
	size = aml_int(&b);
	assert_int_equal(size, b.end - b.p);
	for (;;) {
		uint8_t tag = aml_next(&b);
		unsigned len;

		if (!(tag & 0x80)) {
			/* Small item: only the End Tag, checksum 0, last. */
			assert_int_equal(tag, 0x79);
			assert_int_equal(aml_next(&b), 0);
			break;
		}
		len = (unsigned)aml_le(&b, 2);
		if (tag == 0x86) { /* Memory32Fixed */
			assert_int_equal(len, 9);
			d->mem_info = aml_next(&b);
			d->base = (uint32_t)aml_le(&b, 4);
			d->size = (uint32_t)aml_le(&b, 4);
			d->nr_mem++;
		} else if (tag == 0x89) {	  /* Extended Interrupt */
			assert_int_equal(len, 6); /* one GSI, no source */
			d->irq_flags = aml_next(&b);
			assert_int_equal(aml_next(&b), 1);
			d->gsi = (uint32_t)aml_le(&b, 4);
			d->nr_irq++;
		} else {
			fail_msg("unexpected resource descriptor %02x", tag);
		}
	}
	assert_ptr_equal(b.p, b.end);
}

static void aml_device(struct aml_cur *c, struct aml_dev *d)
{
	struct aml_cur body;

	memset(d, 0, sizeof(*d));
	assert_int_equal(aml_next(c), 0x5B); /* ExtOpPrefix */
	assert_int_equal(aml_next(c), 0x82); /* DeviceOp */
	body = aml_pkg(c);
	aml_seg(&body, d->name);
	while (body.p < body.end) {
		char name[5];

		assert_int_equal(aml_next(&body), 0x08); /* NameOp */
		aml_seg(&body, name);
		if (!strcmp(name, "_HID")) {
			aml_str(&body, d->hid, sizeof(d->hid));
			d->nr_hid++;
		} else if (!strcmp(name, "_UID")) {
			d->uid = aml_int(&body);
			d->nr_uid++;
		} else if (!strcmp(name, "_CRS")) {
			aml_crs(&body, d);
			d->nr_crs++;
		} else {
			fail_msg("unexpected %s in device %s", name, d->name);
		}
	}
}

/* Decodes the DSDT's AML: \_S5 and the devices of Scope (\_SB), up to
 * @max of them into @devs; returns how many. */
static unsigned aml_dsdt(const uint8_t *aml, size_t len, struct aml_dev *devs,
			 unsigned max)
{
	struct aml_cur c = {.p = aml, .end = aml + len};
	unsigned n = 0, s5 = 0, scopes = 0;

	while (c.p < c.end) {
		uint8_t op = aml_next(&c);
		struct aml_cur body;
		char name[5];

		if (op == 0x08) { /* Name (_S5, Package () { 5, 5, 0, 0 }) */
			aml_seg(&c, name);
			assert_string_equal(name, "_S5_");
			assert_int_equal(aml_next(&c), 0x12); /* PackageOp */
			body = aml_pkg(&c);
			assert_int_equal(aml_next(&body), 4);
			assert_int_equal(aml_int(&body), 5);
			assert_int_equal(aml_int(&body), 5);
			assert_int_equal(aml_int(&body), 0);
			assert_int_equal(aml_int(&body), 0);
			assert_ptr_equal(body.p, body.end);
			s5++;
		} else if (op == 0x10) { /* Scope (\_SB) */
			body = aml_pkg(&c);
			if (*body.p == 0x5C) /* the root, spelt out */
				body.p++;
			aml_seg(&body, name);
			assert_string_equal(name, "_SB_");
			while (body.p < body.end) {
				assert_true(n < max);
				aml_device(&body, &devs[n++]);
			}
			scopes++;
		} else {
			fail_msg("unexpected AML opcode %02x", op);
		}
	}
	assert_int_equal(s5, 1);
	assert_true(scopes <= 1);
	return n;
}

static void check_dsdt(const struct vm_mem *m, uint64_t dsdt,
		       const struct platform_desc *pd)
{
	struct aml_dev devs[PLATFORM_VIRTIO_SLOTS + 1];
	uint32_t len = rd32(m, dsdt + 4);
	uint8_t *aml;
	unsigned n;

	assert_true(is(m, dsdt, "DSDT"));
	assert_int_equal(rd8(m, dsdt + 8), 2); /* 64-bit integers */
	assert_int_equal(sum(m, dsdt, len), 0);
	assert_true(len > 36);
	aml = mem_ptr(m, dsdt + 36, len - 36);
	assert_non_null(aml);
	n = aml_dsdt(aml, len - 36, devs, PLATFORM_VIRTIO_SLOTS + 1);
	assert_int_equal(n, pd->nr_virtio);
	/* With the boot timer in slot 0, the first device is at 0xD0001000
	 * (GSI 6), and nothing is described at 0xD0000000. */
	if (n && pd->first_slot == 1) {
		assert_int_equal(devs[0].base, 0xD0001000ull);
		assert_int_equal(devs[0].gsi, 6);
	}
	for (unsigned i = 0; i < n; i++) {
		const struct aml_dev *d = &devs[i];
		char name[16];

		snprintf(name, sizeof(name), "VR%02X", i);
		assert_string_equal(d->name, name);
		assert_int_equal(d->nr_hid, 1);
		assert_string_equal(d->hid, "LNRO0005");
		assert_int_equal(d->nr_uid, 1);
		assert_int_equal(d->uid, i);
		assert_int_equal(d->nr_crs, 1);
		assert_int_equal(d->nr_mem, 1);
		assert_int_equal(d->mem_info, 1); /* ReadWrite */
		assert_int_equal(d->base,
				 platform_virtio_base(pd->first_slot + i));
		assert_int_equal(d->size, 0x1000);
		assert_int_equal(d->nr_irq, 1);
		/* ResourceConsumer, Edge, ActiveHigh, Exclusive */
		assert_int_equal(d->irq_flags, 0x03);
		assert_int_equal(d->gsi,
				 platform_virtio_gsi(pd->first_slot + i));
	}
}

static void check_fadt(const struct vm_mem *m, uint64_t fadt,
		       const struct platform_desc *pd)
{
	uint32_t flags = rd32(m, fadt + 112);
	uint64_t dsdt = rd64(m, fadt + 140), facs = rd32(m, fadt + 36);

	assert_int_equal(rd32(m, fadt + 4), 276);
	assert_int_equal(rd8(m, fadt + 8), 6);
	assert_int_equal(rd16(m, fadt + 46), 9);     /* SCI_INT */
	assert_int_equal(rd32(m, fadt + 48), 0);     /* no SMI_CMD */
	assert_int_equal(rd32(m, fadt + 56), 0x600); /* PM1a_EVT_BLK */
	assert_int_equal(rd32(m, fadt + 64), 0x604); /* PM1a_CNT_BLK */
	assert_int_equal(rd8(m, fadt + 88), 4);
	assert_int_equal(rd8(m, fadt + 89), 2);
	assert_int_equal(rd8(m, fadt + 108), 0x32); /* RTC century */
	/* i8042 present (Linux probes it), no VGA, CMOS RTC present. */
	assert_int_equal(rd16(m, fadt + 109) & 0x26, 0x06);
	assert_int_equal(flags & (1u << 20), 0);	/* not HW-reduced */
	assert_int_equal(flags & (1u << 10), 1u << 10); /* RESET_REG_SUP */
	assert_int_equal(rd8(m, fadt + 116), 1);	/* reset reg: I/O */
	assert_int_equal(rd64(m, fadt + 120), 0xCF9);
	assert_int_equal(rd8(m, fadt + 128), 0x06);
	/* X_PM1a_EVT_BLK and X_PM1a_CNT_BLK say the same as the 32-bit ones. */
	assert_int_equal(rd8(m, fadt + 148), 1);
	assert_int_equal(rd8(m, fadt + 149), 32);
	assert_int_equal(rd64(m, fadt + 152), 0x600);
	assert_int_equal(rd8(m, fadt + 172), 1);
	assert_int_equal(rd8(m, fadt + 173), 16);
	assert_int_equal(rd64(m, fadt + 176), 0x604);
	assert_int_equal(rd32(m, fadt + 40), dsdt);

	/* The DSDT and FACS are not in the XSDT: check they fit too. */
	assert_true(dsdt >= PLATFORM_ACPI_ADDR &&
		    dsdt + rd32(m, dsdt + 4) <= PLATFORM_ACPI_END);
	check_dsdt(m, dsdt, pd);

	assert_int_equal(facs % 64, 0);
	assert_true(is(m, facs, "FACS"));
	assert_int_equal(rd32(m, facs + 4), 64);
	assert_true(facs >= PLATFORM_ACPI_ADDR &&
		    facs + 64 <= PLATFORM_ACPI_END);
}

static void check_acpi_at(unsigned nr, unsigned nr_virtio, unsigned first)
{
	struct platform_desc pd = desc_at(nr, nr_virtio, first);
	struct vm_mem m;
	uint64_t rsdp = 0, found, xsdt, fadt = 0, madt = 0;
	unsigned n;

	assert_int_equal(mem_init(&m, 64 * MiB), 0);
	assert_int_equal(acpi_write(&m, &pd, &rsdp), 0);
	found = rsdp_find(&m);
	assert_int_equal(found, rsdp);
	assert_int_equal(rsdp % 16, 0);
	assert_true(rsdp >= 0xE0000 && rsdp < 0x100000);
	assert_int_equal(rd8(&m, rsdp + 15), 2);   /* revision */
	assert_int_equal(rd32(&m, rsdp + 20), 36); /* length */
	xsdt = rd64(&m, rsdp + 24);
	assert_true(is(&m, xsdt, "XSDT"));
	assert_int_equal(sum(&m, xsdt, rd32(&m, xsdt + 4)), 0);
	n = (rd32(&m, xsdt + 4) - 36) / 8;
	assert_int_equal(n, 2);
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = rd64(&m, xsdt + 36 + 8 * i);

		/* Every table stays in the ACPI part of the BIOS area. */
		assert_true(t >= PLATFORM_ACPI_ADDR &&
			    t + rd32(&m, t + 4) <= PLATFORM_ACPI_END);
		assert_int_equal(sum(&m, t, rd32(&m, t + 4)), 0);
		if (is(&m, t, "FACP"))
			fadt = t;
		if (is(&m, t, "APIC"))
			madt = t;
	}
	assert_int_not_equal(fadt, 0);
	assert_int_not_equal(madt, 0);
	check_fadt(&m, fadt, &pd);
	check_madt(&m, madt, nr);
	mem_destroy(&m);
}

static void check_acpi(unsigned nr, unsigned nr_virtio)
{
	check_acpi_at(nr, nr_virtio, 0);
}

static void test_acpi(void **state)
{
	(void)state;
	check_acpi(1, 0);
	check_acpi(8, 1);
	check_acpi(2, 3);
	check_acpi(1, PLATFORM_VIRTIO_SLOTS);
	check_acpi(PLATFORM_MAX_VCPUS, 0);
	check_acpi(PLATFORM_MAX_VCPUS, PLATFORM_VIRTIO_SLOTS);
}

/* The slot table: GSIs taken in order from 5 up, each a free IOAPIC pin,
 * none twice, none of the PC devices' (named by their own headers). */
static void test_virtio_slots(void **state)
{
	const uint32_t used = (1u << 0) | (1u << I8042_KBD_IRQ) |
			      (1u << PLATFORM_IRQ0_PIN) |
			      (1u << SERIAL_COM1_IRQ) | (1u << RTC_IRQ) |
			      (1u << PLATFORM_SCI_IRQ);
	uint32_t seen = 0, want = PLATFORM_VIRTIO_GSI_FIRST;

	(void)state;
	assert_int_equal(PLATFORM_GSI_USED, used);
	for (unsigned n = 0; n < PLATFORM_VIRTIO_SLOTS; n++) {
		uint32_t gsi = platform_virtio_gsi(n);
		uint64_t base = platform_virtio_base(n);

		/* The next free pin, so none is skipped or repeated. */
		while (used & (1u << want))
			want++;
		assert_int_equal(gsi, want++);
		assert_true(gsi < PLATFORM_IOAPIC_PINS);
		assert_false(used & (1u << gsi));
		assert_false(seen & (1u << gsi));
		seen |= 1u << gsi;

		assert_int_equal(base, 0xD0000000ull + n * 0x1000ull);
		assert_true(base >= MEM_HOLE_START);
		assert_true(base + PLATFORM_VIRTIO_SIZE <=
			    PLATFORM_IOAPIC_ADDR);
	}
	/* Every free pin from 5 up is a slot: the table ends at pin 23. */
	assert_int_equal(want, PLATFORM_IOAPIC_PINS);
	assert_int_equal(seen | used | 0x1F, (1u << PLATFORM_IOAPIC_PINS) - 1);
	assert_int_equal(platform_virtio_gsi(PLATFORM_VIRTIO_SLOTS), 0);
	assert_int_equal(platform_virtio_base(PLATFORM_VIRTIO_SLOTS), 0);
	assert_int_equal(platform_virtio_gsi(~0u), 0);
}

static void test_platform_add_virtio(void **state)
{
	struct platform_desc pd = desc(2, PLATFORM_VIRTIO_SLOTS);
	struct platform_desc before = pd;
	char want[80];
	unsigned slot = 99;

	(void)state;
	for (unsigned n = 0; n < PLATFORM_VIRTIO_SLOTS; n++) {
		assert_int_equal(pd.virtio[n].base, platform_virtio_base(n));
		assert_int_equal(pd.virtio[n].size, 0x1000);
		assert_int_equal(pd.virtio[n].gsi, platform_virtio_gsi(n));
	}
	err_clear();
	assert_int_equal(platform_add_virtio(&pd, &slot), -ENOSPC);
	snprintf(want, sizeof(want),
		 "too many virtio devices: minivmm has %d slots",
		 PLATFORM_VIRTIO_SLOTS);
	assert_string_equal(err_msg(), want);
	assert_int_equal(slot, 99);
	assert_memory_equal(&pd, &before, sizeof(pd));
}

/* With the boot timer (first_slot 1): device n is in slot n + 1, 16 fit,
 * and both tables say so. */
static void test_boot_timer_slots(void **state)
{
	struct platform_desc pd = desc_at(2, PLATFORM_VIRTIO_SLOTS - 1, 1);
	struct platform_desc before;
	struct vm_mem m;
	uint64_t addr;
	unsigned slot = 99;

	(void)state;
	assert_int_equal(PLATFORM_BOOT_TIMER_BASE, 0xD0000000ull);
	assert_int_equal(platform_virtio_room(&pd), 16);
	assert_int_equal(pd.virtio[0].base, 0xD0001000ull);
	assert_int_equal(pd.virtio[0].gsi, 6);
	for (unsigned n = 0; n < pd.nr_virtio; n++) {
		assert_int_equal(pd.virtio[n].base,
				 0xD0000000ull + (n + 1) * 0x1000ull);
		assert_int_equal(pd.virtio[n].gsi, platform_virtio_gsi(n + 1));
	}
	assert_int_equal(pd.virtio[15].gsi, 23);
	before = pd;
	err_clear();
	assert_int_equal(platform_add_virtio(&pd, &slot), -ENOSPC);
	assert_string_equal(err_msg(),
			    "too many virtio devices: minivmm has 16 slots");
	assert_int_equal(slot, 99);
	assert_memory_equal(&pd, &before, sizeof(pd));

	/* The DSDT and the MP table describe the shifted slots. */
	check_acpi_at(1, 1, 1);
	check_acpi_at(2, 3, 1);
	check_acpi_at(PLATFORM_MAX_VCPUS, PLATFORM_VIRTIO_SLOTS - 1, 1);
	check_mptable_at(1, 1, 1);
	check_mptable_at(3, 9, 1); /* the first GSI above 15 */
	check_mptable_at(PLATFORM_MAX_VCPUS, PLATFORM_VIRTIO_SLOTS - 1, 1);

	/* 17 devices do not fit after the boot timer. */
	assert_int_equal(mem_init(&m, 16 * MiB), 0);
	pd = desc(1, PLATFORM_VIRTIO_SLOTS);
	pd.first_slot = 1;
	assert_int_equal(acpi_write(&m, &pd, &addr), -EINVAL);
	assert_int_equal(mptable_write(&m, &pd, &addr), -EINVAL);
	mem_destroy(&m);
}

/* Descriptions built by hand are checked before any table is written. */
static void test_virtio_refused(void **state)
{
	struct platform_desc pd;
	struct vm_mem m;
	uint64_t addr;

	(void)state;
	assert_int_equal(mem_init(&m, 16 * MiB), 0);

	pd = desc(1, 2);
	pd.nr_virtio = PLATFORM_VIRTIO_SLOTS + 1;
	assert_int_equal(acpi_write(&m, &pd, &addr), -EINVAL);
	assert_int_equal(mptable_write(&m, &pd, &addr), -EINVAL);

	pd = desc(1, 2);
	pd.virtio[1].gsi = pd.virtio[0].gsi; /* twice */
	assert_int_equal(acpi_write(&m, &pd, &addr), -EINVAL);
	assert_non_null(strstr(err_msg(), "GSI 5"));
	assert_int_equal(mptable_write(&m, &pd, &addr), -EINVAL);

	pd = desc(1, 1);
	pd.virtio[0].gsi = SERIAL_COM1_IRQ; /* COM1's */
	assert_int_equal(acpi_write(&m, &pd, &addr), -EINVAL);
	pd.virtio[0].gsi = PLATFORM_IOAPIC_PINS; /* no such pin */
	assert_int_equal(mptable_write(&m, &pd, &addr), -EINVAL);

	pd = desc(1, 1);
	pd.virtio[0].base = 0x100000; /* RAM */
	assert_int_equal(acpi_write(&m, &pd, &addr), -EINVAL);
	assert_non_null(strstr(err_msg(), "MMIO hole"));
	pd.virtio[0].base = PLATFORM_IOAPIC_ADDR - 0x800; /* runs into it */
	assert_int_equal(acpi_write(&m, &pd, &addr), -EINVAL);
	mem_destroy(&m);
}

/* The largest machine: every vCPU and every slot, both tables in their
 * areas side by side. */
static void test_acpi_and_mptable_coexist(void **state)
{
	struct platform_desc pd = desc(64, 3);
	struct platform_desc max =
		desc(PLATFORM_MAX_VCPUS, PLATFORM_VIRTIO_SLOTS);
	struct vm_mem m;
	uint64_t rsdp, mp;

	(void)state;
	assert_int_equal(mem_init(&m, 16 * MiB), 0);
	assert_int_equal(acpi_write(&m, &pd, &rsdp), 0);
	assert_int_equal(mptable_write(&m, &pd, &mp), 0);
	assert_int_equal(rsdp_find(&m), rsdp);
	assert_int_equal(mp_find(&m), mp);
	assert_int_equal(acpi_write(&m, &max, &rsdp), 0);
	assert_int_equal(mptable_write(&m, &max, &mp), 0);
	assert_int_equal(rsdp_find(&m), rsdp);
	assert_int_equal(mp_find(&m), mp);
	mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_small),
		cmocka_unit_test(test_e820_split),
		cmocka_unit_test(test_e820_minimum_and_overflow),
		cmocka_unit_test(test_virtio_slots),
		cmocka_unit_test(test_platform_add_virtio),
		cmocka_unit_test(test_boot_timer_slots),
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_mptable_too_many),
		cmocka_unit_test(test_virtio_refused),
		cmocka_unit_test(test_acpi),
		cmocka_unit_test(test_acpi_and_mptable_coexist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
