/* The host side of virtio-vsock (--vsock), Firecracker's scheme: guest
 * vsock ports are mapped onto UNIX stream sockets.  A host program that
 * wants a guest port connects to the socket PATH minivmm listens on and
 * writes "CONNECT <port>\n"; a guest connection to the host (CID 2), port
 * P, becomes a connection to the socket "PATH_P" a host program listens
 * on.  This file has the options, the sockets and the CONNECT line; the
 * device (src/virtio/vsock.c) moves the bytes. */
#ifndef MINIVMM_HOST_VSOCK_UDS_H
#define MINIVMM_HOST_VSOCK_UDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The longest PATH: "PATH_4294967295" and its NUL must fit sun_path
 * (108 bytes), so 108 - 1 - 11 = 96. */
#define VSOCK_UDS_PATH_MAX 96
/* The longest CONNECT line we read, newline included: "CONNECT
 * 4294967295\n" is 19 bytes; a few more for leading zeroes. */
#define VSOCK_UDS_LINE_MAX 32

struct vsock_options {
	uint32_t cid;  /* the guest's context ID: 3 .. 0xfffffffe */
	char uds[108]; /* the socket minivmm listens on */
};

/* Parses "cid=N,uds=PATH" (either order, each once; N decimal or 0x hex).
 * PATH ends at the next comma, is at most VSOCK_UDS_PATH_MAX bytes, its
 * directory must exist and PATH itself must not (an old socket is refused,
 * as Firecracker does: a second minivmm must not steal a running one's
 * socket).  -EINVAL with one message. */
int vsock_options_parse(const char *arg, struct vsock_options *o);

/* Creates, binds and listens on @path (non-blocking, close-on-exec); the
 * socket file's device and inode go to @dev and @ino, so that uds_unlink()
 * (host/uds.h) removes this socket and nothing that replaced it.  The
 * listening fd, or -errno with a message. */
int vsock_uds_listen(const char *path, dev_t *dev, ino_t *ino);

/* Connects a new non-blocking socket to "@path_@port".  The fd with
 * *@in_progress false (connected) or true (wait for EPOLLOUT, then
 * SO_ERROR), or -errno: -ECONNREFUSED, -ENOENT (nobody listens),
 * -EAGAIN (the listener's backlog is full), -EMFILE, ... */
int vsock_uds_connect(const char *path, uint32_t port, bool *in_progress);

/* The CONNECT line in @buf (@len bytes, the newline included): 0 with the
 * port, or -EINVAL for anything but "CONNECT", one space, 1 to 10 decimal
 * digits of a number below 2^32, and "\n". */
int vsock_uds_parse_connect(const char *buf, size_t len, uint32_t *port);

#endif
