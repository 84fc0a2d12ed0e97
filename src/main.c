/* minivmm: argv → config → read the guest image → vm_create → load →
 * vm_run → exit status (again from vm_create when a guest reboots with
 * --on-reboot restart).  Only main decides to exit and prints the final
 * error.  The stop signals are blocked from the first line on and read
 * from a signalfd, so one arriving at any moment (loading, between two
 * boots) ends minivmm with 128+N and the terminal restored. */
#include "boot/boot.h"
#include "config.h"
#include "err.h"
#include "host/term.h"
#include "kvm.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#ifndef MINIVMM_VERSION
#define MINIVMM_VERSION "0.2"
#endif

/* SIGINT, SIGTERM and SIGHUP end minivmm with 128+N.  Blocked in every
 * thread (threads inherit the mask) and read from a signalfd: by vm_run's
 * main loop while a VM runs, by vm_take_stop_signal() otherwise. */
static int main_block_stop_signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return err_set(-EINVAL, "cannot block the stop signals");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return err_set(-errno, "signalfd: %s", strerror(errno));
	/* A closed stdout is the console going away, seen as EPIPE by the
	 * console's writer, not a death by SIGPIPE with the tty left raw. */
	signal(SIGPIPE, SIG_IGN);
	return fd;
}

/* The platform's options against the guest; opens --serial file:PATH once
 * per run, so a guest reboot appends and the output before it (a panic) is
 * kept. */
static int main_check_platform(struct config *cfg, const struct boot_image *img)
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
static int run_once(struct config *cfg, const struct boot_image *img,
		    bool *restart, bool *pvm_note)
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
			fprintf(stderr,
				"minivmm: note: this host's KVM is kvm_pvm (no VMX/SVM): an unmodified Linux kernel fails or hangs on it; boot a PVM-enabled guest kernel, or use a host with hardware virtualization\n");
		*pvm_note = false;
		status = vm_run(&vm);
		/* Filters stay: the next boot's runs under this one. */
		cfg->vm.main_sandboxed |= vm.main_sandboxed;
	}
	if (status >= 0 && !sig && cfg->vm.stats)
		vm_print_stats(&vm, stderr);
	*restart = !sig && vm_restart_wanted(&vm);
	vm_destroy(&vm);
	return status;
}

int main(int argc, char **argv)
{
	uint64_t launch_ns = time_now_ns();
	struct boot_image img;
	struct config cfg;
	struct term console;
	bool restart, pvm_note;
	int status, sig_fd, sig;

	sig_fd = main_block_stop_signals();
	if (sig_fd < 0) {
		fprintf(stderr, "minivmm: %s\n", err_msg());
		return VM_STATUS_ERROR;
	}
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
	cfg.vm.signal_fd = sig_fd;
	cfg.vm.reboot_restarts = cfg.restart_on_reboot;
	status = boot_image_open(&img, &cfg.boot, cfg.vm.mem_size);
	if (status)
		goto fail;
	if (!cfg.platform_set && boot_image_is_linux(&img))
		cfg.vm.platform = VM_PLATFORM_PC;
	status = main_check_platform(&cfg, &img);
	if (status) {
		boot_image_close(&img);
		goto fail;
	}
	pvm_note = boot_image_is_linux(&img) && kvm_host_is_pvm();
	if (cfg.vm.platform == VM_PLATFORM_PC) {
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
		sig = vm_take_stop_signal(sig_fd);
		if (sig) {
			status = VM_STATUS_SIGNAL + sig;
			break;
		}
		status = run_once(&cfg, &img, &restart, &pvm_note);
		cfg.vm.launch_ns = 0; /* a restart's start-up is not timed */
	} while (status == 0 && restart && cfg.restart_on_reboot);
	boot_image_close(&img);
	if (cfg.vm.serial_fd >= 0)
		close(cfg.vm.serial_fd);
	term_restore();
	if (status < 0)
		goto fail;
	return status;

fail:
	term_restore();
	fprintf(stderr, "minivmm: %s\n", err_msg());
	return VM_STATUS_ERROR;
}
