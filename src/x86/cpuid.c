/* CPUID for each vCPU: what KVM supports, with the vCPU's own APIC id and a
 * topology of N cores in one socket, so the guest counts its CPUs right. */
#include "x86.h"
#include "../err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

static unsigned order_base_2(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

void cpuid_enable_tsc_deadline(struct kvm_cpuid2 *supported)
{
	for (unsigned i = 0; i < supported->nent; i++)
		if (supported->entries[i].function == 1)
			supported->entries[i].ecx |= 1u << 24;
}

/* One socket of @nr cores, one thread each; this vCPU is core @index (its
 * APIC id).  Every leaf that describes topology says the same. */
static void cpuid_entry_topology(struct kvm_cpuid_entry2 *e, unsigned index,
				 unsigned nr)
{
	unsigned core_bits = order_base_2(nr);

	switch (e->function) {
	case 1:
		/* APIC id, logical processor count, HTT. */
		e->ebx = (e->ebx & 0x0000ffff) | (index << 24) |
			 ((nr > 255 ? 255u : nr) << 16);
		/* Say "hypervisor present", so the guest looks at the KVM
		 * leaves (kvm-clock, PV features) that KVM's table has but
		 * does not flag here itself. */
		e->ecx |= 1u << 31;
		if (nr > 1)
			e->edx |= 1u << 28;
		else
			e->edx &= ~(1u << 28);
		break;
	case 4:
		/* Intel caches: cores per package, and threads sharing each
		 * cache (L1/L2 per core, L3 by the whole socket). */
		if (!(e->eax & 0x1f))
			break;
		e->eax &= 0x3fff;
		e->eax |= ((1u << core_bits) - 1) << 26;
		if (((e->eax >> 5) & 7) >= 3)
			e->eax |= (nr - 1) << 14;
		break;
	case 0xb:
	case 0x1f:
		/* Extended topology: the SMT level, then the core level. */
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | e->index;
		} else if (e->index == 1) {
			e->eax = core_bits;
			e->ebx = nr;
			e->ecx = (2u << 8) | e->index;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		e->edx = index;
		break;
	case 0x80000008:
		/* AMD: number of cores - 1, and APIC id bits for the core. */
		e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | (nr - 1);
		break;
	case 0x8000001e:
		/* AMD TOPOEXT: extended APIC id, one core per compute unit. */
		e->eax = index;
		e->ebx = index & 0xff;
		e->ecx = 0;
		break;
	}
}

void cpuid_apply_topology(struct kvm_cpuid2 *c, unsigned index,
			  unsigned nr_vcpus)
{
	for (unsigned i = 0; i < c->nent; i++)
		cpuid_entry_topology(&c->entries[i], index, nr_vcpus);
}

int cpuid_setup(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned index,
		unsigned nr_vcpus)
{
	size_t size = sizeof(*supported) +
		      supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	int ret = 0;

	if (!c)
		return err_set(-ENOMEM, "out of memory");
	memcpy(c, supported, size);
	cpuid_apply_topology(c, index, nr_vcpus);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		ret = err_set(-errno, "KVM_SET_CPUID2 failed: %s",
			      strerror(errno));
	free(c);
	return ret;
}
