/* /dev/kvm → VM fd → vCPU fd.  Every capability minivmm relies on is checked
 * here, once, so a missing one is a clear error at start-up and not a
 * mysterious failure later. */
#include "kvm.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const struct {
	long cap;
	const char *name;
} kvm_required_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
};

int kvm_open(struct kvm *k, const char *path)
{
	int version, ret;

	memset(k, 0, sizeof(*k));
	k->fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		ret = -errno;
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
			return err_set(
				ret,
				"%s not found: load the kvm module (modprobe kvm-intel or kvm-amd) and enable virtualization in the firmware",
				path);
		if (errno == EACCES || errno == EPERM)
			return err_set(
				ret,
				"no permission to open %s: add your user to the 'kvm' group or run as root",
				path);
		return err_set(ret, "cannot open %s: %s", path,
			       strerror(errno));
	}
	version = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		ret = err_set(
			-EINVAL,
			"%s speaks KVM API version %d, minivmm needs %d: use a newer kernel",
			path, version, KVM_API_VERSION);
		goto out_close;
	}
	for (size_t i = 0;
	     i < sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]);
	     i++) {
		if (kvm_check_cap(k, kvm_required_caps[i].cap) <= 0) {
			ret = err_set(
				-ENOTSUP,
				"this host's KVM lacks %s, which minivmm needs: use a newer kernel",
				kvm_required_caps[i].name);
			goto out_close;
		}
	}
	k->vcpu_mmap_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		ret = err_set(-EINVAL, "KVM_GET_VCPU_MMAP_SIZE failed: %s",
			      strerror(errno));
		goto out_close;
	}
	k->max_vcpus = kvm_check_cap(k, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = kvm_check_cap(k, KVM_CAP_NR_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = 4; /* what api.rst says to assume */
	return 0;

out_close:
	close(k->fd);
	k->fd = -1;
	return ret;
}

void kvm_close(struct kvm *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

int kvm_check_cap(const struct kvm *k, long cap)
{
	int ret = ioctl(k->fd, KVM_CHECK_EXTENSION, cap);

	return ret < 0 ? 0 : ret;
}

int kvm_create_vm(const struct kvm *k)
{
	int fd;

	do {
		fd = ioctl(k->fd, KVM_CREATE_VM, 0);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return err_set(-errno, "KVM_CREATE_VM failed: %s",
			       strerror(errno));
	return fd;
}

int kvm_set_memory(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size,
		   void *host, uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return err_set(
			-errno,
			"KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB at 0x%llx) failed: %s; try a smaller --mem",
			slot, (unsigned long long)(size >> 20),
			(unsigned long long)gpa, strerror(errno));
	return 0;
}

int kvm_create_vcpu(const struct kvm *k, int vm_fd, unsigned id, int *fd,
		    struct kvm_run **run)
{
	void *map;
	int ret;

	*fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (*fd < 0)
		return err_set(-errno, "KVM_CREATE_VCPU %u failed: %s", id,
			       strerror(errno));
	map = mmap(NULL, (size_t)k->vcpu_mmap_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, *fd, 0);
	if (map == MAP_FAILED) {
		ret = err_set(-errno, "cannot map kvm_run of vCPU %u: %s", id,
			      strerror(errno));
		close(*fd);
		*fd = -1;
		return ret;
	}
	*run = map;
	return 0;
}

int kvm_supported_cpuid(const struct kvm *k, struct kvm_cpuid2 **out)
{
	/* Grow the table until KVM stops saying E2BIG. */
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c =
			calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return err_set(-ENOMEM, "out of memory");
		c->nent = n;
		if (ioctl(k->fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return err_set(-errno,
				       "KVM_GET_SUPPORTED_CPUID failed: %s",
				       strerror(errno));
	}
	return err_set(-E2BIG, "KVM_GET_SUPPORTED_CPUID: table too large");
}

bool kvm_host_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}
