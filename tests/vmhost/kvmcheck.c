/* kvmcheck: minimal /dev/kvm probe for the vmhost smoke test (tests/vmhost/smoke.sh).
 * Opens /dev/kvm, prints KVM_GET_API_VERSION, creates a VM and a vCPU.
 * Build: gcc -static -O2 -o build/vmhost/kvmcheck tests/vmhost/kvmcheck.c */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("kvmcheck: open /dev/kvm");
		return 1;
	}
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	printf("kvmcheck: KVM_GET_API_VERSION = %d\n", api);
	if (api != KVM_API_VERSION) {
		fprintf(stderr, "kvmcheck: unexpected API version (want %d)\n",
			KVM_API_VERSION);
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("kvmcheck: KVM_CREATE_VM");
		return 1;
	}
	printf("kvmcheck: KVM_CREATE_VM ok (fd %d)\n", vm);
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		perror("kvmcheck: KVM_CREATE_VCPU");
		return 1;
	}
	printf("kvmcheck: KVM_CREATE_VCPU ok (fd %d)\n", vcpu);
	printf("kvmcheck: KVM_CAP_NR_VCPUS = %d\n",
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS));
	return 0;
}
