/* virtio-net (virtio 1.2, 5.1): a network interface for the guest, backed
 * by a tap device (src/host/tap.h).  Two queues, receive (0) and transmit
 * (1), no control queue.  net_tx_parse() checks one transmit chain and
 * net_rx_place() puts one received frame into the receive queue, without
 * a transport, for the device, the tests and the fuzzer; the device model
 * itself is virtio_net_ops. */
#ifndef MINIVMM_VIRTIO_NET_H
#define MINIVMM_VIRTIO_NET_H

#include "virtio.h"
#include "../host/tap.h"
#include "../host/token_bucket.h"

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0	  /* the driver may leave checksums to us */
#define VIRTIO_NET_F_GUEST_CSUM 1 /* we may leave checksums to the driver */
#define VIRTIO_NET_F_MTU 3	  /* config mtu */
#define VIRTIO_NET_F_MAC 5	  /* config mac */
#define VIRTIO_NET_F_GUEST_TSO4 7 /* we may pass TCP/IPv4 up to 64 KiB */
#define VIRTIO_NET_F_GUEST_TSO6 8 /* ... TCP/IPv6 */
#define VIRTIO_NET_F_GUEST_ECN 9  /* not offered */
#define VIRTIO_NET_F_GUEST_UFO 10 /* not offered */
#define VIRTIO_NET_F_HOST_TSO4 11 /* the driver may send TCP/IPv4 GSO */
#define VIRTIO_NET_F_HOST_TSO6 12 /* ... TCP/IPv6 */
#define VIRTIO_NET_F_HOST_ECN 13  /* not offered */
#define VIRTIO_NET_F_HOST_UFO 14  /* not offered */
#define VIRTIO_NET_F_MRG_RXBUF 15 /* a frame may span receive buffers */
#define VIRTIO_NET_F_STATUS 16	  /* config status */
#define VIRTIO_NET_F_CTRL_VQ 17	  /* not offered */

/* Configuration status bits. */
#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr (5.1.6): flags, gso_type, le16 hdr_len, gso_size,
 * csum_start, csum_offset, num_buffers. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_F_RSC_INFO 4
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#define VIRTIO_NET_HDR_GSO_ECN 0x80
/* With VIRTIO_F_VERSION_1 (which the transport requires) or MRG_RXBUF:
 * num_buffers is always there; legacy devices without them had 10. */
#define VIRTIO_NET_HDR_SIZE 12
#define VIRTIO_NET_HDR_LEGACY_SIZE 10

#define NET_RXQ 0
#define NET_TXQ 1

#define NET_ETH_HLEN 14 /* destination, source, EtherType */
#define NET_VLAN_HLEN 4 /* an 802.1Q tag */
#define NET_MTU_MIN 68	/* IPv4's minimum */
#define NET_MTU_MAX 65535
#define NET_MTU_DEFAULT 1500 /* without a tap to ask (tests) */
/* The largest GSO frame, without its Ethernet header: Linux's
 * GSO_LEGACY_MAX_SIZE. */
#define NET_GSO_MAX 65536
/* Frames or chains handled per round on the I/O thread before it yields
 * to the device's other work and to the other queue. */
#define NET_BATCH 256

/* The configuration space (5.1.4), fields little-endian, up to mtu. */
struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
};

#define VIRTIO_NET_CONFIG_SIZE 12

/* What --net says: tap=NAME[,mac=MAC][,mtu=N]. */
struct net_options {
	char tap[IFNAMSIZ];
	uint8_t mac[6]; /* given, or net_default_mac(tap) */
	bool mac_set;
	unsigned mtu; /* 0 unless given: the tap's MTU is used */
	bool mtu_set;
	char id[65]; /* the API's iface_id (metrics), "" from --net */
	/* Rate limiters (rx-bw=, rx-iops=, tx-bw=, tx-iops=; the API's
	 * rx_rate_limiter and tx_rate_limiter): frames delivered to the
	 * guest and frames it sends; ops are frames, bandwidth their bytes
	 * (without the virtio-net header).  Zeroes: none. */
	struct throttle_config rx_rate, tx_rate;
};

/* Parses the value of --net into @o (the default MAC filled in when mac=
 * is not given).  -EINVAL with one message naming the key: no tap=, an
 * unknown key, a key given twice or without a value, an empty, too long
 * (more than 15 bytes) or invalid interface name, a MAC that is not six
 * hex bytes or is multicast or all zeroes, an MTU outside 68..65535. */
int net_options_parse(const char *arg, struct net_options *o);
/* The interfaces @o[0..@n) together: no tap twice, no MAC twice (given or
 * defaulted).  -EINVAL with one message. */
int net_options_check(const struct net_options *o, unsigned n);
/* The MAC an interface on tap @name gets without mac=: 02 (locally
 * administered, unicast), then five bytes of a hash of the name, so the
 * guest sees the same address on every boot. */
void net_default_mac(const char *name, uint8_t mac[6]);
/* "02:00:00:00:00:01" into @out (18 bytes). */
void net_mac_format(const uint8_t mac[6], char out[18]);

/* Why a frame or a chain was dropped; each is counted.  What is dropped is
 * gone, as on a real link: the chain goes back to the driver (used length
 * 0), the guest's stack retransmits. */
enum net_drop {
	NET_DROP_NONE = 0,
	/* transmit */
	NET_DROP_TX_CHAIN,  /* malformed chain, or device-writable buffers */
	NET_DROP_TX_EMPTY,  /* a chain of zero length */
	NET_DROP_TX_HEADER, /* a header cut short, or a bad one: unknown
			     * or not negotiated gso_type, NEEDS_CSUM without
			     * CSUM, hdr_len/gso_size/csum_start+csum_offset
			     * beyond the frame, GSO with gso_size 0 */
	NET_DROP_TX_SHORT,  /* a frame shorter than an Ethernet header */
	NET_DROP_TX_LONG,   /* a frame longer than MTU + 18 (GSO: 64 KiB +
			     * 18) */
	NET_DROP_TX_BUSY,   /* the tap would block (EAGAIN) */
	NET_DROP_TX_ERROR,  /* the tap refused the frame, or is gone */
	/* receive */
	NET_DROP_RX_CHAIN, /* malformed chain, device-readable buffers, a
			    * first buffer shorter than the header */
	NET_DROP_RX_LONG,  /* a frame that fits no buffer (without
			    * MRG_RXBUF: the next chain; with it: the whole
			    * ring) */
	NET_DROP_RX_BAD,   /* a frame the guest cannot take: shorter than
			    * the header and an Ethernet header, longer than
			    * 64 KiB, an offload it did not negotiate */
	NET_DROP_RX_ERROR, /* a read error */
	NET_DROP_NR,
};

/* Counters, updated with relaxed atomics so --stats may read them.  Bytes
 * are frame bytes, without the virtio-net header. */
struct net_stats {
	uint64_t tx_frames, tx_bytes;
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_waits; /* times the ring ran dry and the tap went off */
	uint64_t drops[NET_DROP_NR];
};

/* The virtio-net header size for the negotiated @features. */
unsigned net_hdr_size(uint64_t features);

/* One transmit chain as net_tx_parse() found it: a checked copy of the
 * header and the frame's buffers in guest memory, ready for writev. */
struct net_tx {
	uint8_t hdr[VIRTIO_NET_HDR_SIZE];
	struct iovec iov[1 + VIRTQ_MAX_SIZE]; /* iov[0] is hdr */
	unsigned nr_iov;
	uint32_t len; /* frame bytes, after the header */
};

/* Checks transmit chain @c (from virtq_pop()) for a device with @features
 * negotiated and an MTU of @mtu: the header is copied once and every check
 * and the tap see only the copy (flags other than NEEDS_CSUM cleared, as
 * 5.1.6.2.2 says to ignore them; num_buffers 0).  Returns NET_DROP_NONE
 * and fills @t, or why the chain is dropped. */
enum net_drop net_tx_parse(const struct virtq_chain *c, uint64_t features,
			   unsigned mtu, struct net_tx *t);

/* Checks a received frame, @len bytes at @frame with its virtio-net
 * header first, against the guest's @features, and fixes the header for
 * it: flags cleared without GUEST_CSUM (5.1.6.4.1), num_buffers left for
 * net_rx_place().  NET_DROP_NONE, or NET_DROP_RX_BAD. */
enum net_drop net_rx_check(uint8_t *frame, uint32_t len, uint64_t features);

/* A received frame on its way into the receive queue.  With MRG_RXBUF it
 * may need more chains than the driver has posted: the chains taken so far
 * are held, with what was copied into them, until more come (or a reset
 * forgets them), and none is returned before the whole frame is in; then
 * all are returned at once (one used index update), so the driver never
 * sees part of a frame. */
struct net_rx {
	const uint8_t *frame; /* the frame with its header; not owned */
	uint32_t len;	      /* 0: no frame */
	uint32_t off;	      /* bytes copied into the chains held */
	unsigned nr;	      /* chains held */
	uint16_t head[VIRTQ_MAX_SIZE];
	uint32_t written[VIRTQ_MAX_SIZE];
	uint8_t *num_buffers[2];  /* its two bytes in the first chain */
	bool pushed;		  /* used elements since the last notify */
	struct virtq_chain chain; /* what virtq_pop() fills */
};

enum net_rx_result {
	NET_RX_DONE,   /* the frame is in the ring, or dropped (counted) */
	NET_RX_WAIT,   /* the ring ran out of buffers: call again later */
	NET_RX_BUSY,   /* @budget spent: call again later */
	NET_RX_BROKEN, /* the ring is corrupt: the device needs a reset */
};

/* Puts rx->frame (rx->len bytes, header first, checked by net_rx_check())
 * into the buffers of receive queue @q, @hdr_size being the header size
 * and @mrg whether MRG_RXBUF was negotiated; one chain popped costs one
 * of *@budget.  Counts what it does in @s. */
enum net_rx_result net_rx_place(struct net_rx *rx, struct virtq *q,
				unsigned hdr_size, bool mrg, unsigned *budget,
				struct net_stats *s);
/* Forgets the frame and the chains held (a reset: the ring is gone). */
void net_rx_clear(struct net_rx *rx);

struct virtio_net;

/* Opens the tap @o names (tap_open, tap_check_mtu when mtu= is given) and
 * makes a virtio-net device for it.  -errno with a message. */
int virtio_net_create(struct virtio_net **out, const struct net_options *o);
/* The same on @fd, which is not a tap (tests: one end of a socketpair of
 * datagrams, each a virtio-net header and a frame): no tap ioctls, the MTU
 * is mtu= or NET_MTU_DEFAULT.  @fd is made non-blocking and belongs to the
 * device from then on, also on failure. */
int virtio_net_create_fd(struct virtio_net **out, const struct net_options *o,
			 int fd);
/* After the transport is gone (it resets the device first). */
void virtio_net_destroy(struct virtio_net *n);
/* Replaces the rate limiters' limits (PATCH /network-interfaces/{id}
 * after the start): from any thread; the I/O thread takes them at once,
 * with full buckets. */
void virtio_net_set_rate(struct virtio_net *n, const struct throttle_config *rx,
			 const struct throttle_config *tx);

/* The device model.  Give the transport virtio_net_get_ops(n), this
 * interface's copy; priv is @n. */
extern const struct virtio_device_ops virtio_net_ops;
const struct virtio_device_ops *virtio_net_get_ops(const struct virtio_net *n);

/* The configuration space, as the transport's config_read sees it. */
void virtio_net_config_read(const struct virtio_net *n, uint32_t off,
			    void *data, uint32_t len);
/* The counters, for tests. */
const struct net_stats *virtio_net_stats(const struct virtio_net *n);

#endif
