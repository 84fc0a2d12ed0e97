/* The KVM layer: the seed's three levels.  /dev/kvm (system), the VM fd and
 * the vCPU fds, each ioctl checked, each failure a message saying what to do. */
#ifndef MINIVMM_KVM_H
#define MINIVMM_KVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct kvm {
	int fd;		    /* /dev/kvm */
	int vcpu_mmap_size; /* size of the kvm_run mapping of each vCPU */
	int max_vcpus;	    /* KVM_CAP_MAX_VCPUS */
};

/* Opens @path (normally /dev/kvm), requires API version 12 and the
 * capabilities minivmm uses. */
int kvm_open(struct kvm *k, const char *path);
void kvm_close(struct kvm *k);
/* KVM_CHECK_EXTENSION: >0 if present (some return a value), 0 if not. */
int kvm_check_cap(const struct kvm *k, long cap);
/* Returns the VM fd or -errno. */
int kvm_create_vm(const struct kvm *k);
/* A memory slot; @flags: KVM_MEM_LOG_DIRTY_PAGES or 0. */
int kvm_set_memory(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size,
		   void *host, uint32_t flags);
/* Creates vCPU @id and maps its kvm_run. */
int kvm_create_vcpu(const struct kvm *k, int vm_fd, unsigned id, int *fd,
		    struct kvm_run **run);
/* KVM_GET_SUPPORTED_CPUID into a malloc'ed table (caller frees). */
int kvm_supported_cpuid(const struct kvm *k, struct kvm_cpuid2 **out);

/* Whether this host's KVM is kvm_pvm (software virtualization without
 * VMX/SVM), where an unmodified Linux kernel cannot run. */
bool kvm_host_is_pvm(void);

#endif
