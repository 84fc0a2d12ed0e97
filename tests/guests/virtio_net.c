/* virtio-net through virtio-mmio, polled, against a tap the test script
 * made in a network namespace of its own (tests/guests/virtio_net.sh): the
 * tap has 169.254.77.1/24 and MTU 1500, and minivmm runs with --net
 * tap=mvtest0,mac=02:4d:56:00:00:01.  Every frame the guest sends is an ARP
 * request, so the host's kernel is the other end: a request sent gets a
 * reply, and one dropped gets none.
 *
 * First the configuration space and an ARP round trip, then hostile cases,
 * each followed by a normal round trip (the device must stay up and go
 * on): transmit chains with a header cut short, a header alone, a frame
 * shorter than an Ethernet header, zero-length chains, a writable buffer,
 * bad GSO types and flags, checksum and header lengths beyond the frame,
 * frames of MTU + 19 and 64 KiB + 1 bytes (each with an ARP request from
 * its own address 169.254.77.1xx inside, whose reply would show that the
 * device sent it); and on the receive side a device-readable buffer, a
 * buffer too small for the frame, no buffer at all (the reply waits in the
 * tap), a frame spread over small buffers with MRG_RXBUF, and a first
 * buffer shorter than the header.  The drops are counted by minivmm and
 * checked by the script in --stats.
 *
 * Output as virtio_hostile.c: "device virtio-net", per case "case NAME",
 * indented details, "ok NAME" or "fail NAME"; then "done N" with N failed
 * cases; the exit status is the number of the first failed case, 0 if
 * none. */
#include "virtio.h"

#define VIRTIO_ID_NET 1

#define NET_F_CSUM (1ull << 0)
#define NET_F_MTU (1ull << 3)
#define NET_F_MAC (1ull << 5)
#define NET_F_MRG_RXBUF (1ull << 15)
#define NET_F_STATUS (1ull << 16)
#define BASE_FEATURES (F_VERSION_1 | NET_F_MAC | NET_F_MTU | NET_F_STATUS)

#define HS 12 /* struct virtio_net_hdr with num_buffers */
#define QSIZE 16
#define NR_RX 8			/* receive buffers kept posted */
#define RX_LEN 2048		/* each */
#define TX_AT BUF_ADDR(32)	/* transmit frames */
#define BIG_AT BUF_ADDR(0x80)	/* the 64 KiB + 1 frame */
#define FRAME_AT BUF_ADDR(0xc0) /* a received frame, put together */
#define ETH_ARP 0x0806

static const uint8_t my_mac[6] = {0x02, 0x4d, 0x56, 0x00, 0x00, 0x01};
static const uint8_t net_prefix[3] = {169, 254, 77}; /* .1: the host */
#define MY_IP 2
#define HOSTILE_IP 100 /* + the case number: the sender of a bad frame */

static struct vdev rx, tx;
static unsigned slot;
static unsigned cur_case;
static int stray; /* a reply for a frame that should have been dropped */

static int why(const char *msg, uint64_t v)
{
	print("  ");
	print(msg);
	print(" ");
	print_hex(v);
	print("\n");
	return -1;
}

/* ---- the device ---- */

/* Queue @qi of the device: @size entries, rings at @ring (descriptors,
 * available ring at +0x1000, used ring at +0x2000). */
static void queue_setup(struct vdev *d, unsigned qi, uint64_t ring,
			uint16_t size)
{
	mem_fill(ring, 0, 0x3000);
	d->qsize = size;
	d->desc = (volatile struct vq_desc *)ring;
	d->avail = (volatile uint16_t *)(ring + 0x1000);
	d->used = (volatile uint8_t *)(ring + 0x2000);
	d->avail_idx = d->used_idx = d->next_desc = 0;
	vreg_write(d, VM_QUEUE_SEL, qi);
	vreg_write(d, VM_QUEUE_NUM, size);
	vreg_write(d, VM_QUEUE_DESC_LOW, (uint32_t)ring);
	vreg_write(d, VM_QUEUE_DESC_HIGH, 0);
	vreg_write(d, VM_QUEUE_DRIVER_LOW, (uint32_t)(ring + 0x1000));
	vreg_write(d, VM_QUEUE_DRIVER_HIGH, 0);
	vreg_write(d, VM_QUEUE_DEVICE_LOW, (uint32_t)(ring + 0x2000));
	vreg_write(d, VM_QUEUE_DEVICE_HIGH, 0);
	vreg_write(d, VM_QUEUE_READY, 1);
}

static void kick(const struct vdev *d, unsigned qi)
{
	vreg_write(d, VM_QUEUE_NOTIFY, qi);
}

/* Posts one receive buffer of @len bytes at @addr (no notification). */
static void rx_post(uint64_t addr, uint32_t len)
{
	struct vbuf b = {addr, len, D_WRITE};

	vq_post(&rx, &b, 1);
}

/* Reset, @features, both queues, DRIVER_OK; @nr_rx receive buffers of
 * RX_LEN posted. */
static int up(uint64_t features, unsigned nr_rx)
{
	if (vdev_negotiate(&rx, features))
		return why("negotiation failed, Status", vreg(&rx, VM_STATUS));
	tx = rx;
	queue_setup(&rx, 0, RING_ADDR(slot), QSIZE);
	queue_setup(&tx, 1, RING_ADDR(slot) + 0x4000, QSIZE);
	if (vreg(&rx, VM_STATUS) & S_NEEDS_RESET)
		return why("queue setup failed, Status", vreg(&rx, VM_STATUS));
	if (vdev_driver_ok(&rx))
		return -1;
	for (unsigned i = 0; i < nr_rx; i++)
		rx_post(BUF_ADDR(i), RX_LEN);
	if (nr_rx)
		kick(&rx, 0);
	return 0;
}

/* ---- frames ---- */

static void put16be(uint64_t a, uint16_t v)
{
	*(volatile uint8_t *)a = (uint8_t)(v >> 8);
	*(volatile uint8_t *)(a + 1) = (uint8_t)v;
}

static uint16_t get16be(uint64_t a)
{
	return (uint16_t)(*(volatile uint8_t *)a << 8 |
			  *(volatile uint8_t *)(a + 1));
}

/* A virtio-net header at @a. */
static void net_hdr(uint64_t a, uint8_t flags, uint8_t gso, uint16_t hdr_len,
		    uint16_t gso_size, uint16_t csum_start, uint16_t csum_off)
{
	volatile uint8_t *p = (volatile uint8_t *)a;

	mem_fill(a, 0, HS);
	p[0] = flags;
	p[1] = gso;
	*(volatile uint16_t *)(a + 2) = hdr_len;
	*(volatile uint16_t *)(a + 4) = gso_size;
	*(volatile uint16_t *)(a + 6) = csum_start;
	*(volatile uint16_t *)(a + 8) = csum_off;
}

/* A plain header at @a and an ARP request from 169.254.77.@sender for
 * 169.254.77.1 after it, padded with zeroes to @len frame bytes (42 at
 * least); returns HS + @len. */
static uint32_t arp_frame(uint64_t a, uint8_t sender, uint32_t len)
{
	uint64_t e = a + HS;
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	net_hdr(a, 0, 0, 0, 0, 0, 0);
	mem_fill(e, 0, len);
	mem_copy(e, bcast, 6);
	mem_copy(e + 6, my_mac, 6);
	put16be(e + 12, ETH_ARP);
	put16be(e + 14, 1);	 /* Ethernet */
	put16be(e + 16, 0x0800); /* IPv4 */
	*(volatile uint8_t *)(e + 18) = 6;
	*(volatile uint8_t *)(e + 19) = 4;
	put16be(e + 20, 1); /* request */
	mem_copy(e + 22, my_mac, 6);
	mem_copy(e + 28, net_prefix, 3);
	*(volatile uint8_t *)(e + 31) = sender;
	mem_copy(e + 38, net_prefix, 3);
	*(volatile uint8_t *)(e + 41) = 1;
	return HS + len;
}

/* Sends the chain @b on the transmit queue; the device must give it back
 * (used length 0) whatever it does with the frame. */
static int send(const struct vbuf *b, unsigned n)
{
	uint16_t head = vq_post(&tx, b, n);
	uint32_t id, len;

	kick(&tx, 1);
	if (vq_wait(&tx, &id, &len, WAIT_LONG))
		return why("transmit chain not returned, Status",
			   vreg(&tx, VM_STATUS));
	if (id != head)
		return why("transmit: used element for chain", id);
	if (len)
		return why("transmit: used length", len);
	return 0;
}

static int send1(uint64_t addr, uint32_t len)
{
	struct vbuf b = {addr, len, 0};

	return send(&b, 1);
}

/* The next received frame, put together at FRAME_AT (header first) from
 * its num_buffers used elements, whose buffers are posted again: V_OK with
 * its length and the number of buffers, or V_TIMEOUT. */
static int rx_frame(uint32_t *flen, unsigned *nbufs, unsigned long spins)
{
	uint32_t id, len, total = 0;
	unsigned n = 1;

	for (unsigned k = 0; k < n; k++) {
		uint64_t addr;

		if (vq_wait(&rx, &id, &len, k ? WAIT_LONG : spins))
			return k ? why("frame cut short after buffers", k)
				 : V_TIMEOUT;
		addr = rx.desc[id & (QSIZE - 1)].addr;
		if (len > rx.desc[id & (QSIZE - 1)].len)
			return why("used length beyond the buffer", len);
		mem_copy(FRAME_AT + total, (const void *)addr, len);
		total += len;
		if (!k && len >= HS)
			n = *(volatile uint16_t *)(addr + 10);
		if (!k && (n == 0 || n > QSIZE))
			return why("num_buffers", n);
		rx_post(addr, rx.desc[id & (QSIZE - 1)].len);
	}
	kick(&rx, 0);
	*flen = total;
	*nbufs = n;
	return V_OK;
}

/* Whether the frame at FRAME_AT is an ARP reply to us for 169.254.77.@ip. */
static int is_reply(uint32_t len, uint8_t ip)
{
	uint64_t e = FRAME_AT + HS;

	return len >= HS + 42 && get16be(e + 12) == ETH_ARP &&
	       get16be(e + 20) == 2 && mem_equal(e, my_mac, 6) &&
	       mem_equal(e + 32, my_mac, 6) &&
	       mem_equal(e + 38, net_prefix, 3) &&
	       *(volatile uint8_t *)(e + 41) == ip &&
	       mem_equal(e + 28, net_prefix, 3) &&
	       *(volatile uint8_t *)(e + 31) == 1;
}

/* Waits for the reply to 169.254.77.@ip; replies to the hostile senders
 * on the way are noted (a frame sent that should have been dropped). */
static int wait_reply(uint8_t ip, unsigned long spins)
{
	uint32_t len;
	unsigned n;

	for (unsigned frames = 0; frames < 64; frames++) {
		int r = rx_frame(&len, &n, spins);

		if (r)
			return r;
		if (is_reply(len, ip))
			return V_OK;
		for (unsigned k = HOSTILE_IP; k < HOSTILE_IP + 64; k++) {
			if (is_reply(len, (uint8_t)k)) {
				stray++;
				why("a reply to a frame the device should have dropped, from .",
				    k);
			}
		}
	}
	return why("64 frames and no reply for .", ip);
}

/* A normal round trip: an ARP request from .2 and its reply. */
static int round_trip(void)
{
	if (send1(TX_AT, arp_frame(TX_AT, MY_IP, 42)))
		return -1;
	if (wait_reply(MY_IP, WAIT_LONG))
		return why("normal round trip: no ARP reply, Status",
			   vreg(&rx, VM_STATUS));
	return 0;
}

/* Nothing more arrives for a while (a hostile frame was not sent). */
static int quiet(void)
{
	int before = stray;

	(void)wait_reply(0, WAIT_SHORT);
	return stray == before ? 0 : -1;
}

/* ---- the cases ---- */

/* The frame of this case: an ARP request from .1xx. */
static uint32_t hostile_frame(uint64_t a, uint32_t len)
{
	return arp_frame(a, (uint8_t)(HOSTILE_IP + cur_case), len);
}

static int c_config(void)
{
	uint64_t c = rx.base + VM_CONFIG;
	int r = 0;

	for (unsigned i = 0; i < 6; i++)
		if (mmio_read8(c + i) != my_mac[i])
			r = why("mac byte", i);
	if (mmio_read16(c + 6) != 1)
		r = why("status (LINK_UP)", mmio_read16(c + 6));
	if (mmio_read16(c + 8) != 1)
		r = why("max_virtqueue_pairs", mmio_read16(c + 8));
	if (mmio_read16(c + 10) != 1500)
		r = why("mtu", mmio_read16(c + 10));
	return r;
}

static int c_round_trip(void)
{
	return round_trip();
}

static int c_header_cut_short(void)
{
	hostile_frame(TX_AT, 42);
	return send1(TX_AT, HS - 1);
}

static int c_header_only(void)
{
	hostile_frame(TX_AT, 42);
	return send1(TX_AT, HS);
}

static int c_frame_too_short(void)
{
	hostile_frame(TX_AT, 42);
	return send1(TX_AT, HS + 13);
}

static int c_zero_length(void)
{
	return send1(TX_AT, 0);
}

static int c_zero_length_buffers(void)
{
	struct vbuf b[2] = {{TX_AT, 0, 0}, {TX_AT + 64, 0, 0}};

	return send(b, 2);
}

static int c_writable_buffer(void)
{
	uint32_t len = hostile_frame(TX_AT, 42);
	struct vbuf b[2] = {{TX_AT, len, 0}, {TX_AT + 0x800, 16, D_WRITE}};

	return send(b, 2);
}

/* A header with @flags, @gso, ... before this case's ARP request. */
static int bad_header(uint8_t flags, uint8_t gso, uint16_t hdr_len,
		      uint16_t gso_size, uint16_t csum_start, uint16_t csum_off)
{
	uint32_t len = hostile_frame(TX_AT, 42);

	net_hdr(TX_AT, flags, gso, hdr_len, gso_size, csum_start, csum_off);
	return send1(TX_AT, len);
}

static int c_unknown_gso(void)
{
	return bad_header(0, 2, 0, 0, 0, 0);
}

static int c_gso_not_negotiated(void)
{
	return bad_header(1, 1, 42, 1448, 14, 16);
}

static int c_gso_ecn(void)
{
	return bad_header(0, 0x81, 0, 1448, 0, 0);
}

static int c_csum_beyond_frame(void)
{
	return bad_header(1, 0, 0, 0, 40, 16); /* 40 + 16 + 2 > 42 */
}

static int c_hdr_len_beyond_frame(void)
{
	return bad_header(0, 0, 43, 0, 0, 0);
}

/* Flags the device does not know are ignored (5.1.6.2.2): sent. */
static int c_unknown_flags(void)
{
	uint32_t len = arp_frame(TX_AT, MY_IP, 42);

	net_hdr(TX_AT, 0xfe, 0, 0, 0, 0, 0);
	if (send1(TX_AT, len))
		return -1;
	return wait_reply(MY_IP, WAIT_LONG) ? why("no reply", 0) : 0;
}

static int c_mtu_plus_19(void)
{
	return send1(TX_AT, hostile_frame(TX_AT, 1500 + 19));
}

static int c_64k_plus_1(void)
{
	return send1(BIG_AT, hostile_frame(BIG_AT, 65536 + 1));
}

/* MTU + Ethernet header exactly: sent, answered. */
static int c_mtu_exact(void)
{
	if (send1(TX_AT, arp_frame(TX_AT, MY_IP, 1514)))
		return -1;
	return wait_reply(MY_IP, WAIT_LONG) ? why("no reply", 0) : 0;
}

/* Three bad chains and a good one in one notification. */
static int c_batch(void)
{
	uint64_t a[4] = {TX_AT, TX_AT + 0x800, TX_AT + 0x1000, TX_AT + 0x1800};
	uint32_t id, len;

	for (unsigned k = 0; k < 4; k++) {
		struct vbuf b;

		if (k == 1) {
			b = (struct vbuf){a[k], arp_frame(a[k], MY_IP, 42), 0};
		} else {
			b = (struct vbuf){a[k], hostile_frame(a[k], 42), 0};
			net_hdr(a[k], 0, 7, 0, 0, 0, 0);
		}
		vq_post(&tx, &b, 1);
	}
	kick(&tx, 1);
	for (unsigned k = 0; k < 4; k++)
		if (vq_wait(&tx, &id, &len, WAIT_LONG) || len)
			return why("batch: chain not returned, or length", k);
	return wait_reply(MY_IP, WAIT_LONG) ? why("no reply", 0) : 0;
}

/* A device-readable receive buffer comes back empty; the frame goes into
 * the next one. */
static int c_rx_readable(void)
{
	struct vbuf b = {BUF_ADDR(0), RX_LEN, 0};
	uint32_t id, len;
	uint16_t bad;

	if (up(BASE_FEATURES, 0))
		return -1;
	bad = vq_post(&rx, &b, 1);
	rx_post(BUF_ADDR(1), RX_LEN);
	kick(&rx, 0);
	if (send1(TX_AT, arp_frame(TX_AT, MY_IP, 42)))
		return -1;
	if (vq_wait(&rx, &id, &len, WAIT_LONG))
		return why("readable buffer: not returned", 0);
	if (id != bad || len)
		return why("readable buffer: used element/length",
			   id << 16 | len);
	return wait_reply(MY_IP, WAIT_LONG) ? why("no reply after it", 0) : 0;
}

/* Without MRG_RXBUF a buffer too small for the frame comes back empty and
 * the frame is dropped; the next frame takes the next buffer. */
static int c_rx_too_small(void)
{
	uint32_t id, len;
	uint16_t small;
	struct vbuf b = {BUF_ADDR(0), 32, D_WRITE};

	if (up(BASE_FEATURES, 0))
		return -1;
	small = vq_post(&rx, &b, 1);
	rx_post(BUF_ADDR(1), RX_LEN);
	kick(&rx, 0);
	if (send1(TX_AT, arp_frame(TX_AT, MY_IP, 42)))
		return -1;
	if (vq_wait(&rx, &id, &len, WAIT_LONG))
		return why("small buffer: not returned", 0);
	if (id != small || len)
		return why("small buffer: used element/length", id << 16 | len);
	if (vq_used_pending(&rx))
		return why("the dropped frame went into the next buffer", 0);
	return round_trip();
}

/* No receive buffer: the reply waits in the tap until one is posted. */
static int c_rx_no_buffers(void)
{
	uint32_t id, len;

	if (up(BASE_FEATURES, 0))
		return -1;
	if (send1(TX_AT, arp_frame(TX_AT, MY_IP, 42)))
		return -1;
	if (vq_wait(&rx, &id, &len, WAIT_SHORT) == V_OK)
		return why("a used element without a buffer posted", id);
	rx_post(BUF_ADDR(0), RX_LEN);
	kick(&rx, 0);
	return wait_reply(MY_IP, WAIT_LONG) ? why("no reply once posted", 0)
					    : 0;
}

/* With MRG_RXBUF the reply (54 bytes with the header) spreads over 32-byte
 * buffers: two, num_buffers 2. */
static int c_rx_mrg_spread(void)
{
	uint32_t len;
	unsigned n;

	if (up(BASE_FEATURES | NET_F_MRG_RXBUF, 0))
		return -1;
	for (unsigned i = 0; i < 4; i++)
		rx_post(BUF_ADDR(i), 32);
	kick(&rx, 0);
	if (send1(TX_AT, arp_frame(TX_AT, MY_IP, 42)))
		return -1;
	if (rx_frame(&len, &n, WAIT_LONG))
		return why("no frame", 0);
	if (n != 2 || len != HS + 42)
		return why("buffers/length", (uint64_t)n << 32 | len);
	if (!is_reply(len, MY_IP))
		return why("not the ARP reply", 0);
	return round_trip();
}

/* With MRG_RXBUF a first buffer shorter than the header comes back empty. */
static int c_rx_mrg_header_too_small(void)
{
	struct vbuf b = {BUF_ADDR(0), 8, D_WRITE};
	uint32_t id, len;
	uint16_t tiny;

	if (up(BASE_FEATURES | NET_F_MRG_RXBUF, 0))
		return -1;
	tiny = vq_post(&rx, &b, 1);
	rx_post(BUF_ADDR(1), RX_LEN);
	kick(&rx, 0);
	if (send1(TX_AT, arp_frame(TX_AT, MY_IP, 42)))
		return -1;
	if (vq_wait(&rx, &id, &len, WAIT_LONG) || id != tiny || len)
		return why("8-byte buffer: used element/length",
			   id << 16 | len);
	return wait_reply(MY_IP, WAIT_LONG) ? why("no reply after it", 0) : 0;
}

/* NEEDS_CSUM without VIRTIO_NET_F_CSUM negotiated. */
static int c_csum_not_negotiated(void)
{
	if (up(BASE_FEATURES, NR_RX))
		return -1;
	return bad_header(1, 0, 0, 0, 14, 16);
}

struct ncase {
	const char *name;
	int (*fn)(void);
	int hostile; /* a frame that must not be sent: check nothing comes */
};

static const struct ncase cases[] = {
	{"config", c_config, 0},
	{"arp-round-trip", c_round_trip, 0},
	{"tx-header-cut-short", c_header_cut_short, 1},
	{"tx-header-only", c_header_only, 1},
	{"tx-frame-shorter-than-ethernet", c_frame_too_short, 1},
	{"tx-zero-length-chain", c_zero_length, 1},
	{"tx-zero-length-buffers", c_zero_length_buffers, 1},
	{"tx-writable-buffer", c_writable_buffer, 1},
	{"tx-unknown-gso-type", c_unknown_gso, 1},
	{"tx-gso-not-negotiated", c_gso_not_negotiated, 1},
	{"tx-gso-ecn", c_gso_ecn, 1},
	{"tx-csum-beyond-frame", c_csum_beyond_frame, 1},
	{"tx-hdr-len-beyond-frame", c_hdr_len_beyond_frame, 1},
	{"tx-unknown-flags-ignored", c_unknown_flags, 0},
	{"tx-frame-mtu-plus-19", c_mtu_plus_19, 1},
	{"tx-frame-64k-plus-1", c_64k_plus_1, 1},
	{"tx-frame-mtu-exact", c_mtu_exact, 0},
	{"tx-batch-3-bad-1-good", c_batch, 1},
	{"rx-readable-buffer", c_rx_readable, 0},
	{"rx-buffer-too-small", c_rx_too_small, 0},
	{"rx-no-buffers", c_rx_no_buffers, 0},
	{"rx-mrg-spread", c_rx_mrg_spread, 0},
	{"rx-mrg-header-too-small", c_rx_mrg_header_too_small, 0},
	{"tx-csum-not-negotiated", c_csum_not_negotiated, 1},
};

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	unsigned failed = 0, first = 0;

	(void)cpu;
	for (slot = 0; slot < 17; slot++)
		if (mmio_read32(VIRTIO_MMIO_SLOT(slot) + VM_MAGIC) ==
			    VIRTIO_MAGIC &&
		    mmio_read32(VIRTIO_MMIO_SLOT(slot) + VM_DEVICE_ID) ==
			    VIRTIO_ID_NET)
			break;
	if (slot == 17) {
		print("virtio-net: no virtio-net in slots 0-16\n");
		guest_exit(255);
	}
	print("device virtio-net\n");
	if (vdev_probe(&rx, slot, VIRTIO_ID_NET) ||
	    up(BASE_FEATURES | NET_F_CSUM, NR_RX)) {
		print("fail setup\n");
		guest_exit(255);
	}
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ncase *c = &cases[i];
		int r;

		cur_case = i;
		print("case ");
		print(c->name);
		print("\n");
		r = c->fn();
		if (!r && c->hostile)
			r = quiet();
		/* The device must still serve: a normal round trip. */
		if (!r && (vreg(&rx, VM_STATUS) & S_NEEDS_RESET))
			r = why("DEVICE_NEEDS_RESET, Status",
				vreg(&rx, VM_STATUS));
		if (!r && round_trip())
			r = why("no round trip after the case", 0);
		if (r) {
			/* Start the next case from a fresh device. */
			up(BASE_FEATURES | NET_F_CSUM, NR_RX);
		}
		print(r ? "fail " : "ok ");
		print(c->name);
		print("\n");
		if (r) {
			failed++;
			if (!first)
				first = i + 1;
		}
	}
	print("done ");
	print_uint(failed);
	print("\n");
	guest_exit(first);
}
