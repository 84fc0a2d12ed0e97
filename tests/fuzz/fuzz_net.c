/* libFuzzer target: virtio-net's handling of what the guest controls, with
 * the input as the driver, and of --net.
 *
 * Mode TX: a transmit chain (buffers in guest memory, readable ones first,
 * as virtq_pop() returns them) and the bytes they hold; net_tx_parse()
 * must accept only a frame whose header passes every check, and the
 * iovecs it returns for writev must lie inside the chain's readable
 * buffers and add up to the header and the frame.
 *
 * Mode RX: a receive queue in guest memory (descriptor table, available
 * ring, sizes and flags from the input, indirect tables and loops
 * included), then frames from the "tap" (header bytes from the input)
 * through net_rx_check() and net_rx_place(), with or without MRG_RXBUF:
 * every used element must name a chain and its lengths must add up to the
 * frame, num_buffers must count them, and the device must never write
 * outside guest RAM (a heap block of exactly its size: ASan sees it).
 *
 * Mode OPTIONS: the rest is a --net value for net_options_parse().
 *
 * Input: mode and flags, then per mode:
 *  TX: features, MTU (le16), number of buffers, number of readable ones,
 *      per buffer offset and length (le16 each) in a window of RAM, then
 *      the bytes copied to the window;
 *  RX: features, queue size (log2), descriptors (8 bytes each: le16
 *      offset in the buffer window, le16 length, flags, next, 2 unused),
 *      the number of available heads and the heads, then frames: le16
 *      length, flags, gso_type. */
#include "mem.h"
#include "virtio/net.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM_SIZE MEM_MIN_SIZE
#define DESC 0x1000ull
#define AVAIL 0x3000ull
#define USED 0x4000ull
#define INDIRECT 0x6000ull /* a descriptor may point here: a table */
#define WINDOW 0x10000ull  /* buffers: offsets and lengths up to 64 KiB */
#define MAX_BUFS 16

enum {
	M_TX = 0,
	M_RX = 1,
	M_OPTIONS = 2,
	F_EVENT_IDX = 4,
	F_INDIRECT = 8,
	F_MRG = 16,
};

static uint8_t *ram;
static struct vm_mem mem;
static struct virtq_chain chain;
static struct net_tx tx;
static struct net_rx rx;
static struct net_stats st;
static uint8_t
	frame[VIRTIO_NET_HDR_SIZE + NET_ETH_HLEN + NET_VLAN_HLEN + NET_GSO_MAX];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Features from one input byte. */
static uint64_t features(uint8_t b)
{
	static const unsigned bits[] = {
		VIRTIO_F_VERSION_1,	 VIRTIO_NET_F_CSUM,
		VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_HOST_TSO4,
		VIRTIO_NET_F_HOST_TSO6,	 VIRTIO_NET_F_GUEST_TSO4,
		VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_MRG_RXBUF,
	};
	uint64_t f = 0;

	for (unsigned i = 0; i < 8; i++)
		if (b & (1u << i))
			f |= 1ull << bits[i];
	return f;
}

static bool in_readable(const struct virtq_chain *c, const void *p,
			uint64_t len)
{
	const uint8_t *b = p;

	for (unsigned i = 0; i < c->nr_out; i++) {
		const uint8_t *h = c->buf[i].host;

		if (b >= h && b + len <= h + c->buf[i].len)
			return true;
	}
	return false;
}

static void run_tx(const uint8_t *data, size_t size, unsigned flags)
{
	uint64_t f, sum = 0, max;
	unsigned mtu, nr, nr_out, hs;
	enum net_drop why;
	size_t img;

	(void)flags;
	if (size < 5)
		return;
	f = features(data[0]);
	mtu = le16(data + 1);
	if (mtu < NET_MTU_MIN)
		mtu = NET_MTU_MIN;
	nr = data[3] % (MAX_BUFS + 1);
	nr_out = nr ? data[4] % (nr + 1) : 0;
	data += 5;
	size -= 5;
	memset(&chain, 0, offsetof(struct virtq_chain, buf));
	chain.out_len = chain.in_len = 0;
	for (unsigned i = 0; i < nr && size >= 4; i++) {
		uint32_t off = le16(data), len = le16(data + 2);
		struct virtq_buf *b = &chain.buf[chain.nr];

		data += 4;
		size -= 4;
		b->host = mem_ptr(&mem, WINDOW + off, len);
		if (!b->host)
			continue;
		b->len = len;
		b->writable = i >= nr_out;
		if (b->writable) {
			chain.in_len += len;
		} else {
			chain.out_len += len;
			chain.nr_out++;
		}
		chain.nr++;
	}
	img = size < 0x20000 ? size : 0x20000;
	memcpy(ram + WINDOW, data, img);

	why = net_tx_parse(&chain, f, mtu, &tx);
	check(why < NET_DROP_RX_CHAIN); /* a transmit reason */
	if (why != NET_DROP_NONE) {
		check(tx.nr_iov == 0);
		return;
	}
	hs = net_hdr_size(f);
	check(chain.nr_out == chain.nr);
	check(tx.nr_iov >= 1 && tx.nr_iov <= 1 + chain.nr_out);
	check(tx.iov[0].iov_base == tx.hdr && tx.iov[0].iov_len == hs);
	for (unsigned i = 1; i < tx.nr_iov; i++) {
		const volatile uint8_t *p = tx.iov[i].iov_base;

		check(tx.iov[i].iov_len > 0);
		check(in_readable(&chain, tx.iov[i].iov_base,
				  tx.iov[i].iov_len));
		(void)p[0];
		(void)p[tx.iov[i].iov_len - 1];
		sum += tx.iov[i].iov_len;
	}
	check(sum == tx.len && tx.len + hs == chain.out_len);
	check(tx.len >= NET_ETH_HLEN);
	/* The copy the tap sees passes what was checked. */
	check(!(tx.hdr[0] & ~VIRTIO_NET_HDR_F_NEEDS_CSUM));
	max = (uint64_t)mtu + NET_ETH_HLEN + NET_VLAN_HLEN;
	if (tx.hdr[1]) {
		check(tx.hdr[1] == VIRTIO_NET_HDR_GSO_TCPV4 ||
		      tx.hdr[1] == VIRTIO_NET_HDR_GSO_TCPV6);
		check(le16(tx.hdr + 4) > 0);
		if (max < NET_GSO_MAX + NET_ETH_HLEN + NET_VLAN_HLEN)
			max = NET_GSO_MAX + NET_ETH_HLEN + NET_VLAN_HLEN;
	}
	check(tx.len <= max);
	check(le16(tx.hdr + 2) <= tx.len && le16(tx.hdr + 4) <= tx.len);
	if (tx.hdr[0])
		check((uint32_t)le16(tx.hdr + 6) + le16(tx.hdr + 8) + 2 <=
		      tx.len);
}

/* The used elements [@from, @to) of @q: their lengths' sum. */
static uint64_t used_sum(struct virtq *q, uint16_t from, uint16_t to)
{
	uint64_t sum = 0;

	for (uint16_t i = from; i != to; i++) {
		uint8_t *e = ram + USED + 4 + 8u * (i & (q->size - 1u));
		uint32_t id, len;

		memcpy(&id, e, 4);
		memcpy(&len, e + 4, 4);
		check(id < q->size);
		sum += len;
	}
	return sum;
}

static void run_rx(const uint8_t *data, size_t size, unsigned flags)
{
	struct virtq q;
	uint64_t f;
	unsigned qsize, navail, hs;
	bool mrg;

	if (size < 2)
		return;
	f = features(data[0]) | 1ull << VIRTIO_F_VERSION_1;
	if (flags & F_MRG)
		f |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	mrg = f & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	hs = net_hdr_size(f);
	qsize = 1u << (data[1] % 9);
	data += 2;
	size -= 2;
	/* Descriptors. */
	for (unsigned i = 0; i < qsize && size >= 8; i++) {
		uint64_t addr = WINDOW + le16(data);
		uint32_t len = le16(data + 2);
		uint16_t fl = data[4] & 7, next = data[5];
		uint8_t *d = ram + DESC + 16 * i;

		/* An indirect descriptor points at the table area. */
		if (fl & VIRTQ_DESC_F_INDIRECT) {
			addr = INDIRECT;
			len &= 0xff0;
		}
		memcpy(d, &addr, 8);
		memcpy(d + 8, &len, 4);
		memcpy(d + 12, &fl, 2);
		memcpy(d + 14, &next, 2);
		/* The same as an entry of the indirect table. */
		if (i < 16) {
			uint16_t ifl = fl & 3;

			memcpy(ram + INDIRECT + 16 * i, d, 12);
			memcpy(ram + INDIRECT + 16 * i + 12, &ifl, 2);
			memcpy(ram + INDIRECT + 16 * i + 14, &next, 2);
		}
		data += 8;
		size -= 8;
	}
	if (virtq_init(&q, &mem, (uint16_t)qsize, DESC, AVAIL, USED,
		       flags & F_EVENT_IDX, flags & F_INDIRECT))
		return;
	navail = size ? data[0] : 0;
	if (size) {
		data++;
		size--;
	}
	for (unsigned i = 0; i < navail && size; i++) {
		uint16_t head = data[0];

		memcpy(ram + AVAIL + 4 + 2 * (i & (qsize - 1)), &head, 2);
		data++;
		size--;
	}
	memcpy(ram + AVAIL + 2, &(uint16_t){(uint16_t)navail}, 2);

	net_rx_clear(&rx);
	while (size >= 4) {
		uint32_t len = le16(data) + hs;
		uint16_t before = q.used_idx;
		uint64_t frames = st.rx_frames, drops = 0;
		unsigned budget = NET_BATCH, pops;
		enum net_rx_result r;

		memset(frame, 0, hs);
		frame[0] = data[2];
		frame[1] = data[3];
		for (uint32_t i = hs; i < len; i++)
			frame[i] = (uint8_t)(i * 13);
		data += 4;
		size -= 4;
		if (net_rx_check(frame, len, f) != NET_DROP_NONE) {
			check(len < hs + NET_ETH_HLEN || frame[1] || frame[0]);
			continue;
		}
		check(!(frame[0] & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM |
				     VIRTIO_NET_HDR_F_DATA_VALID)));
		rx.frame = frame;
		rx.len = len;
		for (unsigned i = 0; i < NET_DROP_NR; i++)
			drops += st.drops[i];
		r = net_rx_place(&rx, &q, hs, mrg, &budget, &st);
		pops = NET_BATCH - budget;
		check((uint16_t)(q.used_idx - before) <= pops);
		if (r == NET_RX_DONE && st.rx_frames == frames + 1) {
			/* Placed: the last elements are the frame's. */
			uint16_t n = 0, start;
			uint64_t sum;

			check(rx.len == 0 && rx.nr == 0);
			/* The frame's chains are the last elements with
			 * a length (a chain dropped before is 0). */
			for (uint16_t i = before; i != q.used_idx; i++) {
				uint32_t l;

				memcpy(&l,
				       ram + USED + 4 + 8u * (i & (qsize - 1)) +
					       4,
				       4);
				if (l)
					n++;
			}
			start = (uint16_t)(q.used_idx - n);
			sum = used_sum(&q, start, q.used_idx);
			check(sum == len);
			check(mrg || n == 1);
		} else if (r == NET_RX_DONE) {
			uint64_t now = 0;

			for (unsigned i = 0; i < NET_DROP_NR; i++)
				now += st.drops[i];
			check(now > drops);
			check(rx.len == 0);
		} else {
			/* Waiting, out of budget or broken: a reset. */
			net_rx_clear(&rx);
			break;
		}
	}
	net_rx_clear(&rx);
}

static void run_options(const uint8_t *data, size_t size)
{
	struct net_options o[2];
	char *arg = strndup((const char *)data, size);

	check(arg != NULL);
	if (net_options_parse(arg, &o[0]) == 0) {
		size_t n = strlen(o[0].tap);

		check(n > 0 && n < IFNAMSIZ);
		check(!(o[0].mac[0] & 1));
		check(o[0].mac[0] | o[0].mac[1] | o[0].mac[2] | o[0].mac[3] |
		      o[0].mac[4] | o[0].mac[5]);
		check(!o[0].mtu_set ||
		      (o[0].mtu >= NET_MTU_MIN && o[0].mtu <= NET_MTU_MAX));
		o[1] = o[0];
		check(net_options_check(o, 2) == -EINVAL);
		check(net_options_check(o, 1) == 0);
	}
	free(arg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags;

	if (!ram) {
		ram = malloc(RAM_SIZE);
		if (!ram || mem_layout(&mem, RAM_SIZE, ram))
			abort();
	}
	if (!size)
		return 0;
	flags = data[0];
	/* Rings, tables and the buffer window: all a run writes. */
	memset(ram, 0, WINDOW + 0x20000);
	switch (flags & 3) {
	case M_TX:
		run_tx(data + 1, size - 1, flags);
		break;
	case M_RX:
		run_rx(data + 1, size - 1, flags);
		break;
	default:
		run_options(data + 1, size - 1);
		break;
	}
	return 0;
}
