/* Firecracker's JSON objects (its OpenAPI description, and the same keys in
 * a --config-file) parsed into the VM description the API builds up, and
 * that description turned into minivmm's struct config, the one both front
 * ends boot from.  Every field is checked here, with one message naming the
 * object, the field and the value; unknown fields are refused. */
#ifndef MINIVMM_API_FCJSON_H
#define MINIVMM_API_FCJSON_H

#include "../config.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define FC_BOOT_ARGS_MAX 2048 /* Linux's COMMAND_LINE_SIZE on x86 */
#define FC_VCPUS_MAX 32	      /* Firecracker's limit */
#define FC_PARTUUID_MAX 64
#define FC_MODULE_MAX 128

/* Firecracker's boot arguments when boot_args is not given. */
#define FC_DEFAULT_BOOT_ARGS \
	"reboot=k panic=1 pci=off nomodule i8042.noaux i8042.nomux i8042.dumbkbd"

/* A token bucket as the JSON gave it (GET /vm/config shows it back);
 * fc_rl_throttle() makes it the devices' struct throttle_config. */
struct fc_token_bucket {
	bool set;
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time; /* ms */
};

struct fc_rate_limiter {
	bool set;
	struct fc_token_bucket bandwidth; /* bytes */
	struct fc_token_bucket ops;	  /* requests */
};

struct fc_drive {
	char id[CONFIG_ID_MAX + 1];
	struct disk_options disk; /* path, ro, cache, io */
	bool root;
	char partuuid[FC_PARTUUID_MAX + 1]; /* "" if none */
	struct fc_rate_limiter rl;
};

struct fc_net {
	char id[CONFIG_ID_MAX + 1];
	struct net_options net; /* tap, mac */
	struct fc_rate_limiter rx, tx;
};

enum fc_huge_pages { FC_HUGE_NONE, FC_HUGE_2M, FC_HUGE_TRANSPARENT };

/* Everything the API (or the file) said about the VM. */
struct fc_vm {
	bool boot_set;
	char kernel[PATH_MAX];
	char initrd[PATH_MAX]; /* "" if none */
	bool boot_args_set;
	char boot_args[FC_BOOT_ARGS_MAX + 1];

	unsigned vcpus;
	uint64_t mem_mib;
	bool smt;
	bool track_dirty_pages; /* KVM_MEM_LOG_DIRTY_PAGES on guest RAM */
	enum fc_huge_pages huge_pages; /* 2M: hugetlbfs; Transparent: THP */

	/* How many virtio devices fit: PLATFORM_VIRTIO_SLOTS, or one less
	 * with --boot-timer (its device takes slot 0); main sets it. */
	unsigned slots;
	struct fc_drive drives[PLATFORM_VIRTIO_SLOTS];
	unsigned nr_drives;
	struct fc_net nets[PLATFORM_VIRTIO_SLOTS];
	unsigned nr_nets;
	bool vsock_set;
	struct vsock_options vsock;
	bool entropy_set;
	struct fc_rate_limiter entropy_rl;

	bool logger_set;
	char log_path[PATH_MAX];
	char level[8];
	bool show_level, show_log_origin;
	char module[FC_MODULE_MAX + 1];
	bool metrics_set; /* once: a second PUT is refused */
	char metrics_path[PATH_MAX];

	/* Built by fc_vm_to_config: boot_args and root=. */
	char cmdline[FC_BOOT_ARGS_MAX + FC_PARTUUID_MAX + 64];
};

/* Firecracker's defaults: 1 vCPU, 128 MiB, nothing else; room for
 * PLATFORM_VIRTIO_SLOTS devices. */
void fc_vm_init(struct fc_vm *f);

/* Each takes the request's body, parsed; @patch: a PATCH (only the fields
 * given change; the id is then the only required one).  @path_id: the id
 * from the URL, which the body's must equal, or NULL (config file).
 * -EINVAL with err_msg() the fault message; nothing changes then. */
int fc_put_boot_source(struct fc_vm *f, json_t *o);
int fc_put_machine_config(struct fc_vm *f, json_t *o, bool patch);
int fc_put_drive(struct fc_vm *f, json_t *o, const char *path_id, bool patch);
int fc_put_net(struct fc_vm *f, json_t *o, const char *path_id, bool patch);
int fc_put_vsock(struct fc_vm *f, json_t *o);
int fc_put_entropy(struct fc_vm *f, json_t *o);
int fc_put_logger(struct fc_vm *f, json_t *o);
int fc_put_metrics(struct fc_vm *f, json_t *o);

/* Loads JSON text (at most @len bytes, no NUL needed) as an object:
 * NULL with err_msg() set for bad JSON or anything but an object. */
json_t *fc_json_load(const char *text, size_t len);

/* A whole Firecracker configuration file into @f (which fc_vm_init set). */
int fc_config_parse(struct fc_vm *f, const char *text, size_t len);

/* Fills @c (after config's defaults) from @f: the kernel and initrd, the
 * boot arguments with root= for a root drive, vCPUs and memory, the drives
 * (a root drive first: vda), interfaces, vsock and entropy.  @c points into
 * @f, which must stay put.  -EINVAL if no boot source was given, or the
 * checks minivmm run makes fail. */
int fc_vm_to_config(struct fc_vm *f, struct config *c);

/* The index in @f->drives of drive @id, or -1. */
int fc_find_drive(const struct fc_vm *f, const char *id);
/* The index in @f->nets of interface @id (eth0 is 0), or -1. */
int fc_find_net(const struct fc_vm *f, const char *id);
/* Where fc_vm_to_config puts @f->drives[@idx]: 0 (vda) for the root
 * drive, then the others in the order they were added; UINT32_MAX for no
 * such drive. */
unsigned fc_drive_slot(const struct fc_vm *f, int idx);
/* A rate limiter as the devices take it (disk_options.rate,
 * net_options.rx_rate and tx_rate, vm_options.rng_rate). */
struct throttle_config fc_rl_throttle(const struct fc_rate_limiter *rl);

/* GET /machine-config and GET /vm/config bodies (new references). */
json_t *fc_machine_json(const struct fc_vm *f);
json_t *fc_vm_json(const struct fc_vm *f);

#endif
