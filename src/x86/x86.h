/* x86 platform pieces: the guest's boot-time layout, CPU modes, CPUID,
 * descriptor and page tables. */
#ifndef MINIVMM_X86_H
#define MINIVMM_X86_H

#include "../kvm.h"
#include "../mem.h"

#include <stdbool.h>
#include <stdint.h>

/* Where minivmm puts its boot structures in guest memory (documented in
 * README's guest ABI; loaders refuse images that overlap them). */
#define BOOT_GDT_ADDR 0x0500ull	 /* GDT, BOOT_GDT_ENTRIES 8-byte entries */
#define BOOT_PML4_ADDR 0x1000ull /* long mode: PML4 */
#define BOOT_PDPT_ADDR 0x2000ull /* long mode: one PDPT (512 GiB) */
#define BOOT_PD_ADDR 0x3000ull	 /* long mode: 4 PDs, 0-4 GiB in 2 MiB pages */
#define BOOT_TABLES_END 0x7000ull
#define BOOT_STACK_SIZE 0x4000ull  /* per vCPU, down from the top of low RAM */
#define KVM_TSS_ADDR 0xfffbd000ull /* 3 pages KVM needs, in the MMIO hole */

/* GDT selectors. */
#define BOOT_CS64 0x08
#define BOOT_CS32 0x10 /* the Linux boot protocol's __BOOT_CS */
#define BOOT_DS 0x18   /* the Linux boot protocol's __BOOT_DS */
#define BOOT_TSS 0x20
#define BOOT_GDT_ENTRIES 5

/* Architectural register bits minivmm sets or reads. */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_FIXED (1ull << 1) /* always set */
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_VM (1ull << 17) /* virtual-8086 mode */

enum cpu_mode { CPU_MODE_REAL, CPU_MODE_PROTECTED, CPU_MODE_LONG };

/* How every vCPU starts. */
struct boot_entry {
	enum cpu_mode mode;
	uint64_t rip;	    /* guest physical; real mode: CS base + IP */
	bool per_cpu_stack; /* RDI = vCPU index, RSP = its own stack */
	uint64_t rsi, rbx; /* boot protocol arguments (zero page, start info) */
};

const char *cpu_mode_name(enum cpu_mode mode);
/* Guest physical top of vCPU @index's stack. */
uint64_t boot_stack_top(const struct vm_mem *m, unsigned index);

/* Writes the GDT, and for long mode the identity page tables, into guest
 * memory.  Long mode maps 0-4 GiB and all RAM above with 2 MiB pages; the
 * page directories for RAM above 4 GiB sit in its last pages. */
int boot_tables_write(struct vm_mem *m, enum cpu_mode mode);
/* Where those page directories for RAM above 4 GiB go (len 0: none). */
void boot_high_tables(const struct vm_mem *m, uint64_t *gpa, uint64_t *len);

/* Sets the registers of a fresh vCPU for @e. */
int regs_setup(int vcpu_fd, const struct boot_entry *e, unsigned index,
	       uint64_t stack_top);

/* Sets the vCPU's CPUID from KVM's supported table, with its own APIC id and
 * a topology of @nr_vcpus cores in one socket. */
/* Rewrites the topology leaves of @c for vCPU @index of @nr_vcpus. */
void cpuid_apply_topology(struct kvm_cpuid2 *c, unsigned index,
			  unsigned nr_vcpus);
/* Offers the TSC-deadline LAPIC timer, which KVM's in-kernel LAPIC emulates
 * (KVM_CAP_TSC_DEADLINE_TIMER) but its table does not show. */
void cpuid_enable_tsc_deadline(struct kvm_cpuid2 *supported);
int cpuid_setup(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned index,
		unsigned nr_vcpus);

/* The PC platform (pc.c): in-kernel irqchip, PIT and GSI routing, before
 * any vCPU exists; then per vCPU the LAPIC LINT pins and boot MSRs. */
int pc_vm_setup(const struct kvm *k, int vm_fd);
int pc_vcpu_setup(const struct kvm *k, int vcpu_fd);

#endif
