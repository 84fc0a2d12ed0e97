/* The command line: `minivmm run [options]` parsed into a struct, with every
 * number checked, and one clear message for anything wrong. */
#ifndef MINIVMM_CONFIG_H
#define MINIVMM_CONFIG_H

#include "boot/boot.h"
#include "host/disk.h"
#include "virtio/net.h"
#include "virtio/vsock.h"
#include "vm.h"

#include <stdbool.h>
#include <stdint.h>

enum config_command { CONFIG_RUN, CONFIG_HELP, CONFIG_VERSION };

struct config {
	enum config_command command;
	struct vm_options vm;
	struct boot_options boot;
	bool mode_set;
	bool load_addr_set;
	bool prefault_set;	/* else main picks by guest kind */
	bool platform_set;	/* else main picks by guest kind */
	bool serial_set;	/* --serial given */
	bool on_reboot_set;	/* --on-reboot given */
	bool restart_on_reboot; /* --on-reboot restart */
	struct disk_options drives[PLATFORM_VIRTIO_SLOTS]; /* --drive */
	struct net_options nets[PLATFORM_VIRTIO_SLOTS];	   /* --net */
	struct vsock_options vsock;			   /* --vsock */
};

/* Parses argv; -EINVAL with err_msg() saying what is wrong. */
int config_parse(struct config *c, int argc, char **argv);

/* Helpers, exposed for tests.  Plain decimal, 0x hex or 0 octal; no sign,
 * no trailing characters, no overflow. */
int parse_u64(const char *s, uint64_t *out);
/* A size with an optional K/M/G/T suffix (powers of 1024); a plain number
 * is in MiB, as for QEMU's -m. */
int parse_size(const char *s, uint64_t *out);

extern const char config_usage[];

#endif
