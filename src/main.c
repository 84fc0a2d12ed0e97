/* minivmm: argv → config → read the guest image → vm_create → load →
 * vm_run → exit status (again from vm_create when a guest reboots with
 * --on-reboot restart).  Only main decides to exit and prints the final
 * error. */
#include "boot/boot.h"
#include "config.h"
#include "err.h"
#include "host/term.h"
#include "vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef MINIVMM_VERSION
#define MINIVMM_VERSION "0.2"
#endif

/* One boot of the guest: create, load, run, tear down.  Returns the exit
 * status, or -errno with err_msg() set; *@reset says the guest rebooted. */
static int run_once(struct config *cfg, const struct boot_image *img,
		    bool *reset)
{
	struct boot_entry entry;
	struct vm vm;
	uint64_t t;
	int status;

	status = vm_create(&vm, &cfg->vm);
	if (status)
		return status;
	t = time_now_ns();
	status = boot_image_load(img, &vm.mem, vm.nr_vcpus, &entry);
	vm.load_ns = time_now_ns() - t;
	if (!status)
		status = vm_set_entry(&vm, &entry);
	if (!status)
		status = vm_run(&vm);
	if (status >= 0 && cfg->vm.stats)
		vm_print_stats(&vm, stderr);
	*reset = vm.reset_requested;
	vm_destroy(&vm);
	return status;
}

int main(int argc, char **argv)
{
	uint64_t launch_ns = time_now_ns();
	struct boot_image img;
	struct config cfg;
	struct term console;
	bool reset;
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

	if (cfg.vm.stats)
		cfg.vm.launch_ns = launch_ns;
	/* For tests and unusual hosts: another KVM device node. */
	cfg.vm.kvm_path = getenv("MINIVMM_KVM_DEVICE");
	status = boot_image_open(&img, &cfg.boot, cfg.vm.mem_size);
	if (status)
		goto fail;
	if (boot_image_is_linux(&img)) {
		cfg.vm.platform = VM_PLATFORM_PC;
		/* A bzImage relocates and decompresses itself through tens
		 * of MiB of fresh memory: the streams "ahead" follows.  A PVH
		 * kernel starts decompressed, and gained nothing from it. */
		if (!cfg.prefault_set && img.kind == BOOT_BZIMAGE)
			cfg.vm.prefault = PREFAULT_AHEAD;
		if (cfg.vm.serial == VM_SERIAL_STDIO &&
		    term_open(&console, STDIN_FILENO) == 0)
			cfg.vm.console = &console;
	}
	do {
		status = run_once(&cfg, &img, &reset);
		cfg.vm.launch_ns = 0; /* a restart's start-up is not timed */
	} while (status == 0 && reset && cfg.restart_on_reboot);
	boot_image_close(&img);
	term_restore();
	if (status < 0)
		goto fail;
	return status;

fail:
	term_restore();
	fprintf(stderr, "minivmm: %s\n", err_msg());
	return VM_STATUS_ERROR;
}
