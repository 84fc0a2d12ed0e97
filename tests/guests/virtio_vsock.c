/* virtio-vsock through virtio-mmio, polled, run by virtio_vsock.sh as
 *   minivmm run --kernel virtio_vsock.elf --vsock cid=3,uds=DIR/v.sock
 * with host programs (tests/linux/vsock/host.c) serving DIR/v.sock_5000
 * (echo) and DIR/v.sock_5001 (hold: accepts, never reads).
 *
 * The driver sets the three queues up itself (virtio_lib.c knows queue 0
 * only) and speaks the packets by hand: a guest CID of 3 in the
 * configuration space; a REQUEST to a port nobody serves gets RST; one to
 * 5000 gets RESPONSE and an echo; then the hostile cases, each followed by
 * that normal exchange (minivmm must still serve): a len beyond the
 * packet's buffer and one above 64 KiB, an unknown op and type, a source
 * CID that is not ours (dropped: nothing comes back), a destination that
 * is not the host, a header cut short, a REQUEST for a live flow, a
 * credit overrun against a host program that does not read (RST), rx
 * buffers too small for a header; last, it prints "listening 6000", the
 * script's host program connects through DIR/v.sock ("CONNECT 6000"), and
 * the guest answers its REQUEST, reads "ping", sends "pong".
 *
 * Output as virtio_hostile.c: "case NAME", indented details, "ok NAME" or
 * "fail NAME", "done N"; the exit status is the number of the first
 * failed case, 0 if none. */
#include "virtio.h"

#define VIRTIO_ID_VSOCK 19
#define CID 3
#define HOST_CID 2
#define ECHO_PORT 5000
#define HOLD_PORT 5001
#define NOBODY_PORT 9999
#define LISTEN_PORT 6000

#define RX 0
#define TX 1
#define EV 2
#define QSIZE 16
#define RING(q) (0x400000ull + 0x10000ull * (q))
#define RXBUF(i) (0x500000ull + 0x2000ull * (i))
#define RXLEN (44 + 4096)
#define TXBUF 0x600000ull /* header, then up to 64 KiB + 1 */
#define EVBUF 0x700000ull

#define OP_REQUEST 1
#define OP_RESPONSE 2
#define OP_RST 3
#define OP_SHUTDOWN 4
#define OP_RW 5
#define OP_CREDIT_UPDATE 6
#define OP_CREDIT_REQUEST 7
#define HDR 44
#define MAX_PAYLOAD 65536u

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

static struct vdev dev, q[3];
static uint32_t next_port = 3000;
static unsigned failed, first_failed, ncase;

static int why(const char *msg, uint64_t v)
{
	print("  ");
	print(msg);
	print(" ");
	print_hex(v);
	print("\n");
	return -1;
}

/* ---- the transport: three queues ---- */

static int setup_queue(unsigned idx)
{
	struct vdev *d = &q[idx];
	uint64_t ring = RING(idx);

	*d = dev;
	mem_fill(ring, 0, 0x3000);
	d->qsize = QSIZE;
	d->desc = (volatile struct vq_desc *)ring;
	d->avail = (volatile uint16_t *)(ring + 0x1000);
	d->used = (volatile uint8_t *)(ring + 0x2000);
	d->avail_idx = d->used_idx = d->next_desc = 0;
	vreg_write(&dev, VM_QUEUE_SEL, idx);
	if (vreg(&dev, VM_QUEUE_NUM_MAX) < QSIZE)
		return why("QueueNumMax below 16 for queue", idx);
	vreg_write(&dev, VM_QUEUE_NUM, QSIZE);
	vreg_write(&dev, VM_QUEUE_DESC_LOW, (uint32_t)ring);
	vreg_write(&dev, VM_QUEUE_DESC_HIGH, 0);
	vreg_write(&dev, VM_QUEUE_DRIVER_LOW, (uint32_t)(ring + 0x1000));
	vreg_write(&dev, VM_QUEUE_DRIVER_HIGH, 0);
	vreg_write(&dev, VM_QUEUE_DEVICE_LOW, (uint32_t)(ring + 0x2000));
	vreg_write(&dev, VM_QUEUE_DEVICE_HIGH, 0);
	vreg_write(&dev, VM_QUEUE_READY, 1);
	if (vreg(&dev, VM_QUEUE_READY) != 1)
		return why("QueueReady reads 0 for queue", idx);
	return 0;
}

static void kick(unsigned idx)
{
	vreg_write(&dev, VM_QUEUE_NOTIFY, idx);
}

/* rx buffer i is descriptor i, @len bytes. */
static void rx_post(uint16_t i, uint32_t len)
{
	vq_set_desc(&q[RX], i, RXBUF(i), len, D_WRITE, 0);
	vq_publish(&q[RX], i);
}

static int device_up(void)
{
	if (vdev_negotiate(&dev, F_VERSION_1))
		return -1;
	for (unsigned i = 0; i < 3; i++)
		if (setup_queue(i))
			return -1;
	if (vdev_driver_ok(&dev))
		return -1;
	for (uint16_t i = 0; i < QSIZE; i++)
		rx_post(i, RXLEN);
	kick(RX);
	/* One event buffer, as Linux posts them; nothing should come. */
	vq_set_desc(&q[EV], 0, EVBUF, 4, D_WRITE, 0);
	vq_publish(&q[EV], 0);
	kick(EV);
	return 0;
}

/* ---- packets ---- */

static void put_hdr(uint64_t at, const struct hdr *h)
{
	volatile uint8_t *p = (volatile uint8_t *)at;
	const uint64_t f[10] = {h->src_cid,  h->dst_cid, h->src_port,
				h->dst_port, h->len,	 h->type,
				h->op,	     h->flags,	 h->buf_alloc,
				h->fwd_cnt};
	const unsigned w[10] = {8, 8, 4, 4, 4, 2, 2, 4, 4, 4};

	for (unsigned i = 0, off = 0; i < 10; off += w[i], i++)
		for (unsigned b = 0; b < w[i]; b++)
			p[off + b] = (uint8_t)(f[i] >> (8 * b));
}

static uint64_t get_le(uint64_t at, unsigned n)
{
	volatile const uint8_t *p = (volatile const uint8_t *)at;
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void get_hdr(uint64_t at, struct hdr *h)
{
	h->src_cid = get_le(at, 8);
	h->dst_cid = get_le(at + 8, 8);
	h->src_port = (uint32_t)get_le(at + 16, 4);
	h->dst_port = (uint32_t)get_le(at + 20, 4);
	h->len = (uint32_t)get_le(at + 24, 4);
	h->type = (uint16_t)get_le(at + 28, 2);
	h->op = (uint16_t)get_le(at + 30, 2);
	h->flags = (uint32_t)get_le(at + 32, 4);
	h->buf_alloc = (uint32_t)get_le(at + 36, 4);
	h->fwd_cnt = (uint32_t)get_le(at + 40, 4);
}

static struct hdr pkt(uint16_t op, uint32_t sport, uint32_t dport, uint32_t len)
{
	struct hdr h;

	h.src_cid = CID;
	h.dst_cid = HOST_CID;
	h.src_port = sport;
	h.dst_port = dport;
	h.len = len;
	h.type = 1;
	h.op = op;
	h.flags = 0;
	h.buf_alloc = 64 * 1024;
	h.fwd_cnt = 0;
	return h;
}

/* Sends @h with @n payload bytes already at TXBUF + HDR (@n may differ
 * from h->len), as a header buffer and a payload buffer (or the header
 * alone, cut to @hdr_len bytes). */
static int send_raw(const struct hdr *h, uint32_t n, uint32_t hdr_len)
{
	struct vbuf b[2] = {{TXBUF, hdr_len, 0}, {TXBUF + HDR, n, 0}};
	uint32_t id, len;
	uint16_t head;

	put_hdr(TXBUF, h);
	head = vq_post(&q[TX], b, n ? 2 : 1);
	kick(TX);
	if (vq_wait(&q[TX], &id, &len, WAIT_LONG))
		return why("tx chain not consumed, Status",
			   vreg(&dev, VM_STATUS));
	if (id != head || len != 0)
		return why("tx used element id/len", (uint64_t)id << 32 | len);
	return 0;
}

static int send_pkt(uint16_t op, uint32_t sport, uint32_t dport,
		    const char *data, uint32_t n, uint32_t flags)
{
	struct hdr h = pkt(op, sport, dport, n);

	h.flags = flags;
	if (n)
		mem_copy(TXBUF + HDR, data, n);
	return send_raw(&h, n, HDR);
}

/* The next packet on rx within @spins polls: its header, the payload's
 * address in *@data; the buffer is posted again (the caller copies what
 * it needs first: posting happens at the next call).  0 or V_TIMEOUT. */
static int recv_pkt(struct hdr *h, uint64_t *data, unsigned long spins)
{
	static int held = -1;
	uint32_t id, len;

	if (held >= 0) {
		rx_post((uint16_t)held, RXLEN);
		kick(RX);
		held = -1;
	}
	for (;;) {
		if (vq_wait(&q[RX], &id, &len, spins))
			return V_TIMEOUT;
		if (id >= QSIZE || (len && len < HDR) || len > RXLEN)
			return why("rx used element id/len",
				   (uint64_t)id << 32 | len);
		if (len)
			break;
		/* A buffer the device could not use, given back empty. */
		rx_post((uint16_t)id, RXLEN);
		kick(RX);
	}
	get_hdr(RXBUF(id), h);
	if (h->len + HDR != len)
		return why("rx len field vs used length",
			   (uint64_t)h->len << 32 | len);
	if (h->dst_cid != CID)
		return why("rx dst_cid", h->dst_cid);
	if (data)
		*data = RXBUF(id) + HDR;
	held = (int)id;
	return 0;
}

/* The next packet other than credit updates and requests. */
static int next_pkt(struct hdr *h, uint64_t *data, unsigned long spins)
{
	int ret;

	while (!(ret = recv_pkt(h, data, spins)))
		if (h->op != OP_CREDIT_UPDATE && h->op != OP_CREDIT_REQUEST)
			return 0;
	return ret;
}

/* The next packet must be @op from the host's @sport to our @dport. */
static int expect(uint16_t op, uint32_t sport, uint32_t dport)
{
	struct hdr h;

	if (next_pkt(&h, 0, WAIT_LONG))
		return why("no packet; expected op", op);
	if (h.op != op)
		return why("op", h.op);
	if (h.src_port != sport || h.dst_port != dport)
		return why("ports", (uint64_t)h.src_port << 32 | h.dst_port);
	if (h.src_cid != HOST_CID && op != OP_RST)
		return why("src_cid", h.src_cid);
	return 0;
}

/* Nothing but credit packets comes for a while. */
static int expect_none(void)
{
	struct hdr h;

	if (!next_pkt(&h, 0, WAIT_SHORT))
		return why("unexpected packet, op/ports",
			   (uint64_t)h.op << 48 | (uint64_t)h.src_port << 24 |
				   h.dst_port);
	return 0;
}

/* ---- exchanges ---- */

/* A REQUEST to a port nobody serves: RST. */
static int refused(void)
{
	uint32_t p = next_port++;

	if (send_pkt(OP_REQUEST, p, NOBODY_PORT, 0, 0, 0) ||
	    expect(OP_RST, NOBODY_PORT, p))
		return why("REQUEST to nobody not refused, port", NOBODY_PORT);
	return 0;
}

/* Opens a connection to host port @hport from a new port of ours. */
static int open_conn(uint32_t hport, uint32_t *port)
{
	*port = next_port++;
	if (send_pkt(OP_REQUEST, *port, hport, 0, 0, 0) ||
	    expect(OP_RESPONSE, hport, *port))
		return why("no RESPONSE from host port", hport);
	return 0;
}

/* The normal exchange: a refused REQUEST, then a connection to the echo
 * program, bytes there and back, and a clean close. */
static int normal(void)
{
	static const char msg[] = "hello through vsock";
	uint32_t p, n = sizeof(msg) - 1, got = 0;
	struct hdr h;
	uint64_t data;

	if (refused() || open_conn(ECHO_PORT, &p) ||
	    send_pkt(OP_RW, p, ECHO_PORT, msg, n, 0))
		return -1;
	while (got < n) {
		if (next_pkt(&h, &data, WAIT_LONG))
			return why("no echo; bytes so far", got);
		if (h.op != OP_RW || h.dst_port != p)
			return why("echo: op", h.op);
		if (!mem_equal(data, msg + got, h.len))
			return why("echo: bytes differ at", got);
		got += h.len;
	}
	if (send_pkt(OP_SHUTDOWN, p, ECHO_PORT, 0, 0, 3) ||
	    expect(OP_RST, ECHO_PORT, p))
		return why("no RST after our SHUTDOWN, port", p);
	return 0;
}

/* ---- the cases ---- */

static int case_config(void)
{
	uint32_t lo = vreg(&dev, VM_CONFIG), hi = vreg(&dev, VM_CONFIG + 4);

	if (lo != CID || hi != 0)
		return why("guest_cid", (uint64_t)hi << 32 | lo);
	if (dev.offered & ~(F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC))
		return why("unexpected features offered", dev.offered);
	return 0;
}

static int case_normal(void)
{
	return normal();
}

/* len says 1000, 10 bytes are there: RST, on a live flow too. */
static int case_len_beyond(void)
{
	struct hdr h = pkt(OP_RW, next_port++, ECHO_PORT, 1000);
	uint32_t p;

	mem_fill(TXBUF + HDR, 'x', 10);
	if (send_raw(&h, 10, HDR) || expect(OP_RST, ECHO_PORT, h.src_port))
		return -1;
	if (open_conn(ECHO_PORT, &p))
		return -1;
	h = pkt(OP_RW, p, ECHO_PORT, 1000);
	if (send_raw(&h, 10, HDR) || expect(OP_RST, ECHO_PORT, p))
		return why("live flow not reset, port", p);
	return normal();
}

/* len 64 KiB + 1 with the bytes there: above the maximum. */
static int case_len_max(void)
{
	struct hdr h = pkt(OP_RW, next_port++, ECHO_PORT, MAX_PAYLOAD + 1);

	if (send_raw(&h, MAX_PAYLOAD + 1, HDR) ||
	    expect(OP_RST, ECHO_PORT, h.src_port))
		return -1;
	return normal();
}

static int case_unknown_op(void)
{
	struct hdr h = pkt(99, next_port++, ECHO_PORT, 0);

	if (send_raw(&h, 0, HDR) || expect(OP_RST, ECHO_PORT, h.src_port))
		return -1;
	h = pkt(0, next_port++, ECHO_PORT, 0);
	if (send_raw(&h, 0, HDR) || expect(OP_RST, ECHO_PORT, h.src_port))
		return -1;
	return normal();
}

static int case_unknown_type(void)
{
	struct hdr h = pkt(OP_REQUEST, next_port++, ECHO_PORT, 0);

	h.type = 2; /* SEQPACKET: not offered */
	if (send_raw(&h, 0, HDR) || expect(OP_RST, ECHO_PORT, h.src_port))
		return -1;
	return normal();
}

/* Not from our CID: dropped, nothing comes back. */
static int case_wrong_src(void)
{
	struct hdr h = pkt(OP_REQUEST, next_port++, ECHO_PORT, 0);

	h.src_cid = 7;
	if (send_raw(&h, 0, HDR) || expect_none())
		return -1;
	h.src_cid = CID | 1ull << 32;
	if (send_raw(&h, 0, HDR) || expect_none())
		return -1;
	return normal();
}

/* To CID 5: refused as if from there. */
static int case_wrong_dst(void)
{
	struct hdr h = pkt(OP_REQUEST, next_port++, ECHO_PORT, 0), r;

	h.dst_cid = 5;
	if (send_raw(&h, 0, HDR))
		return -1;
	if (next_pkt(&r, 0, WAIT_LONG))
		return why("no RST for CID", 5);
	if (r.op != OP_RST || r.src_cid != 5 || r.dst_port != h.src_port)
		return why("reply op/src_cid",
			   (uint64_t)r.op << 32 | r.src_cid);
	return normal();
}

/* A header cut short: dropped. */
static int case_short_header(void)
{
	struct hdr h = pkt(OP_REQUEST, next_port++, ECHO_PORT, 0);

	if (send_raw(&h, 0, 20) || expect_none())
		return -1;
	return normal();
}

/* A second REQUEST on a live flow: the flow is reset. */
static int case_second_request(void)
{
	uint32_t p;

	if (open_conn(ECHO_PORT, &p) ||
	    send_pkt(OP_REQUEST, p, ECHO_PORT, 0, 0, 0) ||
	    expect(OP_RST, ECHO_PORT, p))
		return -1;
	return normal();
}

/* Against a host program that never reads, a guest that ignores the
 * credit (256 KiB) is reset once beyond it. */
static int case_credit_overrun(void)
{
	struct hdr h, r;
	uint32_t p;

	if (open_conn(HOLD_PORT, &p))
		return -1;
	mem_fill(TXBUF + HDR, 'c', MAX_PAYLOAD);
	for (unsigned i = 0; i < 48; i++) {
		h = pkt(OP_RW, p, HOLD_PORT, MAX_PAYLOAD);
		if (send_raw(&h, MAX_PAYLOAD, HDR))
			return -1;
		/* Credit updates may come while the socket takes bytes (one
		 * poll: is there something now?). */
		while (!recv_pkt(&r, 0, 1)) {
			if (r.op == OP_RST && r.dst_port == p)
				return normal();
			if (r.op != OP_CREDIT_UPDATE)
				return why("op", r.op);
		}
	}
	if (next_pkt(&r, 0, WAIT_LONG) || r.op != OP_RST || r.dst_port != p)
		return why("no RST after 3 MiB beyond the credit, op", r.op);
	return normal();
}

/* rx buffers too small for a header come back empty, and the device goes
 * on with the next ones. */
static int case_small_rx(void)
{
	struct hdr h;
	uint32_t p = next_port++;

	/* Every posted buffer is taken by now but the one recv_pkt holds:
	 * drain, then shrink two of the reposted ones. */
	while (!recv_pkt(&h, 0, WAIT_SHORT))
		;
	for (uint16_t i = 0; i < 2; i++)
		q[RX].desc[(q[RX].avail[2 + ((q[RX].avail_idx - 1 - i) &
					     (QSIZE - 1))])]
			.len = 8;
	if (send_pkt(OP_REQUEST, p, NOBODY_PORT, 0, 0, 0))
		return -1;
	if (expect(OP_RST, NOBODY_PORT, p))
		return why("no RST after small rx buffers", 0);
	return normal();
}

/* The script's host program connects to our port 6000. */
static int case_host_connect(void)
{
	struct hdr h;
	uint64_t data;
	uint32_t local;

	print("listening 6000\n");
	for (unsigned i = 0; i < 5; i++) {
		if (!next_pkt(&h, 0, WAIT_LONG))
			break;
		if (i == 4)
			return why("no REQUEST from the host program", 0);
	}
	if (h.op != OP_REQUEST || h.dst_port != LISTEN_PORT ||
	    h.src_port < (1u << 30))
		return why("op/ports", (uint64_t)h.op << 48 |
					       (uint64_t)h.src_port << 24 |
					       h.dst_port);
	local = h.src_port;
	if (send_pkt(OP_RESPONSE, LISTEN_PORT, local, 0, 0, 0))
		return -1;
	if (next_pkt(&h, &data, WAIT_LONG) || h.op != OP_RW || h.len != 4 ||
	    !mem_equal(data, "ping", 4))
		return why("no ping, op", h.op);
	if (send_pkt(OP_RW, LISTEN_PORT, local, "pong", 4, 0))
		return -1;
	/* It reads its pong and goes: both directions shut. */
	if (next_pkt(&h, 0, WAIT_LONG) || h.op != OP_SHUTDOWN || h.flags != 3)
		return why("no SHUTDOWN after the program left, op", h.op);
	return send_pkt(OP_RST, LISTEN_PORT, local, 0, 0, 0);
}

/* Nothing on the event queue: no transport reset happened. */
static int case_no_events(void)
{
	if (vq_used_pending(&q[EV]))
		return why("event queue used elements",
			   vq_used_pending(&q[EV]));
	return 0;
}

static void run(const char *name, int (*fn)(void))
{
	ncase++;
	print("case ");
	print(name);
	print("\n");
	if (fn()) {
		print("fail ");
		failed++;
		if (!first_failed)
			first_failed = ncase;
	} else {
		print("ok ");
	}
	print(name);
	print("\n");
}

void guest_main(unsigned cpu);

void guest_main(unsigned cpu)
{
	unsigned slot;

	(void)cpu;
	for (slot = 0; slot < 17; slot++)
		if (mmio_read32(VIRTIO_MMIO_SLOT(slot) + VM_MAGIC) ==
			    VIRTIO_MAGIC &&
		    mmio_read32(VIRTIO_MMIO_SLOT(slot) + VM_DEVICE_ID) ==
			    VIRTIO_ID_VSOCK)
			break;
	if (slot == 17 || vdev_probe(&dev, slot, VIRTIO_ID_VSOCK)) {
		print("virtio-vsock: no virtio-vsock in slots 0-16\n");
		guest_exit(1);
	}
	print("device virtio-vsock in slot ");
	print_uint(slot);
	print("\n");
	if (device_up()) {
		print("virtio-vsock: device setup failed\n");
		guest_exit(1);
	}
	run("config", case_config);
	run("normal", case_normal);
	run("len-beyond-buffer", case_len_beyond);
	run("len-above-max", case_len_max);
	run("unknown-op", case_unknown_op);
	run("unknown-type", case_unknown_type);
	run("wrong-src-cid", case_wrong_src);
	run("wrong-dst-cid", case_wrong_dst);
	run("short-header", case_short_header);
	run("second-request", case_second_request);
	run("credit-overrun", case_credit_overrun);
	run("small-rx-buffers", case_small_rx);
	run("host-connect", case_host_connect);
	run("no-events", case_no_events);
	print("done ");
	print_uint(failed);
	print("\n");
	guest_exit(first_failed);
}
