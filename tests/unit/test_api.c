/* Unit tests for the Firecracker API's request handler and its JSON: each
 * endpoint's good and bad bodies, ids, methods and paths, the state machine
 * (what is allowed before and after InstanceStart, the actions asked for),
 * the VM description turned into struct config (root drive first, root=
 * in the boot arguments), the config file, and `minivmm fc`'s command
 * line.  No sockets: api_handle is a pure function. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/handler.h"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char disk0[64], disk1[64];
static const char kernel[] = "/proc/self/exe"; /* a file that exists */

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(disk0, sizeof(disk0), "/tmp/minivmm-api-XXXXXX");
	fd = mkstemp(disk0);
	assert_true(fd >= 0);
	close(fd);
	snprintf(disk1, sizeof(disk1), "/tmp/minivmm-api-XXXXXX");
	fd = mkstemp(disk1);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(disk0);
	unlink(disk1);
	return 0;
}

/* One request; returns the status, the body in *@body (freed by the next
 * call) and the action in *@act. */
static char *last_body;
static unsigned last_index;	  /* the reply's index */
static bool last_swap, last_rate; /* and its drive flags */
static char last_undo[PATH_MAX];  /* the undo drive's path, "" if none */
static int req(struct api_ctx *a, const char *method, const char *path,
	       const char *body, enum api_action *act)
{
	struct api_reply r;

	free(last_body);
	api_handle(a, method, path, body, body ? strlen(body) : 0, &r);
	last_body = r.body ? strndup(r.body, r.len) : NULL;
	if (act)
		*act = r.action;
	last_index = r.index;
	last_swap = r.drive_swap;
	last_rate = r.drive_rate;
	snprintf(last_undo, sizeof(last_undo), "%s",
		 r.drive_undo ? r.drive_undo->disk.path : "");
	api_reply_free(&r);
	return r.status;
}

static void expect_fault(struct api_ctx *a, const char *method,
			 const char *path, const char *body, const char *part)
{
	int status = req(a, method, path, body, NULL);

	if (status != 400 || !last_body ||
	    strncmp(last_body, "{\"fault_message\":", 17) ||
	    !strstr(last_body, part)) {
		print_error("%s %s %s: %d %s, expected 400 with '%s'\n", method,
			    path, body ? body : "", status,
			    last_body ? last_body : "(none)", part);
		fail();
	}
}

static void expect_204(struct api_ctx *a, const char *method, const char *path,
		       const char *body)
{
	int status = req(a, method, path, body, NULL);

	if (status != 204) {
		print_error("%s %s %s: %d %s\n", method, path, body, status,
			    last_body ? last_body : "");
		fail();
	}
}

static struct api_ctx *new_ctx(void)
{
	struct api_ctx *a = malloc(sizeof(*a));

	assert_non_null(a);
	api_ctx_init(a, "test-vm", "9.9");
	return a;
}

static void test_get(void **state)
{
	struct api_ctx *a = new_ctx();

	(void)state;
	assert_int_equal(req(a, "GET", "/", NULL, NULL), 200);
	assert_string_equal(
		last_body,
		"{\"id\":\"test-vm\",\"state\":\"Not started\",\"vmm_version\":\"9.9\",\"app_name\":\"minivmm\"}");
	assert_int_equal(req(a, "GET", "/version", NULL, NULL), 200);
	assert_string_equal(last_body, "{\"firecracker_version\":\"9.9\"}");
	assert_int_equal(req(a, "GET", "/machine-config", NULL, NULL), 200);
	assert_string_equal(
		last_body,
		"{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
	assert_int_equal(req(a, "GET", "/vm/config", NULL, NULL), 200);
	assert_non_null(strstr(last_body, "\"boot-source\":null"));
	a->state = API_PAUSED;
	assert_int_equal(req(a, "GET", "/", NULL, NULL), 200);
	assert_non_null(strstr(last_body, "\"state\":\"Paused\""));
	a->state = API_RUNNING;
	assert_int_equal(req(a, "GET", "/", NULL, NULL), 200);
	assert_non_null(strstr(last_body, "\"state\":\"Running\""));
	expect_fault(a, "GET", "/nothing", NULL,
		     "Invalid request method and/or path: GET /nothing.");
	expect_fault(a, "GET", "/boot-source", NULL, "Invalid request");
	free(a);
}

static void test_routes(void **state)
{
	struct api_ctx *a = new_ctx();
	char big[API_PATH_MAX + 16];

	(void)state;
	expect_fault(a, "DELETE", "/", NULL, "Invalid request method");
	expect_fault(a, "POST", "/actions", "{}", "POST /actions");
	expect_fault(a, "HEAD", "/", NULL, "Invalid request");
	expect_fault(a, "PUT", "/", "{}", "PUT /.");
	expect_fault(a, "PUT", "/drives", "{}", "Invalid request");
	expect_fault(a, "PUT", "/drives/", "{}", "Invalid ID");
	expect_fault(a, "PUT", "/drives/a/b", "{}", "Invalid ID");
	expect_fault(a, "PUT", "/drives/a-b", "{}", "Invalid ID");
	expect_fault(a, "PUT", "/network-interfaces/a.b", "{}", "Invalid ID");
	expect_fault(a, "PATCH", "/vsock", "{}", "Invalid request");
	expect_fault(a, "PUT", "/vm", "{}", "Invalid request");
	expect_fault(a, "PUT", "/snapshot/create", "{}",
		     "snapshots are not supported yet");
	expect_fault(a, "PATCH", "/snapshot/load", "{}",
		     "snapshots are not supported yet");
	expect_fault(a, "PUT", "/mmds/config", "{}", "MMDS");
	expect_fault(a, "PATCH", "/balloon/statistics", "{}", "balloon");
	expect_fault(a, "PUT", "/cpu-config", "{}", "CPU templates");
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	expect_fault(a, "GET", big, NULL, "too long");
	/* A fault message with the client's bytes is still valid JSON. */
	expect_fault(a, "GET", "/\x01\xff\"", NULL, "GET /??\\\".");
	free(a);
}

static void test_bodies(void **state)
{
	struct api_ctx *a = new_ctx();
	char *big = malloc(API_BODY_MAX + 2);

	(void)state;
	expect_fault(a, "PUT", "/boot-source", NULL, "needs a JSON body");
	expect_fault(a, "PUT", "/boot-source", "{", "bad JSON");
	expect_fault(a, "PUT", "/boot-source", "{} x", "bad JSON");
	expect_fault(a, "PUT", "/boot-source", "\"x\"", "bad JSON");
	expect_fault(a, "PUT", "/boot-source", "[1]", "must be a JSON object");
	expect_fault(
		a, "PUT", "/boot-source",
		"{\"kernel_image_path\":\"a\",\"kernel_image_path\":\"b\"}",
		"bad JSON");
	expect_fault(a, "PUT", "/boot-source", "{\"kernel_image_path\":1}",
		     "kernel_image_path: expected a string");
	expect_fault(a, "PUT", "/boot-source", "{\"x\":1}",
		     "boot-source: unknown field 'x'");
	expect_fault(a, "PUT", "/boot-source", "{}",
		     "missing field 'kernel_image_path'");
	expect_fault(a, "PUT", "/boot-source",
		     "{\"kernel_image_path\":\"/nonexistent\"}",
		     "No such file");
	assert_non_null(big);
	memset(big, ' ', API_BODY_MAX + 1);
	big[0] = '{';
	big[API_BODY_MAX] = '}';
	big[API_BODY_MAX + 1] = '\0';
	expect_fault(a, "PUT", "/boot-source", big, "larger than the limit");
	big[API_BODY_MAX - 1] = '}';
	big[API_BODY_MAX] = '\0';
	expect_fault(a, "PUT", "/boot-source", big, "missing field");
	/* --http-api-max-payload-size 100 */
	a->body_max = 100;
	big[101] = '\0';
	expect_fault(
		a, "PUT", "/boot-source", big,
		"Request payload with size 101 is larger than the limit of 100");
	big[99] = '}';
	big[100] = '\0';
	expect_fault(a, "PUT", "/boot-source", big, "missing field");
	a->body_max = API_BODY_MAX;
	free(big);
	assert_false(a->vm.boot_set);
	free(a);
}

static void test_machine_config(void **state)
{
	struct api_ctx *a = new_ctx();

	(void)state;
	expect_fault(a, "PUT", "/machine-config", "{\"vcpu_count\":2}",
		     "missing field 'mem_size_mib'");
	expect_fault(a, "PUT", "/machine-config",
		     "{\"vcpu_count\":0,\"mem_size_mib\":64}",
		     "vcpu_count: 0 is out of range (1 to 32)");
	expect_fault(a, "PUT", "/machine-config",
		     "{\"vcpu_count\":true,\"mem_size_mib\":64}",
		     "expected an integer");
	expect_fault(a, "PUT", "/machine-config",
		     "{\"vcpu_count\":1,\"mem_size_mib\":99999999999999}",
		     "out of range");
	expect_fault(a, "PUT", "/machine-config",
		     "{\"vcpu_count\":2,\"mem_size_mib\":64,\"smt\":true}",
		     "smt: true is not supported");
	expect_fault(
		a, "PUT", "/machine-config",
		"{\"vcpu_count\":2,\"mem_size_mib\":64,\"huge_pages\":\"4K\"}",
		"'4K' is not one of None, 2M, Transparent");
	expect_fault(
		a, "PUT", "/machine-config",
		"{\"vcpu_count\":2,\"mem_size_mib\":64,\"cpu_template\":\"C3\"}",
		"CPU templates are not supported");
	assert_int_equal(a->vm.vcpus, 1);
	expect_204(a, "PUT", "/machine-config",
		   "{\"vcpu_count\":4,\"mem_size_mib\":512,\"smt\":false,"
		   "\"huge_pages\":\"Transparent\",\"cpu_template\":\"None\"}");
	assert_int_equal(a->vm.vcpus, 4);
	assert_int_equal(a->vm.mem_mib, 512);
	assert_int_equal(a->vm.huge_pages, FC_HUGE_TRANSPARENT);
	expect_204(a, "PATCH", "/machine-config", "{\"mem_size_mib\":256}");
	assert_int_equal(a->vm.vcpus, 4);
	assert_int_equal(a->vm.mem_mib, 256);
	assert_int_equal(a->vm.huge_pages, FC_HUGE_TRANSPARENT);
	/* A PUT resets what it does not give. */
	expect_204(a, "PUT", "/machine-config",
		   "{\"vcpu_count\":2,\"mem_size_mib\":64}");
	assert_int_equal(a->vm.huge_pages, FC_HUGE_NONE);
	free(a);
}

static void test_drives(void **state)
{
	struct api_ctx *a = new_ctx();
	struct config *c = malloc(sizeof(*c));
	char body[512];

	(void)state;
	snprintf(
		body, sizeof(body),
		"{\"drive_id\":\"data\",\"path_on_host\":\"%s\",\"is_root_device\":false,\"is_read_only\":true,\"cache_type\":\"Writeback\",\"io_engine\":\"Async\"}",
		disk1);
	expect_fault(a, "PUT", "/drives/other", body,
		     "the id in the path ('other') differs");
	expect_204(a, "PUT", "/drives/data", body);
	snprintf(
		body, sizeof(body),
		"{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true,\"partuuid\":\"abcd-01\",\"rate_limiter\":{\"bandwidth\":{\"size\":100,\"refill_time\":10},\"ops\":null}}",
		disk0);
	expect_204(a, "PUT", "/drives/rootfs", body);
	snprintf(
		body, sizeof(body),
		"{\"drive_id\":\"other\",\"path_on_host\":\"%s\",\"is_root_device\":true}",
		disk1);
	expect_fault(a, "PUT", "/drives/other", body,
		     "drive 'rootfs' is already the root device");
	snprintf(
		body, sizeof(body),
		"{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true,\"rate_limiter\":{\"ops\":{\"size\":1}}}",
		disk0);
	expect_fault(a, "PUT", "/drives/rootfs", body,
		     "rate_limiter: ops: missing field 'refill_time'");
	assert_int_equal(a->vm.nr_drives, 2);
	assert_true(a->vm.drives[1].rl.bandwidth.set);
	assert_int_equal(a->vm.drives[1].rl.bandwidth.size, 100);
	assert_false(a->vm.drives[1].rl.ops.set);
	expect_fault(a, "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\"}",
		     "not supported before starting");

	assert_non_null(c);
	config_init(c);
	expect_204(
		a, "PUT", "/boot-source",
		"{\"kernel_image_path\":\"/proc/self/exe\",\"boot_args\":\"console=ttyS0\"}");
	assert_int_equal(fc_vm_to_config(&a->vm, c), 0);
	assert_int_equal(c->vm.nr_drives, 2);
	assert_string_equal(c->vm.drives[0].path, disk0); /* root first */
	/* Its rate limiter goes with it: bandwidth on, ops null. */
	assert_int_equal(c->vm.drives[0].rate.bw.size, 100);
	assert_int_equal(c->vm.drives[0].rate.bw.refill_time_ms, 10);
	assert_int_equal(c->vm.drives[0].rate.ops.size, 0);
	assert_false(throttle_config_on(&c->vm.drives[1].rate));
	assert_string_equal(c->vm.drives[1].path, disk1);
	assert_true(c->vm.drives[1].ro);
	assert_int_equal(c->vm.drives[1].cache, DISK_CACHE_WRITEBACK);
	assert_int_equal(c->vm.drives[1].io, DISK_IO_URING);
	assert_int_equal(c->vm.drives[0].cache, DISK_CACHE_UNSAFE);
	assert_int_equal(c->vm.drives[0].io, DISK_IO_SYNC);
	assert_string_equal(c->boot.cmdline,
			    "console=ttyS0 root=PARTUUID=abcd-01 rw");
	assert_string_equal(c->boot.kernel_path, kernel);
	/* Without a partuuid: /dev/vda, read-only if the drive is. */
	snprintf(
		body, sizeof(body),
		"{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true,\"is_read_only\":true}",
		disk0);
	expect_204(a, "PUT", "/drives/rootfs", body);
	assert_int_equal(fc_vm_to_config(&a->vm, c), 0);
	assert_string_equal(c->boot.cmdline, "console=ttyS0 root=/dev/vda ro");
	free(c);
	free(a);
}

static void test_nets_vsock(void **state)
{
	struct api_ctx *a = new_ctx();

	(void)state;
	expect_fault(a, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\":\"eth0\",\"host_dev_name\":\"a/b\"}",
		     "network-interfaces: --net: tap=a/b");
	expect_fault(a, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\":\"eth0\",\"host_dev_name\":\"t,ap\"}",
		     "',' is not allowed");
	expect_fault(
		a, "PUT", "/network-interfaces/eth0",
		"{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"00:00:00:00:00:00\"}",
		"all-zero");
	expect_204(
		a, "PUT", "/network-interfaces/eth0",
		"{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"02:00:00:00:00:01\"}");
	expect_fault(
		a, "PUT", "/network-interfaces/eth1",
		"{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"guest_mac\":\"02:00:00:00:00:01\"}",
		"would both have MAC");
	/* The same id again replaces the interface. */
	expect_204(a, "PUT", "/network-interfaces/eth0",
		   "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap5\"}");
	assert_int_equal(a->vm.nr_nets, 1);
	assert_string_equal(a->vm.nets[0].net.tap, "tap5");
	expect_fault(a, "PUT", "/vsock",
		     "{\"guest_cid\":4294967295,\"uds_path\":\"/tmp/v\"}",
		     "guest_cid: 4294967295 is out of range");
	expect_fault(a, "PUT", "/vsock",
		     "{\"guest_cid\":3,\"uds_path\":\"/nonexistent/v\"}",
		     "does not exist");
	expect_fault(
		a, "PUT", "/vsock",
		"{\"guest_cid\":3,\"uds_path\":\"/tmp/minivmm-api-vsock-test\",\"x\":1}",
		"unknown field 'x'");
	expect_204(
		a, "PUT", "/vsock",
		"{\"guest_cid\":3,\"uds_path\":\"/tmp/minivmm-api-vsock-test\"}");
	assert_int_equal(a->vm.vsock.cid, 3);
	expect_204(a, "PUT", "/entropy", "{}");
	assert_true(a->vm.entropy_set);
	expect_fault(a, "PUT", "/logger", "{\"level\":\"Loud\"}",
		     "'Loud' is not one of Error, Warning");
	expect_204(a, "PUT", "/logger", "{\"level\":\"warning\"}");
	assert_string_equal(a->vm.level, "Warning");
	expect_fault(a, "PUT", "/metrics", "{\"metrics_path\":\"\"}",
		     "empty path");
	expect_204(a, "PUT", "/metrics", "{\"metrics_path\":\"/tmp/m\"}");
	/* Once, as Firecracker: its message. */
	expect_fault(a, "PUT", "/metrics", "{\"metrics_path\":\"/tmp/n\"}",
		     "Reinitialization of metrics not allowed.");
	assert_string_equal(a->vm.metrics_path, "/tmp/m");
	free(a);
}

static void test_state_machine(void **state)
{
	struct api_ctx *a = new_ctx();
	enum api_action act;

	(void)state;
	expect_fault(a, "PUT", "/actions",
		     "{\"action_type\":\"InstanceStart\"}", "no boot source");
	expect_fault(a, "PUT", "/actions", "{}", "missing field 'action_type'");
	expect_fault(a, "PUT", "/actions", "{\"action_type\":1}",
		     "expected a string");
	expect_fault(a, "PUT", "/actions", "{\"action_type\":\"Boot\"}",
		     "'Boot' is not one of");
	expect_fault(a, "PUT", "/actions",
		     "{\"action_type\":\"SendCtrlAltDel\"}",
		     "not supported before starting");
	expect_fault(a, "PATCH", "/vm", "{\"state\":\"Paused\"}",
		     "not supported before starting");
	expect_204(a, "PUT", "/boot-source",
		   "{\"kernel_image_path\":\"/proc/self/exe\"}");
	assert_int_equal(req(a, "PUT", "/actions",
			     "{\"action_type\":\"InstanceStart\"}", &act),
			 204);
	assert_int_equal(act, API_ACTION_START);
	/* The handler leaves the state to the caller, who started it. */
	assert_int_equal(a->state, API_NOT_STARTED);
	a->state = API_RUNNING;
	expect_fault(a, "PUT", "/actions",
		     "{\"action_type\":\"InstanceStart\"}",
		     "not supported after starting");
	expect_fault(a, "PUT", "/boot-source",
		     "{\"kernel_image_path\":\"/proc/self/exe\"}",
		     "not supported after starting");
	expect_fault(a, "PATCH", "/machine-config", "{\"vcpu_count\":2}",
		     "not supported after starting");
	expect_fault(a, "PUT", "/entropy", "{}",
		     "not supported after starting");
	expect_fault(a, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}",
		     "metrics system is not initialized");
	assert_int_equal(req(a, "PUT", "/actions",
			     "{\"action_type\":\"SendCtrlAltDel\"}", &act),
			 204);
	assert_int_equal(act, API_ACTION_CTRL_ALT_DEL);
	expect_fault(a, "PATCH", "/vm", "{\"state\":\"Stopped\"}",
		     "expected Paused or Resumed");
	expect_fault(a, "PATCH", "/vm", "{\"state\":\"Paused\",\"x\":1}",
		     "unknown field 'x'");
	expect_fault(a, "PATCH", "/vm", "{}", "missing field 'state'");
	assert_int_equal(
		req(a, "PATCH", "/vm", "{\"state\":\"Resumed\"}", &act), 204);
	assert_int_equal(act, API_ACTION_NONE); /* already running */
	assert_int_equal(req(a, "PATCH", "/vm", "{\"state\":\"Paused\"}", &act),
			 204);
	assert_int_equal(act, API_ACTION_PAUSE);
	a->state = API_PAUSED;
	assert_int_equal(req(a, "PATCH", "/vm", "{\"state\":\"Paused\"}", &act),
			 204);
	assert_int_equal(act, API_ACTION_NONE);
	assert_int_equal(
		req(a, "PATCH", "/vm", "{\"state\":\"Resumed\"}", &act), 204);
	assert_int_equal(act, API_ACTION_RESUME);
	/* After start: PATCH of an unknown drive. */
	expect_fault(a, "PATCH", "/drives/x", "{\"drive_id\":\"x\"}",
		     "no drive 'x'");
	expect_fault(a, "PATCH", "/drives/x",
		     "{\"drive_id\":\"x\",\"path_on_host\":\"/tmp\"}",
		     "no drive 'x'");
	expect_fault(a, "PATCH", "/network-interfaces/e",
		     "{\"iface_id\":\"e\",\"host_dev_name\":\"t\"}",
		     "unknown field 'host_dev_name'");
	/* A PATCH changes the limiter it gives and keeps the other. */
	a->state = API_NOT_STARTED;
	expect_204(
		a, "PUT", "/network-interfaces/e",
		"{\"iface_id\":\"e\",\"host_dev_name\":\"tap7\","
		"\"rx_rate_limiter\":{\"ops\":{\"size\":1,\"refill_time\":2}},"
		"\"tx_rate_limiter\":{\"ops\":{\"size\":3,\"refill_time\":4}}}");
	a->state = API_RUNNING;
	assert_int_equal(
		req(a, "PATCH", "/network-interfaces/e",
		    "{\"iface_id\":\"e\",\"rx_rate_limiter\":{\"bandwidth\":{\"size\":9,\"refill_time\":9}}}",
		    &act),
		204);
	assert_int_equal(act, API_ACTION_NET_RATE);
	assert_int_equal(last_index, 0);
	assert_true(a->vm.nets[0].rx.bandwidth.set);
	assert_false(a->vm.nets[0].rx.ops.set);
	assert_int_equal(a->vm.nets[0].tx.ops.size, 3);
	expect_204(a, "PATCH", "/network-interfaces/e",
		   "{\"iface_id\":\"e\",\"tx_rate_limiter\":null}");
	assert_false(a->vm.nets[0].tx.set);
	assert_true(a->vm.nets[0].rx.set);

	/* A drive's rate limiter after the start: stored, and an action
	 * naming the drive's slot (the root drive is vda). */
	a->state = API_NOT_STARTED;
	expect_204(a, "PUT", "/drives/data",
		   "{\"drive_id\":\"data\",\"path_on_host\":\"/proc/self/exe\","
		   "\"is_root_device\":false}");
	expect_204(a, "PUT", "/drives/more",
		   "{\"drive_id\":\"more\",\"path_on_host\":\"/proc/self/exe\","
		   "\"is_root_device\":false}");
	expect_204(a, "PUT", "/drives/root",
		   "{\"drive_id\":\"root\",\"path_on_host\":\"/proc/self/exe\","
		   "\"is_root_device\":true}");
	assert_int_equal(fc_drive_slot(&a->vm, 0), 1);
	assert_int_equal(fc_drive_slot(&a->vm, 1), 2);
	assert_int_equal(fc_drive_slot(&a->vm, 2), 0);
	assert_int_equal(fc_drive_slot(&a->vm, 3), UINT32_MAX);
	a->state = API_RUNNING;
	assert_int_equal(
		req(a, "PATCH", "/drives/more",
		    "{\"drive_id\":\"more\",\"rate_limiter\":{\"ops\":{\"size\":5,\"refill_time\":100}}}",
		    &act),
		204);
	assert_int_equal(act, API_ACTION_DRIVE_UPDATE);
	assert_int_equal(last_index, 2);
	assert_true(last_rate);
	assert_false(last_swap);
	{
		struct throttle_config c = fc_rl_throttle(&a->vm.drives[1].rl);

		assert_int_equal(c.ops.size, 5);
		assert_int_equal(c.ops.refill_time_ms, 100);
		assert_false(c.bw.size || c.bw.refill_time_ms);
	}
	assert_int_equal(req(a, "PATCH", "/drives/root",
			     "{\"drive_id\":\"root\",\"rate_limiter\":null}",
			     &act),
			 204);
	assert_int_equal(act, API_ACTION_DRIVE_UPDATE);
	assert_int_equal(last_index, 0);
	assert_true(last_rate);
	assert_false(last_swap);
	{
		struct throttle_config c = fc_rl_throttle(&a->vm.drives[2].rl);

		assert_false(throttle_config_on(&c));
	}
	/* Without a rate_limiter or a path nothing reaches the device. */
	assert_int_equal(req(a, "PATCH", "/drives/data",
			     "{\"drive_id\":\"data\"}", &act),
			 204);
	assert_int_equal(act, API_ACTION_NONE);
	/* A new medium: stored (GET /vm/config shows it), an action for
	 * the drive's slot with the old drive to put back if the device
	 * refuses the file; with a limiter, both. */
	assert_int_equal(
		req(a, "PATCH", "/drives/data",
		    "{\"drive_id\":\"data\",\"path_on_host\":\"/proc/self/cmdline\"}",
		    &act),
		204);
	assert_int_equal(act, API_ACTION_DRIVE_UPDATE);
	assert_int_equal(last_index, 1);
	assert_true(last_swap);
	assert_false(last_rate);
	assert_string_equal(last_undo, "/proc/self/exe");
	assert_string_equal(a->vm.drives[0].disk.path, "/proc/self/cmdline");
	assert_int_equal(req(a, "GET", "/vm/config", NULL, NULL), 200);
	assert_non_null(strstr(last_body, "/proc/self/cmdline"));
	assert_int_equal(
		req(a, "PATCH", "/drives/data",
		    "{\"drive_id\":\"data\",\"path_on_host\":\"/proc/self/exe\","
		    "\"rate_limiter\":{\"ops\":{\"size\":7,\"refill_time\":10}}}",
		    &act),
		204);
	assert_int_equal(act, API_ACTION_DRIVE_UPDATE);
	assert_true(last_swap);
	assert_true(last_rate);
	assert_string_equal(last_undo, "/proc/self/cmdline");
	assert_int_equal(a->vm.drives[0].rl.ops.size, 7);
	/* A path that is missing or a directory: 400 naming it, and the
	 * stored drive is unchanged. */
	expect_fault(
		a, "PATCH", "/drives/data",
		"{\"drive_id\":\"data\",\"path_on_host\":\"/nonexistent/img\"}",
		"path_on_host: /nonexistent/img");
	expect_fault(a, "PATCH", "/drives/data",
		     "{\"drive_id\":\"data\",\"path_on_host\":\"/tmp\"}",
		     "is a directory");
	expect_fault(a, "PATCH", "/drives/data",
		     "{\"drive_id\":\"data\",\"path_on_host\":3}",
		     "path_on_host");
	assert_string_equal(a->vm.drives[0].disk.path, "/proc/self/exe");
	free(a);
}

static void test_config_file(void **state)
{
	struct fc_vm *f = malloc(sizeof(*f));
	char text[1024];

	(void)state;
	assert_non_null(f);
	fc_vm_init(f);
	snprintf(
		text, sizeof(text),
		"{\"boot-source\":{\"kernel_image_path\":\"/proc/self/exe\"},"
		"\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":64},"
		"\"drives\":[{\"drive_id\":\"r\",\"path_on_host\":\"%s\",\"is_root_device\":true}],"
		"\"network-interfaces\":[],\"entropy\":{},\"balloon\":null}",
		disk0);
	assert_int_equal(fc_config_parse(f, text, strlen(text)), 0);
	assert_int_equal(f->vcpus, 2);
	assert_int_equal(f->nr_drives, 1);
	assert_true(f->entropy_set);
	/* No room past f->slots (main takes one off for the boot timer). */
	fc_vm_init(f);
	assert_int_equal(f->slots, PLATFORM_VIRTIO_SLOTS);
	f->slots = 1;
	assert_int_not_equal(fc_config_parse(f, text, strlen(text)), 0);
	assert_non_null(
		strstr(err_msg(), "no room: minivmm has 1 virtio slots"));
	fc_vm_init(f);
	assert_int_equal(fc_config_parse(f, "{}", 2), -EINVAL);
	assert_non_null(strstr(err_msg(), "missing field 'boot-source'"));
	assert_int_equal(
		fc_config_parse(f, "{\"boot-source\":{},\"mmds-config\":{}}",
				35),
		-EINVAL);
	assert_non_null(strstr(err_msg(), "mmds-config: not supported"));
	assert_int_equal(fc_config_parse(f, "{\"drives\":{}}", 13), -EINVAL);
	assert_int_equal(fc_config_parse(f, "[]", 2), -EINVAL);
	free(f);
}

#define PARSE(c, ...)                                                          \
	({                                                                     \
		char *argv_[] = {__VA_ARGS__, NULL};                           \
		config_parse((c), (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, \
			     argv_);                                           \
	})

static void test_fc_command_line(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(PARSE(&c, "minivmm", "fc"), 0);
	assert_int_equal(c.command, CONFIG_FC);
	assert_string_equal(c.fc.api_sock, "/run/firecracker.socket");
	assert_string_equal(c.fc.id, "anonymous-instance");
	assert_false(c.vm.no_seccomp);
	assert_int_equal(PARSE(&c, "/usr/bin/firecracker", "--api-sock", "/x/s",
			       "--id", "vm-1", "--no-seccomp", "--level",
			       "debug", "--log-path", "l", "--metrics-path",
			       "m", "--boot-timer"),
			 0);
	assert_int_equal(c.command, CONFIG_FC);
	assert_string_equal(c.fc.api_sock, "/x/s");
	assert_string_equal(c.fc.id, "vm-1");
	assert_true(c.vm.no_seccomp);
	assert_true(c.fc.boot_timer);
	assert_true(c.vm.boot_timer); /* what the VM is built from */
	assert_string_equal(c.fc.metrics_path, "m");
	assert_int_equal(PARSE(&c, "firecracker", "--no-api", "--config-file",
			       "f.json"),
			 0);
	assert_true(c.fc.no_api);
	assert_int_equal(PARSE(&c, "firecracker", "--help"), 0);
	assert_int_equal(c.command, CONFIG_HELP);
	assert_true(c.fc_front);
	assert_int_equal(PARSE(&c, "minivmm", "fc", "--no-api"), -EINVAL);
	assert_non_null(strstr(err_msg(), "--no-api needs --config-file"));
	assert_int_equal(PARSE(&c, "minivmm", "fc", "--id", "a_b!"), -EINVAL);
	assert_int_equal(PARSE(&c, "minivmm", "fc", "--id", ""), -EINVAL);
	assert_int_equal(PARSE(&c, "minivmm", "fc", "--level", "x"), -EINVAL);
	assert_int_equal(PARSE(&c, "minivmm", "fc", "--api-sock"), -EINVAL);
	assert_int_equal(PARSE(&c, "minivmm", "fc", "--raw", "x"), -EINVAL);
	assert_int_equal(PARSE(&c, "minivmm", "fc", "extra"), -EINVAL);
	/* Any name with "firecracker" in it (the jailer's rule for its
	 * --exec-file) is Firecracker's command line; others minivmm's. */
	assert_int_equal(PARSE(&c, "/srv/jail/firecracker-v1.7", "--no-api"),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "--no-api needs --config-file"));
	assert_int_equal(PARSE(&c, "minivmm2", "fc"), 0);
	assert_int_equal(c.command, CONFIG_FC);
	assert_int_equal(PARSE(&c, "minivmm2", "--no-api"), -EINVAL);
	assert_non_null(strstr(err_msg(), "unknown command '--no-api'"));

	/* What the jailer passes, in its --opt=value form. */
	assert_int_equal(PARSE(&c, "./firecracker",
			       "--id=551e7604-e35c-42b3-b825-416853441234",
			       "--start-time-us=123456789",
			       "--start-time-cpu-us=4321",
			       "--parent-cpu-time-us", "99"),
			 0);
	assert_string_equal(c.fc.id, "551e7604-e35c-42b3-b825-416853441234");
	assert_true(c.fc.start_time_set);
	assert_true(c.fc.start_time_cpu_set);
	assert_int_equal(c.fc.start_time_us, 123456789);
	assert_int_equal(c.fc.start_time_cpu_us, 4321);
	assert_int_equal(c.fc.parent_cpu_time_us, 99);
	assert_int_equal(c.fc.api_body_max, 0); /* API_BODY_MAX */
	assert_false(c.fc.show_level);
	assert_int_equal(PARSE(&c, "firecracker", "--show-level",
			       "--show-log-origin",
			       "--http-api-max-payload-size", "1024"),
			 0);
	assert_false(c.fc.start_time_set);
	assert_true(c.fc.show_level);
	assert_true(c.fc.show_log_origin);
	assert_int_equal(c.fc.api_body_max, 1024);
	assert_int_equal(PARSE(&c, "firecracker", "--start-time-us", "12x"),
			 -EINVAL);
	assert_string_equal(
		err_msg(),
		"--start-time-us '12x': expected microseconds, a decimal number");
	assert_int_equal(PARSE(&c, "firecracker", "--start-time-cpu-us=0x10"),
			 -EINVAL);
	assert_int_equal(PARSE(&c, "firecracker", "--parent-cpu-time-us", "-1"),
			 -EINVAL);
	assert_int_equal(PARSE(&c, "firecracker", "--start-time-us",
			       "99999999999999999999"),
			 -EINVAL);
	assert_int_equal(PARSE(&c, "firecracker", "--http-api-max-payload-size",
			       "0"),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "expected bytes"));
	/* Firecracker's options minivmm has not: one line saying why. */
	assert_int_equal(PARSE(&c, "firecracker", "--seccomp-filter", "f.bpf"),
			 -EINVAL);
	assert_string_equal(
		err_msg(),
		"--seccomp-filter: Firecracker's option is not supported: minivmm's filters are built in (--no-seccomp turns them off)");
	assert_int_equal(PARSE(&c, "firecracker", "--metadata", "m.json"),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "no MMDS"));
	assert_int_equal(PARSE(&c, "firecracker", "--snapshot-version"),
			 -EINVAL);
	assert_non_null(strstr(err_msg(), "no snapshots yet"));
	assert_int_equal(PARSE(&c, "firecracker", "--enable-pci"), -EINVAL);
	assert_true(config_id_valid("abc_123", '_'));
	assert_false(config_id_valid("abc-123", '_'));
	assert_true(config_id_valid("abc-123", '-'));
	assert_false(config_id_valid("", '_'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_machine_config),
		cmocka_unit_test(test_drives),
		cmocka_unit_test(test_nets_vsock),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_fc_command_line),
	};
	int ret = cmocka_run_group_tests_name("api", tests, setup, teardown);

	free(last_body);
	return ret;
}
