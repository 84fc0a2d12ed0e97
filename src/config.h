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

enum config_command { CONFIG_RUN, CONFIG_FC, CONFIG_HELP, CONFIG_VERSION };

/* `minivmm fc` (or minivmm started as `firecracker`): Firecracker's own
 * command line.  The VM itself comes later, from the API or the file. */
struct fc_options {
	const char *api_sock; /* --api-sock, default /run/firecracker.socket */
	const char *id;	      /* --id, default anonymous-instance */
	const char *config_file;  /* --config-file, or NULL */
	bool no_api;		  /* --no-api (needs --config-file) */
	const char *level;	  /* --level */
	const char *log_path;	  /* --log-path */
	const char *metrics_path; /* --metrics-path */
	bool boot_timer;	  /* --boot-timer (also sets vm.boot_timer) */
	bool show_level;	  /* --show-level: the level in log lines */
	bool show_log_origin;	  /* --show-log-origin: FILE:LINE in them */
	/* --start-time-us, --start-time-cpu-us, --parent-cpu-time-us: as
	 * Firecracker's jailer passes them (the monotonic clock and the
	 * process's CPU clock when it started, in microseconds), for the
	 * metrics' api_server.process_startup_time_us and _cpu_us. */
	bool start_time_set, start_time_cpu_set;
	uint64_t start_time_us, start_time_cpu_us, parent_cpu_time_us;
	/* --http-api-max-payload-size; 0: API_BODY_MAX */
	uint64_t api_body_max;
};

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
	struct fc_options fc;				   /* minivmm fc */
	bool fc_front; /* parsed as `minivmm fc`: its help text */
};

/* minivmm run's defaults: 256 MiB, 1 vCPU, no devices, fds -1. */
void config_init(struct config *c);

/* Parses argv (`minivmm run ...`, `minivmm fc ...`, or argv[0] named
 * firecracker); -EINVAL with err_msg() saying what is wrong. */
int config_parse(struct config *c, int argc, char **argv);

/* An id as Firecracker accepts it: 1 to 64 alphanumerics and @extra
 * ('_' for drive and interface ids, '-' for the instance's --id). */
#define CONFIG_ID_MAX 64
bool config_id_valid(const char *id, char extra);

/* Helpers, exposed for tests.  Plain decimal, 0x hex or 0 octal; no sign,
 * no trailing characters, no overflow. */
int parse_u64(const char *s, uint64_t *out);
/* A size with an optional K/M/G/T suffix (powers of 1024); a plain number
 * is in MiB, as for QEMU's -m. */
int parse_size(const char *s, uint64_t *out);

extern const char config_usage[];
extern const char config_fc_usage[];

#endif
