/* virtio-net: frames between the guest's queues and a tap.
 *
 * Transmit: a notification of queue 1 pops every chain the driver made
 * available (at most NET_BATCH a round, then the device yields: it kicks
 * its own eventfd and goes on after the I/O thread served the rest), checks
 * each once (net_tx_parse(): the header copied and checked, the frame's
 * length against the MTU) and writes it to the tap with one writev, the
 * checked header copy first and the frame straight from guest memory.  The
 * tap was told the header's size, so the guest's checksum and GSO requests
 * reach the kernel as they are.  A frame the tap would block on (EAGAIN)
 * is dropped and counted, not retried: the I/O thread watches fds for
 * reading only, and a tap accepts every write while the host has memory,
 * so a full tap is a host out of memory, where a link drops frames anyway.
 * Every chain goes back to the driver with used length 0.
 *
 * Receive: the tap's fd is on the I/O thread (ops->init).  When it is
 * readable and the driver has posted buffers, each frame is read (one
 * read, into a bounce buffer: its size is not known before, and a frame
 * that fits no buffer must not be half-written into guest memory), checked
 * against what the guest negotiated (net_rx_check()) and copied into the
 * next chain, or with MRG_RXBUF the next chains (net_rx_place()), at most
 * NET_BATCH frames a round.  With no buffer posted, the device reads
 * nothing: it asks the driver for a notification and turns the tap's fd
 * off (virtio_dev_watch_fd), so a busy tap never makes the I/O thread
 * spin; the receive queue's notification turns it on again.
 *
 * All of it runs with the transport's device lock held, on the I/O thread
 * or, for activate and reset, on a vCPU thread; every tap call completes
 * inside the callback, so nothing is in flight when reset returns. */
#include "net.h"
#include "../host/log.h"
#include "../err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "net.c assumes a little-endian host");

/* The layout of 5.1.4. */
_Static_assert(offsetof(struct virtio_net_config, status) == 6, "config");
_Static_assert(offsetof(struct virtio_net_config, max_virtqueue_pairs) == 8,
	       "config");
_Static_assert(offsetof(struct virtio_net_config, mtu) == 10, "config");
_Static_assert(sizeof(struct virtio_net_config) == VIRTIO_NET_CONFIG_SIZE,
	       "config");

#define BIT(n) (1ull << (n))

/* The largest frame we take from the tap, header included, and one byte
 * more: a read that fills the buffer may have been cut. */
#define NET_FRAME_MAX \
	(VIRTIO_NET_HDR_SIZE + NET_ETH_HLEN + NET_VLAN_HLEN + NET_GSO_MAX)
#define NET_RX_BUF_SIZE (NET_FRAME_MAX + 1)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- --net ---- */

#define NET_SYNTAX                                                   \
	"tap=NAME[,mac=MAC][,mtu=N][,rx-bw=BYTES/MS][,rx-iops=N/MS]" \
	"[,tx-bw=BYTES/MS][,tx-iops=N/MS]"

static bool key_is(const char *key, size_t len, const char *name)
{
	return strlen(name) == len && !memcmp(key, name, len);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Six hex pairs separated by colons, nothing else. */
static bool parse_mac(const char *v, size_t len, uint8_t mac[6])
{
	if (len != 17)
		return false;
	for (unsigned i = 0; i < 6; i++) {
		int hi = hexval(v[3 * i]), lo = hexval(v[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && v[3 * i + 2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Decimal or 0x hexadecimal, as minivmm's other numbers. */
static bool parse_uint(const char *v, size_t len, unsigned long *out)
{
	unsigned long x = 0;
	unsigned base = 10;
	size_t i = 0;

	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return false;
	for (; i < len; i++) {
		int d = hexval(v[i]);

		if (d < 0 || (unsigned)d >= base || x > 0xffffffffu)
			return false;
		x = x * base + (unsigned)d;
	}
	*out = x;
	return true;
}

/* The kernel's rules for a name (dev_valid_name), and printable. */
static bool name_ok(const char *v, size_t len)
{
	if ((len == 1 && v[0] == '.') || (len == 2 && !memcmp(v, "..", 2)))
		return false;
	for (size_t i = 0; i < len; i++)
		if (v[i] == '/' || v[i] == ':' || !isgraph((unsigned char)v[i]))
			return false;
	return true;
}

/* One KEY=VALUE item of --net, @len bytes at @item. */
static int net_item(struct net_options *o, const char *item, size_t len,
		    unsigned *seen)
{
	static const char *const keys[] = {
		"tap", "mac", "mtu", "rx-bw", "rx-iops", "tx-bw", "tx-iops"};
	static const char *const values[] = {
		"NAME", "MAC", "N", "BYTES/MS", "N/MS", "BYTES/MS", "N/MS"};
	struct token_bucket_config *bucket[] = {&o->rx_rate.bw, &o->rx_rate.ops,
						&o->tx_rate.bw,
						&o->tx_rate.ops};
	char what[32];
	const char *eq = memchr(item, '=', len);
	size_t klen = eq ? (size_t)(eq - item) : len;
	const char *val = eq ? eq + 1 : NULL;
	int vlen = eq ? (int)(len - klen - 1) : 0;
	unsigned long mtu;
	unsigned k;

	for (k = 0; k < 7; k++)
		if (key_is(item, klen, keys[k]))
			break;
	if (k == 7)
		return err_set(
			-EINVAL,
			"--net: unknown key '%.*s': expected tap=, mac=, mtu=, rx-bw=, rx-iops=, tx-bw= or tx-iops=",
			(int)klen, item);
	if (*seen & (1u << k))
		return err_set(-EINVAL, "--net: '%s' given twice", keys[k]);
	*seen |= 1u << k;
	if (!val || !vlen)
		return err_set(-EINVAL,
			       "--net: '%s' needs a value: write %s=%s",
			       keys[k], keys[k], values[k]);
	if (k >= 3) {
		snprintf(what, sizeof(what), "--net: %s", keys[k]);
		return token_bucket_parse(what, val, (size_t)vlen,
					  bucket[k - 3]);
	}
	switch (k) {
	case 0:
		if (vlen >= IFNAMSIZ)
			return err_set(
				-EINVAL,
				"--net: tap=%.*s: the name is %d bytes, an interface name has at most %d",
				vlen, val, vlen, IFNAMSIZ - 1);
		if (!name_ok(val, (size_t)vlen))
			return err_set(
				-EINVAL,
				"--net: tap=%.*s: not an interface name (no '/', ':', spaces, '.' or '..')",
				vlen, val);
		memcpy(o->tap, val, (size_t)vlen);
		o->tap[vlen] = '\0';
		return 0;
	case 1:
		if (!parse_mac(val, (size_t)vlen, o->mac))
			return err_set(
				-EINVAL,
				"--net: mac=%.*s: expected six hex bytes like 02:00:00:00:00:01",
				vlen, val);
		if (o->mac[0] & 1)
			return err_set(
				-EINVAL,
				"--net: mac=%.*s is a multicast address: the first byte must be even (02:... is a locally administered unicast address)",
				vlen, val);
		if (!(o->mac[0] | o->mac[1] | o->mac[2] | o->mac[3] |
		      o->mac[4] | o->mac[5]))
			return err_set(
				-EINVAL,
				"--net: mac=%.*s: the all-zero address is not a valid one",
				vlen, val);
		o->mac_set = true;
		return 0;
	default:
		if (!parse_uint(val, (size_t)vlen, &mtu) || mtu < NET_MTU_MIN ||
		    mtu > NET_MTU_MAX)
			return err_set(-EINVAL,
				       "--net: mtu=%.*s: expected %d to %d",
				       vlen, val, NET_MTU_MIN, NET_MTU_MAX);
		o->mtu = (unsigned)mtu;
		o->mtu_set = true;
		return 0;
	}
}

int net_options_parse(const char *arg, struct net_options *o)
{
	const char *item = arg;
	unsigned seen = 0;

	memset(o, 0, sizeof(*o));
	if (!*arg)
		return err_set(-EINVAL, "--net '': expected " NET_SYNTAX);
	for (;;) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);
		int ret;

		if (!len)
			return err_set(
				-EINVAL,
				"--net '%s': an empty item: expected " NET_SYNTAX,
				arg);
		ret = net_item(o, item, len, &seen);
		if (ret)
			return ret;
		if (!comma)
			break;
		item = comma + 1;
	}
	if (!(seen & 1))
		return err_set(-EINVAL,
			       "--net '%s': no tap=NAME: expected " NET_SYNTAX,
			       arg);
	if (!o->mac_set)
		net_default_mac(o->tap, o->mac);
	return 0;
}

int net_options_check(const struct net_options *o, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = 0; j < i; j++) {
			char mac[18];

			if (!strcmp(o[i].tap, o[j].tap))
				return err_set(
					-EINVAL,
					"--net: tap=%s is given twice: each interface needs a tap of its own",
					o[i].tap);
			if (memcmp(o[i].mac, o[j].mac, 6))
				continue;
			net_mac_format(o[i].mac, mac);
			return err_set(
				-EINVAL,
				"--net: tap=%s and tap=%s would both have MAC %s: give one of them another mac=",
				o[j].tap, o[i].tap, mac);
		}
	}
	return 0;
}

void net_default_mac(const char *name, uint8_t mac[6])
{
	/* FNV-1a, 64 bits: small, and stable across builds and hosts. */
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = name; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 0x100000001b3ull;
	}
	mac[0] = 0x02;
	for (unsigned i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}

void net_mac_format(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
}

/* ---- frames ---- */

unsigned net_hdr_size(uint64_t features)
{
	return features & (BIT(VIRTIO_F_VERSION_1) |
			   BIT(VIRTIO_NET_F_MRG_RXBUF))
		       ? VIRTIO_NET_HDR_SIZE
		       : VIRTIO_NET_HDR_LEGACY_SIZE;
}

/* Whether the guest's GSO type is one we take from it. */
static bool tx_gso_ok(uint8_t gso, uint64_t features)
{
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return features & BIT(VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return features & BIT(VIRTIO_NET_F_HOST_TSO6);
	default:
		/* UDP (UFO), UDP_L4 (USO) and the ECN bit: not offered. */
		return false;
	}
}

enum net_drop net_tx_parse(const struct virtq_chain *c, uint64_t features,
			   unsigned mtu, struct net_tx *t)
{
	unsigned hs = net_hdr_size(features);
	uint8_t *h = t->hdr;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
	uint64_t len, max;
	uint32_t skip;

	t->nr_iov = 0;
	t->len = 0;
	/* A transmit chain is the driver's to read; a writable buffer in
	 * it is a driver that got the queues mixed up. */
	if (c->nr_out < c->nr)
		return NET_DROP_TX_CHAIN;
	if (!c->out_len)
		return NET_DROP_TX_EMPTY;
	if (c->out_len < hs)
		return NET_DROP_TX_HEADER;
	len = c->out_len - hs;
	memset(h, 0, sizeof(t->hdr));
	virtq_chain_read(c, 0, h, hs);
	hdr_len = get16(h + 2);
	gso_size = get16(h + 4);
	csum_start = get16(h + 6);
	csum_offset = get16(h + 8);
	if (len < NET_ETH_HLEN)
		return NET_DROP_TX_SHORT;
	max = (uint64_t)mtu + NET_ETH_HLEN + NET_VLAN_HLEN;
	if (h[1] != VIRTIO_NET_HDR_GSO_NONE) {
		if (!tx_gso_ok(h[1], features) || !gso_size)
			return NET_DROP_TX_HEADER;
		if (max < NET_GSO_MAX + NET_ETH_HLEN + NET_VLAN_HLEN)
			max = NET_GSO_MAX + NET_ETH_HLEN + NET_VLAN_HLEN;
	}
	if (len > max)
		return NET_DROP_TX_LONG;
	/* 5.1.6.2.2: flag bits we do not know are ignored (DATA_VALID and
	 * RSC_INFO are the device's to set); csum_start and csum_offset
	 * count only with NEEDS_CSUM. */
	h[0] &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (h[0] && (!(features & BIT(VIRTIO_NET_F_CSUM)) ||
		     (uint32_t)csum_start + csum_offset + 2 > len))
		return NET_DROP_TX_HEADER;
	if (hdr_len > len || gso_size > len)
		return NET_DROP_TX_HEADER;
	if (hs == VIRTIO_NET_HDR_SIZE)
		h[10] = h[11] = 0; /* num_buffers: receive only */

	t->len = (uint32_t)len;
	t->iov[0].iov_base = h;
	t->iov[0].iov_len = hs;
	t->nr_iov = 1;
	skip = hs;
	for (unsigned i = 0; i < c->nr_out; i++) {
		const struct virtq_buf *b = &c->buf[i];

		if (skip >= b->len) {
			skip -= b->len;
			continue;
		}
		t->iov[t->nr_iov].iov_base = (uint8_t *)b->host + skip;
		t->iov[t->nr_iov].iov_len = b->len - skip;
		t->nr_iov++;
		skip = 0;
	}
	return NET_DROP_NONE;
}

enum net_drop net_rx_check(uint8_t *frame, uint32_t len, uint64_t features)
{
	unsigned hs = net_hdr_size(features);
	bool csum = features & BIT(VIRTIO_NET_F_GUEST_CSUM);

	if (len < hs + NET_ETH_HLEN || len > NET_FRAME_MAX)
		return NET_DROP_RX_BAD;
	/* Offloads the guest did not take: the tap was told (TUNSETOFFLOAD)
	 * and does not send them, but a frame queued before a reset may
	 * still be in it.  TSO needs GUEST_CSUM (5.1.3.1), and so does the
	 * tap. */
	switch (frame[1]) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!csum || !(features & BIT(VIRTIO_NET_F_GUEST_TSO4)))
			return NET_DROP_RX_BAD;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!csum || !(features & BIT(VIRTIO_NET_F_GUEST_TSO6)))
			return NET_DROP_RX_BAD;
		break;
	default:
		return NET_DROP_RX_BAD;
	}
	if ((frame[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !csum)
		return NET_DROP_RX_BAD;
	/* 5.1.6.4.1: without GUEST_CSUM the flags are 0 (the tap may say
	 * DATA_VALID); RSC_INFO is not ours to claim. */
	frame[0] &= csum ? VIRTIO_NET_HDR_F_NEEDS_CSUM |
				    VIRTIO_NET_HDR_F_DATA_VALID
			 : 0;
	return NET_DROP_NONE;
}

static void count(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* Returns @nr chains to the driver with one used index update: the
 * driver reads num_buffers in the first and takes the next ones at once
 * (Linux's receive_mergeable() counts a missing one as an error), so it
 * must never see the first without the rest.  virtq_push() publishes each
 * chain on its own; this is the same store sequence with one release of
 * the index.  (A virtq_push_n() in virtq.c would be its home.) */
static void used_push(struct virtq *q, const uint16_t *head,
		      const uint32_t *len, unsigned nr)
{
	if (!q->size || !nr)
		return;
	for (unsigned i = 0; i < nr; i++) {
		uint16_t idx = (uint16_t)(q->used_idx + i) & (q->size - 1u);
		uint8_t *e = q->used + 4 + 8u * idx;

		__atomic_store_n((uint32_t *)e, (uint32_t)head[i],
				 __ATOMIC_RELAXED);
		__atomic_store_n((uint32_t *)(e + 4), len[i], __ATOMIC_RELAXED);
	}
	q->used_idx = (uint16_t)(q->used_idx + nr);
	/* Release: the frame and the elements before the index. */
	__atomic_store_n((uint16_t *)(q->used + 2), q->used_idx,
			 __ATOMIC_RELEASE);
}

void net_rx_clear(struct net_rx *rx)
{
	rx->frame = NULL;
	rx->len = rx->off = 0;
	rx->nr = 0;
	rx->num_buffers[0] = rx->num_buffers[1] = NULL;
}

/* Drops the frame: the chains held go back empty. */
static void rx_drop(struct net_rx *rx, struct virtq *q, struct net_stats *s,
		    enum net_drop why)
{
	for (unsigned i = 0; i < rx->nr; i++)
		rx->written[i] = 0;
	used_push(q, rx->head, rx->written, rx->nr);
	rx->pushed |= rx->nr > 0;
	count(&s->drops[why], 1);
	net_rx_clear(rx);
}

/* Copies @len bytes of the frame, from rx->off, into chain @c's
 * device-writable buffers; the header's num_buffers bytes are noted when
 * they pass. */
static void rx_copy(struct net_rx *rx, const struct virtq_chain *c,
		    uint32_t len)
{
	const uint8_t *src = rx->frame + rx->off;

	for (unsigned i = c->nr_out; i < c->nr && len; i++) {
		uint8_t *dst = c->buf[i].host;
		uint32_t n = c->buf[i].len < len ? c->buf[i].len : len;

		for (unsigned k = 0; k < 2; k++) {
			uint32_t at = 10 + k; /* num_buffers, le16 */

			if (rx->off <= at && at < rx->off + n)
				rx->num_buffers[k] = dst + (at - rx->off);
		}
		memcpy(dst, src, n);
		src += n;
		len -= n;
		rx->off += n;
	}
}

enum net_rx_result net_rx_place(struct net_rx *rx, struct virtq *q,
				unsigned hdr_size, bool mrg, unsigned *budget,
				struct net_stats *s)
{
	struct virtq_chain *c = &rx->chain;

	while (rx->off < rx->len) {
		uint32_t room, n;
		int ret;

		/* With MRG_RXBUF, every buffer the ring holds is not
		 * enough: nothing more can come. */
		if (rx->nr == q->size) {
			rx_drop(rx, q, s, NET_DROP_RX_LONG);
			return NET_RX_DONE;
		}
		if (!*budget)
			return NET_RX_BUSY;
		--*budget;
		ret = virtq_pop(q, c);
		if (ret == 0)
			return NET_RX_WAIT;
		if (ret < 0 && ret != -EBADMSG) {
			net_rx_clear(rx);
			return NET_RX_BROKEN;
		}
		/* A malformed chain, one the device may not write, or a
		 * first one without room for the header (5.1.6.3.1: each
		 * buffer holds at least a header): returned empty, and the
		 * frame goes on into the next. */
		if (ret < 0 || c->nr_out || !c->in_len ||
		    (!rx->nr && c->in_len < hdr_size)) {
			virtq_push(q, c->head, 0);
			rx->pushed = true;
			count(&s->drops[NET_DROP_RX_CHAIN], 1);
			continue;
		}
		/* Without MRG_RXBUF one chain takes the whole frame: one too
		 * small drops the frame, and goes back empty so that the
		 * next frame gets the next chain instead of this one again. */
		if (!mrg && c->in_len < rx->len) {
			rx->head[0] = c->head;
			rx->nr = 1;
			rx_drop(rx, q, s, NET_DROP_RX_LONG);
			return NET_RX_DONE;
		}
		room = c->in_len > UINT32_MAX ? UINT32_MAX
					      : (uint32_t)c->in_len;
		n = rx->len - rx->off < room ? rx->len - rx->off : room;
		rx->head[rx->nr] = c->head;
		rx->written[rx->nr] = n;
		rx->nr++;
		rx_copy(rx, c, n);
	}
	if (hdr_size >= VIRTIO_NET_HDR_SIZE && rx->num_buffers[1]) {
		*rx->num_buffers[0] = (uint8_t)rx->nr;
		*rx->num_buffers[1] = (uint8_t)(rx->nr >> 8);
	}
	used_push(q, rx->head, rx->written, rx->nr);
	rx->pushed = true;
	count(&s->rx_frames, 1);
	count(&s->rx_bytes, rx->len - hdr_size);
	net_rx_clear(rx);
	return NET_RX_DONE;
}

/* ---- the device ---- */

/* One direction's rate limiter and the frame that waits for it. */
struct net_limit {
	struct throttle thr;
	bool held;		 /* a frame waits (tx: tx_chain; rx: rx_buf) */
	uint64_t since;		 /* ns: since when */
	uint64_t waits, wait_ns; /* --stats, relaxed atomics */
};

struct virtio_net {
	struct tap tap; /* the backend; for tests fd only */
	bool is_tap;	/* the tap ioctls apply */
	bool dead;	/* the backend failed for good: fd replaced */
	int kick_fd;	/* eventfd: come back for what a round left */
	struct virtio_device_ops ops;
	struct virtio_net_config cfg;
	unsigned mtu;
	struct virtio_dev *vd;
	bool active;
	bool watching;	       /* the tap's fd is on the I/O thread's epoll */
	bool tx_more, rx_more; /* a round stopped at NET_BATCH */
	uint64_t features;     /* negotiated */
	unsigned hdr_size;
	struct virtq *rxq, *txq;
	struct net_stats stats;
	struct net_rx rx;
	uint8_t *rx_buf; /* NET_RX_BUF_SIZE: the frame being received */
	struct virtq_chain tx_chain;
	struct net_tx tx;

	/* Rate limiters: a frame the limiter refuses stays (tx: popped and
	 * parsed; rx: read from the tap into rx_buf, the tap turned off),
	 * and timer_fd, armed for when the tokens are there, resumes. */
	struct net_limit tx_lim, rx_lim;
	bool rx_charged; /* the frame in rx_buf passed the limiter */
	int timer_fd;
	bool limited; /* a limit was ever set: --stats shows the limiters */
	/* A new limit from another thread (PATCH), as blk.c's. */
	pthread_mutex_t rate_lock;
	struct throttle_config rx_new, tx_new;
	unsigned rate_gen, rate_seen;
};

/* Takes a new limit another thread stored. */
static void net_rate_update(struct virtio_net *n)
{
	struct throttle_config rx, tx;
	unsigned gen = __atomic_load_n(&n->rate_gen, __ATOMIC_ACQUIRE);
	uint64_t now;

	if (gen == n->rate_seen)
		return;
	pthread_mutex_lock(&n->rate_lock);
	rx = n->rx_new;
	tx = n->tx_new;
	gen = n->rate_gen;
	pthread_mutex_unlock(&n->rate_lock);
	now = throttle_now_ns();
	throttle_init(&n->rx_lim.thr, &rx, now);
	throttle_init(&n->tx_lim.thr, &tx, now);
	n->rate_seen = gen;
}

/* Arms the timer (shared by both directions: the earliest wins) @ns from
 * now; 0 disarms it. */
static void net_timer_set(struct virtio_net *n, uint64_t ns)
{
	throttle_timer_arm(n->timer_fd, ns);
	/* An update stored meanwhile must not wait for this timer. */
	if (ns &&
	    __atomic_load_n(&n->rate_gen, __ATOMIC_SEQ_CST) != n->rate_seen)
		throttle_timer_arm(n->timer_fd, 1);
}

/* Whether a frame of @bytes may go through @l now; else it is held and
 * the timer armed. */
static bool net_limit_pass(struct virtio_net *n, struct net_limit *l,
			   uint64_t bytes)
{
	uint64_t now = throttle_now_ns();
	uint64_t wait = throttle_take(&l->thr, bytes, now);

	if (!wait) {
		if (l->held)
			__atomic_fetch_add(&l->wait_ns, now - l->since,
					   __ATOMIC_RELAXED);
		l->held = false;
		return true;
	}
	if (!l->held) {
		l->held = true;
		l->since = now;
		__atomic_fetch_add(&l->waits, 1, __ATOMIC_RELAXED);
	}
	net_timer_set(n, wait);
	return false;
}

/* Turns the tap's fd on or off on the I/O thread (no-op if it is so). */
static void net_watch(struct virtio_net *n, bool on)
{
	if (n->watching == on || n->dead || !n->vd)
		return;
	if (!virtio_dev_watch_fd(n->vd, n->tap.fd, on))
		n->watching = on;
}

/* Has the I/O thread call net_event() once more, after what it has. */
static void net_kick(struct virtio_net *n)
{
	uint64_t one = 1;

	if (write(n->kick_fd, &one, sizeof(one)) < 0) {
		/* counter overflow: already readable */
	}
}

/* The tap is gone (deleted under us) or the fd broke: an error that
 * every read would repeat, with the fd always readable (epoll reports
 * errors even for a watch turned off).  Put an eventfd that never fires in
 * its place: the tap's file is closed, which takes it off the epoll set,
 * and the number stays valid for the transport.  The interface stays
 * down for the rest of the run; frames are dropped and counted. */
static void net_backend_dead(struct virtio_net *n, int err)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	n->dead = true;
	n->watching = false;
	log_write(
		LOG_WARNING,
		"tap %s: %s: the network interface stops (its frames are dropped)",
		n->tap.name, err ? strerror(err) : "end of file");
	if (efd >= 0) {
		dup3(efd, n->tap.fd, O_CLOEXEC);
		close(efd);
	}
}

static bool fatal_errno(int err)
{
	return err == EBADFD || err == EBADF || err == ENODEV || err == ENXIO;
}

/* Sends one checked frame. */
static void net_tx_send(struct virtio_net *n, const struct net_tx *t)
{
	ssize_t r = -1;

	if (n->dead) {
		count(&n->stats.drops[NET_DROP_TX_ERROR], 1);
		return;
	}
	for (unsigned tries = 0; tries < 3; tries++) {
		r = writev(n->tap.fd, t->iov, (int)t->nr_iov);
		if (r >= 0 || errno != EINTR)
			break;
	}
	if (r >= 0) {
		count(&n->stats.tx_frames, 1);
		count(&n->stats.tx_bytes, t->len);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK ||
		   errno == ENOBUFS) {
		count(&n->stats.drops[NET_DROP_TX_BUSY], 1);
	} else {
		count(&n->stats.drops[NET_DROP_TX_ERROR], 1);
		if (fatal_errno(errno))
			net_backend_dead(n, errno);
	}
}

/* Sends what the transmit queue has, NET_BATCH chains at most. */
static void net_tx(struct virtio_net *n)
{
	struct virtq *q = n->txq;
	unsigned done = 0;
	bool pushed = false;
	int ret;

	n->tx_more = false;
	if (!n->active || !q)
		return;
	net_rate_update(n);
	/* A frame held by the limiter goes first; notifications stay off
	 * meanwhile (the timer brings us back). */
	if (n->tx_lim.held) {
		if (!net_limit_pass(n, &n->tx_lim, n->tx.len))
			return;
		net_tx_send(n, &n->tx);
		virtq_push(q, n->tx_chain.head, 0);
		pushed = true;
	}
	for (;;) {
		virtq_disable_notify(q);
		while (done < NET_BATCH && (ret = virtq_pop(q, &n->tx_chain))) {
			enum net_drop why = NET_DROP_TX_CHAIN;

			done++;
			if (ret < 0 && ret != -EBADMSG) {
				virtio_dev_needs_reset(n->vd);
				return;
			}
			if (ret > 0)
				why = net_tx_parse(&n->tx_chain, n->features,
						   n->mtu, &n->tx);
			if (why == NET_DROP_NONE &&
			    !net_limit_pass(n, &n->tx_lim, n->tx.len))
				goto out; /* held: not pushed */
			if (why == NET_DROP_NONE)
				net_tx_send(n, &n->tx);
			else
				count(&n->stats.drops[why], 1);
			/* Nothing is written into a transmit chain. */
			virtq_push(q, n->tx_chain.head, 0);
			pushed = true;
		}
		if (done == NET_BATCH) {
			/* Notifications stay off: the kick brings us back. */
			n->tx_more = true;
			net_kick(n);
			break;
		}
		virtq_enable_notify(q);
		if (!virtq_has_work(q))
			break;
	}
out:
	if (pushed)
		virtio_dev_notify(n->vd, NET_TXQ);
}

/* Whether the receive queue has a buffer; if not, asks the driver to
 * notify when it posts one and turns the tap off until then. */
static bool net_rx_buffers(struct virtio_net *n)
{
	struct virtq *q = n->rxq;

	if (!virtq_has_work(q)) {
		virtq_enable_notify(q);
		if (!virtq_has_work(q)) {
			if (n->watching)
				count(&n->stats.rx_waits, 1);
			net_watch(n, false);
			return false;
		}
	}
	/* Buffers there: no notifications for more while we have some. */
	virtq_disable_notify(q);
	net_watch(n, true);
	return true;
}

/* Reads the next frame into rx_buf: 1 (a frame, or one dropped: go on),
 * 0 (nothing to read), -1 (the backend is gone). */
static int net_rx_read(struct virtio_net *n)
{
	enum net_drop why;
	ssize_t r;

	do {
		r = read(n->tap.fd, n->rx_buf, NET_RX_BUF_SIZE);
	} while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r <= 0) {
		int err = r < 0 ? errno : 0;

		count(&n->stats.drops[NET_DROP_RX_ERROR], 1);
		/* A tap never reads 0 bytes; the other end of a test's
		 * socket or pipe closed. */
		if (!r || fatal_errno(err)) {
			net_backend_dead(n, err);
			return -1;
		}
		return 1;
	}
	why = net_rx_check(n->rx_buf, (uint32_t)r, n->features);
	if (why != NET_DROP_NONE) {
		count(&n->stats.drops[why], 1);
		return 1;
	}
	n->rx.frame = n->rx_buf;
	n->rx.len = (uint32_t)r;
	n->rx.off = 0;
	n->rx.nr = 0;
	n->rx_charged = false;
	return 1;
}

/* Moves frames from the tap into the receive queue, NET_BATCH at most. */
static void net_rx(struct virtio_net *n)
{
	bool mrg = n->features & BIT(VIRTIO_NET_F_MRG_RXBUF);
	unsigned budget = NET_BATCH, frames = 0;

	n->rx_more = false;
	if (!n->active || !n->rxq || n->dead) {
		net_watch(n, false);
		return;
	}
	net_rate_update(n);
	for (;;) {
		if (!n->rx.len) {
			int r;

			if (frames == NET_BATCH) {
				n->rx_more = true;
				break;
			}
			/* A frame read needs a buffer to go to: do not
			 * take one from the tap without. */
			if (!net_rx_buffers(n))
				break;
			r = net_rx_read(n);
			if (r <= 0)
				break;
			frames++;
			continue;
		}
		/* The limiter is asked once per frame, before any of it
		 * goes to the ring; a frame it holds keeps the tap off, so
		 * the tap's queue absorbs what follows. */
		if (!n->rx_charged) {
			if (!net_limit_pass(n, &n->rx_lim,
					    n->rx.len - n->hdr_size)) {
				net_watch(n, false);
				break;
			}
			n->rx_charged = true;
		}
		switch (net_rx_place(&n->rx, n->rxq, n->hdr_size, mrg, &budget,
				     &n->stats)) {
		case NET_RX_DONE:
			continue;
		case NET_RX_WAIT:
			if (net_rx_buffers(n))
				continue;
			break;
		case NET_RX_BUSY:
			n->rx_more = true;
			break;
		case NET_RX_BROKEN:
			virtio_dev_needs_reset(n->vd);
			break;
		}
		break;
	}
	if (n->rx_more)
		net_kick(n);
	if (n->rx.pushed) {
		n->rx.pushed = false;
		virtio_dev_notify(n->vd, NET_RXQ);
	}
}

static void net_queue_notify(struct virtio_dev *vd, unsigned qi)
{
	struct virtio_net *n = virtio_dev_priv(vd);

	if (!n->active)
		return;
	if (qi == NET_TXQ)
		net_tx(n);
	else if (qi == NET_RXQ)
		net_rx(n); /* buffers: the tap goes on again */
}

/* The tap's fd is readable, or has an error: epoll reports errors (a
 * tap deleted under us) also for an fd turned off, and would go on doing
 * so at every wait.  Called while off, find out which, and stop it. */
static void net_tap_ready(struct virtio_dev *vd, int fd)
{
	struct virtio_net *n = virtio_dev_priv(vd);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (n->watching || n->dead) {
		net_rx(n);
		return;
	}
	if (poll(&p, 1, 0) == 1 &&
	    (p.revents & (POLLERR | POLLHUP | POLLNVAL))) {
		ssize_t r = read(fd, n->rx_buf, NET_RX_BUF_SIZE);

		count(&n->stats.drops[NET_DROP_RX_ERROR], 1);
		net_backend_dead(n, r < 0 ? errno : 0);
	}
}

/* The kick eventfd: a round stopped at NET_BATCH. */
static void net_event(struct virtio_dev *vd, int fd)
{
	struct virtio_net *n = virtio_dev_priv(vd);
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new */
	}
	if (!n->active)
		return;
	if (n->tx_more)
		net_tx(n);
	if (n->rx_more)
		net_rx(n);
}

/* The limiters' timer: a held frame may go, or a new limit is there. */
static void net_timer(struct virtio_dev *vd, int fd)
{
	struct virtio_net *n = virtio_dev_priv(vd);
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: spurious */
	}
	net_rate_update(n);
	if (!n->active)
		return;
	if (n->tx_lim.held)
		net_tx(n);
	if (n->rx_lim.held)
		net_rx(n);
}

static int net_init(struct virtio_dev *vd)
{
	struct virtio_net *n = virtio_dev_priv(vd);
	int ret;

	n->vd = vd;
	ret = virtio_dev_add_fd(vd, n->tap.fd, net_tap_ready);
	if (!ret)
		ret = virtio_dev_add_fd(vd, n->kick_fd, net_event);
	if (!ret)
		ret = virtio_dev_add_fd(vd, n->timer_fd, net_timer);
	return ret;
}

/* The tap's offloads for what the guest takes: TSO only with checksums,
 * as for the tap itself. */
static unsigned net_offload(uint64_t features)
{
	unsigned o = 0;

	if (!(features & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	o = TAP_OFFLOAD_CSUM;
	if (features & BIT(VIRTIO_NET_F_GUEST_TSO4))
		o |= TAP_OFFLOAD_TSO4;
	if (features & BIT(VIRTIO_NET_F_GUEST_TSO6))
		o |= TAP_OFFLOAD_TSO6;
	return o;
}

static int net_activate(struct virtio_dev *vd, uint64_t features)
{
	struct virtio_net *n = virtio_dev_priv(vd);
	int ret;

	/* The transport resets between two activations; if it did not, no
	 * chain of the old rings may be pushed. */
	net_rx_clear(&n->rx);
	n->tx_lim.held = n->rx_lim.held = false;
	n->vd = vd;
	n->features = features;
	n->hdr_size = net_hdr_size(features);
	n->tx_more = n->rx_more = false;
	if (n->is_tap && !n->dead) {
		ret = tap_set_vnet_hdr_size(&n->tap, (int)n->hdr_size);
		if (!ret)
			ret = tap_set_offload(&n->tap, net_offload(features));
		if (ret)
			return ret;
	}
	n->rxq = virtio_dev_queue(vd, NET_RXQ);
	n->txq = virtio_dev_queue(vd, NET_TXQ);
	n->active = true;
	return 0;
}

static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *n = virtio_dev_priv(vd);
	uint64_t v;

	/* Every tap call completed inside its callback: nothing in flight.
	 * The frame being received and the chains held were the old
	 * ring's. */
	net_rx_clear(&n->rx);
	n->rx.pushed = false;
	n->active = false;
	n->rxq = n->txq = NULL;
	n->features = 0;
	n->tx_more = n->rx_more = false;
	/* A held frame: the transmit chain was the old ring's; a received
	 * one is dropped with the rest of that ring's state. */
	n->tx_lim.held = n->rx_lim.held = false;
	net_timer_set(n, 0);
	if (read(n->kick_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: not kicked */
	}
	/* Until the next driver posts buffers, frames wait in the tap. */
	if (n->vd == vd)
		net_watch(n, false);
	/* No GSO frames queued for a driver that may not take them. */
	if (n->is_tap && !n->dead)
		tap_set_offload(&n->tap, 0);
}

void virtio_net_config_read(const struct virtio_net *n, uint32_t off,
			    void *data, uint32_t len)
{
	if (off > VIRTIO_NET_CONFIG_SIZE ||
	    len > VIRTIO_NET_CONFIG_SIZE - off) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)&n->cfg + off, len);
}

static void net_config_read(struct virtio_dev *vd, uint32_t off, void *data,
			    uint32_t len)
{
	virtio_net_config_read(virtio_dev_priv(vd), off, data, len);
}

static uint64_t load(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static void net_print_stats(struct virtio_dev *vd, FILE *f)
{
	struct virtio_net *n = virtio_dev_priv(vd);
	const struct net_stats *s = &n->stats;
	const uint64_t *d = s->drops;
	char mac[18];

	net_mac_format(n->cfg.mac, mac);
	fprintf(f,
		"  tap %s, mac %s, mtu %u: tx %" PRIu64 " frames (%" PRIu64
		" bytes), rx %" PRIu64 " frames (%" PRIu64 " bytes), %" PRIu64
		" waits for receive buffers\n",
		n->tap.name, mac, n->mtu, load(&s->tx_frames),
		load(&s->tx_bytes), load(&s->rx_frames), load(&s->rx_bytes),
		load(&s->rx_waits));
	fprintf(f,
		"  dropped: tx %" PRIu64 " malformed, %" PRIu64
		" empty, %" PRIu64 " bad header, %" PRIu64
		" too short, %" PRIu64 " too long, %" PRIu64
		" tap busy, %" PRIu64 " tap error; rx %" PRIu64
		" malformed, %" PRIu64 " too long, %" PRIu64
		" refused, %" PRIu64 " read error\n",
		load(&d[NET_DROP_TX_CHAIN]), load(&d[NET_DROP_TX_EMPTY]),
		load(&d[NET_DROP_TX_HEADER]), load(&d[NET_DROP_TX_SHORT]),
		load(&d[NET_DROP_TX_LONG]), load(&d[NET_DROP_TX_BUSY]),
		load(&d[NET_DROP_TX_ERROR]), load(&d[NET_DROP_RX_CHAIN]),
		load(&d[NET_DROP_RX_LONG]), load(&d[NET_DROP_RX_BAD]),
		load(&d[NET_DROP_RX_ERROR]));
	if (__atomic_load_n(&n->limited, __ATOMIC_RELAXED))
		fprintf(f,
			"  rate limiters: tx %" PRIu64
			" frames waited, %.3f s in all; rx %" PRIu64
			" frames waited, %.3f s in all\n",
			load(&n->tx_lim.waits),
			(double)load(&n->tx_lim.wait_ns) / 1e9,
			load(&n->rx_lim.waits),
			(double)load(&n->rx_lim.wait_ns) / 1e9);
}

static unsigned net_read_metrics(struct virtio_dev *vd, struct virtio_metric *m)
{
	struct virtio_net *n = virtio_dev_priv(vd);
	const struct net_stats *s = &n->stats;
	const uint64_t *d = s->drops;
	unsigned i = 0;

	m[i++] = (struct virtio_metric){"rx_bytes_count", load(&s->rx_bytes),
					false};
	m[i++] = (struct virtio_metric){"rx_packets_count", load(&s->rx_frames),
					false};
	m[i++] = (struct virtio_metric){"tx_bytes_count", load(&s->tx_bytes),
					false};
	m[i++] = (struct virtio_metric){"tx_packets_count", load(&s->tx_frames),
					false};
	m[i++] = (struct virtio_metric){"no_rx_avail_buffer",
					load(&s->rx_waits), false};
	m[i++] = (struct virtio_metric){"tx_malformed_frames",
					load(&d[NET_DROP_TX_CHAIN]) +
						load(&d[NET_DROP_TX_EMPTY]) +
						load(&d[NET_DROP_TX_HEADER]) +
						load(&d[NET_DROP_TX_SHORT]) +
						load(&d[NET_DROP_TX_LONG]),
					false};
	m[i++] = (struct virtio_metric){"tap_write_fails",
					load(&d[NET_DROP_TX_BUSY]) +
						load(&d[NET_DROP_TX_ERROR]),
					false};
	m[i++] = (struct virtio_metric){"tap_read_fails",
					load(&d[NET_DROP_RX_ERROR]), false};
	m[i++] = (struct virtio_metric){"rx_fails",
					load(&d[NET_DROP_RX_CHAIN]) +
						load(&d[NET_DROP_RX_LONG]) +
						load(&d[NET_DROP_RX_BAD]),
					false};
	/* Frames that waited for a rate limiter, each way. */
	m[i++] = (struct virtio_metric){"rx_rate_limiter_throttled",
					load(&n->rx_lim.waits), false};
	m[i++] = (struct virtio_metric){"tx_rate_limiter_throttled",
					load(&n->tx_lim.waits), false};
	return i;
}

const struct virtio_device_ops virtio_net_ops = {
	.name = "virtio-net",
	.init = net_init,
	.device_id = VIRTIO_ID_NET,
	.features = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
		    BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_MAC) |
		    BIT(VIRTIO_NET_F_GUEST_TSO4) |
		    BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_HOST_TSO4) |
		    BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
		    BIT(VIRTIO_NET_F_STATUS),
	.nr_queues = 2,
	.config_size = VIRTIO_NET_CONFIG_SIZE,
	.config_read = net_config_read,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.print_stats = net_print_stats,
	.read_metrics = net_read_metrics,
};

/* Takes @t (open) and makes the device around it; closes it on failure. */
static int net_create(struct virtio_net **out, const struct net_options *o,
		      struct tap *t, bool is_tap, unsigned mtu)
{
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (n)
		n->rx_buf = malloc(NET_RX_BUF_SIZE);
	if (!n || !n->rx_buf) {
		if (n)
			free(n);
		tap_close(t);
		return err_set(-ENOMEM, "out of memory");
	}
	n->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* Always, limited or not: a PATCH may set a limit later. */
	n->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (n->kick_fd < 0 || n->timer_fd < 0) {
		int ret = err_set(-errno, "eventfd: %s", strerror(errno));

		if (n->kick_fd >= 0)
			close(n->kick_fd);
		if (n->timer_fd >= 0)
			close(n->timer_fd);
		tap_close(t);
		free(n->rx_buf);
		free(n);
		return ret;
	}
	pthread_mutex_init(&n->rate_lock, NULL);
	n->rx_new = o->rx_rate;
	n->tx_new = o->tx_rate;
	throttle_init(&n->rx_lim.thr, &o->rx_rate, throttle_now_ns());
	throttle_init(&n->tx_lim.thr, &o->tx_rate, throttle_now_ns());
	n->limited = throttle_config_on(&o->rx_rate) ||
		     throttle_config_on(&o->tx_rate);
	n->tap = *t;
	n->is_tap = is_tap;
	n->mtu = mtu;
	/* Until the transport adds the fd, epoll will watch it. */
	n->watching = true;
	memcpy(n->cfg.mac, o->mac, 6);
	n->cfg.status = VIRTIO_NET_S_LINK_UP;
	n->cfg.max_virtqueue_pairs = 1;
	n->cfg.mtu = (uint16_t)mtu;
	/* One copy per interface, as blk's: what one offers may come to
	 * differ from another (a tap without offloads). */
	n->ops = virtio_net_ops;
	*out = n;
	return 0;
}

int virtio_net_create(struct virtio_net **out, const struct net_options *o)
{
	struct tap t;
	int ret = tap_open(&t, o->tap);

	if (ret)
		return ret;
	if (o->mtu_set) {
		ret = tap_check_mtu(&t, o->mtu);
		if (ret) {
			tap_close(&t);
			return ret;
		}
	}
	if (t.mtu < NET_MTU_MIN || t.mtu > NET_MTU_MAX) {
		tap_close(&t);
		return err_set(-EINVAL,
			       "tap %s has MTU %u: virtio-net takes %d to %d",
			       o->tap, t.mtu, NET_MTU_MIN, NET_MTU_MAX);
	}
	return net_create(out, o, &t, true, t.mtu);
}

int virtio_net_create_fd(struct virtio_net **out, const struct net_options *o,
			 int fd)
{
	struct tap t = {.fd = fd};
	int fl = fcntl(fd, F_GETFL);

	snprintf(t.name, sizeof(t.name), "%s", o->tap);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int ret = err_set(-errno, "fd %d: %s", fd, strerror(errno));

		tap_close(&t);
		return ret;
	}
	t.mtu = o->mtu_set ? o->mtu : NET_MTU_DEFAULT;
	return net_create(out, o, &t, false, t.mtu);
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	tap_close(&n->tap);
	if (n->kick_fd >= 0)
		close(n->kick_fd);
	close(n->timer_fd);
	pthread_mutex_destroy(&n->rate_lock);
	free(n->rx_buf);
	free(n);
}

void virtio_net_set_rate(struct virtio_net *n, const struct throttle_config *rx,
			 const struct throttle_config *tx)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 1}};

	pthread_mutex_lock(&n->rate_lock);
	n->rx_new = *rx;
	n->tx_new = *tx;
	__atomic_add_fetch(&n->rate_gen, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&n->rate_lock);
	__atomic_store_n(&n->limited, true, __ATOMIC_RELAXED);
	/* Wakes the I/O thread, which takes the new limits. */
	timerfd_settime(n->timer_fd, 0, &its, NULL);
}

const struct virtio_device_ops *virtio_net_get_ops(const struct virtio_net *n)
{
	return &n->ops;
}

const struct net_stats *virtio_net_stats(const struct virtio_net *n)
{
	return &n->stats;
}
