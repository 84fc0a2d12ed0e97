/* The KVM side of the PC platform a Linux guest needs: the in-kernel
 * irqchip (PIC + IOAPIC + LAPICs) and PIT, GSI routing that matches the MP
 * and ACPI tables, and per vCPU the LAPIC's LINT pins and the boot MSRs. */
#include "x86.h"
#include "platform.h"
#include "../err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Where KVM keeps its identity page table for real mode on Intel: one page
 * in the MMIO hole, below the TSS pages. */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ull

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING 1ull
#define MTRR_ENABLE (1ull << 11)
#define MTRR_TYPE_WRBACK 6ull

/* GSI routing as on a PC (and as QEMU sets it): GSI n goes to PIC pin n
 * and IOAPIC pin n, except that the PIT's GSI 0 reaches IOAPIC pin 2
 * (PLATFORM_IRQ0_PIN) and GSI 2, the PIC cascade, goes nowhere.  So every
 * virtio GSI (platform_virtio_gsi(): 5-23 but 8 and 9) reaches its own
 * IOAPIC pin, as the DSDT and the MP table say; those below 16 also reach
 * the PIC, which Linux masks once it uses the IOAPIC. */
static int pc_set_gsi_routing(int vm_fd)
{
	struct kvm_irq_routing *r;
	unsigned n = 0;
	int ret = 0;

	r = calloc(1, sizeof(*r) + 40 * sizeof(r->entries[0]));
	if (!r)
		return err_set(-ENOMEM, "out of memory");
	for (unsigned gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;
		r->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {.irqchip =
					      gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						      : KVM_IRQCHIP_PIC_SLAVE,
				      .pin = gsi % 8},
		};
	}
	for (unsigned gsi = 0; gsi < PLATFORM_IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		r->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC,
				      .pin = gsi ? gsi : PLATFORM_IRQ0_PIN},
		};
	}
	r->nr = n;
	if (ioctl(vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		ret = err_set(-errno, "KVM_SET_GSI_ROUTING failed: %s",
			      strerror(errno));
	free(r);
	return ret;
}

int pc_vm_setup(const struct kvm *k, int vm_fd)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;

	if (kvm_check_cap(k, KVM_CAP_IRQCHIP) <= 0 ||
	    kvm_check_cap(k, KVM_CAP_PIT2) <= 0 ||
	    kvm_check_cap(k, KVM_CAP_IRQ_ROUTING) <= 0)
		return err_set(
			-ENOTSUP,
			"this host's KVM lacks an in-kernel irqchip or PIT (KVM_CAP_IRQCHIP, KVM_CAP_PIT2, KVM_CAP_IRQ_ROUTING), which Linux guests need");
	if (kvm_check_cap(k, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return err_set(-errno, "KVM_SET_IDENTITY_MAP_ADDR failed: %s",
			       strerror(errno));
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_set(-errno, "KVM_CREATE_IRQCHIP failed: %s",
			       strerror(errno));
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_set(-errno, "KVM_CREATE_PIT2 failed: %s",
			       strerror(errno));
	return pc_set_gsi_routing(vm_fd);
}

static void lapic_set_lvt(struct kvm_lapic_state *l, unsigned reg,
			  uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &v, sizeof(v));
}

/* The BSP gets PIC interrupts through LINT0 (ExtINT) and NMIs through
 * LINT1, as a BIOS would leave them (the MP table says the same). */
static int pc_lapic_setup(int vcpu_fd)
{
	struct kvm_lapic_state l;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &l) < 0)
		return err_set(-errno, "KVM_GET_LAPIC failed: %s",
			       strerror(errno));
	lapic_set_lvt(&l, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_lvt(&l, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &l) < 0)
		return err_set(-errno, "KVM_SET_LAPIC failed: %s",
			       strerror(errno));
	return 0;
}

static bool msr_supported(const struct kvm_msr_list *list, uint32_t index)
{
	for (uint32_t i = 0; i < list->nmsrs; i++)
		if (list->indices[i] == index)
			return true;
	return false;
}

/* The MSR values a kernel finds after firmware: syscall MSRs cleared, fast
 * string operations on, MTRRs enabled with write-back as the default type
 * (without it Linux maps all RAM uncached). */
static int pc_msr_setup(const struct kvm *k, int vcpu_fd)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot_msrs[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_CSTAR, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_LSTAR, 0},
		{MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WRBACK},
	};
	const unsigned max = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct kvm_msr_list probe = {.nmsrs = 0}, *list;
	struct kvm_msrs *msrs;
	int ret = 0, set;

	/* The first call fails with E2BIG and says how many there are. */
	ioctl(k->fd, KVM_GET_MSR_INDEX_LIST, &probe);
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	msrs = calloc(1, sizeof(*msrs) + max * sizeof(msrs->entries[0]));
	if (!list || !msrs) {
		ret = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	list->nmsrs = probe.nmsrs;
	if (ioctl(k->fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		ret = err_set(-errno, "KVM_GET_MSR_INDEX_LIST failed: %s",
			      strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < max; i++) {
		if (!msr_supported(list, boot_msrs[i].index))
			continue;
		msrs->entries[msrs->nmsrs].index = boot_msrs[i].index;
		msrs->entries[msrs->nmsrs].data = boot_msrs[i].value;
		msrs->nmsrs++;
	}
	set = ioctl(vcpu_fd, KVM_SET_MSRS, msrs);
	if (set < 0 || (uint32_t)set != msrs->nmsrs)
		ret = err_set(-EINVAL, "KVM_SET_MSRS set %d of %u boot MSRs",
			      set, msrs->nmsrs);
out:
	free(list);
	free(msrs);
	return ret;
}

int pc_vcpu_setup(const struct kvm *k, int vcpu_fd)
{
	int ret = pc_lapic_setup(vcpu_fd);

	return ret ? ret : pc_msr_setup(k, vcpu_fd);
}
