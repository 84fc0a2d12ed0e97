/* The host side of a network interface (--net tap=NAME): an existing tap
 * device, opened through /dev/net/tun.  minivmm never creates or configures
 * the interface (addresses, bridges and links are the host's business); it
 * attaches to it as a single-queue tap without packet information
 * (IFF_NO_PI) and with a virtio-net header before every frame
 * (IFF_VNET_HDR), so the guest's header goes to the kernel as it is and the
 * kernel's comes back to the guest: checksum and segmentation offloads
 * work end to end.  The file descriptor is non-blocking: a read returns one
 * frame, a write sends one.
 *
 * Threads: a tap is used by the device's I/O thread and, for the ioctls at
 * activation and reset, by a vCPU thread, always under the device lock. */
#ifndef MINIVMM_HOST_TAP_H
#define MINIVMM_HOST_TAP_H

#include <net/if.h>
#include <stdbool.h>

/* The offload bits of TUNSETOFFLOAD (linux/if_tun.h): what the kernel may
 * hand us in place of finished frames. */
#define TAP_OFFLOAD_CSUM 0x01 /* TUN_F_CSUM: checksums left to the guest */
#define TAP_OFFLOAD_TSO4 0x02 /* TUN_F_TSO4: TCP/IPv4 up to 64 KiB */
#define TAP_OFFLOAD_TSO6 0x04 /* TUN_F_TSO6: TCP/IPv6 up to 64 KiB */

struct tap {
	int fd; /* -1 when closed */
	char name[IFNAMSIZ];
	unsigned mtu; /* the interface's, read at open */
};

/* Attaches to the existing tap device @name: IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, without IFF_TUN_EXCL (the device must exist: we never
 * create one, so that a typo cannot leave a stray interface behind), a
 * 12-byte virtio-net header, no offloads, non-blocking.  Reads its MTU.
 * -errno with one message saying what to do: no such device or no
 * permission (how to create it with ip tuntap), not a tap, in use by
 * another process, no /dev/net/tun.  @t is closed on failure. */
int tap_open(struct tap *t, const char *name);
/* Detaches (the device stays, as the host made it).  Harmless when closed. */
void tap_close(struct tap *t);

/* The size of the virtio-net header before every frame (TUNSETVNETHDRSZ):
 * what the guest negotiated, 12 bytes for virtio 1.x. */
int tap_set_vnet_hdr_size(struct tap *t, int size);
/* What the kernel may leave to the guest (TUNSETOFFLOAD): TAP_OFFLOAD_*;
 * TSO only with CSUM. */
int tap_set_offload(struct tap *t, unsigned offload);
/* -EINVAL with a message unless the interface's MTU is @mtu, which the
 * guest is told: a host sending larger frames than the guest expects
 * would have them dropped. */
int tap_check_mtu(const struct tap *t, unsigned mtu);

#endif
