/* Unit tests for the metrics: the JSON line from fake counters (valid
 * JSON, Firecracker's field names, deltas since the previous line, gauges
 * as they are, per-device sections summed into the aggregate), the API's
 * counters and hooks (PUT /metrics once, FlushMetrics only with a path),
 * and metrics_flush writing one line per call to a file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/handler.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *line_of(const struct metrics_sample *cur,
		       const struct metrics_sample *prev)
{
	json_t *o = metrics_json(cur, prev, 1234);
	char *text;
	json_error_t e;

	assert_non_null(o);
	/* What is written parses back. */
	text = json_dumps(o, JSON_COMPACT);
	assert_non_null(text);
	json_decref(o);
	o = json_loads(text, 0, &e);
	free(text);
	assert_non_null(o);
	return o;
}

static json_int_t field(json_t *o, const char *sec, const char *name)
{
	json_t *s = json_object_get(o, sec), *v;

	assert_non_null(s);
	v = json_object_get(s, name);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void fake_drive(struct metrics_sample *s, const char *name, uint64_t rd,
		       uint64_t rdc)
{
	struct metrics_section *sec = metrics_section(s, name, "block");

	assert_non_null(sec);
	metrics_add(sec, "read_bytes", rd, false);
	metrics_add(sec, "read_count", rdc, false);
}

static void test_json_deltas(void **state)
{
	struct metrics_sample *cur = calloc(1, sizeof(*cur));
	struct metrics_sample *prev = calloc(1, sizeof(*prev));
	struct metrics_section *v;
	json_t *o;

	(void)state;
	fake_drive(cur, "block_rootfs", 4096, 2);
	fake_drive(cur, "block_data", 512, 1);
	v = metrics_section(cur, "vsock", NULL);
	metrics_add(v, "conns_added", 3, false);
	metrics_add(v, "conns_open", 2, true);

	/* The first line: everything so far. */
	o = line_of(cur, prev);
	assert_int_equal(
		json_integer_value(json_object_get(o, "utc_timestamp_ms")),
		1234);
	assert_int_equal(field(o, "block_rootfs", "read_bytes"), 4096);
	assert_int_equal(field(o, "block_data", "read_count"), 1);
	assert_int_equal(field(o, "block", "read_bytes"), 4608);
	assert_int_equal(field(o, "block", "read_count"), 3);
	assert_int_equal(field(o, "vsock", "conns_added"), 3);
	assert_int_equal(field(o, "vsock", "conns_open"), 2);
	json_decref(o);

	/* After a flush: only what moved; a gauge as it is. */
	*prev = *cur;
	cur->s[0].f[0].value = 4096 + 1024;
	cur->s[0].f[1].value = 3;
	o = line_of(cur, prev);
	assert_int_equal(field(o, "block_rootfs", "read_bytes"), 1024);
	assert_int_equal(field(o, "block_rootfs", "read_count"), 1);
	assert_int_equal(field(o, "block_data", "read_bytes"), 0);
	assert_int_equal(field(o, "block", "read_bytes"), 1024);
	assert_int_equal(field(o, "vsock", "conns_added"), 0);
	assert_int_equal(field(o, "vsock", "conns_open"), 2);
	json_decref(o);

	/* A counter that went back (a new VM's device): all of it. */
	*prev = *cur;
	cur->s[1].f[0].value = 100;
	o = line_of(cur, prev);
	assert_int_equal(field(o, "block_data", "read_bytes"), 100);
	json_decref(o);
	free(cur);
	free(prev);
}

static int opened, flushed;
static int hook_open(void *opaque, const char *path)
{
	(void)opaque;
	opened++;
	return strcmp(path, "/bad") ? 0 : -1;
}
static int hook_flush(void *opaque)
{
	(void)opaque;
	flushed++;
	return 0;
}

static int handle(struct api_ctx *a, const char *method, const char *path,
		  const char *body)
{
	struct api_reply r;
	int status;

	api_handle(a, method, path, body, body ? strlen(body) : 0, &r);
	status = r.status;
	api_reply_free(&r);
	return status;
}

static void test_api_counters_hooks(void **state)
{
	struct api_ctx *a = malloc(sizeof(*a));
	struct metrics_sample *s = calloc(1, sizeof(*s)), *none;
	json_t *o;

	(void)state;
	api_ctx_init(a, "id", "0");
	a->hooks.metrics_open = hook_open;
	a->hooks.metrics_flush = hook_flush;
	assert_int_equal(handle(a, "PUT", "/actions",
				"{\"action_type\":\"FlushMetrics\"}"),
			 400);
	assert_int_equal(flushed, 0);
	/* A path the hook cannot open: refused, and not kept. */
	assert_int_equal(handle(a, "PUT", "/metrics",
				"{\"metrics_path\":\"/bad\"}"),
			 400);
	assert_false(a->vm.metrics_set);
	assert_int_equal(handle(a, "PUT", "/metrics",
				"{\"metrics_path\":\"/ok\"}"),
			 204);
	assert_int_equal(opened, 2);
	assert_int_equal(handle(a, "PUT", "/metrics",
				"{\"metrics_path\":\"/ok\"}"),
			 400);
	assert_int_equal(opened, 2);
	assert_int_equal(handle(a, "PUT", "/actions",
				"{\"action_type\":\"FlushMetrics\"}"),
			 204);
	assert_int_equal(flushed, 1);
	assert_int_equal(handle(a, "GET", "/", NULL), 200);
	assert_int_equal(handle(a, "GET", "/version", NULL), 200);
	assert_int_equal(
		handle(a, "PUT", "/machine-config", "{\"vcpu_count\":0}"), 400);

	a->pause_us = 1234;
	a->vmm_resume_us = 56;
	a->startup_cpu_us = 2100;
	api_read_metrics(a, s);
	none = calloc(1, sizeof(*none));
	o = line_of(s, none);
	assert_int_equal(field(o, "put_api_requests", "metrics_count"), 3);
	assert_int_equal(field(o, "put_api_requests", "metrics_fails"), 2);
	assert_int_equal(field(o, "put_api_requests", "actions_count"), 2);
	assert_int_equal(field(o, "put_api_requests", "actions_fails"), 1);
	assert_int_equal(field(o, "put_api_requests", "machine_cfg_fails"), 1);
	assert_int_equal(field(o, "get_api_requests", "instance_info_count"),
			 1);
	assert_int_equal(field(o, "get_api_requests", "vmm_version_count"), 1);
	assert_int_equal(field(o, "patch_api_requests", "drive_count"), 0);
	assert_int_equal(field(o, "api_server", "sync_response_fails"), 4);
	/* Gauges (Firecracker's SharedStoreMetric): the value, not a delta. */
	assert_int_equal(field(o, "api_server", "process_startup_time_cpu_us"),
			 2100);
	assert_int_equal(field(o, "latencies_us", "pause_vm"), 1234);
	assert_int_equal(field(o, "latencies_us", "vmm_resume_vm"), 56);
	assert_int_equal(field(o, "latencies_us", "load_snapshot"), 0);
	json_decref(o);
	free(none);
	free(s);
	free(a);
}

static void test_flush_file(void **state)
{
	char path[] = "/tmp/minivmm-metrics-XXXXXX", buf[4096];
	struct metrics *m = malloc(sizeof(*m));
	int fd = mkstemp(path);
	FILE *f;
	unsigned lines = 0;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	metrics_init(m, NULL);
	assert_int_equal(metrics_flush(m), 0); /* no path: nothing */
	assert_int_equal(metrics_open(m, path), 0);
	assert_true(metrics_open(m, path) < 0); /* once */
	assert_int_equal(metrics_flush(m), 0);
	assert_int_equal(metrics_flush(m), 0);
	metrics_destroy(m);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		json_error_t e;
		json_t *o = json_loads(buf, 0, &e);

		assert_non_null(o);
		assert_true(json_is_integer(
			json_object_get(o, "utc_timestamp_ms")));
		assert_non_null(json_object_get(o, "logger"));
		json_decref(o);
		lines++;
	}
	fclose(f);
	unlink(path);
	free(m);
	assert_int_equal(lines, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_deltas),
		cmocka_unit_test(test_api_counters_hooks),
		cmocka_unit_test(test_flush_file),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
