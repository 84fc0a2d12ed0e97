/* The host side of virtio-vsock: --vsock's options, the listening socket,
 * connections to PATH_PORT, and the CONNECT line (see vsock_uds.h). */
#include "vsock_uds.h"
#include "uds.h"
#include "../err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define VSOCK_SYNTAX "cid=N,uds=PATH"

_Static_assert(VSOCK_UDS_PATH_MAX + sizeof("_4294967295") <=
		       sizeof(((struct sockaddr_un *)0)->sun_path),
	       "PATH_PORT must fit sun_path");
_Static_assert(sizeof(((struct vsock_options *)0)->uds) ==
		       sizeof(((struct sockaddr_un *)0)->sun_path),
	       "uds is a sun_path");

static bool key_is(const char *s, size_t len, const char *key)
{
	return strlen(key) == len && !memcmp(s, key, len);
}

/* N: decimal or 0x hex, no sign, nothing after it. */
static int parse_cid(const char *s, size_t len, uint32_t *cid)
{
	char num[24];
	unsigned long long v;
	char *end;

	if (!len || len >= sizeof(num) || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	errno = 0;
	v = strtoull(num, &end, 0);
	/* 0-2 are reserved (2 is the host), so is 0xffffffff (VMADDR_CID_ANY)
	 * and, in 5.10.4, the upper 32 bits. */
	if (errno || *end || v < 3 || v >= 0xffffffffull)
		return -EINVAL;
	*cid = (uint32_t)v;
	return 0;
}

int vsock_options_parse(const char *arg, struct vsock_options *o)
{
	const char *item = arg;
	bool have_cid = false, have_uds = false;

	memset(o, 0, sizeof(*o));
	for (;;) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);
		const char *eq = memchr(item, '=', len);
		size_t klen = eq ? (size_t)(eq - item) : len;
		const char *val = eq ? eq + 1 : NULL;
		size_t vlen = eq ? len - klen - 1 : 0;

		if (key_is(item, klen, "cid") && val) {
			if (have_cid)
				return err_set(-EINVAL,
					       "--vsock: 'cid' given twice");
			if (parse_cid(val, vlen, &o->cid))
				return err_set(
					-EINVAL,
					"--vsock: cid=%.*s: expected a number from 3 to 4294967294 (0-2 and 0xffffffff are reserved)",
					(int)vlen, val);
			have_cid = true;
		} else if (key_is(item, klen, "uds") && val) {
			if (have_uds)
				return err_set(-EINVAL,
					       "--vsock: 'uds' given twice");
			if (!vlen)
				return err_set(
					-EINVAL,
					"--vsock: uds= is empty: give the path of the UNIX socket minivmm listens on");
			if (vlen > VSOCK_UDS_PATH_MAX)
				return err_set(
					-EINVAL,
					"--vsock: uds= is %zu bytes: at most %d (PATH_PORT, for the guest's connections, must fit a UNIX socket address)",
					vlen, VSOCK_UDS_PATH_MAX);
			memcpy(o->uds, val, vlen);
			o->uds[vlen] = '\0';
			have_uds = true;
		} else {
			return err_set(
				-EINVAL,
				"--vsock '%s': unknown item '%.*s': expected " VSOCK_SYNTAX,
				arg, (int)len, item);
		}
		if (!comma)
			break;
		item = comma + 1;
	}
	if (!have_cid || !have_uds)
		return err_set(
			-EINVAL,
			"--vsock '%s': %s missing: expected " VSOCK_SYNTAX, arg,
			have_cid ? "uds=PATH" : "cid=N");
	/* Its one error for every bad option: -EINVAL. */
	return uds_check_path("--vsock: uds=", o->uds) ? -EINVAL : 0;
}

static void set_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
}

int vsock_uds_listen(const char *path, dev_t *dev, ino_t *ino)
{
	struct sockaddr_un a;
	struct stat st;
	int fd, err;

	if (strlen(path) > VSOCK_UDS_PATH_MAX)
		return err_set(-ENAMETOOLONG, "vsock: %s: path too long", path);
	set_addr(&a, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(-errno, "vsock: socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = errno;
		close(fd);
		if (err == EADDRINUSE)
			return err_set(
				-err,
				"vsock: %s already exists: remove it (a socket left by an earlier run?) or choose another path",
				path);
		return err_set(-err, "vsock: cannot bind %s: %s", path,
			       strerror(err));
	}
	/* The kernel caps the backlog at somaxconn; connections beyond it
	 * wait in connect() (or fail with EAGAIN when non-blocking). */
	if (listen(fd, 1024) || stat(path, &st)) {
		err = errno;
		close(fd);
		unlink(path);
		return err_set(-err, "vsock: cannot listen on %s: %s", path,
			       strerror(err));
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
	return fd;
}

int vsock_uds_connect(const char *path, uint32_t port, bool *in_progress)
{
	struct sockaddr_un a;
	char name[sizeof(a.sun_path)];
	int fd, err;

	*in_progress = false;
	if (snprintf(name, sizeof(name), "%s_%u", path, port) >=
	    (int)sizeof(name))
		return -ENAMETOOLONG;
	set_addr(&a, name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return fd;
	err = errno;
	/* AF_UNIX connects at once or fails (EAGAIN: backlog full), but a
	 * socket that may still connect is handled as the API allows. */
	if (err == EINPROGRESS) {
		*in_progress = true;
		return fd;
	}
	close(fd);
	return -err;
}

int vsock_uds_parse_connect(const char *buf, size_t len, uint32_t *port)
{
	static const char cmd[] = "CONNECT ";
	size_t n = sizeof(cmd) - 1, digits;
	uint64_t v = 0;

	if (len < n + 2 || memcmp(buf, cmd, n) || buf[len - 1] != '\n')
		return -EINVAL;
	digits = len - 1 - n;
	if (digits > 10)
		return -EINVAL;
	for (size_t i = n; i < len - 1; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(buf[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}
