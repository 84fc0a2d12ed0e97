/* virtio-vsock (virtio 1.2, 5.10): stream sockets between the guest and
 * host programs, in userspace, on Firecracker's UNIX socket scheme
 * (src/host/vsock_uds.h).  vsock_pkt_parse() checks one packet from the
 * guest without a transport, for the device, the tests and the fuzzer; the
 * device model is virtio_vsock_get_ops(). */
#ifndef MINIVMM_VIRTIO_VSOCK_H
#define MINIVMM_VIRTIO_VSOCK_H

#include "virtio.h"
#include "../host/vsock_uds.h"

#include <stdint.h>

/* Queues (5.10.2). */
#define VIRTIO_VSOCK_RX 0
#define VIRTIO_VSOCK_TX 1
#define VIRTIO_VSOCK_EVENT 2

/* Feature bits (5.10.3).  None is offered: with no feature bit, stream
 * sockets alone are supported, which is what we do (SEQPACKET is not). */
#define VIRTIO_VSOCK_F_STREAM 0
#define VIRTIO_VSOCK_F_SEQPACKET 1

#define VIRTIO_VSOCK_CONFIG_SIZE 8 /* le64 guest_cid */

/* struct virtio_vsock_hdr (5.10.6), little-endian: le64 src_cid, le64
 * dst_cid, le32 src_port, le32 dst_port, le32 len, le16 type, le16 op,
 * le32 flags, le32 buf_alloc, le32 fwd_cnt. */
#define VIRTIO_VSOCK_HDR_SIZE 44

#define VIRTIO_VSOCK_TYPE_STREAM 1

#define VIRTIO_VSOCK_OP_INVALID 0
#define VIRTIO_VSOCK_OP_REQUEST 1
#define VIRTIO_VSOCK_OP_RESPONSE 2
#define VIRTIO_VSOCK_OP_RST 3
#define VIRTIO_VSOCK_OP_SHUTDOWN 4
#define VIRTIO_VSOCK_OP_RW 5
#define VIRTIO_VSOCK_OP_CREDIT_UPDATE 6
#define VIRTIO_VSOCK_OP_CREDIT_REQUEST 7

/* SHUTDOWN flags: the sender will receive no more, send no more. */
#define VIRTIO_VSOCK_SHUTDOWN_RCV 1
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2
#define VIRTIO_VSOCK_SHUTDOWN_BOTH 3

#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0

#define VSOCK_HOST_CID 2

/* Our limits.  A packet carries at most VSOCK_MAX_PAYLOAD bytes (Linux's
 * VIRTIO_VSOCK_MAX_PKT_BUF_SIZE); a longer one from the guest is answered
 * with RST. */
#define VSOCK_MAX_PAYLOAD (64u * 1024)
/* What we advertise as buf_alloc per connection, and the most we buffer
 * for one connection when its host program reads slower than the guest
 * writes (Linux's default socket buffer, and Firecracker's). */
#define VSOCK_BUF_ALLOC (256u * 1024)
/* A CREDIT_UPDATE goes to the guest once the host program has consumed
 * this much since the last fwd_cnt we told it. */
#define VSOCK_CREDIT_THRESHOLD (64u * 1024)
/* Connections at once, host programs still sending their CONNECT line
 * included. */
#define VSOCK_MAX_CONNS 1024
/* Ports we give host-initiated connections: from 2^30 up, as Firecracker,
 * away from the ports guest programs connect to. */
#define VSOCK_LOCAL_PORT_BASE (1u << 30)
/* How long we wait for the guest to answer a REQUEST, or an RST after we
 * told it the host program is gone (Firecracker's 2 s each). */
#define VSOCK_TIMEOUT_MS 2000

/* One header as vsock_pkt_parse() copied it out, in host byte order. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

enum vsock_verdict {
	VSOCK_PKT_OK,
	/* Not answered: a header cut short (no flow to answer), a source CID
	 * that is not the guest's, or an RST that would need an RST. */
	VSOCK_PKT_DROP,
	/* Answered with RST (and the connection, if any, aborted): a
	 * destination CID that is not the host's, an unknown type (5.10.6.4
	 * requires the RST) or op, len beyond the buffer or above
	 * VSOCK_MAX_PAYLOAD. */
	VSOCK_PKT_RST,
};

/* Checks the packet in the device-readable part of tx chain @c from a
 * guest with @guest_cid; @h gets the header (zeroes if cut short), read
 * once from guest memory. */
enum vsock_verdict vsock_pkt_parse(const struct virtq_chain *c,
				   uint64_t guest_cid, struct vsock_hdr *h);
/* The 44 header bytes of @h, little-endian. */
void vsock_hdr_encode(const struct vsock_hdr *h,
		      uint8_t out[VIRTIO_VSOCK_HDR_SIZE]);
void vsock_hdr_decode(const uint8_t in[VIRTIO_VSOCK_HDR_SIZE],
		      struct vsock_hdr *h);

/* What --stats shows and the tests check. */
struct vsock_stats {
	uint64_t from_host;   /* connections a host program opened */
	uint64_t from_guest;  /* connections the guest opened */
	uint64_t refused;     /* REQUESTs answered with RST, both ways */
	uint64_t open;	      /* connections now (any state) */
	uint64_t bytes_in;    /* payload from the guest to host programs */
	uint64_t bytes_out;   /* payload from host programs to the guest */
	uint64_t dropped;     /* packets from the guest dropped */
	uint64_t bad_rst;     /* malformed packets answered with RST */
	uint64_t overruns;    /* guest sent beyond our credit: RST */
	uint64_t bad_connect; /* host connections closed for their line */
	uint64_t timeouts;    /* REQUEST or shutdown unanswered */
	uint64_t buffered;    /* bytes waiting for host programs now */
	uint64_t buffered_peak;
};

struct virtio_vsock;

/* Listens on @o->uds (after vsock_options_parse), raises the soft limit
 * of open files to fit VSOCK_MAX_CONNS where the hard limit allows.
 * -errno with a message. */
int virtio_vsock_create(struct virtio_vsock **out,
			const struct vsock_options *o);
/* The device model; priv is @v. */
const struct virtio_device_ops *virtio_vsock_get_ops(struct virtio_vsock *v);
/* After the transport is gone: closes the listening socket and removes
 * its file. */
void virtio_vsock_destroy(struct virtio_vsock *v);
/* A consistent copy of the counters (any thread). */
void virtio_vsock_stats(struct virtio_vsock *v, struct vsock_stats *s);

#endif
