/* The API's request handler: a pure function of the instance's state and
 * one request (method, path, body) to a reply (status, JSON body) and at
 * most one action for the caller to carry out (start, pause, resume).
 * No sockets, no threads, no VM: the unit tests and the fuzz target call it
 * directly; server.c calls it for each HTTP request. */
#ifndef MINIVMM_API_HANDLER_H
#define MINIVMM_API_HANDLER_H

#include "fcjson.h"

#include <stddef.h>

#define API_BODY_MAX 51200 /* Firecracker's limit on a request body */
#define API_PATH_MAX 256   /* longer paths are refused */

enum api_state { API_NOT_STARTED, API_RUNNING, API_PAUSED };

enum api_action {
	API_ACTION_NONE,
	API_ACTION_START,	 /* InstanceStart: boot fc_vm */
	API_ACTION_PAUSE,	 /* PATCH /vm Paused while running */
	API_ACTION_RESUME,	 /* PATCH /vm Resumed while paused */
	API_ACTION_CTRL_ALT_DEL, /* SendCtrlAltDel after the start */
	/* PATCH of drive @index: its rate_limiter (drive_rate), its
	 * path_on_host (drive_swap), or both. */
	API_ACTION_DRIVE_UPDATE,
	API_ACTION_NET_RATE, /* PATCH of interface @index's limiters */
};

/* Requests with a body, by what they set. */
enum api_route {
	ROUTE_BOOT_SOURCE,
	ROUTE_MACHINE,
	ROUTE_DRIVE,
	ROUTE_NET,
	ROUTE_VSOCK,
	ROUTE_ENTROPY,
	ROUTE_LOGGER,
	ROUTE_METRICS,
	ROUTE_ACTIONS,
	ROUTE_VM,
	ROUTE_NR,
};

enum api_get {
	API_GET_INSTANCE,
	API_GET_VERSION,
	API_GET_VM,
	API_GET_MACHINE,
	API_GET_NR
};

/* Requests and failures (400s) so far, for the metrics: written by the
 * thread that handles requests, read from others (relaxed atomics). */
struct api_counters {
	uint64_t put[ROUTE_NR], put_fails[ROUTE_NR];
	uint64_t patch[ROUTE_NR], patch_fails[ROUTE_NR];
	uint64_t get[API_GET_NR];
	uint64_t fails; /* every 400 */
};

/* What a request changes outside the handler, called with the request's
 * values once they are checked; NULL: nothing to do (the unit tests). */
struct api_hooks {
	/* PUT /metrics: -errno with err_msg() refuses the request. */
	int (*metrics_open)(void *opaque, const char *path);
	/* PUT /logger: the logger fields of @f (log_path "" for stderr). */
	int (*logger_set)(void *opaque, const struct fc_vm *f);
	/* FlushMetrics. */
	int (*metrics_flush)(void *opaque);
	void *opaque;
};

struct api_ctx {
	struct fc_vm vm;      /* what the requests said so far */
	enum api_state state; /* the caller updates it after an action */
	const char *id;	      /* --id */
	const char *version;  /* minivmm's */
	struct api_hooks hooks;
	struct api_counters counters;
	size_t body_max; /* API_BODY_MAX, or --http-api-max-payload-size */
	/* From the process's start to the socket listening (wall and CPU,
	 * microseconds): api_server.process_startup_time_us and _cpu_us. */
	uint64_t startup_us, startup_cpu_us;
	/* The last pause and resume, in microseconds (latencies_us): from
	 * the request to its answer, and inside vm_pause / vm_resume.  Set
	 * by the API thread, read by the metrics with relaxed atomics. */
	uint64_t pause_us, resume_us, vmm_pause_us, vmm_resume_us;
};

struct api_reply {
	int status; /* 200, 204 or 400 */
	char *body; /* malloc'd JSON, or NULL for 204 */
	size_t len;
	enum api_action action; /* for the caller, if status is 204 */
	/* API_ACTION_DRIVE_UPDATE: the drive (vda is 0); API_ACTION_NET_RATE:
	 * the interface (eth0 is 0, fc_vm's order). */
	unsigned index;
	bool drive_rate, drive_swap;
	/* API_ACTION_DRIVE_UPDATE: the drive as it was before the PATCH
	 * (malloc'd), for the caller to put back if the device refuses the
	 * new file; api_reply_free frees it. */
	struct fc_drive *drive_undo;
};

/* @ctx->vm set by fc_vm_init, state API_NOT_STARTED. */
void api_ctx_init(struct api_ctx *ctx, const char *id, const char *version);
/* Handles one request; @method and @path NUL-terminated, @body @len bytes
 * (need not be NUL-terminated; NULL if @len is 0).  Always fills @r
 * (free it with api_reply_free). */
void api_handle(struct api_ctx *ctx, const char *method, const char *path,
		const char *body, size_t len, struct api_reply *r);
/* Turns @r into a 400 with @msg as its fault_message. */
void api_reply_fault(struct api_reply *r, const char *msg);
void api_reply_free(struct api_reply *r);
const char *api_state_name(enum api_state s);

struct metrics_sample;
/* The counters as Firecracker's sections: api_server, get_api_requests,
 * put_api_requests, patch_api_requests.  From any thread. */
void api_read_metrics(const struct api_ctx *ctx, struct metrics_sample *s);

#endif
