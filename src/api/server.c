/* The HTTP side of the API: the listening UNIX socket, libmicrohttpd in
 * external polling mode driven by one API thread, request bodies gathered
 * (at most ctx.body_max bytes: API_BODY_MAX, or
 * --http-api-max-payload-size), api_handle() called under the server's
 * lock, and the actions it asks for carried out: a start through the main
 * thread, a pause or resume on the VM. */
#include "server.h"
#include "mhd.h"
#include "../host/log.h"
#include "../err.h"
#include "../host/uds.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define API_MAX_CONNS 64
#define API_CONN_TIMEOUT_S 60 /* an idle connection is closed after it */

/* One request's body as it arrives. */
struct api_req {
	char *buf;
	size_t len;
	bool too_big;
};

int api_server_open(struct api_server *s, const char *path, const char *id,
		    const char *version)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;
	int err;

	memset(s, 0, sizeof(*s));
	/* jansson seeds its hash function from /dev/urandom at the first
	 * object it makes: here, on the main thread, not on the API thread,
	 * whose filter has no openat. */
	json_object_seed(0);
	s->listen_fd = s->stop_fd = s->start_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	api_ctx_init(&s->ctx, id, version);
	err = mhd_load(&s->lib);
	if (err)
		return err;
	if (strlen(path) >= sizeof(a.sun_path))
		return err_set(-ENAMETOOLONG,
			       "--api-sock %s: longer than %zu bytes", path,
			       sizeof(a.sun_path) - 1);
	err = uds_check_path("--api-sock ", path);
	if (err)
		return err;
	memcpy(a.sun_path, path, strlen(path) + 1);
	s->listen_fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return err_set(-errno, "API socket: %s", strerror(errno));
	if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a))) {
		err = errno;
		close(s->listen_fd);
		s->listen_fd = -1;
		return err_set(-err, "--api-sock %s: cannot bind: %s", path,
			       strerror(err));
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (listen(s->listen_fd, API_MAX_CONNS) || stat(path, &st)) {
		err = errno;
		close(s->listen_fd);
		s->listen_fd = -1;
		unlink(path);
		s->path[0] = '\0';
		return err_set(-err, "--api-sock %s: cannot listen: %s", path,
			       strerror(err));
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->start_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0 || s->start_fd < 0)
		return err_set(-errno, "eventfd: %s", strerror(errno));
	return 0;
}

int api_server_start_fd(const struct api_server *s)
{
	return s->start_fd;
}

void api_server_vm_ready(void *opaque, struct vm *vm)
{
	struct api_server *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->vm = vm;
	s->ctx.state = API_RUNNING;
	s->start = API_START_DONE;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* --config-file: the API serves once the VM runs, as Firecracker's
	 * does (clients wait in the socket's backlog meanwhile). */
	if (s->serve_on_ready && !s->thread_started && api_server_start(s)) {
		log_write(LOG_ERROR, "%s", err_msg());
		vm_stop(vm, VM_STATUS_ERROR, "the API thread did not start");
	}
}

void api_server_vm_gone(void *opaque, struct vm *vm)
{
	struct api_server *s = opaque;

	(void)vm;
	pthread_mutex_lock(&s->lock);
	s->vm = NULL;
	pthread_mutex_unlock(&s->lock);
}

void api_server_start_failed(struct api_server *s, const char *msg)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->start_err, sizeof(s->start_err), "InstanceStart: %s", msg);
	s->start = API_START_FAILED;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Called with s->lock held.  Asks the main thread to boot, waits for the
 * outcome. */
static void api_server_do_start(struct api_server *s, struct api_reply *r)
{
	uint64_t one = 1;

	s->start = API_START_REQUESTED;
	if (write(s->start_fd, &one, sizeof(one)) < 0) {
		/* cannot fail short of overflow */
	}
	while (s->start == API_START_REQUESTED)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->start == API_START_FAILED)
		api_reply_fault(r, s->start_err);
	s->start = API_START_IDLE;
}

/* Called with s->lock held: a PATCH of drive r->index after the start,
 * which fcjson checked and stored.  As Firecracker: the new file first
 * (opened here, on the API thread, then swapped in by the device), then
 * the new limiter; if the file cannot be used, neither is applied and the
 * stored drive is put back, so GET /vm/config shows what the device has. */
static void api_server_drive_update(struct api_server *s, struct api_reply *r)
{
	struct fc_vm *f = &s->ctx.vm;
	int idx = -1, ret = 0;

	for (unsigned i = 0; i < f->nr_drives; i++)
		if (fc_drive_slot(f, (int)i) == r->index)
			idx = (int)i;
	if (idx < 0)
		ret = err_set(-ENODEV, "drives: no drive in slot %u", r->index);
	else if (!s->vm)
		ret = err_set(-EBUSY, "the VM is not running");
	if (!ret && r->drive_swap)
		ret = vm_drive_swap(s->vm, r->index, f->drives[idx].disk.path);
	if (!ret && r->drive_rate) {
		struct throttle_config c = fc_rl_throttle(&f->drives[idx].rl);

		ret = vm_drive_set_rate(s->vm, r->index, &c);
	}
	if (!ret)
		return;
	if (idx >= 0 && r->drive_undo)
		f->drives[idx] = *r->drive_undo;
	api_reply_fault(r, err_msg());
}

/* Stores the microseconds since @t0_ns in *@us (a latencies_us field). */
static void api_server_latency(uint64_t *us, uint64_t t0_ns)
{
	__atomic_store_n(us, (time_now_ns() - t0_ns) / 1000, __ATOMIC_RELAXED);
}

/* Called with s->lock held: the action api_handle asked for. */
static void api_server_act(struct api_server *s, struct api_reply *r)
{
	uint64_t t0 = time_now_ns();
	int ret;

	switch (r->action) {
	case API_ACTION_START:
		api_server_do_start(s, r);
		return;
	case API_ACTION_PAUSE:
		ret = s->vm ? vm_pause(s->vm)
			    : err_set(-EBUSY, "the VM is not running");
		if (ret) {
			api_reply_fault(r, err_msg());
			return;
		}
		api_server_latency(&s->ctx.vmm_pause_us, t0);
		s->ctx.state = API_PAUSED;
		return;
	case API_ACTION_RESUME:
		ret = s->vm ? vm_resume(s->vm)
			    : err_set(-EBUSY, "the VM is not running");
		if (ret) {
			api_reply_fault(r, err_msg());
			return;
		}
		api_server_latency(&s->ctx.vmm_resume_us, t0);
		s->ctx.state = API_RUNNING;
		return;
	case API_ACTION_CTRL_ALT_DEL:
		ret = s->vm ? vm_send_ctrl_alt_del(s->vm)
			    : err_set(-EBUSY, "the VM is not running");
		if (ret)
			api_reply_fault(r, err_msg());
		return;
	case API_ACTION_DRIVE_UPDATE:
		api_server_drive_update(s, r);
		return;
	case API_ACTION_NET_RATE:
		if (r->index >= s->ctx.vm.nr_nets) {
			api_reply_fault(
				r, "network-interfaces: no such interface");
			return;
		}
		{
			const struct fc_net *n = &s->ctx.vm.nets[r->index];
			struct throttle_config rx = fc_rl_throttle(&n->rx);
			struct throttle_config tx = fc_rl_throttle(&n->tx);

			ret = s->vm ? vm_net_set_rate(s->vm, r->index, &rx, &tx)
				    : err_set(-EBUSY, "the VM is not running");
		}
		if (ret)
			api_reply_fault(r, err_msg());
		return;
	case API_ACTION_NONE:
		return;
	}
}

static enum MHD_Result api_server_reply(struct api_server *s,
					struct MHD_Connection *conn,
					struct api_reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->body) {
		resp = s->lib->create_response_from_buffer(
			r->len, r->body, MHD_RESPMEM_MUST_FREE);
		if (resp)
			r->body = NULL; /* MHD frees it */
	} else {
		resp = s->lib->create_response_from_buffer(
			0, NULL, MHD_RESPMEM_PERSISTENT);
	}
	api_reply_free(r);
	if (!resp)
		return MHD_NO;
	if (r->status != 204)
		s->lib->add_response_header(resp, "Content-Type",
					    "application/json");
	ret = s->lib->queue_response(conn, (unsigned)r->status, resp);
	s->lib->destroy_response(resp);
	return ret;
}

static enum MHD_Result api_server_access(void *cls, struct MHD_Connection *conn,
					 const char *url, const char *method,
					 const char *version,
					 const char *upload_data,
					 size_t *upload_data_size,
					 void **con_cls)
{
	struct api_server *s = cls;
	struct api_req *q = *con_cls;
	struct api_reply r;

	(void)version;
	if (!q) {
		const char *cl = s->lib->lookup_connection_value(
			conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		/* Refused before a byte of it is read. */
		if (cl && strtoull(cl, NULL, 10) > s->ctx.body_max)
			q->too_big = true;
		if (!q->too_big)
			return MHD_YES;
	}
	if (*upload_data_size && !q->too_big) {
		size_t n = *upload_data_size;

		if (q->len + n > s->ctx.body_max) {
			q->too_big = true;
		} else {
			char *b = realloc(q->buf, q->len + n);

			if (!b)
				return MHD_NO;
			memcpy(b + q->len, upload_data, n);
			q->buf = b;
			q->len += n;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	r = (struct api_reply){0};
	if (q->too_big) {
		char msg[128];

		snprintf(
			msg, sizeof(msg),
			"Request payload is larger than the limit of %zu bytes allowed by the server.",
			s->ctx.body_max);
		api_reply_fault(&r, msg);
		*upload_data_size = 0;
	} else {
		uint64_t t0 = time_now_ns();

		/* Firecracker's line (without the body: it may hold paths). */
		log_write(
			LOG_DEBUG,
			"The API server received a %.16s request on \"%.256s\".",
			method, url);
		pthread_mutex_lock(&s->lock);
		api_handle(&s->ctx, method, url, q->buf, q->len, &r);
		if (r.status == 204)
			api_server_act(s, &r);
		/* A pause or resume, as the API's user sees it (Firecracker's
		 * pause_vm and resume_vm). */
		if (r.status == 204 && r.action == API_ACTION_PAUSE)
			api_server_latency(&s->ctx.pause_us, t0);
		if (r.status == 204 && r.action == API_ACTION_RESUME)
			api_server_latency(&s->ctx.resume_us, t0);
		pthread_mutex_unlock(&s->lock);
	}
	return api_server_reply(s, conn, &r);
}

static void api_server_completed(void *cls, struct MHD_Connection *conn,
				 void **con_cls,
				 enum MHD_RequestTerminationCode toe)
{
	struct api_req *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q) {
		free(q->buf);
		free(q);
		*con_cls = NULL;
	}
}

/* The API thread.  It installs its seccomp filter (rules_api in
 * src/host/sandbox.c) before it reads a byte from a client.  What it calls,
 * through libmicrohttpd, jansson, glibc and minivmm's own code:
 *   poll, epoll_wait, epoll_ctl, epoll_create1 (MHD's epoll set, at start),
 *   accept4, recvfrom/read, sendto/sendmsg/write/writev, shutdown,
 *   setsockopt/getsockopt, fcntl, close (connections),
 *   read/write on eventfds (stop_fd, start_fd),
 *   futex (the server's lock and condition, the VM's pause lock),
 *   clock_gettime (MHD's timeouts, vm_pause's deadline),
 *   mmap, munmap, mremap, brk, madvise (malloc for bodies and JSON),
 *   newfstatat/stat/lstat (fc_put_* check that paths exist),
 *   tgkill, getpid (vm_pause kicks the vCPU threads; the I/O threads
 *   park in place, so it starts no thread). */
static void *api_server_thread(void *arg)
{
	struct api_server *s = arg;
	const union MHD_DaemonInfo *info =
		s->lib->get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	int ep = info ? info->epoll_fd : -1;

	pthread_setname_np(pthread_self(), "fc_api");
	log_set_thread("fc_api");
	/* Its own filter before it reads a byte from a client (rules_api in
	 * src/host/sandbox.c): created before vm_run, it has no other. */
	s->sandbox_ret = sandbox_apply(&s->sandbox, SANDBOX_API);
	if (s->sandbox_ret)
		snprintf(s->sandbox_msg, sizeof(s->sandbox_msg), "%s",
			 err_msg());
	sem_post(&s->sandboxed);
	if (s->sandbox_ret)
		return NULL;
	for (;;) {
		struct pollfd fds[2] = {
			{.fd = s->stop_fd, .events = POLLIN},
			{.fd = ep, .events = POLLIN},
		};
		MHD_UNSIGNED_LONG_LONG ms;
		int timeout = -1;

		if (s->lib->get_timeout(s->mhd, &ms) == MHD_YES)
			timeout = ms > 1000 ? 1000 : (int)ms;
		if (poll(fds, 2, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN)
			break;
		s->lib->run(s->mhd);
	}
	return NULL;
}

int api_server_start(struct api_server *s)
{
	int ret;

	/* No MHD_USE_INTERNAL_POLLING_THREAD nor a thread pool: MHD runs
	 * only inside MHD_run, on the API thread.  Its epoll set is what
	 * that thread polls. */
	s->mhd = s->lib->start_daemon(
		MHD_USE_EPOLL | MHD_USE_SUPPRESS_DATE_NO_CLOCK, 0, NULL, NULL,
		api_server_access, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT_S,
		MHD_OPTION_NOTIFY_COMPLETED, api_server_completed, s,
		MHD_OPTION_END);
	if (!s->mhd)
		return err_set(-EINVAL, "cannot start the API server on %s",
			       s->path);
	if (sem_init(&s->sandboxed, 0, 0))
		return err_set(-errno, "sem_init: %s", strerror(errno));
	ret = pthread_create(&s->thread, NULL, api_server_thread, s);
	if (ret) {
		sem_destroy(&s->sandboxed);
		return err_set(-ret, "cannot start the API thread: %s",
			       strerror(ret));
	}
	while (sem_wait(&s->sandboxed) && errno == EINTR)
		;
	sem_destroy(&s->sandboxed);
	if (s->sandbox_ret) {
		pthread_join(s->thread, NULL);
		return err_set(s->sandbox_ret, "API thread: %s",
			       s->sandbox_msg);
	}
	s->thread_started = true;
	return 0;
}

void api_server_close(struct api_server *s)
{
	uint64_t one = 1;

	/* An InstanceStart the main thread will not carry out any more (a
	 * stop signal came first): its waiting API thread answers 400. */
	pthread_mutex_lock(&s->lock);
	if (s->start == API_START_REQUESTED) {
		snprintf(s->start_err, sizeof(s->start_err),
			 "InstanceStart: minivmm is stopping");
		s->start = API_START_FAILED;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (s->thread_started) {
		if (write(s->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot fail short of overflow */
		}
		pthread_join(s->thread, NULL);
		s->thread_started = false;
	}
	if (s->mhd) {
		s->lib->stop_daemon(s->mhd); /* closes the listening socket */
		s->mhd = NULL;
		s->listen_fd = -1;
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	if (s->path[0])
		uds_unlink(s->path, s->dev, s->ino);
	s->path[0] = '\0';
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->start_fd >= 0)
		close(s->start_fd);
	s->stop_fd = s->start_fd = -1;
}
