/* The API server: Firecracker's HTTP/1.1 API on a UNIX socket, served by
 * libmicrohttpd from one thread minivmm creates (MHD in external polling
 * mode: it makes no threads of its own), each request handed to
 * api_handle().  InstanceStart is carried out by the main thread, which
 * boots the VM with launch_vm(); the API thread waits for the outcome and
 * answers.  Pause and resume run on the API thread (vm_pause, vm_resume). */
#ifndef MINIVMM_API_SERVER_H
#define MINIVMM_API_SERVER_H

#include "handler.h"
#include "../host/sandbox.h"
#include "../vm.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <sys/types.h>

enum api_start {
	API_START_IDLE,
	API_START_REQUESTED, /* the main thread is to boot ctx.vm */
	API_START_DONE,	     /* it runs */
	API_START_FAILED,    /* it did not boot: start_err says why */
};

struct api_server {
	int listen_fd;
	char path[108];
	dev_t dev;
	ino_t ino;
	const struct mhd_lib *lib; /* libmicrohttpd (mhd_load) */
	struct MHD_Daemon *mhd;
	pthread_t thread;
	bool thread_started;
	int stop_fd;		/* eventfd: the API thread ends */
	int start_fd;		/* eventfd: the main thread has a start to do */
	bool serve_on_ready;	/* start the API thread once the VM runs */
	struct sandbox sandbox; /* the API thread's filter (set before it) */
	int sandbox_ret;	/* its installation: 0 or -errno */
	char sandbox_msg[256];
	sem_t sandboxed; /* posted once the API thread has its filter */

	/* Everything below under lock: the API thread holds it while it
	 * handles a request (except while it waits for a start). */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* start changed */
	struct api_ctx ctx;
	enum api_start start;
	char start_err[256];
	struct vm *vm; /* while the VM runs */
};

/* Before the thread: creates and listens on @path, which must not exist
 * (an old socket is refused, as Firecracker does) in a directory that
 * does.  -errno with err_msg() set. */
int api_server_open(struct api_server *s, const char *path, const char *id,
		    const char *version);
/* Starts MHD and the API thread. */
int api_server_start(struct api_server *s);
/* Ends the thread and MHD, closes and removes the socket.  Harmless after
 * a failed or no open. */
void api_server_close(struct api_server *s);

/* The main thread's side of InstanceStart: readable when a start is
 * requested. */
int api_server_start_fd(const struct api_server *s);
/* The VM is loaded and about to run (launch_hooks.vm_ready), or is gone
 * (vm_gone). */
void api_server_vm_ready(void *opaque, struct vm *vm);
void api_server_vm_gone(void *opaque, struct vm *vm);
/* The start failed before the VM ran: the API answers 400 with err_msg(). */
void api_server_start_failed(struct api_server *s, const char *msg);

#endif
