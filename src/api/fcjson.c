/* Firecracker's JSON objects → struct fc_vm → struct config.  Each fc_put_*
 * works on a copy and commits it only when every field passed, so a refused
 * request changes nothing.  The checks minivmm run makes on --net and
 * --vsock values are the same functions here (net_options_parse,
 * net_options_check, vsock_options_parse), fed the JSON's values. */
#include "fcjson.h"
#include "../err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FC_MEM_MIB_MAX (1ull << 24) /* 16 TiB: far beyond any host */

/* The fault message of a shared check, behind @what ("network-interfaces"):
 * copied first, err_set's buffer being the one err_msg returns. */
static int fc_rewrap(int ret, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s", err_msg());
	return err_set(ret, "%s: %s", what, msg);
}

/* @o is an object whose keys are all in @keys (NULL-terminated). */
static int fc_keys(json_t *o, const char *what, const char *const *keys)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return err_set(-EINVAL, "%s: expected a JSON object", what);
	json_object_foreach(o, k, v)
	{
		unsigned i;

		for (i = 0; keys[i]; i++)
			if (!strcmp(k, keys[i]))
				break;
		if (!keys[i])
			return err_set(-EINVAL, "%s: unknown field '%.64s'",
				       what, k);
	}
	return 0;
}

/* A field absent or null: 0 (or -EINVAL if @required). */
static json_t *fc_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_null(v) ? NULL : v;
}

static int fc_missing(const char *what, const char *key)
{
	return err_set(-EINVAL, "%s: missing field '%s'", what, key);
}

/* 1 when copied into @buf, 0 when absent, -EINVAL. */
static int fc_str(json_t *o, const char *what, const char *key, char *buf,
		  size_t size, bool required)
{
	json_t *v = fc_field(o, key);
	const char *s;
	size_t len;

	if (!v)
		return required ? fc_missing(what, key) : 0;
	if (!json_is_string(v))
		return err_set(-EINVAL, "%s: %s: expected a string", what, key);
	s = json_string_value(v);
	len = json_string_length(v);
	if (memchr(s, '\0', len))
		return err_set(-EINVAL, "%s: %s: contains a NUL byte", what,
			       key);
	if (len >= size)
		return err_set(-EINVAL, "%s: %s: %zu bytes, at most %zu", what,
			       key, len, size - 1);
	memcpy(buf, s, len + 1);
	return 1;
}

static int fc_bool(json_t *o, const char *what, const char *key, bool *out,
		   bool required)
{
	json_t *v = fc_field(o, key);

	if (!v)
		return required ? fc_missing(what, key) : 0;
	if (!json_is_boolean(v))
		return err_set(-EINVAL, "%s: %s: expected true or false", what,
			       key);
	*out = json_is_true(v);
	return 1;
}

static int fc_uint(json_t *o, const char *what, const char *key, uint64_t min,
		   uint64_t max, uint64_t *out, bool required)
{
	json_t *v = fc_field(o, key);
	json_int_t n;

	if (!v)
		return required ? fc_missing(what, key) : 0;
	if (!json_is_integer(v))
		return err_set(-EINVAL, "%s: %s: expected an integer", what,
			       key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return err_set(-EINVAL,
			       "%s: %s: %" JSON_INTEGER_FORMAT
			       " is out of range (%" PRIu64 " to %" PRIu64 ")",
			       what, key, n, min, max);
	*out = (uint64_t)n;
	return 1;
}

/* One of @names (case-sensitive unless @icase): its index, or -EINVAL. */
static int fc_enum(json_t *o, const char *what, const char *key,
		   const char *const *names, bool icase, int *out)
{
	char buf[32];
	int ret = fc_str(o, what, key, buf, sizeof(buf), false);

	if (ret <= 0) {
		if (ret == -EINVAL && json_is_string(fc_field(o, key)))
			goto bad; /* too long: not one of them either */
		return ret;
	}
	for (int i = 0; names[i]; i++)
		if (icase ? !strcasecmp(buf, names[i])
			  : !strcmp(buf, names[i])) {
			*out = i;
			return 1;
		}
bad:
	buf[0] = '\0';
	for (int i = 0, n = 0; names[i] && n < (int)sizeof(buf) - 16; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%s",
			      i ? ", " : "", names[i]);
	return err_set(-EINVAL, "%s: %s: '%.32s' is not one of %s", what, key,
		       json_string_value(fc_field(o, key)), buf);
}

static int fc_bucket(json_t *o, const char *what, struct fc_token_bucket *b)
{
	static const char *const keys[] = {"size", "one_time_burst",
					   "refill_time", NULL};
	struct fc_token_bucket t = {.set = true};
	int ret;

	ret = fc_keys(o, what, keys);
	if (!ret)
		ret = fc_uint(o, what, "size", 0, INT64_MAX, &t.size, true);
	if (ret >= 0)
		ret = fc_uint(o, what, "one_time_burst", 0, INT64_MAX,
			      &t.one_time_burst, false);
	if (ret >= 0)
		ret = fc_uint(o, what, "refill_time", 0, INT64_MAX,
			      &t.refill_time, true);
	if (ret < 0)
		return ret;
	*b = t;
	return 0;
}

/* @key of @o, a RateLimiter: absent leaves *@rl as it is (a PATCH keeps
 * it; a PUT starts from none), null removes it. */
static int fc_rate_limiter(json_t *o, const char *what, const char *key,
			   struct fc_rate_limiter *rl)
{
	static const char *const keys[] = {"bandwidth", "ops", NULL};
	struct fc_rate_limiter r = {0};
	char w[96];
	json_t *v = fc_field(o, key), *b;
	int ret;

	if (!json_object_get(o, key))
		return 0;
	if (!v) {
		*rl = r;
		return 0;
	}
	snprintf(w, sizeof(w), "%s: %s", what, key);
	ret = fc_keys(v, w, keys);
	if (ret)
		return ret;
	r.set = true;
	if ((b = fc_field(v, "bandwidth"))) {
		snprintf(w, sizeof(w), "%s: %s: bandwidth", what, key);
		ret = fc_bucket(b, w, &r.bandwidth);
		if (ret)
			return ret;
	}
	if ((b = fc_field(v, "ops"))) {
		snprintf(w, sizeof(w), "%s: %s: ops", what, key);
		ret = fc_bucket(b, w, &r.ops);
		if (ret)
			return ret;
	}
	*rl = r;
	return 0;
}

void fc_vm_init(struct fc_vm *f)
{
	memset(f, 0, sizeof(*f));
	f->vcpus = 1;
	f->mem_mib = 128;
	f->slots = PLATFORM_VIRTIO_SLOTS;
}

static unsigned fc_slots_used(const struct fc_vm *f)
{
	return f->nr_drives + f->nr_nets + f->vsock_set + f->entropy_set;
}

static int fc_slot_free(const struct fc_vm *f, const char *what)
{
	if (fc_slots_used(f) < f->slots)
		return 0;
	return err_set(
		-ENOSPC,
		"%s: no room: minivmm has %u virtio slots for drives, interfaces, vsock and entropy together",
		what, f->slots);
}

/* A file the VM will open: it must exist now (Firecracker opens it here). */
static int fc_file_exists(const char *what, const char *key, const char *path)
{
	struct stat st;

	if (!*path)
		return err_set(-EINVAL, "%s: %s: empty path", what, key);
	if (stat(path, &st))
		return err_set(-EINVAL, "%s: %s: %.256s: %s", what, key, path,
			       strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(-EINVAL, "%s: %s: %.256s is a directory", what,
			       key, path);
	return 0;
}

int fc_put_boot_source(struct fc_vm *f, json_t *o)
{
	static const char *const keys[] = {"kernel_image_path", "initrd_path",
					   "boot_args", NULL};
	static const char what[] = "boot-source";
	char kernel[PATH_MAX], initrd[PATH_MAX] = "";
	char args[FC_BOOT_ARGS_MAX + 1];
	int ret, have_args;

	ret = fc_keys(o, what, keys);
	if (!ret)
		ret = fc_str(o, what, "kernel_image_path", kernel,
			     sizeof(kernel), true);
	if (ret >= 0)
		ret = fc_str(o, what, "initrd_path", initrd, sizeof(initrd),
			     false);
	if (ret < 0)
		return ret;
	have_args = fc_str(o, what, "boot_args", args, sizeof(args), false);
	if (have_args < 0)
		return have_args;
	ret = fc_file_exists(what, "kernel_image_path", kernel);
	if (!ret && *initrd)
		ret = fc_file_exists(what, "initrd_path", initrd);
	if (ret)
		return ret;
	memcpy(f->kernel, kernel, sizeof(kernel));
	memcpy(f->initrd, initrd, sizeof(initrd));
	f->boot_args_set = have_args > 0;
	if (have_args > 0)
		memcpy(f->boot_args, args, sizeof(args));
	f->boot_set = true;
	return 0;
}

int fc_put_machine_config(struct fc_vm *f, json_t *o, bool patch)
{
	static const char *const keys[] = {"vcpu_count", "mem_size_mib",
					   "smt",	 "track_dirty_pages",
					   "huge_pages", "cpu_template",
					   NULL};
	static const char *const huge[] = {"None", "2M", "Transparent", NULL};
	static const char *const tmpl[] = {"None", NULL};
	static const char what[] = "machine-config";
	uint64_t vcpus = f->vcpus, mem = f->mem_mib;
	bool smt = false, dirty = false;
	int hp = FC_HUGE_NONE, t, ret;

	if (patch) {
		smt = f->smt;
		dirty = f->track_dirty_pages;
		hp = (int)f->huge_pages;
	}
	ret = fc_keys(o, what, keys);
	if (!ret)
		ret = fc_uint(o, what, "vcpu_count", 1, FC_VCPUS_MAX, &vcpus,
			      !patch);
	if (ret >= 0)
		ret = fc_uint(o, what, "mem_size_mib", 1, FC_MEM_MIB_MAX, &mem,
			      !patch);
	if (ret >= 0)
		ret = fc_bool(o, what, "smt", &smt, false);
	if (ret >= 0)
		ret = fc_bool(o, what, "track_dirty_pages", &dirty, false);
	if (ret >= 0)
		ret = fc_enum(o, what, "huge_pages", huge, false, &hp);
	if (ret >= 0 && fc_field(o, "cpu_template")) {
		ret = fc_enum(o, what, "cpu_template", tmpl, false, &t);
		if (ret == -EINVAL)
			return err_set(
				-EINVAL,
				"%s: cpu_template: CPU templates are not supported (only \"None\")",
				what);
	}
	if (ret < 0)
		return ret;
	if (smt)
		return err_set(
			-EINVAL,
			"%s: smt: true is not supported: minivmm gives the guest no SMT siblings",
			what);
	f->vcpus = (unsigned)vcpus;
	f->mem_mib = mem;
	f->smt = smt;
	f->track_dirty_pages = dirty;
	f->huge_pages = (enum fc_huge_pages)hp;
	return 0;
}

int fc_find_drive(const struct fc_vm *f, const char *id)
{
	for (unsigned i = 0; i < f->nr_drives; i++)
		if (!strcmp(f->drives[i].id, id))
			return (int)i;
	return -1;
}

unsigned fc_drive_slot(const struct fc_vm *f, int idx)
{
	unsigned slot = 0;
	bool root = false;

	if (idx < 0 || (unsigned)idx >= f->nr_drives)
		return UINT32_MAX;
	if (f->drives[idx].root)
		return 0;
	for (unsigned i = 0; i < f->nr_drives; i++)
		root |= f->drives[i].root;
	for (int i = 0; i < idx; i++)
		if (!f->drives[i].root)
			slot++;
	return slot + root;
}

int fc_find_net(const struct fc_vm *f, const char *id)
{
	for (unsigned i = 0; i < f->nr_nets; i++)
		if (!strcmp(f->nets[i].id, id))
			return (int)i;
	return -1;
}

/* The body's id (@key) into @id: valid, and equal to @path_id if given. */
static int fc_id(json_t *o, const char *what, const char *key,
		 const char *path_id, char id[CONFIG_ID_MAX + 1])
{
	char buf[CONFIG_ID_MAX + 1];
	int ret = fc_str(o, what, key, buf, sizeof(buf), true);

	if (ret == -EINVAL && json_is_string(fc_field(o, key)))
		return err_set(-EINVAL,
			       "%s: %s: expected 1 to %d alphanumerics or '_'",
			       what, key, CONFIG_ID_MAX);
	if (ret < 0)
		return ret;
	if (!config_id_valid(buf, '_'))
		return err_set(
			-EINVAL,
			"%s: %s '%s': expected 1 to %d alphanumerics or '_'",
			what, key, buf, CONFIG_ID_MAX);
	if (path_id && strcmp(buf, path_id))
		return err_set(
			-EINVAL,
			"%s: the id in the path ('%s') differs from %s in the body ('%s')",
			what, path_id, key, buf);
	memcpy(id, buf, sizeof(buf));
	return 0;
}

int fc_put_drive(struct fc_vm *f, json_t *o, const char *path_id, bool patch)
{
	static const char *const keys[] = {"drive_id",	     "path_on_host",
					   "is_root_device", "is_read_only",
					   "partuuid",	     "cache_type",
					   "io_engine",	     "rate_limiter",
					   "socket",	     NULL};
	static const char *const patch_keys[] = {"drive_id", "path_on_host",
						 "rate_limiter", NULL};
	static const char *const caches[] = {"Writeback", "Unsafe", NULL};
	static const char *const engines[] = {"Async", "Sync", NULL};
	static const char what[] = "drives";
	struct fc_drive d = {0};
	int ret, idx, cache = DISK_CACHE_UNSAFE, io = DISK_IO_SYNC;

	ret = fc_keys(o, what, patch ? patch_keys : keys);
	if (!ret)
		ret = fc_id(o, what, "drive_id", path_id, d.id);
	if (ret)
		return ret;
	idx = fc_find_drive(f, d.id);
	if (patch) {
		if (idx < 0)
			return err_set(-EINVAL, "%s: no drive '%s'", what,
				       d.id);
		d = f->drives[idx];
		ret = fc_str(o, what, "path_on_host", d.disk.path,
			     sizeof(d.disk.path), false);
		if (ret > 0)
			ret = fc_file_exists(what, "path_on_host", d.disk.path);
		if (ret >= 0)
			ret = fc_rate_limiter(o, what, "rate_limiter", &d.rl);
		if (ret < 0)
			return ret;
		f->drives[idx] = d;
		return 0;
	}
	if (fc_field(o, "socket"))
		return err_set(
			-EINVAL,
			"%s: socket: vhost-user drives are not supported",
			what);
	ret = fc_str(o, what, "path_on_host", d.disk.path, sizeof(d.disk.path),
		     true);
	if (ret >= 0)
		ret = fc_bool(o, what, "is_root_device", &d.root, true);
	if (ret >= 0)
		ret = fc_bool(o, what, "is_read_only", &d.disk.ro, false);
	if (ret >= 0)
		ret = fc_str(o, what, "partuuid", d.partuuid,
			     sizeof(d.partuuid), false);
	if (ret >= 0)
		ret = fc_enum(o, what, "cache_type", caches, false, &cache);
	if (ret >= 0)
		ret = fc_enum(o, what, "io_engine", engines, false, &io);
	if (ret >= 0)
		ret = fc_rate_limiter(o, what, "rate_limiter", &d.rl);
	if (ret < 0)
		return ret;
	ret = fc_file_exists(what, "path_on_host", d.disk.path);
	if (ret)
		return ret;
	/* The names match minivmm's: Writeback flushes with fdatasync,
	 * Unsafe never does (Firecracker's default); Sync is io=sync,
	 * Async io_uring. */
	d.disk.cache = cache == 0 ? DISK_CACHE_WRITEBACK : DISK_CACHE_UNSAFE;
	d.disk.io = io == 0 ? DISK_IO_URING : DISK_IO_SYNC;
	for (unsigned i = 0; d.root && i < f->nr_drives; i++)
		if (f->drives[i].root && (int)i != idx)
			return err_set(
				-EINVAL,
				"%s: drive '%s' is already the root device: only one drive can be",
				what, f->drives[i].id);
	if (idx < 0) {
		ret = fc_slot_free(f, what);
		if (ret)
			return ret;
		idx = (int)f->nr_drives++;
	}
	f->drives[idx] = d;
	return 0;
}

int fc_put_net(struct fc_vm *f, json_t *o, const char *path_id, bool patch)
{
	static const char *const keys[] = {"iface_id",	      "host_dev_name",
					   "guest_mac",	      "rx_rate_limiter",
					   "tx_rate_limiter", NULL};
	static const char *const patch_keys[] = {"iface_id", "rx_rate_limiter",
						 "tx_rate_limiter", NULL};
	static const char what[] = "network-interfaces";
	struct net_options all[PLATFORM_VIRTIO_SLOTS];
	char tap[64], mac[32], arg[128];
	struct fc_net n = {0};
	int ret, idx, have_mac;
	unsigned nr;

	ret = fc_keys(o, what, patch ? patch_keys : keys);
	if (!ret)
		ret = fc_id(o, what, "iface_id", path_id, n.id);
	if (ret)
		return ret;
	idx = fc_find_net(f, n.id);
	if (patch) {
		if (idx < 0)
			return err_set(-EINVAL, "%s: no interface '%s'", what,
				       n.id);
		n = f->nets[idx];
	}
	ret = fc_rate_limiter(o, what, "rx_rate_limiter", &n.rx);
	if (!ret)
		ret = fc_rate_limiter(o, what, "tx_rate_limiter", &n.tx);
	if (ret)
		return ret;
	if (patch) {
		f->nets[idx] = n;
		return 0;
	}
	ret = fc_str(o, what, "host_dev_name", tap, sizeof(tap), true);
	if (ret < 0)
		return ret;
	have_mac = fc_str(o, what, "guest_mac", mac, sizeof(mac), false);
	if (have_mac < 0)
		return have_mac;
	/* minivmm run's checks, on the --net value these make. */
	if (strchr(tap, ',') || (have_mac && strchr(mac, ',')))
		return err_set(-EINVAL, "%s: %s: ',' is not allowed", what,
			       strchr(tap, ',') ? "host_dev_name"
						: "guest_mac");
	snprintf(arg, sizeof(arg), "tap=%s%s%s", tap, have_mac ? ",mac=" : "",
		 have_mac ? mac : "");
	ret = net_options_parse(arg, &n.net);
	if (ret)
		return fc_rewrap(ret, what);
	nr = 0;
	for (unsigned i = 0; i < f->nr_nets; i++)
		if ((int)i != idx)
			all[nr++] = f->nets[i].net;
	all[nr++] = n.net;
	ret = net_options_check(all, nr);
	if (ret)
		return fc_rewrap(ret, what);
	if (idx < 0) {
		ret = fc_slot_free(f, what);
		if (ret)
			return ret;
		idx = (int)f->nr_nets++;
	}
	f->nets[idx] = n;
	return 0;
}

int fc_put_vsock(struct fc_vm *f, json_t *o)
{
	static const char *const keys[] = {"guest_cid", "uds_path", "vsock_id",
					   NULL};
	static const char what[] = "vsock";
	char uds[VSOCK_UDS_PATH_MAX + 1], id[CONFIG_ID_MAX + 1];
	char arg[VSOCK_UDS_PATH_MAX + 32];
	struct vsock_options v;
	uint64_t cid;
	int ret;

	ret = fc_keys(o, what, keys);
	if (!ret)
		ret = fc_uint(o, what, "guest_cid", 3, 0xfffffffeu, &cid, true);
	if (ret >= 0)
		ret = fc_str(o, what, "uds_path", uds, sizeof(uds), true);
	if (ret >= 0)
		ret = fc_str(o, what, "vsock_id", id, sizeof(id), false);
	if (ret < 0)
		return ret;
	if (strchr(uds, ','))
		return err_set(-EINVAL, "%s: uds_path: ',' is not allowed",
			       what);
	snprintf(arg, sizeof(arg), "cid=%" PRIu64 ",uds=%s", cid, uds);
	ret = vsock_options_parse(arg, &v);
	if (ret)
		return fc_rewrap(ret, what);
	if (!f->vsock_set) {
		ret = fc_slot_free(f, what);
		if (ret)
			return ret;
	}
	f->vsock = v;
	f->vsock_set = true;
	return 0;
}

int fc_put_entropy(struct fc_vm *f, json_t *o)
{
	static const char *const keys[] = {"rate_limiter", NULL};
	static const char what[] = "entropy";
	struct fc_rate_limiter rl = {0};
	int ret;

	ret = fc_keys(o, what, keys);
	if (!ret)
		ret = fc_rate_limiter(o, what, "rate_limiter", &rl);
	if (!ret && !f->entropy_set)
		ret = fc_slot_free(f, what);
	if (ret)
		return ret;
	f->entropy_rl = rl;
	f->entropy_set = true;
	return 0;
}

int fc_put_logger(struct fc_vm *f, json_t *o)
{
	static const char *const keys[] = {"log_path",	 "level",
					   "show_level", "show_log_origin",
					   "module",	 NULL};
	static const char *const levels[] = {
		"Error", "Warning", "Info", "Debug", "Trace", "Off", NULL};
	static const char what[] = "logger";
	char path[PATH_MAX] = "", module[FC_MODULE_MAX + 1] = "";
	bool show_level = false, show_origin = false;
	int level = 2, ret;

	ret = fc_keys(o, what, keys);
	if (!ret)
		ret = fc_str(o, what, "log_path", path, sizeof(path), false);
	if (ret >= 0)
		ret = fc_enum(o, what, "level", levels, true, &level);
	if (ret >= 0)
		ret = fc_bool(o, what, "show_level", &show_level, false);
	if (ret >= 0)
		ret = fc_bool(o, what, "show_log_origin", &show_origin, false);
	if (ret >= 0)
		ret = fc_str(o, what, "module", module, sizeof(module), false);
	if (ret < 0)
		return ret;
	memcpy(f->log_path, path, sizeof(path));
	snprintf(f->level, sizeof(f->level), "%s", levels[level]);
	f->show_level = show_level;
	f->show_log_origin = show_origin;
	memcpy(f->module, module, sizeof(module));
	f->logger_set = true;
	return 0;
}

int fc_put_metrics(struct fc_vm *f, json_t *o)
{
	static const char *const keys[] = {"metrics_path", NULL};
	static const char what[] = "metrics";
	char path[PATH_MAX];
	int ret;

	if (f->metrics_set)
		return err_set(-EINVAL,
			       "Reinitialization of metrics not allowed.");
	ret = fc_keys(o, what, keys);
	if (!ret)
		ret = fc_str(o, what, "metrics_path", path, sizeof(path), true);
	if (ret < 0)
		return ret;
	if (!*path)
		return err_set(-EINVAL, "%s: metrics_path: empty path", what);
	memcpy(f->metrics_path, path, sizeof(path));
	f->metrics_set = true;
	return 0;
}

json_t *fc_json_load(const char *text, size_t len)
{
	json_error_t e;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);

	if (!o) {
		err_set(-EINVAL, "bad JSON at line %d column %d: %s", e.line,
			e.column, e.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		err_set(-EINVAL, "the body must be a JSON object");
		return NULL;
	}
	return o;
}

/* A config file's array of drives or interfaces. */
static int fc_config_array(struct fc_vm *f, json_t *a, const char *what,
			   int (*put)(struct fc_vm *, json_t *, const char *,
				      bool))
{
	size_t i;
	json_t *v;
	int ret;

	if (!a)
		return 0;
	if (!json_is_array(a))
		return err_set(-EINVAL, "%s: expected an array", what);
	json_array_foreach(a, i, v)
	{
		ret = put(f, v, NULL, false);
		if (ret)
			return ret;
	}
	return 0;
}

int fc_config_parse(struct fc_vm *f, const char *text, size_t len)
{
	static const char *const keys[] = {"boot-source", "machine-config",
					   "drives",	  "network-interfaces",
					   "vsock",	  "entropy",
					   "logger",	  "metrics",
					   "balloon",	  "mmds-config",
					   "cpu-config",  NULL};
	static const char *const unsupported[] = {"balloon", "mmds-config",
						  "cpu-config"};
	json_t *o = fc_json_load(text, len), *v;
	int ret;

	if (!o)
		return -EINVAL;
	ret = fc_keys(o, "the configuration file", keys);
	for (unsigned i = 0; !ret && i < 3; i++)
		if (fc_field(o, unsupported[i]))
			ret = err_set(-EINVAL, "%s: not supported by minivmm",
				      unsupported[i]);
	if (ret)
		goto out;
	v = fc_field(o, "boot-source");
	ret = v ? fc_put_boot_source(f, v)
		: fc_missing("configuration file", "boot-source");
	if (!ret && (v = fc_field(o, "machine-config")))
		ret = fc_put_machine_config(f, v, false);
	if (!ret)
		ret = fc_config_array(f, fc_field(o, "drives"), "drives",
				      fc_put_drive);
	if (!ret)
		ret = fc_config_array(f, fc_field(o, "network-interfaces"),
				      "network-interfaces", fc_put_net);
	if (!ret && (v = fc_field(o, "vsock")))
		ret = fc_put_vsock(f, v);
	if (!ret && (v = fc_field(o, "entropy")))
		ret = fc_put_entropy(f, v);
	if (!ret && (v = fc_field(o, "logger")))
		ret = fc_put_logger(f, v);
	if (!ret && (v = fc_field(o, "metrics")))
		ret = fc_put_metrics(f, v);
out:
	json_decref(o);
	return ret;
}

struct throttle_config fc_rl_throttle(const struct fc_rate_limiter *rl)
{
	struct throttle_config t = {0};

	/* An absent bucket, and one with a zero size or refill time, is
	 * off, as in Firecracker. */
	if (rl->set && rl->bandwidth.set)
		t.bw = (struct token_bucket_config){
			rl->bandwidth.size, rl->bandwidth.one_time_burst,
			rl->bandwidth.refill_time};
	if (rl->set && rl->ops.set)
		t.ops = (struct token_bucket_config){rl->ops.size,
						     rl->ops.one_time_burst,
						     rl->ops.refill_time};
	return t;
}

int fc_vm_to_config(struct fc_vm *f, struct config *c)
{
	const struct fc_drive *root = NULL;
	size_t n;
	unsigned nr = 0;

	if (!f->boot_set)
		return err_set(
			-EINVAL,
			"no boot source: PUT /boot-source with kernel_image_path first");
	c->boot.raw_path = NULL;
	c->boot.kernel_path = f->kernel;
	c->boot.initrd_path = *f->initrd ? f->initrd : NULL;
	n = (size_t)snprintf(f->cmdline, sizeof(f->cmdline), "%s",
			     f->boot_args_set ? f->boot_args
					      : FC_DEFAULT_BOOT_ARGS);
	/* Firecracker's order: the root drive first (vda), then the rest as
	 * they were added. */
	for (unsigned i = 0; i < f->nr_drives; i++)
		if (f->drives[i].root)
			root = &f->drives[i];
	if (root) {
		c->drives[nr] = root->disk;
		c->drives[nr].rate = fc_rl_throttle(&root->rl);
		snprintf(c->drives[nr++].id, sizeof(root->disk.id), "%s",
			 root->id);
		if (*root->partuuid)
			snprintf(f->cmdline + n, sizeof(f->cmdline) - n,
				 " root=PARTUUID=%s %s", root->partuuid,
				 root->disk.ro ? "ro" : "rw");
		else
			snprintf(f->cmdline + n, sizeof(f->cmdline) - n,
				 " root=/dev/vda %s",
				 root->disk.ro ? "ro" : "rw");
	}
	for (unsigned i = 0; i < f->nr_drives; i++)
		if (&f->drives[i] != root) {
			c->drives[nr] = f->drives[i].disk;
			c->drives[nr].rate = fc_rl_throttle(&f->drives[i].rl);
			snprintf(c->drives[nr++].id, sizeof(c->drives[0].id),
				 "%s", f->drives[i].id);
		}
	c->boot.cmdline = f->cmdline;
	c->vm.drives = c->drives;
	c->vm.nr_drives = nr;
	for (unsigned i = 0; i < f->nr_nets; i++) {
		c->nets[i] = f->nets[i].net;
		c->nets[i].rx_rate = fc_rl_throttle(&f->nets[i].rx);
		c->nets[i].tx_rate = fc_rl_throttle(&f->nets[i].tx);
		snprintf(c->nets[i].id, sizeof(c->nets[i].id), "%s",
			 f->nets[i].id);
	}
	c->vm.nets = c->nets;
	c->vm.nr_nets = f->nr_nets;
	if (f->vsock_set) {
		c->vsock = f->vsock;
		c->vm.vsock = &c->vsock;
	} else {
		c->vm.vsock = NULL;
	}
	c->vm.rng = f->entropy_set;
	c->vm.rng_rate = fc_rl_throttle(&f->entropy_rl);
	c->vm.cpus = f->vcpus;
	c->vm.mem_size = f->mem_mib << 20;
	/* "None" keeps the platform's choice (THP advice for Linux guests,
	 * as under minivmm run); "2M" is hugetlbfs, as in Firecracker. */
	c->vm.huge = f->huge_pages == FC_HUGE_2M	    ? MEM_HUGE_2M
		     : f->huge_pages == FC_HUGE_TRANSPARENT ? MEM_HUGE_THP
							    : MEM_HUGE_DEFAULT;
	c->vm.track_dirty = f->track_dirty_pages;
	return net_options_check(c->nets, c->vm.nr_nets);
}

static json_t *fc_bucket_json(const struct fc_token_bucket *b)
{
	if (!b->set)
		return json_null();
	return json_pack("{s:I, s:I, s:I}", "size", (json_int_t)b->size,
			 "one_time_burst", (json_int_t)b->one_time_burst,
			 "refill_time", (json_int_t)b->refill_time);
}

static json_t *fc_rl_json(const struct fc_rate_limiter *rl)
{
	if (!rl->set)
		return json_null();
	return json_pack("{s:o, s:o}", "bandwidth",
			 fc_bucket_json(&rl->bandwidth), "ops",
			 fc_bucket_json(&rl->ops));
}

json_t *fc_machine_json(const struct fc_vm *f)
{
	static const char *const huge[] = {"None", "2M", "Transparent"};

	return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count",
			 (int)f->vcpus, "mem_size_mib", (json_int_t)f->mem_mib,
			 "smt", f->smt, "track_dirty_pages",
			 f->track_dirty_pages, "huge_pages",
			 huge[f->huge_pages]);
}

json_t *fc_vm_json(const struct fc_vm *f)
{
	json_t *drives = json_array(), *nets = json_array(), *o;

	for (unsigned i = 0; i < f->nr_drives; i++) {
		const struct fc_drive *d = &f->drives[i];

		json_array_append_new(
			drives,
			json_pack("{s:s, s:s, s:b, s:b, s:s?, s:s, s:s, s:o}",
				  "drive_id", d->id, "path_on_host",
				  d->disk.path, "is_root_device", d->root,
				  "is_read_only", d->disk.ro, "partuuid",
				  *d->partuuid ? d->partuuid : NULL,
				  "cache_type",
				  d->disk.cache == DISK_CACHE_UNSAFE
					  ? "Unsafe"
					  : "Writeback",
				  "io_engine",
				  d->disk.io == DISK_IO_SYNC ? "Sync" : "Async",
				  "rate_limiter", fc_rl_json(&d->rl)));
	}
	for (unsigned i = 0; i < f->nr_nets; i++) {
		const struct fc_net *n = &f->nets[i];
		char mac[18];

		net_mac_format(n->net.mac, mac);
		json_array_append_new(
			nets, json_pack("{s:s, s:s, s:s, s:o, s:o}", "iface_id",
					n->id, "host_dev_name", n->net.tap,
					"guest_mac", mac, "rx_rate_limiter",
					fc_rl_json(&n->rx), "tx_rate_limiter",
					fc_rl_json(&n->tx)));
	}
	o = json_pack("{s:o, s:o, s:o, s:o}", "machine-config",
		      fc_machine_json(f), "drives", drives,
		      "network-interfaces", nets, "balloon", json_null());
	if (!o)
		return NULL;
	json_object_set_new(
		o, "boot-source",
		f->boot_set
			? json_pack("{s:s, s:s?, s:s?}", "kernel_image_path",
				    f->kernel, "initrd_path",
				    *f->initrd ? f->initrd : NULL, "boot_args",
				    f->boot_args_set ? f->boot_args : NULL)
			: json_null());
	json_object_set_new(o, "vsock",
			    f->vsock_set ? json_pack("{s:I, s:s}", "guest_cid",
						     (json_int_t)f->vsock.cid,
						     "uds_path", f->vsock.uds)
					 : json_null());
	json_object_set_new(o, "entropy",
			    f->entropy_set
				    ? json_pack("{s:o}", "rate_limiter",
						fc_rl_json(&f->entropy_rl))
				    : json_null());
	json_object_set_new(
		o, "logger",
		f->logger_set
			? json_pack("{s:s?, s:s, s:b, s:b, s:s?}", "log_path",
				    *f->log_path ? f->log_path : NULL, "level",
				    f->level, "show_level", f->show_level,
				    "show_log_origin", f->show_log_origin,
				    "module", *f->module ? f->module : NULL)
			: json_null());
	json_object_set_new(o, "metrics",
			    f->metrics_set ? json_pack("{s:s}", "metrics_path",
						       f->metrics_path)
					   : json_null());
	json_object_set_new(o, "mmds-config", json_null());
	json_object_set_new(o, "cpu-config", json_null());
	return o;
}
