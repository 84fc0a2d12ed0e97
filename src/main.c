/* minivmm: argv → config → vm_create → load the guest → vm_run → exit
 * status.  Only main decides to exit and prints the final error. */
#include "boot/boot.h"
#include "config.h"
#include "err.h"
#include "vm.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef MINIVMM_VERSION
#define MINIVMM_VERSION "0.1"
#endif

int main(int argc, char **argv)
{
	struct boot_entry entry;
	struct config cfg;
	struct vm vm;
	int status;

	if (config_parse(&cfg, argc, argv)) {
		fprintf(stderr, "minivmm: %s\n", err_msg());
		return VM_STATUS_ERROR;
	}
	if (cfg.command == CONFIG_HELP) {
		fputs(config_usage, stdout);
		return 0;
	}
	if (cfg.command == CONFIG_VERSION) {
		printf("minivmm %s\n", MINIVMM_VERSION);
		return 0;
	}

	/* For tests and unusual hosts: another KVM device node. */
	cfg.vm.kvm_path = getenv("MINIVMM_KVM_DEVICE");
	if (vm_create(&vm, &cfg.vm))
		goto fail;
	if (boot_load(&vm.mem, vm.nr_vcpus, &cfg.boot, &entry) ||
	    vm_set_entry(&vm, &entry))
		goto fail_vm;
	status = vm_run(&vm);
	if (status < 0)
		goto fail_vm;
	if (cfg.vm.stats)
		vm_print_stats(&vm, stderr);
	vm_destroy(&vm);
	return status;

fail_vm:
	vm_destroy(&vm);
fail:
	fprintf(stderr, "minivmm: %s\n", err_msg());
	return VM_STATUS_ERROR;
}
