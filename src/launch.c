/* One VM from a struct config, whichever front end filled it: open the
 * guest image, pick the platform by guest kind, then create, load, run and
 * tear down (again from vm_create when a guest reboots with --on-reboot
 * restart). */
#include "launch.h"
#include "boot/boot.h"
#include "err.h"
#include "host/log.h"
#include "host/term.h"
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The platform's options against the guest; opens --serial file:PATH once
 * per run, so a guest reboot appends and the output before it (a panic) is
 * kept. */
static int launch_check_platform(struct config *cfg,
				 const struct boot_image *img)
{
	if (cfg->vm.platform == VM_PLATFORM_BARE && boot_image_is_linux(img))
		return err_set(
			-EINVAL,
			"a Linux kernel needs the PC platform: drop --platform bare");
	if (cfg->vm.platform == VM_PLATFORM_BARE &&
	    (cfg->serial_set || cfg->on_reboot_set))
		return err_set(
			-EINVAL,
			"--serial and --on-reboot apply to the PC platform: boot a Linux kernel or add --platform pc");
	if (cfg->vm.serial != VM_SERIAL_FILE)
		return 0;
	cfg->vm.serial_fd = open(cfg->vm.serial_path,
				 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				 0644);
	if (cfg->vm.serial_fd < 0)
		return err_set(-errno, "--serial file:%s: %s",
			       cfg->vm.serial_path, strerror(errno));
	return 0;
}

/* One boot of the guest: create, load, run, tear down.  Returns the exit
 * status, or -errno with err_msg() set; *@restart says the guest rebooted
 * (and no stop signal came).  *@pvm_note: say once that Linux cannot run on
 * this kvm_pvm host. */
static int launch_once(struct config *cfg, const struct boot_image *img,
		       const struct launch_hooks *h, bool *restart,
		       bool *pvm_note)
{
	struct boot_entry entry;
	struct vm vm;
	uint64_t t;
	int status, sig;

	*restart = false;
	status = vm_create(&vm, &cfg->vm);
	if (status)
		return status;
	t = time_now_ns();
	status = boot_image_load(img, &vm.mem, &vm.platform, &entry);
	vm.load_ns = time_now_ns() - t;
	if (!status)
		status = vm_set_entry(&vm, &entry);
	/* A signal while loading: do not start the guest at all. */
	sig = status ? 0 : vm_take_stop_signal(cfg->vm.signal_fd);
	if (sig) {
		status = VM_STATUS_SIGNAL + sig;
	} else if (!status) {
		/* Once, for a kernel that loaded: today such a boot would
		 * otherwise hang without a word. */
		if (*pvm_note)
			log_write(
				LOG_WARNING,
				"note: this host's KVM is kvm_pvm (no VMX/SVM): an unmodified Linux kernel fails or hangs on it; boot a PVM-enabled guest kernel, or use a host with hardware virtualization");
		*pvm_note = false;
		if (h && h->vm_ready)
			h->vm_ready(h->opaque, &vm);
		status = vm_run(&vm);
		/* Filters stay: the next boot's runs under this one. */
		cfg->vm.main_sandboxed |= vm.main_sandboxed;
		if (h && h->vm_gone)
			h->vm_gone(h->opaque, &vm);
	}
	if (status >= 0 && !sig && cfg->vm.stats)
		vm_print_stats(&vm, stderr);
	*restart = !sig && vm_restart_wanted(&vm);
	vm_destroy(&vm);
	return status;
}

int launch_vm(struct config *cfg, const struct launch_hooks *h)
{
	struct boot_image img;
	struct term console;
	bool restart, pvm_note;
	int status, sig;

	status = boot_image_open(&img, &cfg->boot, cfg->vm.mem_size);
	if (status)
		return status;
	if (!cfg->platform_set && boot_image_is_linux(&img))
		cfg->vm.platform = VM_PLATFORM_PC;
	status = launch_check_platform(cfg, &img);
	if (status) {
		boot_image_close(&img);
		return status;
	}
	pvm_note = boot_image_is_linux(&img) && kvm_host_is_pvm();
	if (cfg->vm.platform == VM_PLATFORM_PC) {
		/* A bzImage relocates and decompresses itself through tens
		 * of MiB of fresh memory: the streams "ahead" follows.  A PVH
		 * kernel starts decompressed, and gained nothing from it. */
		if (!cfg->prefault_set && img.kind == BOOT_BZIMAGE)
			cfg->vm.prefault = PREFAULT_AHEAD;
		if (cfg->vm.serial == VM_SERIAL_STDIO &&
		    term_open(&console, STDIN_FILENO) == 0)
			cfg->vm.console = &console;
	}
	do {
		sig = vm_take_stop_signal(cfg->vm.signal_fd);
		if (sig) {
			status = VM_STATUS_SIGNAL + sig;
			break;
		}
		status = launch_once(cfg, &img, h, &restart, &pvm_note);
		cfg->vm.launch_ns = 0; /* a restart's start-up is not timed */
	} while (status == 0 && restart && cfg->restart_on_reboot);
	boot_image_close(&img);
	if (cfg->vm.serial_fd >= 0) {
		close(cfg->vm.serial_fd);
		cfg->vm.serial_fd = -1;
	}
	term_restore();
	return status;
}
