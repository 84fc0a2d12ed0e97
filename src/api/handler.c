/* Firecracker's routes and rules: which method and path, whether the call
 * is allowed before or after InstanceStart, ids in the path against the
 * body's, then the body to fcjson.c.  Every error is a 400 with a
 * fault_message naming what is wrong, as Firecracker's API server answers. */
#include "handler.h"
#include "../err.h"
#include "../metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char api_pre_boot[] =
	"The requested operation is not supported after starting the microVM.";
static const char api_post_boot[] =
	"The requested operation is not supported before starting the microVM.";

const char *api_state_name(enum api_state s)
{
	switch (s) {
	case API_RUNNING:
		return "Running";
	case API_PAUSED:
		return "Paused";
	default:
		return "Not started";
	}
}

void api_ctx_init(struct api_ctx *ctx, const char *id, const char *version)
{
	fc_vm_init(&ctx->vm);
	ctx->state = API_NOT_STARTED;
	ctx->hooks = (struct api_hooks){0};
	memset(&ctx->counters, 0, sizeof(ctx->counters));
	ctx->id = id;
	ctx->version = version;
	ctx->body_max = API_BODY_MAX;
	ctx->startup_us = 0;
	ctx->startup_cpu_us = 0;
	ctx->pause_us = ctx->resume_us = 0;
	ctx->vmm_pause_us = ctx->vmm_resume_us = 0;
}

void api_reply_free(struct api_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
	free(r->drive_undo);
	r->drive_undo = NULL;
}

/* @o (stolen) as the body of a 200. */
static void api_reply_json(struct api_reply *r, json_t *o)
{
	api_reply_free(r);
	r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!r->body) {
		api_reply_fault(r, "out of memory");
		return;
	}
	r->status = 200;
	r->len = strlen(r->body);
}

void api_reply_fault(struct api_reply *r, const char *msg)
{
	char clean[512];
	json_t *o;

	api_reply_free(r);
	r->action = API_ACTION_NONE;
	r->status = 400;
	/* Paths and values in the message come from the client: anything
	 * but printable ASCII becomes '?', so the JSON is always valid. */
	snprintf(clean, sizeof(clean), "%s", msg);
	for (char *p = clean; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	o = json_pack("{s:s}", "fault_message", clean);
	r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	r->len = r->body ? strlen(r->body) : 0;
}

static void api_fault_err(struct api_reply *r)
{
	api_reply_fault(r, err_msg());
}

static void api_bad_route(struct api_reply *r, const char *method,
			  const char *path)
{
	char msg[API_PATH_MAX + 96];

	snprintf(msg, sizeof(msg),
		 "Invalid request method and/or path: %.16s %.*s.", method,
		 API_PATH_MAX, path);
	api_reply_fault(r, msg);
}

/* The path's last part after @prefix ("/drives/"): an id, or NULL. */
static const char *api_path_id(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) || !path[n] || strchr(path + n, '/'))
		return NULL;
	return path + n;
}

/* Routes a body request; @parse applies it.  Returns the parsed body (the
 * caller drops it) or NULL with @r set to the fault. */
static json_t *api_body(struct api_reply *r, const char *body, size_t len)
{
	json_t *o;

	if (!len) {
		api_reply_fault(r, "the request needs a JSON body");
		return NULL;
	}
	o = fc_json_load(body, len);
	if (!o)
		api_fault_err(r);
	return o;
}

static void api_actions(struct api_ctx *ctx, json_t *o, struct api_reply *r)
{
	static const char what[] = "actions";
	const char *k;
	json_t *v, *t;
	const char *type;

	json_object_foreach(o, k, v)
	{
		if (strcmp(k, "action_type")) {
			err_set(-EINVAL, "%s: unknown field '%.64s'", what, k);
			api_fault_err(r);
			return;
		}
	}
	t = json_object_get(o, "action_type");
	if (!t) {
		api_reply_fault(r, "actions: missing field 'action_type'");
		return;
	}
	if (!json_is_string(t)) {
		api_reply_fault(r, "actions: action_type: expected a string");
		return;
	}
	type = json_string_value(t);
	if (!strcmp(type, "InstanceStart")) {
		if (ctx->state != API_NOT_STARTED) {
			api_reply_fault(r, api_pre_boot);
			return;
		}
		if (!ctx->vm.boot_set) {
			api_reply_fault(
				r,
				"InstanceStart: no boot source: PUT /boot-source with kernel_image_path first");
			return;
		}
		r->action = API_ACTION_START;
	} else if (!strcmp(type, "SendCtrlAltDel")) {
		if (ctx->state == API_NOT_STARTED) {
			api_reply_fault(r, api_post_boot);
			return;
		}
		r->action = API_ACTION_CTRL_ALT_DEL;
	} else if (!strcmp(type, "FlushMetrics")) {
		if (!ctx->vm.metrics_set) {
			api_reply_fault(
				r,
				"FlushMetrics: the metrics system is not initialized: set a metrics_path with PUT /metrics or --metrics-path first");
			return;
		}
		if (ctx->hooks.metrics_flush &&
		    ctx->hooks.metrics_flush(ctx->hooks.opaque))
			api_fault_err(r);
	} else {
		char msg[128];

		snprintf(
			msg, sizeof(msg),
			"actions: action_type: '%.32s' is not one of InstanceStart, SendCtrlAltDel, FlushMetrics",
			type);
		api_reply_fault(r, msg);
	}
}

static void api_patch_vm(struct api_ctx *ctx, json_t *o, struct api_reply *r)
{
	const char *k, *state;
	json_t *v, *s;

	json_object_foreach(o, k, v)
	{
		if (strcmp(k, "state")) {
			err_set(-EINVAL, "vm: unknown field '%.64s'", k);
			api_fault_err(r);
			return;
		}
	}
	s = json_object_get(o, "state");
	if (!s || !json_is_string(s)) {
		api_reply_fault(r, s ? "vm: state: expected a string"
				     : "vm: missing field 'state'");
		return;
	}
	state = json_string_value(s);
	if (!strcmp(state, "Paused") || !strcmp(state, "Resumed")) {
		bool pause = state[0] == 'P';

		if (ctx->state == API_NOT_STARTED) {
			api_reply_fault(r, api_post_boot);
			return;
		}
		if (pause && ctx->state == API_RUNNING)
			r->action = API_ACTION_PAUSE;
		else if (!pause && ctx->state == API_PAUSED)
			r->action = API_ACTION_RESUME;
		return;
	}
	api_reply_fault(r, "vm: state: expected Paused or Resumed");
}

/* PUT /logger: the old settings stay if the hook refuses the new. */
static void api_logger(struct api_ctx *ctx, json_t *o, struct api_reply *r)
{
	struct fc_vm *f = &ctx->vm;
	struct {
		bool set;
		char path[PATH_MAX];
		char level[8];
		bool show_level, show_origin;
		char module[FC_MODULE_MAX + 1];
	} *old = malloc(sizeof(*old));

	if (!old) {
		api_reply_fault(r, "out of memory");
		return;
	}
	old->set = f->logger_set;
	memcpy(old->path, f->log_path, sizeof(old->path));
	memcpy(old->level, f->level, sizeof(old->level));
	old->show_level = f->show_level;
	old->show_origin = f->show_log_origin;
	memcpy(old->module, f->module, sizeof(old->module));
	if (fc_put_logger(f, o)) {
		api_fault_err(r);
	} else if (ctx->hooks.logger_set &&
		   ctx->hooks.logger_set(ctx->hooks.opaque, f)) {
		api_fault_err(r);
		f->logger_set = old->set;
		memcpy(f->log_path, old->path, sizeof(old->path));
		memcpy(f->level, old->level, sizeof(old->level));
		f->show_level = old->show_level;
		f->show_log_origin = old->show_origin;
		memcpy(f->module, old->module, sizeof(old->module));
	}
	free(old);
}

/* PATCH /drives/{id}, only after the start: fcjson checks and stores the
 * new values; the running device then takes them (the caller carries out
 * the action: a new file, path_on_host, is opened and swapped in, a new
 * limiter replaces the old), and puts the old drive back if that fails. */
static void api_patch_drive(struct api_ctx *ctx, const char *id, json_t *o,
			    struct api_reply *r)
{
	struct fc_vm *f = &ctx->vm;
	int idx = fc_find_drive(f, id);
	struct fc_drive *undo = NULL;

	if (idx >= 0) {
		undo = malloc(sizeof(*undo));
		if (!undo) {
			api_reply_fault(r, "out of memory");
			return;
		}
		*undo = f->drives[idx];
	}
	if (fc_put_drive(f, o, id, true)) {
		free(undo);
		api_fault_err(r);
		return;
	}
	idx = fc_find_drive(f, id);
	r->drive_swap = json_object_get(o, "path_on_host") != NULL;
	r->drive_rate = json_object_get(o, "rate_limiter") != NULL;
	if (!r->drive_swap && !r->drive_rate) {
		free(undo); /* only the id: nothing changes */
		return;
	}
	r->action = API_ACTION_DRIVE_UPDATE;
	r->index = fc_drive_slot(f, idx);
	r->drive_undo = undo;
}

static void api_apply(struct api_ctx *ctx, enum api_route route, bool patch,
		      const char *id, json_t *o, struct api_reply *r)
{
	struct fc_vm *f = &ctx->vm;
	int ret = 0;

	switch (route) {
	case ROUTE_BOOT_SOURCE:
		ret = fc_put_boot_source(f, o);
		break;
	case ROUTE_MACHINE:
		ret = fc_put_machine_config(f, o, patch);
		break;
	case ROUTE_DRIVE:
		if (!patch) {
			ret = fc_put_drive(f, o, id, patch);
			break;
		}
		api_patch_drive(ctx, id, o, r);
		return;
	case ROUTE_NET:
		ret = fc_put_net(f, o, id, patch);
		if (!ret && patch &&
		    (json_object_get(o, "rx_rate_limiter") ||
		     json_object_get(o, "tx_rate_limiter"))) {
			r->action = API_ACTION_NET_RATE;
			r->index = (unsigned)fc_find_net(f, id);
		}
		break;
	case ROUTE_VSOCK:
		ret = fc_put_vsock(f, o);
		break;
	case ROUTE_ENTROPY:
		ret = fc_put_entropy(f, o);
		break;
	case ROUTE_LOGGER:
		api_logger(ctx, o, r);
		return;
	case ROUTE_METRICS:
		ret = fc_put_metrics(f, o);
		if (!ret && ctx->hooks.metrics_open) {
			ret = ctx->hooks.metrics_open(ctx->hooks.opaque,
						      f->metrics_path);
			if (ret) {
				f->metrics_set = false;
				f->metrics_path[0] = '\0';
			}
		}
		break;
	case ROUTE_ACTIONS:
		api_actions(ctx, o, r);
		return;
	case ROUTE_VM:
		api_patch_vm(ctx, o, r);
		return;
	case ROUTE_NR:
		return;
	}
	if (ret)
		api_fault_err(r);
}

static bool api_is(const char *a, const char *b)
{
	return !strcmp(a, b);
}

static void api_count(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
}

static void api_get(struct api_ctx *ctx, const char *path, struct api_reply *r)
{
	uint64_t *get = ctx->counters.get;

	if (api_is(path, "/"))
		api_count(&get[API_GET_INSTANCE]);
	else if (api_is(path, "/version"))
		api_count(&get[API_GET_VERSION]);
	else if (api_is(path, "/vm/config"))
		api_count(&get[API_GET_VM]);
	else if (api_is(path, "/machine-config"))
		api_count(&get[API_GET_MACHINE]);
	if (api_is(path, "/"))
		api_reply_json(r,
			       json_pack("{s:s, s:s, s:s, s:s}", "id", ctx->id,
					 "state", api_state_name(ctx->state),
					 "vmm_version", ctx->version,
					 "app_name", "minivmm"));
	else if (api_is(path, "/version"))
		api_reply_json(r, json_pack("{s:s}", "firecracker_version",
					    ctx->version));
	else if (api_is(path, "/vm/config"))
		api_reply_json(r, fc_vm_json(&ctx->vm));
	else if (api_is(path, "/machine-config"))
		api_reply_json(r, fc_machine_json(&ctx->vm));
}

/* Firecracker endpoints minivmm does not have: a 400 saying so. */
static const char *api_unsupported(const char *path)
{
	static const struct {
		const char *prefix;
		const char *msg;
	} list[] = {
		{"/snapshot/",
		 "snapshots are not supported yet (a later minivmm issue)"},
		{"/mmds", "MMDS is not supported by minivmm"},
		{"/balloon", "the balloon device is not supported by minivmm"},
		{"/cpu-config", "CPU templates are not supported by minivmm"},
		{"/pmem/", "pmem devices are not supported by minivmm"},
		{"/hotplug/", "memory hotplug is not supported by minivmm"},
		{"/serial", "the serial endpoint is not supported by minivmm"},
	};

	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		if (!strncmp(path, list[i].prefix, strlen(list[i].prefix)) ||
		    api_is(path, list[i].prefix))
			return list[i].msg;
	return NULL;
}

static void api_handle_route(struct api_ctx *ctx, const char *method,
			     const char *path, const char *body, size_t len,
			     struct api_reply *r, int *route);

void api_handle(struct api_ctx *ctx, const char *method, const char *path,
		const char *body, size_t len, struct api_reply *r)
{
	struct api_counters *c = &ctx->counters;
	int route = -1;

	api_handle_route(ctx, method, path, body, len, r, &route);
	if (route >= 0 && api_is(method, "PUT")) {
		api_count(&c->put[route]);
		if (r->status == 400)
			api_count(&c->put_fails[route]);
	} else if (route >= 0) {
		api_count(&c->patch[route]);
		if (r->status == 400)
			api_count(&c->patch_fails[route]);
	}
	if (r->status == 400)
		api_count(&c->fails);
}

static void api_handle_route(struct api_ctx *ctx, const char *method,
			     const char *path, const char *body, size_t len,
			     struct api_reply *r, int *route)
{
	static const struct {
		const char *path; /* or prefix, ending in '/', with an id */
		enum api_route route;
		bool put, patch;
		bool pre_put, post_patch; /* PUT only before, PATCH after */
	} routes[] = {
		{"/boot-source", ROUTE_BOOT_SOURCE, true, false, true, false},
		{"/machine-config", ROUTE_MACHINE, true, true, true, false},
		{"/drives/", ROUTE_DRIVE, true, true, true, true},
		{"/network-interfaces/", ROUTE_NET, true, true, true, true},
		{"/vsock", ROUTE_VSOCK, true, false, true, false},
		{"/entropy", ROUTE_ENTROPY, true, false, true, false},
		{"/logger", ROUTE_LOGGER, true, false, true, false},
		{"/metrics", ROUTE_METRICS, true, false, true, false},
		{"/actions", ROUTE_ACTIONS, true, false, false, false},
		{"/vm", ROUTE_VM, false, true, false, true},
	};
	bool put = api_is(method, "PUT"), patch = api_is(method, "PATCH");
	const char *unsupported, *id = NULL;
	json_t *o;
	size_t i;

	*r = (struct api_reply){.status = 204};
	if (strlen(path) > API_PATH_MAX) {
		api_reply_fault(r, "the path is too long");
		return;
	}
	if (api_is(method, "GET")) {
		api_get(ctx, path, r);
		if (r->status == 204)
			api_bad_route(r, method, path);
		return;
	}
	if (!put && !patch) {
		api_bad_route(r, method, path);
		return;
	}
	unsupported = api_unsupported(path);
	if (unsupported) {
		api_reply_fault(r, unsupported);
		return;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *p = routes[i].path;

		if (p[strlen(p) - 1] == '/') {
			if (!strncmp(path, p, strlen(p))) {
				id = api_path_id(path, p);
				break;
			}
		} else if (api_is(path, p)) {
			break;
		}
	}
	if (i == sizeof(routes) / sizeof(routes[0]) ||
	    (put && !routes[i].put) || (patch && !routes[i].patch)) {
		api_bad_route(r, method, path);
		return;
	}
	*route = (int)routes[i].route;
	if (routes[i].path[strlen(routes[i].path) - 1] == '/' &&
	    (!id || !config_id_valid(id, '_'))) {
		char msg[API_PATH_MAX + 96];

		snprintf(
			msg, sizeof(msg),
			"Invalid ID in the path '%.*s': expected 1 to %d alphanumerics or '_'",
			API_PATH_MAX, path, CONFIG_ID_MAX);
		api_reply_fault(r, msg);
		return;
	}
	if (len > ctx->body_max) {
		char msg[128];

		snprintf(
			msg, sizeof(msg),
			"Request payload with size %zu is larger than the limit of %zu allowed by server.",
			len, ctx->body_max);
		api_reply_fault(r, msg);
		return;
	}
	if (put && routes[i].pre_put && ctx->state != API_NOT_STARTED) {
		api_reply_fault(r, api_pre_boot);
		return;
	}
	if (patch && routes[i].post_patch && ctx->state == API_NOT_STARTED) {
		api_reply_fault(r, api_post_boot);
		return;
	}
	if (patch && !routes[i].post_patch && ctx->state != API_NOT_STARTED) {
		api_reply_fault(r, api_pre_boot);
		return;
	}
	o = api_body(r, body, len);
	if (!o)
		return;
	api_apply(ctx, routes[i].route, patch, id, o, r);
	json_decref(o);
}

void api_read_metrics(const struct api_ctx *ctx, struct metrics_sample *s)
{
	/* Firecracker's names of what each route sets. */
	static const char *const names[ROUTE_NR][2] = {
		[ROUTE_BOOT_SOURCE] = {"boot_source_count",
				       "boot_source_fails"},
		[ROUTE_MACHINE] = {"machine_cfg_count", "machine_cfg_fails"},
		[ROUTE_DRIVE] = {"drive_count", "drive_fails"},
		[ROUTE_NET] = {"network_count", "network_fails"},
		[ROUTE_VSOCK] = {"vsock_count", "vsock_fails"},
		[ROUTE_ENTROPY] = {"entropy_count", "entropy_fails"},
		[ROUTE_LOGGER] = {"logger_count", "logger_fails"},
		[ROUTE_METRICS] = {"metrics_count", "metrics_fails"},
		[ROUTE_ACTIONS] = {"actions_count", "actions_fails"},
		[ROUTE_VM] = {"vm_count", "vm_fails"},
	};
	static const bool patchable[ROUTE_NR] = {
		[ROUTE_MACHINE] = true,
		[ROUTE_DRIVE] = true,
		[ROUTE_NET] = true,
		[ROUTE_VM] = true,
	};
	const struct api_counters *c = &ctx->counters;
	struct metrics_section *sec;

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
	sec = metrics_section(s, "api_server", NULL);
	metrics_add(sec, "process_startup_time_us", ctx->startup_us, true);
	metrics_add(sec, "process_startup_time_cpu_us", ctx->startup_cpu_us,
		    true);
	metrics_add(sec, "sync_response_fails", LOAD(c->fails), false);
	/* Firecracker's latencies_us: the snapshot ones stay 0 (no
	 * snapshots yet). */
	sec = metrics_section(s, "latencies_us", NULL);
	metrics_add(sec, "full_create_snapshot", 0, true);
	metrics_add(sec, "diff_create_snapshot", 0, true);
	metrics_add(sec, "load_snapshot", 0, true);
	metrics_add(sec, "pause_vm", LOAD(ctx->pause_us), true);
	metrics_add(sec, "resume_vm", LOAD(ctx->resume_us), true);
	metrics_add(sec, "vmm_full_create_snapshot", 0, true);
	metrics_add(sec, "vmm_diff_create_snapshot", 0, true);
	metrics_add(sec, "vmm_load_snapshot", 0, true);
	metrics_add(sec, "vmm_pause_vm", LOAD(ctx->vmm_pause_us), true);
	metrics_add(sec, "vmm_resume_vm", LOAD(ctx->vmm_resume_us), true);
	sec = metrics_section(s, "get_api_requests", NULL);
	metrics_add(sec, "instance_info_count", LOAD(c->get[API_GET_INSTANCE]),
		    false);
	metrics_add(sec, "vmm_version_count", LOAD(c->get[API_GET_VERSION]),
		    false);
	metrics_add(sec, "machine_cfg_count", LOAD(c->get[API_GET_MACHINE]),
		    false);
	metrics_add(sec, "vm_config_count", LOAD(c->get[API_GET_VM]), false);
	sec = metrics_section(s, "put_api_requests", NULL);
	for (unsigned i = 0; i < ROUTE_NR; i++) {
		if (i == ROUTE_VM)
			continue;
		metrics_add(sec, names[i][0], LOAD(c->put[i]), false);
		metrics_add(sec, names[i][1], LOAD(c->put_fails[i]), false);
	}
	sec = metrics_section(s, "patch_api_requests", NULL);
	for (unsigned i = 0; i < ROUTE_NR; i++) {
		if (!patchable[i])
			continue;
		metrics_add(sec, names[i][0], LOAD(c->patch[i]), false);
		metrics_add(sec, names[i][1], LOAD(c->patch_fails[i]), false);
	}
#undef LOAD
}
