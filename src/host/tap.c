/* A tap device on the host: attaching to it through /dev/net/tun, its
 * virtio-net header size and offloads, its MTU. */
#include "tap.h"
#include "../err.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUN_PATH "/dev/net/tun"
#define TAP_CREATE_HINT                                        \
	"create it with 'ip tuntap add dev %s mode tap' (and " \
	"'ip link set %s up')"

_Static_assert(TAP_OFFLOAD_CSUM == TUN_F_CSUM &&
		       TAP_OFFLOAD_TSO4 == TUN_F_TSO4 &&
		       TAP_OFFLOAD_TSO6 == TUN_F_TSO6,
	       "tap offload bits");

/* The interface's MTU, through any socket of this network namespace. */
static int tap_read_mtu(struct tap *t)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (s < 0)
		return err_set(-errno, "tap %s: socket: %s", t->name,
			       strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, sizeof(ifr.ifr_name));
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0)
		ret = err_set(-errno, "tap %s: cannot read its MTU: %s",
			      t->name, strerror(errno));
	else
		t->mtu = (unsigned)ifr.ifr_mtu;
	close(s);
	return ret;
}

/* TUNSETIFF failed with @err on an interface that exists. */
static int tap_attach_error(const struct tap *t, int err)
{
	const char *n = t->name;

	switch (err) {
	case EPERM:
	case EACCES:
		return err_set(
			-err,
			"tap %s: permission denied: create it for this user with 'ip tuntap add dev %s mode tap user USER' (and 'ip link set %s up'), or run minivmm as root",
			n, n, n);
	case EBUSY:
		return err_set(
			-err,
			"tap %s is in use by another process: give each interface a tap of its own",
			n);
	case EINVAL:
		return err_set(
			-err,
			"tap %s: not a single-queue tap device (a tun, a multi_queue tap or another kind of interface): " TAP_CREATE_HINT,
			n, n, n);
	default:
		return err_set(-err, "tap %s: cannot attach: %s", n,
			       strerror(err));
	}
}

int tap_open(struct tap *t, const char *name)
{
	struct ifreq ifr;
	int ret;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	snprintf(t->name, sizeof(t->name), "%s", name);
	/* TUNSETIFF on a name that does not exist creates a tap that
	 * vanishes when we exit: look first, and say how to make one. */
	if (!if_nametoindex(t->name))
		return err_set(-ENODEV,
			       "tap %s: no such device: " TAP_CREATE_HINT,
			       t->name, t->name, t->name);
	t->fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
			return err_set(ret,
				       "tap %s: no " TUN_PATH
				       ": load the tun module (modprobe tun)",
				       t->name);
		return err_set(
			ret,
			"tap %s: cannot open " TUN_PATH
			": %s: minivmm needs read and write access to it",
			t->name, strerror(-ret));
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, sizeof(ifr.ifr_name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		/* Deleted since we looked: as if it never existed. */
		if (ret == -ENODEV || !if_nametoindex(t->name))
			ret = err_set(
				-ENODEV,
				"tap %s: no such device: " TAP_CREATE_HINT,
				t->name, t->name, t->name);
		else
			ret = tap_attach_error(t, -ret);
		tap_close(t);
		return ret;
	}
	/* A device deleted between the look and TUNSETIFF was created
	 * again by it, without IFF_PERSIST; ip tuntap makes persistent
	 * ones, and one made by a process that still holds it is in use. */
	if (ioctl(t->fd, TUNGETIFF, &ifr) == 0 &&
	    !(ifr.ifr_flags & IFF_PERSIST)) {
		tap_close(t);
		return err_set(-ENODEV,
			       "tap %s: no such device: " TAP_CREATE_HINT,
			       t->name, t->name, t->name);
	}
	ret = tap_set_vnet_hdr_size(t, 12);
	if (!ret)
		ret = tap_set_offload(t, 0);
	if (!ret)
		ret = tap_read_mtu(t);
	if (ret)
		tap_close(t);
	return ret;
}

void tap_close(struct tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int tap_set_vnet_hdr_size(struct tap *t, int size)
{
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &size) < 0)
		return err_set(-errno, "tap %s: TUNSETVNETHDRSZ %d: %s",
			       t->name, size, strerror(errno));
	return 0;
}

int tap_set_offload(struct tap *t, unsigned offload)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)offload) < 0)
		return err_set(-errno, "tap %s: TUNSETOFFLOAD 0x%x: %s",
			       t->name, offload, strerror(errno));
	return 0;
}

int tap_check_mtu(const struct tap *t, unsigned mtu)
{
	if (t->mtu != mtu)
		return err_set(
			-EINVAL,
			"tap %s has MTU %u, but --net asks for mtu=%u: set it with 'ip link set %s mtu %u', or leave mtu= out to use the tap's",
			t->name, t->mtu, mtu, t->name, mtu);
	return 0;
}
