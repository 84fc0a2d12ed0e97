/* Unit tests for virtio-net: --net parsing and checking, the default MAC,
 * the configuration space, and the device end to end through a fake
 * transport (this file defines the virtio_dev_*() calls the device makes,
 * so mmio.c is not linked in) with one end of a socketpair of datagrams in
 * place of the tap: each datagram is a virtio-net header and a frame, as
 * on a tap.  Then, where /dev/net/tun exists and this process may make a
 * network namespace of its own, the same device on a real tap in it:
 * tap_open's errors, and an ARP request answered by the kernel. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "virtio/net.h"
#include "fake_virtio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

/* Guest physical layout of the fake driver. */
#define RX_RING 0x1000 /* desc, +0x2000 avail, +0x3000 used */
#define TX_RING 0x5000
#define RX_BUF 0x100000 /* receive buffers */
#define TX_BUF 0x200000 /* transmit buffers */
#define RAM (4 * MiB)

#define HS VIRTIO_NET_HDR_SIZE
#define F(n) (1ull << (n))
#define V1 F(VIRTIO_F_VERSION_1)
#define MRG F(VIRTIO_NET_F_MRG_RXBUF)

/* ---- the fake driver ---- */

struct dq {
	struct virtq q;
	uint64_t desc, avail, used;
	uint16_t avail_idx, next_desc, used_seen;
};

struct fx {
	struct vm_mem m;
	struct dq rx, tx;
	struct virtio_dev vd;
	struct virtio_net *n;
	const struct virtio_device_ops *ops;
	int peer; /* the host's end of the "tap" */
	uint8_t frame[128 * KiB];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || mem_init(&f->m, RAM))
		return -1;
	f->peer = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->n && f->vd.priv)
		f->ops->reset(&f->vd);
	virtio_net_destroy(f->n);
	if (f->peer >= 0)
		close(f->peer);
	mem_destroy(&f->m);
	free(f);
	return 0;
}

static void *gp(struct fx *f, uint64_t gpa, uint64_t len)
{
	void *p = mem_ptr(&f->m, gpa, len);

	assert_non_null(p);
	return p;
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	memcpy(gp(f, gpa, 2), &v, 2);
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, gp(f, gpa, 2), 2);
	return v;
}

static uint32_t get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, gp(f, gpa, 4), 4);
	return v;
}

static void dq_init(struct fx *f, struct dq *d, uint64_t base, uint16_t size)
{
	memset(d, 0, sizeof(*d));
	d->desc = base;
	d->avail = base + 0x2000;
	d->used = base + 0x3000;
	memset(gp(f, base, 0x4000), 0, 0x4000);
	assert_int_equal(virtq_init(&d->q, &f->m, size, d->desc, d->avail,
				    d->used, false, false),
			 0);
}

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

#define R(gpa, len)             \
	{                       \
		gpa, len, false \
	}
#define W(gpa, len)            \
	{                      \
		gpa, len, true \
	}

/* Makes the chain @bufs available on @d; returns its head. */
static uint16_t dq_chain(struct fx *f, struct dq *d, const struct buf *bufs,
			 unsigned n)
{
	uint16_t head = d->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % d->q.size);
		uint16_t next = (uint16_t)((idx + 1) % d->q.size);
		uint16_t flags = (bufs[i].w ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		uint8_t *e = gp(f, d->desc + 16ull * idx, 16);

		memcpy(e, &bufs[i].gpa, 8);
		memcpy(e + 8, &bufs[i].len, 4);
		memcpy(e + 12, &flags, 2);
		memcpy(e + 14, &next, 2);
	}
	d->next_desc = (uint16_t)((head + n) % d->q.size);
	put16(f, d->avail + 4 + 2 * (d->avail_idx % d->q.size), head);
	d->avail_idx++;
	put16(f, d->avail + 2, d->avail_idx);
	return head;
}

#define CHAIN(f, d, ...)                                     \
	dq_chain(f, d, (const struct buf[]){__VA_ARGS__},    \
		 sizeof((const struct buf[]){__VA_ARGS__}) / \
			 sizeof(struct buf))

static uint16_t used_idx(struct fx *f, struct dq *d)
{
	return get16(f, d->used + 2);
}

/* The next used element of @d: its head and length. */
static void expect_used(struct fx *f, struct dq *d, uint16_t head, uint32_t len)
{
	uint64_t e = d->used + 4 + 8ull * (d->used_seen % d->q.size);

	assert_true(used_idx(f, d) != d->used_seen);
	assert_int_equal(get32(f, e), head);
	assert_int_equal(get32(f, e + 4), len);
	d->used_seen++;
}

static void no_more_used(struct fx *f, struct dq *d)
{
	assert_int_equal(used_idx(f, d), d->used_seen);
}

/* Starts a device on @opts with a socketpair of @type for its tap, the
 * queues at @rxsize/@txsize entries, @features negotiated. */
static void start_type(struct fx *f, const char *opts, int type,
		       uint16_t rxsize, uint16_t txsize, uint64_t features)
{
	struct net_options o;
	int sv[2], big = 4 * MiB;

	assert_int_equal(net_options_parse(opts, &o), 0);
	assert_int_equal(socketpair(AF_UNIX, type, 0, sv), 0);
	for (int i = 0; i < 2; i++) {
		/* Room for 64 KiB frames and a few hundred small ones. */
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &big,
			       sizeof(big)) < 0)
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &big,
				   sizeof(big));
	}
	if (virtio_net_create_fd(&f->n, &o, sv[0]))
		fail_msg("%s", err_msg());
	f->peer = sv[1];
	f->ops = virtio_net_get_ops(f->n);
	f->vd.priv = f->n;
	assert_int_equal(f->ops->init(&f->vd), 0);
	/* The tap, the kick eventfd, the rate limiters' timer. */
	assert_int_equal(f->vd.nr_fds, 3);
	assert_int_equal(f->vd.fd[0], sv[0]);
	dq_init(f, &f->rx, RX_RING, rxsize);
	dq_init(f, &f->tx, TX_RING, txsize);
	f->vd.q[NET_RXQ] = &f->rx.q;
	f->vd.q[NET_TXQ] = &f->tx.q;
	assert_int_equal(f->ops->activate(&f->vd, features | V1), 0);
}

static void start(struct fx *f, const char *opts, uint64_t features)
{
	start_type(f, opts, SOCK_DGRAM, 64, 64, features);
}

static const struct net_stats *stats(struct fx *f)
{
	return virtio_net_stats(f->n);
}

static uint64_t drops(struct fx *f, enum net_drop why)
{
	return stats(f)->drops[why];
}

/* The tap's fd became readable: what the I/O thread does. */
static void tap_ready(struct fx *f)
{
	f->vd.ready[0](&f->vd, f->vd.fd[0]);
}

/* The kick eventfd: a round stopped at NET_BATCH. */
static bool kicked(struct fx *f)
{
	struct pollfd p = {.fd = f->vd.fd[1], .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

static void kick_ready(struct fx *f)
{
	f->vd.ready[1](&f->vd, f->vd.fd[1]);
}

/* An Ethernet frame of @len bytes (from our MAC to broadcast, IPv4, a
 * pattern after the header) at @p. */
static void eth_frame(uint8_t *p, uint32_t len, uint8_t seed)
{
	static const uint8_t hdr[14] = {0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0x02, 0,	  0,	0,
					0,    1,    0x08, 0x00};

	memcpy(p, hdr, len < 14 ? len : 14);
	for (uint32_t i = 14; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

/* A virtio-net header at @p. */
static void net_hdr(uint8_t *p, uint8_t flags, uint8_t gso, uint16_t hdr_len,
		    uint16_t gso_size, uint16_t csum_start, uint16_t csum_off)
{
	memset(p, 0, HS);
	p[0] = flags;
	p[1] = gso;
	memcpy(p + 2, &hdr_len, 2);
	memcpy(p + 4, &gso_size, 2);
	memcpy(p + 6, &csum_start, 2);
	memcpy(p + 8, &csum_off, 2);
}

/* Puts a transmit frame into guest memory at @gpa: header, then @len
 * bytes of frame; returns the total. */
static uint32_t tx_put(struct fx *f, uint64_t gpa, uint32_t len, uint8_t seed)
{
	uint8_t *p = gp(f, gpa, HS + len);

	net_hdr(p, 0, 0, 0, 0, 0, 0);
	eth_frame(p + HS, len, seed);
	return HS + len;
}

/* The next datagram the device sent: its length, or -1 if none. */
static ssize_t peer_recv(struct fx *f, uint8_t *buf, size_t size)
{
	ssize_t r = recv(f->peer, buf, size, MSG_DONTWAIT);

	return r < 0 ? -1 : r;
}

static void peer_send(struct fx *f, const void *buf, size_t len)
{
	assert_int_equal(send(f->peer, buf, len, 0), (ssize_t)len);
}

/* Sends a frame of @len bytes with a plain header to the device. */
static void peer_frame(struct fx *f, uint32_t len, uint8_t seed, uint8_t flags,
		       uint8_t gso)
{
	net_hdr(f->frame, flags, gso, 0, gso ? 1448 : 0, 0, 0);
	eth_frame(f->frame + HS, len, seed);
	peer_send(f, f->frame, HS + len);
}

/* ---- --net ---- */

static void test_options_parse(void **state)
{
	struct net_options o;
	uint8_t mac[6];

	(void)state;
	assert_int_equal(net_options_parse("tap=tap0", &o), 0);
	assert_string_equal(o.tap, "tap0");
	assert_false(o.mac_set);
	assert_false(o.mtu_set);
	net_default_mac("tap0", mac);
	assert_memory_equal(o.mac, mac, 6);

	assert_int_equal(
		net_options_parse("tap=mvtest0,mac=02:4D:56:0a:bC:ff,mtu=9000",
				  &o),
		0);
	assert_string_equal(o.tap, "mvtest0");
	assert_true(o.mac_set);
	assert_memory_equal(o.mac,
			    ((uint8_t[]){2, 0x4d, 0x56, 0x0a, 0xbc, 0xff}), 6);
	assert_true(o.mtu_set);
	assert_int_equal(o.mtu, 9000);

	/* Any order; hex MTU; the limits; 15-byte names. */
	assert_int_equal(net_options_parse("mtu=0x5dc,tap=a", &o), 0);
	assert_int_equal(o.mtu, 1500);
	assert_int_equal(net_options_parse("tap=a,mtu=68", &o), 0);
	assert_int_equal(net_options_parse("tap=a,mtu=65535", &o), 0);
	assert_int_equal(net_options_parse("tap=0123456789abcde", &o), 0);
	assert_int_equal(net_options_parse("mac=fe:ff:ff:ff:ff:ff,tap=x", &o),
			 0);
}

/* @arg fails with -EINVAL and a message containing @want. */
static void refused(const char *arg, const char *want)
{
	struct net_options o;

	err_clear();
	assert_int_equal(net_options_parse(arg, &o), -EINVAL);
	if (!strstr(err_msg(), want))
		fail_msg("--net '%s': message '%s' lacks '%s'", arg, err_msg(),
			 want);
	assert_null(strchr(err_msg(), '\n'));
}

static void test_options_errors(void **state)
{
	(void)state;
	refused("", "expected tap=NAME[,mac=MAC][,mtu=N]");
	refused("mac=02:00:00:00:00:01", "no tap=NAME");
	refused("mtu=1500", "no tap=NAME");
	refused("tap", "'tap' needs a value: write tap=NAME");
	refused("tap=", "'tap' needs a value");
	refused("tap=a,mac", "'mac' needs a value: write mac=MAC");
	refused("tap=a,mtu=", "'mtu' needs a value: write mtu=N");
	refused("tap=0123456789abcdef", "the name is 16 bytes");
	refused("tap=a/b", "tap=a/b: not an interface name");
	refused("tap=a:1", "not an interface name");
	refused("tap=a b", "not an interface name");
	refused("tap=..", "not an interface name");
	refused("tap=a,foo=1",
		"unknown key 'foo': expected tap=, mac=, mtu=, rx-bw=, rx-iops=, tx-bw= or tx-iops=");
	refused("tap=a,rx-bw=1", "--net: rx-bw=1: expected SIZE/MS");
	refused("tap=a,tx-iops=0/10", "--net: tx-iops=0/10: expected");
	refused("tap=a,tx-bw", "'tx-bw' needs a value: write tx-bw=BYTES/MS");
	refused("tap=a,rx-iops=1/1,rx-iops=1/1", "'rx-iops' given twice");
	refused("tap=a,ro", "unknown key 'ro'");
	refused("tap=a,tap=b", "'tap' given twice");
	refused("tap=a,mtu=1500,mtu=1500", "'mtu' given twice");
	refused("tap=a,", "an empty item");
	refused("tap=a,,mtu=1500", "an empty item");
	refused("tap=a,mac=02:00:00:00:00", "mac=02:00:00:00:00: expected six");
	refused("tap=a,mac=02:00:00:00:00:0g", "expected six hex bytes");
	refused("tap=a,mac=02-00-00-00-00-01", "expected six hex bytes");
	refused("tap=a,mac=02:00:00:00:00:001", "expected six hex bytes");
	refused("tap=a,mac=01:00:5e:00:00:01", "is a multicast address");
	refused("tap=a,mac=ff:ff:ff:ff:ff:ff", "multicast");
	refused("tap=a,mac=00:00:00:00:00:00", "all-zero");
	refused("tap=a,mtu=67", "mtu=67: expected 68 to 65535");
	refused("tap=a,mtu=65536", "mtu=65536: expected 68 to 65535");
	refused("tap=a,mtu=0", "expected 68 to 65535");
	refused("tap=a,mtu=-1", "expected 68 to 65535");
	refused("tap=a,mtu=1500x", "expected 68 to 65535");
	refused("tap=a,mtu=0x", "expected 68 to 65535");
	refused("tap=a,mtu=99999999999999999999", "expected 68 to 65535");
}

static void test_options_check(void **state)
{
	struct net_options o[3];

	(void)state;
	assert_int_equal(net_options_parse("tap=a", &o[0]), 0);
	assert_int_equal(net_options_parse("tap=b", &o[1]), 0);
	assert_int_equal(
		net_options_parse("tap=c,mac=02:00:00:00:00:01", &o[2]), 0);
	assert_int_equal(net_options_check(o, 3), 0);
	assert_int_equal(net_options_check(o, 0), 0);

	/* The same tap twice. */
	assert_int_equal(
		net_options_parse("tap=a,mac=02:00:00:00:00:02", &o[1]), 0);
	assert_int_equal(net_options_check(o, 2), -EINVAL);
	assert_string_equal(
		err_msg(),
		"--net: tap=a is given twice: each interface needs a tap of its own");

	/* Two MACs given alike. */
	assert_int_equal(
		net_options_parse("tap=b,mac=02:00:00:00:00:01", &o[1]), 0);
	assert_int_equal(net_options_check(o, 3), -EINVAL);
	assert_string_equal(
		err_msg(),
		"--net: tap=b and tap=c would both have MAC 02:00:00:00:00:01: give one of them another mac=");

	/* A MAC given equal to another tap's default. */
	assert_int_equal(net_options_parse("tap=b", &o[1]), 0);
	{
		char spec[64], mac[18];

		net_mac_format(o[0].mac, mac);
		snprintf(spec, sizeof(spec), "tap=c,mac=%s", mac);
		assert_int_equal(net_options_parse(spec, &o[2]), 0);
		assert_int_equal(net_options_check(o, 3), -EINVAL);
		assert_non_null(
			strstr(err_msg(), "tap=a and tap=c would both"));
	}
}

static void test_default_mac(void **state)
{
	uint8_t a[6], b[6], c[6];
	char s[18];

	(void)state;
	net_default_mac("mvtest0", a);
	net_default_mac("mvtest0", b);
	net_default_mac("mvtest1", c);
	/* Stable: the same name, the same address, on every host and
	 * build (a guest's DHCP lease or neighbour entries survive). */
	assert_memory_equal(a, b, 6);
	net_mac_format(a, s);
	assert_string_equal(s, "02:ce:7b:e9:41:77");
	/* Locally administered, unicast; another name, another address. */
	assert_int_equal(a[0], 0x02);
	assert_int_equal(c[0], 0x02);
	assert_memory_not_equal(a, c, 6);
	net_default_mac("", c);
	assert_int_equal(c[0], 0x02);
}

/* ---- the configuration space ---- */

static void test_config(void **state)
{
	struct fx *f = *state;
	uint8_t cfg[VIRTIO_NET_CONFIG_SIZE];
	uint16_t v;

	start(f, "tap=t0,mac=02:11:22:33:44:55,mtu=9000", 0);
	assert_string_equal(f->ops->name, "virtio-net");
	assert_int_equal(f->ops->device_id, VIRTIO_ID_NET);
	assert_int_equal(f->ops->nr_queues, 2);
	assert_int_equal(f->ops->config_size, 12);
	assert_int_equal(
		f->ops->features,
		F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
			F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_MAC) |
			F(VIRTIO_NET_F_GUEST_TSO4) |
			F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_HOST_TSO4) |
			F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_MRG_RXBUF) |
			F(VIRTIO_NET_F_STATUS));
	assert_int_equal(f->ops->features, virtio_net_ops.features);

	virtio_net_config_read(f->n, 0, cfg, sizeof(cfg));
	assert_memory_equal(cfg, ((uint8_t[]){2, 0x11, 0x22, 0x33, 0x44, 0x55}),
			    6);
	memcpy(&v, cfg + 6, 2);
	assert_int_equal(v, VIRTIO_NET_S_LINK_UP);
	memcpy(&v, cfg + 8, 2);
	assert_int_equal(v, 1); /* max_virtqueue_pairs */
	memcpy(&v, cfg + 10, 2);
	assert_int_equal(v, 9000);
	/* Byte by byte, as Linux reads the MAC. */
	for (uint32_t i = 0; i < sizeof(cfg); i++) {
		uint8_t b;

		virtio_net_config_read(f->n, i, &b, 1);
		assert_int_equal(b, cfg[i]);
	}
	/* Beyond the end: zeroes. */
	memset(cfg, 0xff, 4);
	virtio_net_config_read(f->n, 10, cfg, 4);
	assert_memory_equal(cfg, ((uint8_t[]){0, 0, 0, 0}), 4);
}

static void test_config_default(void **state)
{
	struct fx *f = *state;
	uint8_t mac[6], cfg[VIRTIO_NET_CONFIG_SIZE];
	uint16_t mtu;

	start(f, "tap=mvtest0", 0);
	net_default_mac("mvtest0", mac);
	virtio_net_config_read(f->n, 0, cfg, sizeof(cfg));
	assert_memory_equal(cfg, mac, 6);
	memcpy(&mtu, cfg + 10, 2);
	assert_int_equal(mtu, NET_MTU_DEFAULT);
}

/* ---- transmit ---- */

static void test_tx(void **state)
{
	struct fx *f = *state;
	uint8_t got[2048];
	uint16_t h;
	uint32_t total;

	start(f, "tap=t0", F(VIRTIO_NET_F_CSUM));
	/* Header and frame in one buffer. */
	total = tx_put(f, TX_BUF, 60, 1);
	h = CHAIN(f, &f->tx, R(TX_BUF, total));
	f->ops->queue_notify(&f->vd, NET_TXQ);
	expect_used(f, &f->tx, h, 0);
	assert_int_equal(peer_recv(f, got, sizeof(got)), HS + 60);
	assert_memory_equal(got, gp(f, TX_BUF, total), total);
	assert_int_equal(f->vd.notified[NET_TXQ], 1);

	/* The header split in three, the frame in four pieces, an empty
	 * buffer among them; a checksum request, and flags we ignore. */
	total = tx_put(f, TX_BUF, 1514, 2);
	net_hdr(gp(f, TX_BUF, HS), 0xff, 0, 54, 0, 34, 16);
	*(uint16_t *)gp(f, TX_BUF + 10, 2) = 0xabcd; /* num_buffers */
	h = CHAIN(f, &f->tx, R(TX_BUF, 3), R(TX_BUF + 3, 5),
		  R(TX_BUF + 8, 4 + 100), R(TX_BUF + 112, 0),
		  R(TX_BUF + 112, 1000), R(TX_BUF + 1112, total - 1112));
	f->ops->queue_notify(&f->vd, NET_TXQ);
	expect_used(f, &f->tx, h, 0);
	assert_int_equal(peer_recv(f, got, sizeof(got)), total);
	/* What the tap got: NEEDS_CSUM only, num_buffers 0, the rest as
	 * the guest wrote it. */
	assert_int_equal(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_memory_equal(got + 1, gp(f, TX_BUF + 1, 9), 9);
	assert_int_equal(got[10] | got[11], 0);
	assert_memory_equal(got + HS, gp(f, TX_BUF + HS, 1514), 1514);
	assert_int_equal(stats(f)->tx_frames, 2);
	assert_int_equal(stats(f)->tx_bytes, 60 + 1514);
	for (int i = 1; i < NET_DROP_NR; i++)
		assert_int_equal(drops(f, (enum net_drop)i), 0);
	assert_int_equal(f->vd.needs_reset, 0);
}

/* Sends one chain and expects it dropped for @why (or sent if
 * NET_DROP_NONE), then a good frame after it. */
static void tx_case(struct fx *f, enum net_drop why, const struct buf *bufs,
		    unsigned n)
{
	uint8_t got[80];
	uint64_t before = why ? drops(f, why) : stats(f)->tx_frames;
	uint64_t frames = stats(f)->tx_frames;
	uint16_t h = dq_chain(f, &f->tx, bufs, n), good;
	uint32_t total;

	f->ops->queue_notify(&f->vd, NET_TXQ);
	expect_used(f, &f->tx, h, 0);
	if (why) {
		assert_int_equal(drops(f, why), before + 1);
		assert_int_equal(stats(f)->tx_frames, frames);
		assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
	} else {
		assert_int_equal(stats(f)->tx_frames, frames + 1);
		assert_true(peer_recv(f, got, sizeof(got)) > 0);
	}
	total = tx_put(f, TX_BUF + 0x80000, 60, 9);
	good = CHAIN(f, &f->tx, R(TX_BUF + 0x80000, total));
	f->ops->queue_notify(&f->vd, NET_TXQ);
	expect_used(f, &f->tx, good, 0);
	assert_int_equal(peer_recv(f, got, sizeof(got)), total);
	assert_int_equal(f->vd.needs_reset, 0);
}

#define TX_CASE(f, why, ...)                                \
	tx_case(f, why, (const struct buf[]){__VA_ARGS__},  \
		sizeof((const struct buf[]){__VA_ARGS__}) / \
			sizeof(struct buf))

/* A header at TX_BUF before a 100-byte frame. */
static void tx_hdr(struct fx *f, uint8_t flags, uint8_t gso, uint16_t hdr_len,
		   uint16_t gso_size, uint16_t csum_start, uint16_t csum_off)
{
	tx_put(f, TX_BUF, 100, 3);
	net_hdr(gp(f, TX_BUF, HS), flags, gso, hdr_len, gso_size, csum_start,
		csum_off);
}

static void test_tx_bad(void **state)
{
	struct fx *f = *state;

	start(f, "tap=t0", F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4));
	/* Chains of zero length. */
	TX_CASE(f, NET_DROP_TX_EMPTY, R(TX_BUF, 0));
	TX_CASE(f, NET_DROP_TX_EMPTY, R(TX_BUF, 0), R(TX_BUF, 0));
	/* Writable buffers in a transmit chain. */
	TX_CASE(f, NET_DROP_TX_CHAIN, W(TX_BUF, 100));
	TX_CASE(f, NET_DROP_TX_CHAIN, R(TX_BUF, HS + 60),
		W(TX_BUF + 0x1000, 1));
	/* A header cut short, a frame shorter than an Ethernet header. */
	tx_hdr(f, 0, 0, 0, 0, 0, 0);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, 1));
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS - 1));
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, 5), R(TX_BUF + 5, 6));
	TX_CASE(f, NET_DROP_TX_SHORT, R(TX_BUF, HS));
	TX_CASE(f, NET_DROP_TX_SHORT, R(TX_BUF, HS + 13));
	TX_CASE(f, NET_DROP_NONE, R(TX_BUF, HS + 14));
	/* Unknown or not negotiated GSO types. */
	const uint8_t bad_gso[] = {2,
				   VIRTIO_NET_HDR_GSO_UDP,
				   VIRTIO_NET_HDR_GSO_TCPV6,
				   VIRTIO_NET_HDR_GSO_UDP_L4,
				   6,
				   0x7f,
				   VIRTIO_NET_HDR_GSO_TCPV4 |
					   VIRTIO_NET_HDR_GSO_ECN,
				   VIRTIO_NET_HDR_GSO_ECN,
				   0xff};

	for (unsigned i = 0; i < sizeof(bad_gso); i++) {
		tx_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, bad_gso[i], 54, 50, 34,
		       16);
		TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 100));
	}
	/* TCPV4 is negotiated: with gso_size 0, no. */
	tx_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 50,
	       34, 16);
	TX_CASE(f, NET_DROP_NONE, R(TX_BUF, HS + 100));
	tx_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0,
	       34, 16);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 100));
	/* Fields beyond the frame (100 bytes). */
	tx_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 82, 16);
	TX_CASE(f, NET_DROP_NONE, R(TX_BUF, HS + 100)); /* 82+16+2 = 100 */
	tx_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 83, 16);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 100));
	tx_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0xffff, 0xffff);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 100));
	/* Without NEEDS_CSUM, csum_start and csum_offset do not count. */
	tx_hdr(f, 0, 0, 0, 0, 0xffff, 0xffff);
	TX_CASE(f, NET_DROP_NONE, R(TX_BUF, HS + 100));
	tx_hdr(f, 0, 0, 101, 0, 0, 0);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 100));
	tx_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54,
	       101, 34, 16);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 100));
	/* A malformed chain (readable after writable): the ring layer's. */
	TX_CASE(f, NET_DROP_TX_CHAIN, W(TX_BUF, 10), R(TX_BUF + 10, 100));

	assert_int_equal(drops(f, NET_DROP_TX_EMPTY), 2);
	assert_int_equal(drops(f, NET_DROP_TX_CHAIN), 3);
	assert_int_equal(drops(f, NET_DROP_TX_SHORT), 2);
	assert_int_equal(drops(f, NET_DROP_TX_HEADER), 3 + 9 + 5);
	assert_int_equal(drops(f, NET_DROP_TX_LONG), 0);
}

static void test_tx_csum_not_negotiated(void **state)
{
	struct fx *f = *state;

	start(f, "tap=t0", 0);
	/* NEEDS_CSUM without CSUM; GSO without HOST_TSO. */
	tx_hdr(f, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 100));
	tx_hdr(f, 0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 50, 0, 0);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 100));
	/* DATA_VALID and RSC_INFO from the driver: ignored. */
	tx_hdr(f, VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_RSC_INFO, 0, 0,
	       0, 0, 0);
	TX_CASE(f, NET_DROP_NONE, R(TX_BUF, HS + 100));
}

static void test_tx_limits(void **state)
{
	struct fx *f = *state;

	/* MTU 1500: 1500 + 14 + a VLAN tag. */
	start(f, "tap=t0", F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO6));
	tx_put(f, TX_BUF, 64 * KiB + 64, 1);
	TX_CASE(f, NET_DROP_NONE, R(TX_BUF, HS + 1518));
	TX_CASE(f, NET_DROP_TX_LONG, R(TX_BUF, HS + 1519));
	TX_CASE(f, NET_DROP_TX_LONG, R(TX_BUF, HS + 64 * KiB + 1));
	/* A GSO frame: up to 64 KiB + 18. */
	net_hdr(gp(f, TX_BUF, HS), VIRTIO_NET_HDR_F_NEEDS_CSUM,
		VIRTIO_NET_HDR_GSO_TCPV6, 74, 1440, 54, 16);
	TX_CASE(f, NET_DROP_NONE, R(TX_BUF, HS + 64 * KiB + 18));
	TX_CASE(f, NET_DROP_TX_LONG, R(TX_BUF, HS + 64 * KiB + 19));
	/* Spread over many buffers. */
	{
		struct buf b[64];

		b[0] = (struct buf)R(TX_BUF, HS + 1000);
		for (unsigned i = 1; i < 64; i++)
			b[i] = (struct buf)R(TX_BUF + HS + 1000 * i, 1000);
		tx_case(f, NET_DROP_NONE, b, 64);
	}
	assert_int_equal(drops(f, NET_DROP_TX_LONG), 3);
	teardown(state);
	assert_int_equal(setup(state), 0);
	f = *state;

	/* MTU 9000, no TSO: a GSO header is refused whatever its size. */
	start(f, "tap=t0,mtu=9000", F(VIRTIO_NET_F_CSUM));
	tx_put(f, TX_BUF, 10000, 1);
	TX_CASE(f, NET_DROP_NONE, R(TX_BUF, HS + 9018));
	TX_CASE(f, NET_DROP_TX_LONG, R(TX_BUF, HS + 9019));
	net_hdr(gp(f, TX_BUF, HS), VIRTIO_NET_HDR_F_NEEDS_CSUM,
		VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
	TX_CASE(f, NET_DROP_TX_HEADER, R(TX_BUF, HS + 3000));
}

/* NET_BATCH chains a round; the rest after the kick. */
static void test_tx_batch(void **state)
{
	struct fx *f = *state;
	uint8_t got[128];
	uint32_t total = tx_put(f, TX_BUF, 60, 1);
	unsigned n = 0;

	start_type(f, "tap=t0", SOCK_DGRAM, 64, 256, 0);
	for (unsigned i = 0; i < 256; i++)
		CHAIN(f, &f->tx, R(TX_BUF, total));
	f->ops->queue_notify(&f->vd, NET_TXQ);
	assert_int_equal(used_idx(f, &f->tx), 256);
	assert_true(kicked(f));
	/* More come while the device was away. */
	for (unsigned i = 0; i < 10; i++)
		CHAIN(f, &f->tx, R(TX_BUF, total));
	kick_ready(f);
	assert_false(kicked(f));
	assert_int_equal(used_idx(f, &f->tx), 266);
	while (peer_recv(f, got, sizeof(got)) == total)
		n++;
	assert_int_equal(n, 266);
	assert_int_equal(stats(f)->tx_frames, 266);
	assert_int_equal(f->vd.notified[NET_TXQ], 2);
}

/* A tap that would block: the frame is dropped and counted, the chain
 * goes back, nothing waits. */
static void test_tx_busy(void **state)
{
	struct fx *f = *state;
	uint32_t total;
	int small = 4096;
	uint64_t sent, busy;

	start_type(f, "tap=t0", SOCK_DGRAM, 64, 256, 0);
	assert_int_equal(setsockopt(f->vd.fd[0], SOL_SOCKET, SO_SNDBUFFORCE,
				    &small, sizeof(small)),
			 0);
	total = tx_put(f, TX_BUF, 1000, 1);
	for (unsigned i = 0; i < 200; i++)
		CHAIN(f, &f->tx, R(TX_BUF, total));
	f->ops->queue_notify(&f->vd, NET_TXQ);
	assert_int_equal(used_idx(f, &f->tx), 200);
	sent = stats(f)->tx_frames;
	busy = drops(f, NET_DROP_TX_BUSY);
	assert_true(sent > 0 && busy > 0);
	assert_int_equal(sent + busy, 200);
	assert_int_equal(drops(f, NET_DROP_TX_ERROR), 0);
}

/* ---- receive ---- */

/* Posts @n receive chains of @len bytes each, from RX_BUF + @first * 4 KiB
 * on (4 KiB apart unless @len is larger); returns the first head. */
static uint16_t rx_post(struct fx *f, unsigned first, unsigned n, uint32_t len)
{
	uint64_t step = len > 4 * KiB ? (len + 4095) & ~4095ull : 4 * KiB;
	uint16_t head = 0;

	for (unsigned i = 0; i < n; i++) {
		uint16_t h =
			CHAIN(f, &f->rx, W(RX_BUF + (first + i) * step, len));

		if (!i)
			head = h;
	}
	return head;
}

/* The frame in @gpa (header first): num_buffers, flags, and the frame
 * equal to f->frame's. */
static void expect_frame(struct fx *f, uint64_t gpa, uint32_t len,
			 uint16_t num_buffers, uint8_t flags)
{
	uint8_t *p = gp(f, gpa, HS + len);
	uint16_t nb;

	memcpy(&nb, p + 10, 2);
	assert_int_equal(nb, num_buffers);
	assert_int_equal(p[0], flags);
	assert_memory_equal(p + HS, f->frame + HS, len);
}

/* ---- rate limiters ---- */

static uint64_t now_ms(void)
{
	return throttle_now_ns() / 1000000;
}

/* Waits for the limiters' timer (fd 2) and runs its handler. */
static void timer_ready(struct fx *f)
{
	struct pollfd p = {.fd = f->vd.fd[2], .events = POLLIN};

	assert_int_equal(poll(&p, 1, 5000), 1);
	f->vd.ready[2](&f->vd, f->vd.fd[2]);
}

static bool timer_armed(struct fx *f)
{
	struct itimerspec its;

	assert_int_equal(timerfd_gettime(f->vd.fd[2], &its), 0);
	return its.it_value.tv_sec || its.it_value.tv_nsec;
}

static void test_options_rate(void **state)
{
	struct net_options o;

	(void)state;
	assert_int_equal(net_options_parse("tap=a,rx-bw=1000/10,rx-iops=5/"
					   "100+2,tx-bw=7/1,tx-iops=9/9",
					   &o),
			 0);
	assert_int_equal(o.rx_rate.bw.size, 1000);
	assert_int_equal(o.rx_rate.bw.refill_time_ms, 10);
	assert_int_equal(o.rx_rate.ops.size, 5);
	assert_int_equal(o.rx_rate.ops.one_time_burst, 2);
	assert_int_equal(o.tx_rate.bw.size, 7);
	assert_int_equal(o.tx_rate.ops.refill_time_ms, 9);
	assert_int_equal(net_options_parse("tap=a", &o), 0);
	assert_false(throttle_config_on(&o.rx_rate));
	assert_false(throttle_config_on(&o.tx_rate));
}

/* tx-iops: two frames at once, then one each 50 ms; a held frame is not
 * lost, and a reset drops it and disarms the timer. */
static void test_tx_throttle(void **state)
{
	struct fx *f = *state;
	uint8_t got[256];
	uint16_t h[4];
	uint32_t total = 0;
	uint64_t t0 = now_ms();
	char *text = NULL;
	size_t len;
	FILE *mf;

	start(f, "tap=t0,tx-iops=2/100", 0);
	for (unsigned i = 0; i < 4; i++) {
		total = tx_put(f, TX_BUF + 0x1000 * i, 60, (uint8_t)i);
		h[i] = CHAIN(f, &f->tx, R(TX_BUF + 0x1000 * i, total));
	}
	f->ops->queue_notify(&f->vd, NET_TXQ);
	expect_used(f, &f->tx, h[0], 0);
	expect_used(f, &f->tx, h[1], 0);
	no_more_used(f, &f->tx);
	assert_true(timer_armed(f));
	/* A notification while held changes nothing. */
	f->ops->queue_notify(&f->vd, NET_TXQ);
	no_more_used(f, &f->tx);
	for (unsigned i = 2; i < 4; i++) {
		timer_ready(f);
		expect_used(f, &f->tx, h[i], 0);
	}
	assert_in_range(now_ms() - t0, 95, 1000);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(peer_recv(f, got, sizeof(got)), total);
	assert_int_equal(stats(f)->tx_frames, 4);
	mf = open_memstream(&text, &len);
	f->ops->print_stats(&f->vd, mf);
	fclose(mf);
	assert_non_null(strstr(text, "rate limiters: tx 2 frames waited"));
	assert_non_null(strstr(text, "rx 0 frames waited"));
	free(text);

	/* Held at a reset: dropped, timer off. */
	total = tx_put(f, TX_BUF, 60, 9);
	CHAIN(f, &f->tx, R(TX_BUF, total));
	f->ops->queue_notify(&f->vd, NET_TXQ);
	no_more_used(f, &f->tx);
	assert_true(timer_armed(f));
	f->ops->reset(&f->vd);
	assert_false(timer_armed(f));
	assert_int_equal(stats(f)->tx_frames, 4);
	assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
}

/* rx-bw: a frame the limiter refuses stays read, the tap goes off (its
 * queue keeps the rest), and the timer delivers it; a live update lifts
 * the limit. */
static void test_rx_throttle(void **state)
{
	struct fx *f = *state;
	struct throttle_config off = {0};
	uint16_t h;

	/* 1000 bytes a second, 100 ms buckets of 100 bytes. */
	start(f, "tap=t0,rx-bw=100/100", 0);
	h = rx_post(f, 0, 8, 2048);
	for (uint8_t i = 0; i < 4; i++)
		peer_frame(f, 100, i, 0, 0);
	tap_ready(f);
	expect_used(f, &f->rx, h, HS + 100);
	no_more_used(f, &f->rx);
	assert_false(f->vd.on[0]);
	assert_true(timer_armed(f));
	/* Buffers posted meanwhile: still held. */
	f->ops->queue_notify(&f->vd, NET_RXQ);
	no_more_used(f, &f->rx);
	assert_false(f->vd.on[0]);
	timer_ready(f);
	expect_used(f, &f->rx, h + 1, HS + 100);
	/* The third is read and held; the update lets it and the fourth
	 * through at once. */
	no_more_used(f, &f->rx);
	virtio_net_set_rate(f->n, &off, &off);
	timer_ready(f);
	expect_used(f, &f->rx, h + 2, HS + 100);
	expect_used(f, &f->rx, h + 3, HS + 100);
	assert_true(f->vd.on[0]);
	assert_int_equal(stats(f)->rx_frames, 4);
	assert_int_equal(stats(f)->rx_bytes, 400);
}

static void test_rx(void **state)
{
	struct fx *f = *state;
	uint16_t h;

	start(f, "tap=t0", 0);
	h = rx_post(f, 0, 4, 2048);
	/* DATA_VALID from the tap: cleared without GUEST_CSUM. */
	peer_frame(f, 60, 1, VIRTIO_NET_HDR_F_DATA_VALID, 0);
	*(uint16_t *)gp(f, RX_BUF + 10, 2) = 0x5555;
	tap_ready(f);
	expect_used(f, &f->rx, h, HS + 60);
	expect_frame(f, RX_BUF, 60, 1, 0);
	assert_int_equal(f->vd.notified[NET_RXQ], 1);
	peer_frame(f, 1514, 2, 0, 0);
	peer_frame(f, 1000, 3, 0, 0);
	tap_ready(f);
	expect_used(f, &f->rx, h + 1, HS + 1514);
	expect_used(f, &f->rx, h + 2, HS + 1000);
	expect_frame(f, RX_BUF + 2 * 4096, 1000, 1, 0);
	assert_int_equal(stats(f)->rx_frames, 3);
	assert_int_equal(stats(f)->rx_bytes, 60 + 1514 + 1000);
	assert_true(f->vd.on[0]);
	/* Nothing more to read: nothing happens. */
	tap_ready(f);
	no_more_used(f, &f->rx);
	assert_true(f->vd.on[0]);
}

/* No receive buffer: the tap goes off, and on again when the driver
 * posts one. */
static void test_rx_no_buffers(void **state)
{
	struct fx *f = *state;
	uint16_t h;

	start(f, "tap=t0", 0);
	peer_frame(f, 100, 1, 0, 0);
	tap_ready(f);
	assert_false(f->vd.on[0]);
	assert_int_equal(stats(f)->rx_waits, 1);
	no_more_used(f, &f->rx);
	/* The frame is still in the tap, not taken. */
	{
		uint8_t b[256];

		assert_int_equal(recv(f->vd.fd[0], b, sizeof(b), MSG_PEEK),
				 HS + 100);
	}
	/* A notification without buffers changes nothing. */
	f->ops->queue_notify(&f->vd, NET_RXQ);
	assert_false(f->vd.on[0]);
	h = rx_post(f, 0, 1, 2048);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	expect_used(f, &f->rx, h, HS + 100);
	expect_frame(f, RX_BUF, 100, 1, 0);
	/* The ring is empty again: off until the driver posts more. */
	assert_false(f->vd.on[0]);
	assert_int_equal(stats(f)->rx_waits, 2);
	h = rx_post(f, 1, 1, 2048);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	assert_true(f->vd.on[0]);
	peer_frame(f, 100, 2, 0, 0);
	tap_ready(f);
	expect_used(f, &f->rx, h, HS + 100);
}

/* Without MRG_RXBUF a chain too small for the frame drops it and goes back
 * empty; the next frame takes the next chain. */
static void test_rx_too_small(void **state)
{
	struct fx *f = *state;
	uint16_t small, big;

	start(f, "tap=t0", 0);
	small = CHAIN(f, &f->rx, W(RX_BUF, 32), W(RX_BUF + 64, 32));
	big = rx_post(f, 1, 1, 2048);
	peer_frame(f, 60, 1, 0, 0);
	peer_frame(f, 60, 2, 0, 0);
	tap_ready(f);
	expect_used(f, &f->rx, small, 0);
	expect_used(f, &f->rx, big, HS + 60);
	expect_frame(f, RX_BUF + 4096, 60, 1, 0);
	assert_int_equal(drops(f, NET_DROP_RX_LONG), 1);
	assert_int_equal(stats(f)->rx_frames, 1);
	/* Exactly the size fits; split across buffers too. */
	small = CHAIN(f, &f->rx, W(RX_BUF, 40), W(RX_BUF + 64, HS + 60 - 40));
	peer_frame(f, 60, 3, 0, 0);
	/* The ring had run dry, the tap is off: the driver's notification
	 * brings it on. */
	assert_false(f->vd.on[0]);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	expect_used(f, &f->rx, small, HS + 60);
	assert_memory_equal(gp(f, RX_BUF + 64, 32), f->frame + 40, 32);
}

/* With MRG_RXBUF a frame spreads over chains; num_buffers says how many,
 * and all come back at once. */
static void test_rx_mrg(void **state)
{
	struct fx *f = *state;
	uint16_t h;
	uint8_t *p;

	start(f, "tap=t0", MRG);
	h = rx_post(f, 0, 16, 100);
	peer_frame(f, 1000, 1, 0, 0); /* 1012 bytes: 10 x 100 + 12 */
	tap_ready(f);
	assert_int_equal(used_idx(f, &f->rx), 11);
	for (unsigned i = 0; i < 11; i++)
		expect_used(f, &f->rx, (uint16_t)(h + i), i < 10 ? 100 : 12);
	p = gp(f, RX_BUF, HS);
	assert_int_equal(p[10] | p[11] << 8, 11);
	assert_memory_equal(gp(f, RX_BUF + HS, 100 - HS), f->frame + HS,
			    100 - HS);
	for (unsigned i = 1; i < 11; i++)
		assert_memory_equal(gp(f, RX_BUF + i * 4096ull, 100),
				    f->frame + 100 * i, i < 10 ? 100 : 12);
	/* A small frame takes one chain. */
	peer_frame(f, 60, 2, 0, 0);
	tap_ready(f);
	assert_int_equal(used_idx(f, &f->rx), 12);
	expect_used(f, &f->rx, (uint16_t)(h + 11), 72);
	expect_frame(f, RX_BUF + 11 * 4096, 60, 1, 0);
	assert_int_equal(stats(f)->rx_frames, 2);
}

/* With MRG_RXBUF and too few buffers posted, the chains taken are held and
 * nothing reaches the used ring until the frame is whole. */
static void test_rx_mrg_wait(void **state)
{
	struct fx *f = *state;
	uint16_t h;
	uint8_t *p;

	start(f, "tap=t0", MRG);
	h = rx_post(f, 0, 3, 256);
	peer_frame(f, 1500, 1, 0, 0); /* 1512 bytes: 6 chains */
	tap_ready(f);
	no_more_used(f, &f->rx);
	assert_false(f->vd.on[0]);
	assert_int_equal(f->vd.notified[NET_RXQ], 0);
	rx_post(f, 3, 2, 256);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	no_more_used(f, &f->rx);
	rx_post(f, 5, 4, 256);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	assert_int_equal(used_idx(f, &f->rx), 6);
	for (unsigned i = 0; i < 6; i++)
		expect_used(f, &f->rx, (uint16_t)(h + i), i < 5 ? 256 : 232);
	p = gp(f, RX_BUF, HS);
	assert_int_equal(p[10] | p[11] << 8, 6);
	assert_memory_equal(gp(f, RX_BUF + 5 * 4096, 232), f->frame + 5 * 256,
			    232);
	assert_true(f->vd.on[0]);
	assert_int_equal(f->vd.notified[NET_RXQ], 1);
}

/* With MRG_RXBUF, a ring whose every buffer together is too small: the
 * frame is dropped, the chains go back empty, the next frame fits. */
static void test_rx_mrg_ring_too_small(void **state)
{
	struct fx *f = *state;
	uint16_t h;

	start_type(f, "tap=t0", SOCK_DGRAM, 4, 4, MRG);
	h = rx_post(f, 0, 4, 64);
	peer_frame(f, 1000, 1, 0, 0);
	peer_frame(f, 40, 2, 0, 0);
	tap_ready(f);
	for (unsigned i = 0; i < 4; i++)
		expect_used(f, &f->rx, (uint16_t)((h + i) % 4), 0);
	assert_int_equal(drops(f, NET_DROP_RX_LONG), 1);
	no_more_used(f, &f->rx);
	rx_post(f, 4, 1, 64);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	assert_int_equal(used_idx(f, &f->rx), 5);
	f->rx.used_seen = 5;
	expect_frame(f, RX_BUF + 4 * 4096, 40, 1, 0);
}

/* Chains the device may not or cannot use come back empty, the frame
 * goes into the next. */
static void test_rx_bad_chains(void **state)
{
	struct fx *f = *state;
	uint16_t bad1, bad2, bad3, good;

	start(f, "tap=t0", MRG);
	bad1 = CHAIN(f, &f->rx, R(RX_BUF, 2048));
	bad2 = CHAIN(f, &f->rx, R(RX_BUF, 10), W(RX_BUF + 16, 2048));
	bad3 = CHAIN(f, &f->rx, W(RX_BUF, HS - 1)); /* no room for a header */
	/* Readable after writable: the ring layer's. */
	CHAIN(f, &f->rx, W(RX_BUF, 100), R(RX_BUF + 100, 100));
	good = rx_post(f, 1, 1, 2048);
	peer_frame(f, 60, 1, 0, 0);
	tap_ready(f);
	expect_used(f, &f->rx, bad1, 0);
	expect_used(f, &f->rx, bad2, 0);
	expect_used(f, &f->rx, bad3, 0);
	expect_used(f, &f->rx, (uint16_t)(bad3 + 1), 0);
	expect_used(f, &f->rx, good, HS + 60);
	expect_frame(f, RX_BUF + 4096, 60, 1, 0);
	assert_int_equal(drops(f, NET_DROP_RX_CHAIN), 4);
	assert_int_equal(f->vd.needs_reset, 0);
	/* A corrupt ring: the device asks for a reset. */
	put16(f, f->rx.avail + 2, (uint16_t)(f->rx.avail_idx + 100));
	peer_frame(f, 60, 2, 0, 0);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	assert_int_equal(f->vd.needs_reset, 1);
}

/* Frames the guest cannot take, by what it negotiated. */
static void test_rx_offloads(void **state)
{
	struct fx *f = *state;
	uint16_t h;

	start(f, "tap=t0", 0);
	h = rx_post(f, 0, 8, 2048);
	peer_frame(f, 100, 1, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	peer_frame(f, 1400, 1, VIRTIO_NET_HDR_F_NEEDS_CSUM,
		   VIRTIO_NET_HDR_GSO_TCPV4);
	peer_frame(f, 13, 1, 0, 0); /* shorter than an Ethernet header */
	peer_send(f, f->frame, HS - 1);
	memset(f->frame, 0, 80 * KiB);
	peer_send(f, f->frame, HS + 18 + 64 * KiB + 1); /* too long */
	peer_frame(f, 60, 2, 0, 0);
	tap_ready(f);
	assert_int_equal(drops(f, NET_DROP_RX_BAD), 5);
	expect_used(f, &f->rx, h, HS + 60);
	expect_frame(f, RX_BUF, 60, 1, 0);
	teardown(state);
	assert_int_equal(setup(state), 0);
	f = *state;

	/* With GUEST_CSUM and GUEST_TSO4: checksum requests and TCPv4 GSO
	 * pass, with their flags; TCPv6 and UDP do not. */
	start(f, "tap=t0",
	      MRG | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4));
	h = rx_post(f, 0, 40, 2048);
	peer_frame(f, 100, 1, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	tap_ready(f);
	expect_used(f, &f->rx, h, HS + 100);
	expect_frame(f, RX_BUF, 100, 1, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	peer_frame(f, 100, 1,
		   VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_RSC_INFO, 0);
	tap_ready(f);
	expect_used(f, &f->rx, h + 1, HS + 100);
	expect_frame(f, RX_BUF + 4096, 100, 1, VIRTIO_NET_HDR_F_DATA_VALID);
	peer_frame(f, 60000, 2, VIRTIO_NET_HDR_F_NEEDS_CSUM,
		   VIRTIO_NET_HDR_GSO_TCPV4);
	tap_ready(f);
	assert_int_equal(used_idx(f, &f->rx), 2 + 30);
	expect_frame(f, RX_BUF + 2 * 4096, 2048 - HS, 30,
		     VIRTIO_NET_HDR_F_NEEDS_CSUM);
	peer_frame(f, 1000, 3, VIRTIO_NET_HDR_F_NEEDS_CSUM,
		   VIRTIO_NET_HDR_GSO_TCPV6);
	peer_frame(f, 1000, 3, VIRTIO_NET_HDR_F_NEEDS_CSUM,
		   VIRTIO_NET_HDR_GSO_UDP);
	tap_ready(f);
	assert_int_equal(drops(f, NET_DROP_RX_BAD), 2);
	assert_int_equal(used_idx(f, &f->rx), 32);
}

/* NET_BATCH frames a round; the rest after the kick. */
static void test_rx_batch(void **state)
{
	struct fx *f = *state;

	start_type(f, "tap=t0", SOCK_DGRAM, 256, 64, 0);
	rx_post(f, 0, 256, 128);
	for (unsigned i = 0; i < 300; i++)
		peer_frame(f, 60, (uint8_t)i, 0, 0);
	tap_ready(f);
	assert_int_equal(used_idx(f, &f->rx), 256);
	assert_true(kicked(f));
	/* The driver takes them and posts again. */
	f->rx.used_seen = 256;
	rx_post(f, 0, 64, 128);
	kick_ready(f);
	assert_int_equal(used_idx(f, &f->rx), 300);
	assert_int_equal(stats(f)->rx_frames, 300);
	assert_int_equal(drops(f, NET_DROP_RX_LONG), 0);
	assert_false(kicked(f));
}

/* A reset with a frame half placed: nothing of it reaches the old ring,
 * the tap goes off; activated again, frames flow. */
static void test_reset(void **state)
{
	struct fx *f = *state;
	uint16_t h;

	start(f, "tap=t0", MRG);
	rx_post(f, 0, 2, 100);
	peer_frame(f, 1000, 1, 0, 0);
	tap_ready(f);
	no_more_used(f, &f->rx);
	f->ops->reset(&f->vd);
	assert_false(f->vd.on[0]);
	rx_post(f, 2, 20, 100);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	tap_ready(f);
	kick_ready(f);
	no_more_used(f, &f->rx);
	/* Activated on new rings: the next frame arrives whole. */
	dq_init(f, &f->rx, RX_RING, 64);
	dq_init(f, &f->tx, TX_RING, 64);
	assert_int_equal(f->ops->activate(&f->vd, V1), 0);
	h = rx_post(f, 0, 2, 2048);
	peer_frame(f, 100, 2, 0, 0);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	assert_true(f->vd.on[0]);
	expect_used(f, &f->rx, h, HS + 100);
	expect_frame(f, RX_BUF, 100, 1, 0);
	assert_int_equal(f->vd.needs_reset, 0);
}

/* The other end goes away (a tap deleted under us reads EBADFD; a socket
 * reads 0): one line, the interface stops, and the I/O thread is not
 * called again for it. */
static void test_backend_gone(void **state)
{
	struct fx *f = *state;
	struct pollfd p;
	uint32_t total;
	uint16_t h;

	start_type(f, "tap=gone0", SOCK_SEQPACKET, 64, 64, 0);
	rx_post(f, 0, 4, 2048);
	close(f->peer);
	f->peer = -1;
	tap_ready(f);
	assert_int_equal(drops(f, NET_DROP_RX_ERROR), 1);
	/* The fd number now holds a file that never becomes readable. */
	p = (struct pollfd){.fd = f->vd.fd[0], .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 0);
	tap_ready(f);
	assert_int_equal(drops(f, NET_DROP_RX_ERROR), 1);
	/* Frames sent now are dropped and counted. */
	total = tx_put(f, TX_BUF, 60, 1);
	h = CHAIN(f, &f->tx, R(TX_BUF, total));
	f->ops->queue_notify(&f->vd, NET_TXQ);
	expect_used(f, &f->tx, h, 0);
	assert_int_equal(drops(f, NET_DROP_TX_ERROR), 1);
	no_more_used(f, &f->rx);
}

/* The same while the tap is off (no receive buffer): the fd reports the
 * error anyway, and the device finds out instead of being called again
 * and again. */
static void test_backend_gone_while_off(void **state)
{
	struct fx *f = *state;
	struct pollfd p;

	start_type(f, "tap=gone0", SOCK_SEQPACKET, 64, 64, 0);
	peer_frame(f, 60, 1, 0, 0);
	tap_ready(f);
	assert_false(f->vd.on[0]);
	/* Called while off with nothing wrong: nothing happens. */
	tap_ready(f);
	assert_int_equal(drops(f, NET_DROP_RX_ERROR), 0);
	close(f->peer);
	f->peer = -1;
	tap_ready(f);
	assert_int_equal(drops(f, NET_DROP_RX_ERROR), 1);
	p = (struct pollfd){.fd = f->vd.fd[0], .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 0);
	/* Buffers come: nothing to receive from, nothing breaks. */
	rx_post(f, 0, 2, 2048);
	f->ops->queue_notify(&f->vd, NET_RXQ);
	no_more_used(f, &f->rx);
	assert_int_equal(f->vd.needs_reset, 0);
}

static void test_print_stats(void **state)
{
	struct fx *f = *state;
	char out[512] = {0};
	FILE *mf;

	start(f, "tap=t0,mac=02:00:00:00:00:01", 0);
	rx_post(f, 0, 2, 2048);
	peer_frame(f, 60, 1, 0, 0);
	tap_ready(f);
	TX_CASE(f, NET_DROP_TX_EMPTY, R(TX_BUF, 0));
	mf = fmemopen(out, sizeof(out) - 1, "w");
	f->ops->print_stats(&f->vd, mf);
	fclose(mf);
	assert_string_equal(
		out,
		"  tap t0, mac 02:00:00:00:00:01, mtu 1500: tx 1 frames (60 bytes), rx 1 frames (60 bytes), 0 waits for receive buffers\n"
		"  dropped: tx 0 malformed, 1 empty, 0 bad header, 0 too short, 0 too long, 0 tap busy, 0 tap error; rx 0 malformed, 0 too long, 0 refused, 0 read error\n");
}

/* ---- a real tap, in a network namespace of our own ---- */

/* Creates a persistent tap (or tun) @name the way ip tuntap does. */
static int mk_tun(const char *name, short type)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = (short)(type | IFF_NO_PI);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void if_up(const char *name, const char *addr, unsigned mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	assert_true(s >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = (int)mtu;
	assert_int_equal(ioctl(s, SIOCSIFMTU, &ifr), 0);
	if (addr) {
		char path[96];
		int fd;

		/* No IPv6: its DAD and MLD frames would reach the device
		 * among the ARP and ICMP replies the test counts. */
		snprintf(path, sizeof(path),
			 "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1) {
				/* no IPv6 to turn off */
			}
			close(fd);
		}
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		assert_int_equal(ioctl(s, SIOCSIFADDR, &ifr), 0);
		inet_pton(AF_INET, "255.255.0.0", &sin->sin_addr);
		assert_int_equal(ioctl(s, SIOCSIFNETMASK, &ifr), 0);
		assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
		ifr.ifr_flags |= IFF_UP;
		assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	}
	close(s);
}

static void write_file(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, v, strlen(v)) < 0) {
			/* no IPv6: nothing to quiet */
		}
		close(fd);
	}
}

/* An ARP request from 169.254.0.2 (our MAC) for 169.254.0.1. */
static uint32_t arp_request(uint8_t *p, const uint8_t mac[6])
{
	static const uint8_t tail[] = {0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1};

	memset(p, 0xff, 6);
	memcpy(p + 6, mac, 6);
	memcpy(p + 12, tail, sizeof(tail));
	memcpy(p + 22, mac, 6);
	memcpy(p + 28, (uint8_t[]){169, 254, 0, 2}, 4);
	memset(p + 32, 0, 6);
	memcpy(p + 38, (uint8_t[]){169, 254, 0, 1}, 4);
	return 42;
}

/* An ICMP echo request from 169.254.0.2 to 169.254.0.1 (74 bytes): the IP
 * header's checksum filled in, the ICMP checksum 0. */
static void icmp_echo(uint8_t *p, const uint8_t mac[6], const uint8_t to[6])
{
	static const uint8_t ip[20] = {0x45, 0,	 0,   60,  0, 1,   0,
				       0,    64, 1,   0,   0, 169, 254,
				       0,    2,	 169, 254, 0, 1};
	uint32_t sum = 0;

	memcpy(p, to, 6);
	memcpy(p + 6, mac, 6);
	p[12] = 0x08;
	p[13] = 0x00;
	memcpy(p + 14, ip, 20);
	for (unsigned i = 0; i < 20; i += 2)
		sum += (uint32_t)(p[14 + i] << 8 | p[15 + i]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	p[24] = (uint8_t)(~sum >> 8);
	p[25] = (uint8_t)~sum;
	memset(p + 34, 0, 8);
	p[34] = 8; /* echo request */
	p[39] = 1; /* id 0, sequence 1 */
	memcpy(p + 42, "minivmm virtio-net ping payload", 32);
}

/* Waits up to @ms for a reply frame from the tap, reading it as the I/O
 * thread would: an ARP reply (@ethertype 0x0806) or an ICMP echo reply
 * (0x0800) to us. Frames before it (late replies to earlier requests)
 * are skipped; *@seen counts the frames looked at. Returns the frame's
 * buffer (virtio-net header first), or NULL. */
static uint8_t *tap_wait_reply(struct fx *f, uint64_t *seen, uint16_t ethertype,
			       int ms)
{
	for (int waited = 0; waited <= ms; waited += 100) {
		struct pollfd pf = {.fd = f->vd.fd[0], .events = POLLIN};

		tap_ready(f);
		for (; *seen < stats(f)->rx_frames; (*seen)++) {
			uint8_t *p = gp(f, RX_BUF + *seen * 4096, 2048);
			bool arp = p[HS + 12] == 0x08 && p[HS + 13] == 0x06 &&
				   p[HS + 21] == 2;
			bool echo = p[HS + 12] == 0x08 && p[HS + 13] == 0x00 &&
				    p[HS + 23] == 1 && p[HS + 34] == 0;

			if ((ethertype == 0x0806 && arp) ||
			    (ethertype == 0x0800 && echo)) {
				(*seen)++;
				return p;
			}
		}
		poll(&pf, 1, 100);
	}
	return NULL;
}

static void test_tap(void **state)
{
	struct fx *f = *state;
	struct net_options o;
	struct tap t;
	uint64_t seen = 0;
	uint8_t *p;
	int sz;

	if (access("/dev/net/tun", R_OK | W_OK) || unshare(CLONE_NEWNET)) {
		print_message(
			"no /dev/net/tun or no network namespace: skipped\n");
		skip();
	}
	/* No IPv6: no router solicitations on the tap to sort out. */
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");

	assert_int_equal(tap_open(&t, "mvnone0"), -ENODEV);
	assert_string_equal(
		err_msg(),
		"tap mvnone0: no such device: create it with 'ip tuntap add dev mvnone0 mode tap' (and 'ip link set mvnone0 up')");
	assert_int_equal(t.fd, -1);
	assert_int_equal(mk_tun("mvtun0", IFF_TUN), 0);
	assert_int_equal(tap_open(&t, "mvtun0"), -EINVAL);
	assert_non_null(
		strstr(err_msg(), "tap mvtun0: not a single-queue tap"));
	assert_int_equal(tap_open(&t, "lo"), -EINVAL);

	assert_int_equal(mk_tun("mvtest0", IFF_TAP), 0);
	assert_int_equal(tap_open(&t, "mvtest0"), 0);
	assert_int_equal(t.mtu, 1500);
	assert_int_equal(ioctl(t.fd, TUNGETVNETHDRSZ, &sz), 0);
	assert_int_equal(sz, 12);
	assert_true(fcntl(t.fd, F_GETFL) & O_NONBLOCK);
	{
		struct tap t2;

		assert_int_equal(tap_open(&t2, "mvtest0"), -EBUSY);
		assert_string_equal(
			err_msg(),
			"tap mvtest0 is in use by another process: give each interface a tap of its own");
	}
	assert_int_equal(tap_check_mtu(&t, 1500), 0);
	assert_int_equal(tap_check_mtu(&t, 9000), -EINVAL);
	assert_string_equal(
		err_msg(),
		"tap mvtest0 has MTU 1500, but --net asks for mtu=9000: set it with 'ip link set mvtest0 mtu 9000', or leave mtu= out to use the tap's");
	assert_int_equal(tap_set_offload(&t, TAP_OFFLOAD_CSUM |
						     TAP_OFFLOAD_TSO4 |
						     TAP_OFFLOAD_TSO6),
			 0);
	assert_int_equal(tap_set_offload(&t, TAP_OFFLOAD_TSO4), -EINVAL);
	tap_close(&t);

	/* The device on it, MTU from the tap; mtu= must agree. */
	if_up("mvtest0", "169.254.0.1", 9000);
	assert_int_equal(net_options_parse("tap=mvtest0,mtu=1500", &o), 0);
	assert_int_equal(virtio_net_create(&f->n, &o), -EINVAL);
	assert_non_null(strstr(err_msg(), "has MTU 9000"));
	f->n = NULL;
	assert_int_equal(net_options_parse("tap=mvtest0", &o), 0);
	if (virtio_net_create(&f->n, &o))
		fail_msg("%s", err_msg());
	f->ops = virtio_net_get_ops(f->n);
	f->vd.priv = f->n;
	assert_int_equal(f->ops->init(&f->vd), 0);
	dq_init(f, &f->rx, RX_RING, 64);
	dq_init(f, &f->tx, TX_RING, 64);
	f->vd.q[NET_RXQ] = &f->rx.q;
	f->vd.q[NET_TXQ] = &f->tx.q;
	assert_int_equal(
		f->ops->activate(&f->vd, V1 | MRG | F(VIRTIO_NET_F_GUEST_CSUM) |
						 F(VIRTIO_NET_F_CSUM)),
		0);
	assert_int_equal(ioctl(f->vd.fd[0], TUNGETVNETHDRSZ, &sz), 0);
	assert_int_equal(sz, 12);
	{
		uint16_t mtu;

		virtio_net_config_read(f->n, 10, &mtu, 2);
		assert_int_equal(mtu, 9000);
	}

	/* The tap's carrier came on when the device opened it, but the
	 * kernel applies that (linkwatch) up to a second later, and much
	 * later when network namespaces torn down by earlier tests hold the
	 * RTNL lock (CI failed at 5 s); until then its answers are dropped.
	 * Wait for IFF_RUNNING (oper up), 30 s at most. */
	for (int tries = 0; tries < 3000; tries++) {
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct ifreq ifr = {0};
		bool running = false;

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "mvtest0");
		if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0)
			running = ifr.ifr_flags & IFF_RUNNING;
		if (s >= 0)
			close(s);
		if (running)
			break;
		usleep(10 * 1000);
	}

	/* The guest asks who has 169.254.0.1 once a second until the kernel
	 * answers (a reply sent while the link still comes up is lost, and
	 * the kernel does not send it again), a minute at most. */
	rx_post(f, 0, 48, 2048);
	p = NULL;
	for (int tries = 0; tries < 60 && !p; tries++) {
		uint8_t *t = gp(f, TX_BUF, HS + 42);

		memset(t, 0, HS);
		arp_request(t + HS, o.mac);
		CHAIN(f, &f->tx, R(TX_BUF, HS + 42));
		f->ops->queue_notify(&f->vd, NET_TXQ);
		assert_int_equal(stats(f)->tx_frames, tries + 1);
		p = tap_wait_reply(f, &seen, 0x0806, 1000);
	}
	if (!p)
		fail_msg("no ARP reply from the tap in 60 s");
	assert_int_equal(p[10], 1);	       /* num_buffers */
	assert_memory_equal(p + HS, o.mac, 6); /* to us */
	assert_memory_equal(p + HS + 28, ((uint8_t[]){169, 254, 0, 1}), 4);
	assert_memory_equal(p + HS + 32, o.mac, 6);

	/* A ping with its ICMP checksum left to the host (NEEDS_CSUM, the
	 * field 0): the kernel takes the header as we pass it, and answers. */
	{
		uint8_t tap_mac[6], *q = gp(f, TX_BUF + 0x1000, HS + 74);
		uint64_t sent = stats(f)->tx_frames;

		memcpy(tap_mac, p + HS + 6, 6);
		net_hdr(q, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 2);
		icmp_echo(q + HS, o.mac, tap_mac);
		CHAIN(f, &f->tx, R(TX_BUF + 0x1000, HS + 74));
		f->ops->queue_notify(&f->vd, NET_TXQ);
		assert_int_equal(stats(f)->tx_frames, sent + 1);
		assert_int_equal(drops(f, NET_DROP_TX_ERROR), 0);
		q = tap_wait_reply(f, &seen, 0x0800, 15000);
		if (!q)
			fail_msg("no ICMP echo reply from the tap in 15 s");
		assert_memory_equal(q + HS, o.mac, 6);
		assert_memory_equal(q + HS + 42,
				    "minivmm virtio-net ping payload", 32);
	}

	/* The tap deleted under us: one line, the interface stops, no
	 * spinning on an fd that is always readable. */
	if (system("ip link del mvtest0 2>/dev/null") == 0) {
		struct pollfd pf = {.fd = f->vd.fd[0], .events = POLLIN};

		tap_ready(f);
		assert_int_equal(drops(f, NET_DROP_RX_ERROR), 1);
		assert_int_equal(poll(&pf, 1, 0), 0);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_options_parse),
		T(test_options_errors),
		T(test_options_check),
		T(test_default_mac),
		T(test_config),
		T(test_config_default),
		T(test_tx),
		T(test_tx_bad),
		T(test_tx_csum_not_negotiated),
		T(test_tx_limits),
		T(test_tx_batch),
		T(test_tx_busy),
		T(test_rx),
		T(test_rx_no_buffers),
		T(test_rx_too_small),
		T(test_rx_mrg),
		T(test_rx_mrg_wait),
		T(test_rx_mrg_ring_too_small),
		T(test_rx_bad_chains),
		T(test_rx_offloads),
		T(test_rx_batch),
		T(test_reset),
		T(test_backend_gone),
		T(test_backend_gone_while_off),
		T(test_print_stats),
		T(test_tx_throttle),
		T(test_rx_throttle),
		T(test_options_rate),
		T(test_tap),
	};
#undef T

	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
