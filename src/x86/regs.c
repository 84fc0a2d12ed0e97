/* The initial register state of a vCPU for each CPU mode: real mode as the
 * seed set it up, flat 32-bit protected mode, and 64-bit long mode. */
#include "x86.h"
#include "../err.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

const char *cpu_mode_name(enum cpu_mode mode)
{
	switch (mode) {
	case CPU_MODE_REAL:
		return "real";
	case CPU_MODE_PROTECTED:
		return "protected";
	case CPU_MODE_LONG:
		return "long";
	}
	return "?";
}

static struct kvm_segment seg_flat(uint16_t selector, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

static void sregs_real(struct kvm_sregs *s, uint64_t rip)
{
	uint64_t base = rip & ~0xffffull;
	struct kvm_segment *segs[] = {&s->cs, &s->ds, &s->es,
				      &s->fs, &s->gs, &s->ss};

	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		segs[i]->selector = (uint16_t)(base >> 4);
		segs[i]->base = base;
	}
}

static void sregs_flat(struct kvm_sregs *s, enum cpu_mode mode)
{
	bool lm = mode == CPU_MODE_LONG;
	struct kvm_segment data = seg_flat(BOOT_DS, 0x3, false);

	s->cs = seg_flat(lm ? BOOT_CS64 : BOOT_CS32, 0xb, lm);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = (struct kvm_segment){
		.selector = BOOT_TSS,
		.limit = 0x67,
		.type = 0xb,
		.present = 1,
	};
	s->gdt.base = BOOT_GDT_ADDR;
	s->gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE;
	s->cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;
	s->efer = 0;
	if (lm) {
		s->cr3 = BOOT_PML4_ADDR;
		s->cr4 |= CR4_PAE;
		s->cr0 |= CR0_PG;
		s->efer = EFER_LME | EFER_LMA;
	}
}

int regs_setup(int vcpu_fd, const struct boot_entry *e, unsigned index,
	       uint64_t stack_top)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(-errno, "KVM_GET_SREGS failed: %s",
			       strerror(errno));
	if (e->mode == CPU_MODE_REAL)
		sregs_real(&sregs, e->rip);
	else
		sregs_flat(&sregs, e->mode);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(-errno, "KVM_SET_SREGS (%s mode) failed: %s",
			       cpu_mode_name(e->mode), strerror(errno));

	memset(&regs, 0, sizeof(regs));
	regs.rflags = RFLAGS_FIXED;
	regs.rip = e->mode == CPU_MODE_REAL ? (e->rip & 0xffff) : e->rip;
	regs.rsi = e->rsi;
	regs.rbx = e->rbx;
	if (e->per_cpu_stack) {
		regs.rdi = index;
		if (e->mode != CPU_MODE_REAL)
			regs.rsp = stack_top;
	}
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return err_set(-errno, "KVM_SET_REGS failed: %s",
			       strerror(errno));
	return 0;
}
