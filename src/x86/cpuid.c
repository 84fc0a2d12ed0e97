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
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* APIC id, logical processor count, HTT. */
			e->ebx = (e->ebx & 0x0000ffff) | (index << 24) |
				 ((nr_vcpus > 255 ? 255 : nr_vcpus) << 16);
			/* Say "hypervisor present", so the guest looks at
			 * the KVM leaves (kvm-clock, PV features) that KVM's
			 * table has but does not flag here itself. */
			e->ecx |= 1u << 31;
			if (nr_vcpus > 1)
				e->edx |= 1u << 28;
			else
				e->edx &= ~(1u << 28);
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: one thread per core, N cores. */
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | e->index;
			} else if (e->index == 1) {
				e->eax = order_base_2(nr_vcpus);
				e->ebx = nr_vcpus;
				e->ecx = (2u << 8) | e->index;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			e->edx = index;
			break;
		}
	}
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		ret = err_set(-errno, "KVM_SET_CPUID2 failed: %s",
			      strerror(errno));
	free(c);
	return ret;
}
