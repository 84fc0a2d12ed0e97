/* libmicrohttpd, loaded with dlopen when `minivmm fc` opens its API socket
 * instead of linked into the program: Debian builds it with HTTPS, so a
 * linked libmicrohttpd makes every minivmm (`minivmm run` too) load GnuTLS
 * and the eight libraries behind it at start-up (about 2.4 MiB of resident
 * pages and their initializers), for a server that only ever speaks plain
 * HTTP on a UNIX socket.  The calls src/api/server.c makes, by pointer. */
#ifndef MINIVMM_API_MHD_H
#define MINIVMM_API_MHD_H

#include <microhttpd.h>

struct mhd_lib {
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_run) run;
	__typeof__(&MHD_get_timeout) get_timeout;
	__typeof__(&MHD_get_daemon_info) get_daemon_info;
	__typeof__(&MHD_lookup_connection_value) lookup_connection_value;
	__typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_destroy_response) destroy_response;
};

/* The library, loaded on the first call (from the main thread, before any
 * seccomp filter: a filter forbids mapping code) and kept for the
 * process's life.  0 with *@out set, or -ENOENT with err_msg() saying what
 * to install. */
int mhd_load(const struct mhd_lib **out);

#endif
