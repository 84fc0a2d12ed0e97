/* Unit tests for virtio-vsock: --vsock's options, the packet check, and
 * the device end to end through a fake transport (this file defines the
 * virtio_dev_*() calls the device makes, so mmio.c is not linked in) with
 * a hand-written driver in fake guest memory on one side and real UNIX
 * sockets in a temporary directory on the other. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "virtio/vsock.h"
#include "fake_virtio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define KiB 1024u
#define MiB (1024u * 1024u)
#define RAM (32 * MiB)

/* Guest physical layout of the fake driver. */
#define RX_DESC 0x10000
#define RX_AVAIL 0x12000
#define RX_USED 0x13000
#define RX_SIZE 128
#define TX_DESC 0x20000
#define TX_AVAIL 0x22000
#define TX_USED 0x23000
#define TX_SIZE 256
#define TX_SLOTS 64 /* chains in flight, 4 descriptors each */
#define EV_DESC 0x30000
#define EV_AVAIL 0x32000
#define EV_USED 0x33000
#define TXBUF(s) (0x100000ull + 0x11000ull * (s))
#define RXBUF(i) (0x1000000ull + 0x11000ull * (i))

#define CID 3
#define HDR VIRTIO_VSOCK_HDR_SIZE

/* ---- the fake driver ---- */

struct fq {
	struct virtq q;
	uint64_t desc, avail, used;
	uint16_t size;
	uint16_t avail_idx; /* what we published */
	uint16_t used_seen; /* used elements we consumed */
};

struct fx {
	struct vm_mem m;
	struct fq rx, tx, ev;
	struct virtio_dev vd;
	struct virtio_vsock *v;
	const struct virtio_device_ops *ops;
	char dir[64];
	char uds[108];
	uint32_t rx_len;	   /* bytes of each rx buffer we post */
	uint32_t rx_lens[RX_SIZE]; /* what each posted buffer has */
	bool rx_repost;		   /* give a consumed rx buffer back at once */
	uint32_t buf_alloc;	   /* what the fake guest advertises */
	uint32_t fwd_cnt;
};

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

static void set_desc(struct fx *f, struct fq *q, uint16_t i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	memcpy(gp(f, q->desc + 16ull * i, 16), d, 16);
}

static void publish(struct fx *f, struct fq *q, uint16_t head)
{
	put16(f, q->avail + 4 + 2ull * (q->avail_idx % q->size), head);
	q->avail_idx++;
	put16(f, q->avail + 2, q->avail_idx);
}

static void fq_init(struct fx *f, struct fq *q, uint64_t desc, uint16_t size)
{
	memset(gp(f, desc, 0x4000), 0, 0x4000);
	q->desc = desc;
	q->avail = desc + 0x2000;
	q->used = desc + 0x3000;
	q->size = size;
	q->avail_idx = q->used_seen = 0;
	assert_int_equal(virtq_init(&q->q, &f->m, size, q->desc, q->avail,
				    q->used, false, false),
			 0);
}

/* Posts @n rx buffers of f->rx_len bytes (descriptor i: RXBUF(i)). */
static void rx_post(struct fx *f, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t i = f->rx.avail_idx % RX_SIZE;

		set_desc(f, &f->rx, i, RXBUF(i), f->rx_len, VIRTQ_DESC_F_WRITE,
			 0);
		f->rx_lens[i] = f->rx_len;
		publish(f, &f->rx, i);
	}
	f->ops->queue_notify(&f->vd, VIRTIO_VSOCK_RX);
}

/* Polls the device's epoll fd for up to @ms and runs what is ready. */
static void run(struct fx *f, int ms)
{
	struct pollfd p = {.fd = f->vd.fd[0], .events = POLLIN};

	while (poll(&p, 1, ms) == 1) {
		f->vd.ready[0](&f->vd, f->vd.fd[0]);
		ms = 0;
	}
}

/* The device settles: its epoll fd stops being readable after a few
 * rounds (no busy loop, whatever the guest's credit). */
static void quiet(struct fx *f)
{
	struct pollfd p = {.fd = f->vd.fd[0], .events = POLLIN};
	unsigned i;

	for (i = 0; i < 50 && poll(&p, 1, 20) == 1; i++)
		f->vd.ready[0](&f->vd, f->vd.fd[0]);
	assert_true(i < 50);
}

static uint64_t ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* The next packet the device put on rx, within @ms: its header and up to
 * @max payload bytes into @data.  False if none came. */
static bool rx_pkt(struct fx *f, struct vsock_hdr *h, void *data, size_t max,
		   int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;

	for (;;) {
		if (get16(f, f->rx.used + 2) != f->rx.used_seen) {
			uint64_t e = f->rx.used + 4 +
				     8ull * (f->rx.used_seen % RX_SIZE);
			uint32_t id = get32(f, e), len = get32(f, e + 4);
			uint8_t *b;

			f->rx.used_seen++;
			assert_true(id < RX_SIZE);
			b = gp(f, RXBUF(id), f->rx_lens[id]);
			if (len < HDR || len > f->rx_lens[id])
				fail_msg(
					"used length %u of buffer %u (%u bytes)",
					len, id, f->rx_lens[id]);
			vsock_hdr_decode(b, h);
			assert_int_equal(len, HDR + h->len);
			if (data)
				memcpy(data, b + HDR,
				       h->len < max ? h->len : max);
			if (f->rx_repost)
				rx_post(f, 1);
			return true;
		}
		if (ms_now() >= end)
			return false;
		run(f, 5);
	}
}

/* The next packet, which must be @op from host port @src to guest port
 * @dst (a port of UINT32_MAX: any). */
#define expect(f, h, op, src, dst) expect_at(f, h, op, src, dst, __LINE__)
static void expect_at(struct fx *f, struct vsock_hdr *h, uint16_t op,
		      uint32_t src, uint32_t dst, int line)
{
	if (!rx_pkt(f, h, NULL, 0, 3000))
		fail_msg("line %d: no packet, expected op %u", line, op);
	if (h->op != op)
		fail_msg("line %d: op %u, expected %u (ports %u -> %u)", line,
			 h->op, op, h->src_port, h->dst_port);
	/* An RST for a bad packet keeps that packet's type and addresses. */
	if (h->op != VIRTIO_VSOCK_OP_RST)
		assert_int_equal(h->type, VIRTIO_VSOCK_TYPE_STREAM);
	if (h->op != VIRTIO_VSOCK_OP_RST || h->src_cid == VSOCK_HOST_CID) {
		assert_int_equal(h->src_cid, VSOCK_HOST_CID);
		assert_int_equal(h->dst_cid, CID);
	}
	if (src != UINT32_MAX)
		assert_int_equal(h->src_port, src);
	if (dst != UINT32_MAX)
		assert_int_equal(h->dst_port, dst);
}

/* The next packet that is not a credit update or request (those may come
 * whenever our side of the credit moves). */
static bool rx_next(struct fx *f, struct vsock_hdr *h, void *data, size_t max,
		    int ms)
{
	while (rx_pkt(f, h, data, max, ms))
		if (h->op != VIRTIO_VSOCK_OP_CREDIT_UPDATE &&
		    h->op != VIRTIO_VSOCK_OP_CREDIT_REQUEST)
			return true;
	return false;
}

/* Nothing comes on rx for a while. */
static void expect_none(struct fx *f)
{
	struct vsock_hdr h;

	if (rx_pkt(f, &h, NULL, 0, 100))
		fail_msg("unexpected op %u %u -> %u", h.op, h.src_port,
			 h.dst_port);
}

/* A packet from the guest, as one chain: the header (len field as
 * given), then @n bytes of @data, split into descriptors as @split says
 * (0: one buffer; 1: header, payload; 2: header in two, payload in two). */
static void tx_raw(struct fx *f, const struct vsock_hdr *h, const void *data,
		   uint32_t n, unsigned split)
{
	uint16_t slot = f->tx.avail_idx % TX_SLOTS, d = slot * 4;
	uint64_t at = TXBUF(slot);
	uint16_t used;

	assert_true(n <= 0x11000 - HDR);
	vsock_hdr_encode(h, gp(f, at, HDR));
	if (n)
		memcpy(gp(f, at + HDR, n), data, n);
	switch (split) {
	case 0:
		set_desc(f, &f->tx, d, at, HDR + n, 0, 0);
		break;
	case 1:
		set_desc(f, &f->tx, d, at, HDR, n ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(d + 1));
		if (n)
			set_desc(f, &f->tx, (uint16_t)(d + 1), at + HDR, n, 0,
				 0);
		break;
	default:
		set_desc(f, &f->tx, d, at, 20, VIRTQ_DESC_F_NEXT,
			 (uint16_t)(d + 1));
		set_desc(f, &f->tx, (uint16_t)(d + 1), at + 20,
			 HDR - 20 + n / 2, VIRTQ_DESC_F_NEXT,
			 (uint16_t)(d + 2));
		set_desc(f, &f->tx, (uint16_t)(d + 2), at + HDR + n / 2,
			 n - n / 2, 0, 0);
		break;
	}
	publish(f, &f->tx, d);
	f->ops->queue_notify(&f->vd, VIRTIO_VSOCK_TX);
	used = get16(f, f->tx.used + 2);
	/* Every tx chain is consumed at once, used length 0. */
	assert_int_equal(used, f->tx.avail_idx);
	assert_int_equal(
		get32(f, f->tx.used + 4 + 8ull * ((used - 1) % TX_SIZE) + 4),
		0);
}

static struct vsock_hdr G(struct fx *f, uint16_t op, uint32_t sport,
			  uint32_t dport, uint32_t len) {
	struct vsock_hdr h = {
		.src_cid = CID,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = sport,
		.dst_port = dport,
		.len = len,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = f->buf_alloc,
		.fwd_cnt = f->fwd_cnt,
	};

	return h;
}

/* A packet from the guest with exactly @len bytes of payload. */
static void
tx(struct fx *f, uint16_t op, uint32_t sport, uint32_t dport, const void *data,
   uint32_t len, uint32_t flags)
{
	struct vsock_hdr h = G(f, op, sport, dport, len);

	h.flags = flags;
	tx_raw(f, &h, data, len, len ? 1 : 0);
}

static struct vsock_stats stats(struct fx *f)
{
	struct vsock_stats s;

	virtio_vsock_stats(f->v, &s);
	return s;
}

/* ---- host programs ---- */

static int host_connect(struct fx *f)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->uds);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int host_listen(struct fx *f, uint32_t port)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char name[256];

	assert_true(fd >= 0);
	snprintf(name, sizeof(name), "%s_%u", f->uds, port);
	assert_true(strlen(name) < sizeof(a.sun_path));
	memcpy(a.sun_path, name, strlen(name) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4096), 0);
	return fd;
}

static int host_accept(struct fx *f, int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	for (int i = 0; i < 300 && poll(&p, 1, 0) != 1; i++)
		run(f, 10);
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static void host_write(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until @n bytes, EOF or 3 s, running the device meanwhile;
 * returns the count, -1 on an error. */
static ssize_t host_read(struct fx *f, int fd, void *buf, size_t n)
{
	uint64_t end = ms_now() + 3000;
	size_t got = 0;

	while (got < n && ms_now() < end) {
		ssize_t r =
			recv(fd, (uint8_t *)buf + got, n - got, MSG_DONTWAIT);

		if (r == 0)
			break;
		if (r < 0 && errno != EAGAIN)
			return -1;
		if (r > 0)
			got += (size_t)r;
		else
			run(f, 5);
	}
	return (ssize_t)got;
}

/* The host end reads EOF (or a reset) soon. */
static void host_eof(struct fx *f, int fd)
{
	char c;

	assert_true(host_read(f, fd, &c, 1) <= 0);
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vsock_options o;
	char arg[160];

	if (!f || mem_init(&f->m, RAM))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_vsock.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	snprintf(arg, sizeof(arg), "cid=%d,uds=%s", CID, f->uds);
	if (vsock_options_parse(arg, &o) || virtio_vsock_create(&f->v, &o))
		return -1;
	f->ops = virtio_vsock_get_ops(f->v);
	f->vd.priv = f->v;
	f->vd.nr_fds = 0;
	if (f->ops->init(&f->vd) || !f->vd.nr_fds)
		return -1;
	f->rx_len = HDR + 4096;
	f->rx_repost = true;
	f->buf_alloc = 256 * KiB;
	*state = f;
	return 0;
}

/* Queues set up and the device activated, with @nrx rx buffers. */
static void start(struct fx *f, unsigned nrx)
{
	fq_init(f, &f->rx, RX_DESC, RX_SIZE);
	fq_init(f, &f->tx, TX_DESC, TX_SIZE);
	fq_init(f, &f->ev, EV_DESC, 8);
	f->vd.q[0] = &f->rx.q;
	f->vd.q[1] = &f->tx.q;
	f->vd.q[2] = &f->ev.q;
	assert_int_equal(f->ops->activate(&f->vd, 1ull << VIRTIO_F_VERSION_1),
			 0);
	if (nrx)
		rx_post(f, nrx);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	f->ops->reset(&f->vd);
	virtio_vsock_destroy(f->v);
	/* destroy removed v.sock; the tests remove their PATH_P. */
	if (rmdir(f->dir)) {
		snprintf(cmd, sizeof(cmd), "ls -la %s >&2", f->dir);
		if (system(cmd)) {
		}
		fail_msg("%s not empty after the test", f->dir);
	}
	mem_destroy(&f->m);
	free(f);
	return 0;
}

static void unlink_port(struct fx *f, uint32_t port)
{
	char p[128];

	snprintf(p, sizeof(p), "%s_%u", f->uds, port);
	unlink(p);
}

/* The byte at stream offset @i of the test streams. */
static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

/* An open guest-to-host connection: guest port @gport to host port
 * @hport, where a test listener waits (*lfd); returns the accepted end. */
static int open_g2h(struct fx *f, uint32_t gport, uint32_t hport, int *lfd)
{
	struct vsock_hdr h;
	int afd;

	*lfd = host_listen(f, hport);
	tx(f, VIRTIO_VSOCK_OP_REQUEST, gport, hport, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RESPONSE, hport, gport);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	assert_int_equal(h.fwd_cnt, 0);
	afd = host_accept(f, *lfd);
	assert_true(afd >= 0);
	return afd;
}

/* An open host-to-guest connection to guest port @gport: the host end,
 * and our local port in *@local. */
static int open_h2g(struct fx *f, uint32_t gport, uint32_t *local)
{
	struct vsock_hdr h;
	char line[32], want[32];
	int fd = host_connect(f);

	snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	host_write(fd, line, strlen(line));
	expect(f, &h, VIRTIO_VSOCK_OP_REQUEST, UINT32_MAX, gport);
	*local = h.src_port;
	tx(f, VIRTIO_VSOCK_OP_RESPONSE, gport, *local, NULL, 0, 0);
	snprintf(want, sizeof(want), "OK %u\n", *local);
	memset(line, 0, sizeof(line));
	assert_int_equal(host_read(f, fd, line, strlen(want)), strlen(want));
	assert_string_equal(line, want);
	return fd;
}

static void test_options(void **state)
{
	struct fx *f = *state;
	struct vsock_options o;
	char arg[300], p[200];
	const struct {
		const char *fmt; /* %s: the test directory */
		const char *msg;
	} bad[] = {
		{"", "unknown item"},
		{"cid=3", "uds=PATH missing"},
		{"uds=%s/a.sock", "cid=N missing"},
		{"cid=2,uds=%s/a.sock", "from 3 to 4294967294"},
		{"cid=0,uds=%s/a.sock", "from 3 to 4294967294"},
		{"cid=0xffffffff,uds=%s/a.sock", "from 3 to 4294967294"},
		{"cid=4294967296,uds=%s/a.sock", "from 3 to 4294967294"},
		{"cid=-3,uds=%s/a.sock", "from 3 to 4294967294"},
		{"cid=3x,uds=%s/a.sock", "from 3 to 4294967294"},
		{"cid=,uds=%s/a.sock", "from 3 to 4294967294"},
		{"cid=3,uds=", "is empty"},
		{"cid=3,uds=%s/a.sock,cid=4", "'cid' given twice"},
		{"cid=3,uds=%s/a.sock,uds=%s/b.sock", "'uds' given twice"},
		{"cid=3,uds=%s/a.sock,ro", "unknown item 'ro'"},
		{"cid=3,port=5,uds=%s/a.sock", "unknown item 'port=5'"},
		{"cid=3,uds=%s/no-such-dir/a.sock", "does not exist"},
		{"cid=3,uds=%s/v.sock", "already exists"},
		{"cid=3,uds=%s/", "give a file name"},
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(arg, sizeof(arg), bad[i].fmt, f->dir, f->dir);
		err_clear();
		assert_int_equal(vsock_options_parse(arg, &o), -EINVAL);
		if (!strstr(err_msg(), bad[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", arg,
				 err_msg(), bad[i].msg);
		assert_non_null(strstr(err_msg(), "--vsock"));
	}

	snprintf(arg, sizeof(arg), "cid=7,uds=%s/a.sock", f->dir);
	assert_int_equal(vsock_options_parse(arg, &o), 0);
	assert_int_equal(o.cid, 7);
	snprintf(p, sizeof(p), "%s/a.sock", f->dir);
	assert_string_equal(o.uds, p);
	snprintf(arg, sizeof(arg), "uds=%s/a.sock,cid=0x10", f->dir);
	assert_int_equal(vsock_options_parse(arg, &o), 0);
	assert_int_equal(o.cid, 16);
	snprintf(arg, sizeof(arg), "cid=4294967294,uds=%s/a.sock", f->dir);
	assert_int_equal(vsock_options_parse(arg, &o), 0);
	assert_int_equal(o.cid, 4294967294u);

	/* The longest PATH, 96 bytes, and one more. */
	snprintf(p, sizeof(p), "%s/", f->dir);
	while (strlen(p) < VSOCK_UDS_PATH_MAX)
		strcat(p, "a");
	snprintf(arg, sizeof(arg), "cid=3,uds=%s", p);
	assert_int_equal(vsock_options_parse(arg, &o), 0);
	assert_int_equal(strlen(o.uds), 96);
	strcat(arg, "a");
	assert_int_equal(vsock_options_parse(arg, &o), -EINVAL);
	assert_non_null(strstr(err_msg(), "at most 96"));

	/* A socket that appears between the check and the bind. */
	snprintf(arg, sizeof(arg), "cid=3,uds=%s/a.sock", f->dir);
	assert_int_equal(vsock_options_parse(arg, &o), 0);
	snprintf(o.uds, sizeof(o.uds), "%s", f->uds);
	{
		struct virtio_vsock *v2;

		assert_int_equal(virtio_vsock_create(&v2, &o), -EADDRINUSE);
		assert_non_null(strstr(err_msg(), "already exists"));
		o.cid = 2;
		assert_int_equal(virtio_vsock_create(&v2, &o), -EINVAL);
	}
}

static void test_config(void **state)
{
	struct fx *f = *state;
	const struct virtio_device_ops *ops = f->ops;
	uint8_t cfg[8], b;
	uint64_t cid;

	assert_string_equal(ops->name, "virtio-vsock");
	assert_int_equal(ops->device_id, VIRTIO_ID_VSOCK);
	/* Stream is implied without feature bits; no SEQPACKET. */
	assert_int_equal(ops->features, 0);
	assert_int_equal(ops->nr_queues, 3);
	assert_int_equal(ops->config_size, 8);
	ops->config_read(&f->vd, 0, cfg, 8);
	memcpy(&cid, cfg, 8);
	assert_int_equal(cid, CID);
	for (uint32_t i = 0; i < 8; i++) {
		ops->config_read(&f->vd, i, &b, 1);
		assert_int_equal(b, cfg[i]);
	}
	ops->config_read(&f->vd, 4, cfg, 4);
	assert_memory_equal(cfg, "\0\0\0\0", 4);
}

/* A chain of host buffers (readable), for vsock_pkt_parse(). */
static void mkchain(struct virtq_chain *c, uint8_t *p, const uint32_t *lens,
		    unsigned n)
{
	memset(c, 0, offsetof(struct virtq_chain, buf));
	c->out_len = c->in_len = 0;
	for (unsigned i = 0; i < n; i++) {
		c->buf[i] = (struct virtq_buf){p, lens[i], false};
		p += lens[i];
		c->out_len += lens[i];
	}
	c->nr = c->nr_out = n;
}

static enum vsock_verdict parse(const struct vsock_hdr *h, uint32_t data,
				const uint32_t *lens, unsigned n,
				struct vsock_hdr *out)
{
	static uint8_t mem[HDR + 70000];
	static struct virtq_chain c;
	uint32_t one = HDR + data;

	vsock_hdr_encode(h, mem);
	if (!n) {
		lens = &one;
		n = 1;
	}
	mkchain(&c, mem, lens, n);
	return vsock_pkt_parse(&c, CID, out);
}

static void test_parse(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h = G(f, VIRTIO_VSOCK_OP_RW, 1000, 2000, 10), o;
	const uint32_t split[] = {1, 20, 23, 5, 5}, cut[] = {20, 23};

	assert_int_equal(parse(&h, 10, NULL, 0, &o), VSOCK_PKT_OK);
	{
		uint8_t a[HDR], b[HDR];

		vsock_hdr_encode(&h, a);
		vsock_hdr_encode(&o, b);
		assert_memory_equal(a, b, HDR);
	}
	/* The header may be split anywhere, even byte by byte. */
	assert_int_equal(parse(&h, 10, split, 5, &o), VSOCK_PKT_OK);
	assert_int_equal(o.fwd_cnt, h.fwd_cnt);
	assert_int_equal(o.buf_alloc, 256 * KiB);
	/* Cut short: no flow to answer. */
	assert_int_equal(parse(&h, 0, cut, 2, &o), VSOCK_PKT_DROP);
	assert_int_equal(o.op, 0);
	/* len beyond the buffer, or above our maximum. */
	h.len = 11;
	assert_int_equal(parse(&h, 10, NULL, 0, &o), VSOCK_PKT_RST);
	h.len = UINT32_MAX;
	assert_int_equal(parse(&h, 10, NULL, 0, &o), VSOCK_PKT_RST);
	h.len = VSOCK_MAX_PAYLOAD;
	assert_int_equal(parse(&h, VSOCK_MAX_PAYLOAD, NULL, 0, &o),
			 VSOCK_PKT_OK);
	h.len = VSOCK_MAX_PAYLOAD + 1;
	assert_int_equal(parse(&h, VSOCK_MAX_PAYLOAD + 1, NULL, 0, &o),
			 VSOCK_PKT_RST);
	/* Bytes beyond len are ignored. */
	h.len = 3;
	assert_int_equal(parse(&h, 10, NULL, 0, &o), VSOCK_PKT_OK);
	h.len = 0;
	/* Source: the guest's CID, all 64 bits; else not answered. */
	h.src_cid = CID + 1;
	assert_int_equal(parse(&h, 0, NULL, 0, &o), VSOCK_PKT_DROP);
	h.src_cid = CID | 1ull << 32;
	assert_int_equal(parse(&h, 0, NULL, 0, &o), VSOCK_PKT_DROP);
	h.src_cid = CID;
	/* Destination: the host only. */
	h.dst_cid = 5;
	assert_int_equal(parse(&h, 0, NULL, 0, &o), VSOCK_PKT_RST);
	h.dst_cid = VSOCK_HOST_CID | 1ull << 32;
	assert_int_equal(parse(&h, 0, NULL, 0, &o), VSOCK_PKT_RST);
	/* ... but an RST is never answered. */
	h.op = VIRTIO_VSOCK_OP_RST;
	assert_int_equal(parse(&h, 0, NULL, 0, &o), VSOCK_PKT_DROP);
	h.dst_cid = VSOCK_HOST_CID;
	assert_int_equal(parse(&h, 0, NULL, 0, &o), VSOCK_PKT_OK);
	/* Unknown types (SEQPACKET is not offered) and ops. */
	h.op = VIRTIO_VSOCK_OP_REQUEST;
	h.type = 2;
	assert_int_equal(parse(&h, 0, NULL, 0, &o), VSOCK_PKT_RST);
	h.type = VIRTIO_VSOCK_TYPE_STREAM;
	for (uint16_t op = 0; op < 10; op++) {
		h.op = op;
		assert_int_equal(parse(&h, 0, NULL, 0, &o),
				 op >= 1 && op <= 7 ? VSOCK_PKT_OK
						    : VSOCK_PKT_RST);
	}
	h.op = UINT16_MAX;
	assert_int_equal(parse(&h, 0, NULL, 0, &o), VSOCK_PKT_RST);
}

/* Host to guest: CONNECT, REQUEST, RESPONSE, OK, bytes both ways, and the
 * host program closing. */
static void test_host_to_guest(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	char line[32], buf[64];
	uint32_t local, local2;
	int fd, fd2;

	start(f, 16);
	fd = host_connect(f);
	/* Bytes right after the line are the guest's, not part of it. */
	host_write(fd, "CONNECT 5000\nearly", 18);
	expect(f, &h, VIRTIO_VSOCK_OP_REQUEST, UINT32_MAX, 5000);
	local = h.src_port;
	assert_true(local >= VSOCK_LOCAL_PORT_BASE);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	assert_int_equal(h.len, 0);
	/* Nothing flows before the guest answers. */
	expect_none(f);
	/* A second one gets another port. */
	fd2 = host_connect(f);
	host_write(fd2, "CONNECT 5000\n", 13);
	expect(f, &h, VIRTIO_VSOCK_OP_REQUEST, UINT32_MAX, 5000);
	local2 = h.src_port;
	assert_int_not_equal(local2, local);

	tx(f, VIRTIO_VSOCK_OP_RESPONSE, 5000, local, NULL, 0, 0);
	snprintf(buf, sizeof(buf), "OK %u\n", local);
	memset(line, 0, sizeof(line));
	assert_int_equal(host_read(f, fd, line, strlen(buf)), strlen(buf));
	assert_string_equal(line, buf);
	assert_true(rx_next(f, &h, buf, sizeof(buf), 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.src_port, local);
	assert_int_equal(h.dst_port, 5000);
	assert_int_equal(h.len, 5);
	assert_memory_equal(buf, "early", 5);

	tx(f, VIRTIO_VSOCK_OP_RW, 5000, local, "hello", 5, 0);
	assert_int_equal(host_read(f, fd, buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	host_write(fd, "world", 5);
	assert_true(rx_next(f, &h, buf, sizeof(buf), 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(buf, "world", 5);

	/* The host program closes: the guest hears both directions shut,
	 * and its RST ends the connection. */
	close(fd);
	assert_true(rx_next(f, &h, NULL, 0, 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_BOTH);
	assert_int_equal(stats(f).open, 2);
	tx(f, VIRTIO_VSOCK_OP_RST, 5000, local, NULL, 0, 0);
	/* The guest refuses the second: its host program reads EOF. */
	tx(f, VIRTIO_VSOCK_OP_RST, 5000, local2, NULL, 0, 0);
	host_eof(f, fd2);
	close(fd2);
	run(f, 10);
	assert_int_equal(stats(f).open, 0);
	assert_int_equal(stats(f).from_host, 1);
	assert_int_equal(stats(f).refused, 1);
	assert_int_equal(stats(f).bytes_in, 5);
	assert_int_equal(stats(f).bytes_out, 10);
	assert_int_equal(f->vd.needs_reset, 0);
	assert_true(f->vd.notified[VIRTIO_VSOCK_RX] > 0);
}

/* Guest to host: PATH_PORT, bytes both ways, the guest's close; and a
 * port nobody listens on. */
static void test_guest_to_host(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	char buf[64];
	int lfd, afd;

	start(f, 16);
	afd = open_g2h(f, 1234, 6000, &lfd);
	tx(f, VIRTIO_VSOCK_OP_RW, 1234, 6000, "ping", 4, 0);
	assert_int_equal(host_read(f, afd, buf, 4), 4);
	assert_memory_equal(buf, "ping", 4);
	host_write(afd, "pong", 4);
	assert_true(rx_next(f, &h, buf, sizeof(buf), 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.src_port, 6000);
	assert_int_equal(h.dst_port, 1234);
	assert_memory_equal(buf, "pong", 4);
	/* The guest closes (SHUTDOWN both): our RST completes it, the host
	 * program reads EOF. */
	tx(f, VIRTIO_VSOCK_OP_SHUTDOWN, 1234, 6000, NULL, 0,
	   VIRTIO_VSOCK_SHUTDOWN_BOTH);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 6000, 1234);
	host_eof(f, afd);
	close(afd);

	/* Nobody at 6001; a socket file nobody listens on any more. */
	tx(f, VIRTIO_VSOCK_OP_REQUEST, 1235, 6001, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 6001, 1235);
	close(lfd);
	tx(f, VIRTIO_VSOCK_OP_REQUEST, 1236, 6000, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 6000, 1236);
	unlink_port(f, 6000);
	run(f, 10);
	assert_int_equal(stats(f).from_guest, 1);
	assert_int_equal(stats(f).refused, 2);
	assert_int_equal(stats(f).open, 0);
}

/* Half-closes, both ways round. */
static void test_half_close(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	char buf[64];
	uint32_t local;
	int lfd, afd, fd;

	start(f, 16);
	/* The guest stops sending; the host program reads EOF after the
	 * request, answers, and the answer arrives. */
	afd = open_g2h(f, 2000, 6002, &lfd);
	tx(f, VIRTIO_VSOCK_OP_RW, 2000, 6002, "request", 7, 0);
	tx(f, VIRTIO_VSOCK_OP_SHUTDOWN, 2000, 6002, NULL, 0,
	   VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(host_read(f, afd, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "request", 7);
	host_write(afd, "answer", 6);
	assert_true(rx_next(f, &h, buf, sizeof(buf), 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(buf, "answer", 6);
	/* Then the host program stops too: nothing is left either way. */
	shutdown(afd, SHUT_WR);
	assert_true(rx_next(f, &h, NULL, 0, 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_BOTH);
	tx(f, VIRTIO_VSOCK_OP_RST, 2000, 6002, NULL, 0, 0);
	run(f, 10);
	assert_int_equal(stats(f).open, 0);
	close(afd);
	close(lfd);
	unlink_port(f, 6002);

	/* The host program stops sending first; the guest goes on. */
	fd = open_h2g(f, 5001, &local);
	host_write(fd, "data", 4);
	shutdown(fd, SHUT_WR);
	assert_true(rx_next(f, &h, buf, sizeof(buf), 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(buf, "data", 4);
	assert_true(rx_next(f, &h, NULL, 0, 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx(f, VIRTIO_VSOCK_OP_RW, 5001, local, "more", 4, 0);
	assert_int_equal(host_read(f, fd, buf, 4), 4);
	assert_memory_equal(buf, "more", 4);
	/* The guest stops receiving: the host program's writes fail. */
	tx(f, VIRTIO_VSOCK_OP_SHUTDOWN, 5001, local, NULL, 0,
	   VIRTIO_VSOCK_SHUTDOWN_RCV);
	run(f, 20);
	assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
	tx(f, VIRTIO_VSOCK_OP_SHUTDOWN, 5001, local, NULL, 0,
	   VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, local, 5001);
	host_eof(f, fd);
	close(fd);
	assert_int_equal(stats(f).open, 0);
}

/* RST both ways, and packets for connections that do not exist. */
static void test_rst(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	uint32_t local;
	int lfd, afd, fd;

	start(f, 16);
	/* The guest aborts: the host program reads EOF. */
	afd = open_g2h(f, 3000, 6003, &lfd);
	tx(f, VIRTIO_VSOCK_OP_RST, 3000, 6003, NULL, 0, 0);
	host_eof(f, afd);
	close(afd);
	assert_int_equal(stats(f).open, 0);

	/* The host program aborts with bytes unread (ECONNRESET here): the
	 * guest hears both directions shut; its late bytes are dropped
	 * quietly; its RST ends it. */
	tx(f, VIRTIO_VSOCK_OP_REQUEST, 3001, 6003, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RESPONSE, 6003, 3001);
	afd = host_accept(f, lfd);
	tx(f, VIRTIO_VSOCK_OP_RW, 3001, 6003, "unread", 6, 0);
	run(f, 10);
	close(afd);
	assert_true(rx_next(f, &h, NULL, 0, 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_BOTH);
	tx(f, VIRTIO_VSOCK_OP_RW, 3001, 6003, "late", 4, 0);
	expect_none(f);
	tx(f, VIRTIO_VSOCK_OP_RST, 3001, 6003, NULL, 0, 0);
	run(f, 10);
	assert_int_equal(stats(f).open, 0);
	close(lfd);
	unlink_port(f, 6003);

	/* Packets for no connection get an RST; an RST gets nothing. */
	tx(f, VIRTIO_VSOCK_OP_RW, 3333, 6100, "x", 1, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 6100, 3333);
	tx(f, VIRTIO_VSOCK_OP_RESPONSE, 3333, 6100, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 6100, 3333);
	tx(f, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 3333, 6100, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 6100, 3333);
	tx(f, VIRTIO_VSOCK_OP_RST, 3333, 6100, NULL, 0, 0);
	expect_none(f);

	/* Protocol errors on a live flow abort it: a second REQUEST, a
	 * RESPONSE on an open connection. */
	fd = open_h2g(f, 5002, &local);
	tx(f, VIRTIO_VSOCK_OP_REQUEST, 5002, local, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, local, 5002);
	host_eof(f, fd);
	close(fd);
	fd = open_h2g(f, 5003, &local);
	tx(f, VIRTIO_VSOCK_OP_RESPONSE, 5003, local, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, local, 5003);
	host_eof(f, fd);
	close(fd);
	assert_int_equal(stats(f).open, 0);
	assert_int_equal(stats(f).bad_rst, 2);
}

/* A guest that advertises little credit gets no more than that, and the
 * device does not spin meanwhile. */
static void test_credit_guest(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	uint8_t src[1000], got[1000];
	uint32_t n = 0, asked = 0;
	int lfd, afd;

	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = pat(i);
	start(f, 32);
	f->buf_alloc = 100;
	afd = open_g2h(f, 4000, 6004, &lfd);
	host_write(afd, src, sizeof(src));
	while (rx_pkt(f, &h, got + n, sizeof(got) - n, 200)) {
		if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
			asked++;
		else
			assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
		n += h.len;
	}
	assert_int_equal(n, 100);
	assert_int_equal(asked, 1);
	quiet(f);
	/* It read 60: 60 more may come. */
	f->fwd_cnt = 60;
	tx(f, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 4000, 6004, NULL, 0, 0);
	while (rx_next(f, &h, got + n, sizeof(got) - n, 200)) {
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
		n += h.len;
	}
	assert_int_equal(n, 160);
	/* A buf_alloc below what is in flight: nothing. */
	f->buf_alloc = 50;
	tx(f, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 4000, 6004, NULL, 0, 0);
	assert_false(rx_next(f, &h, NULL, 0, 200));
	quiet(f);
	/* A fwd_cnt ahead of what it was sent is nonsense: nothing. */
	f->buf_alloc = 100;
	f->fwd_cnt = 5000;
	tx(f, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 4000, 6004, NULL, 0, 0);
	assert_false(rx_next(f, &h, NULL, 0, 200));
	/* A CREDIT_REQUEST is answered with our credit. */
	tx(f, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 4000, 6004, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 6004, 4000);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	/* Then the rest, in order. */
	f->buf_alloc = 64 * KiB;
	f->fwd_cnt = 160;
	tx(f, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 4000, 6004, NULL, 0, 0);
	while (n < sizeof(src) &&
	       rx_next(f, &h, got + n, sizeof(got) - n, 3000)) {
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
		n += h.len;
	}
	assert_int_equal(n, sizeof(src));
	assert_memory_equal(got, src, sizeof(src));
	assert_int_equal(stats(f).bytes_out, sizeof(src));
	tx(f, VIRTIO_VSOCK_OP_RST, 4000, 6004, NULL, 0, 0);
	close(afd);
	close(lfd);
	unlink_port(f, 6004);
}

/* A host program that does not read: the guest, keeping to the credit we
 * give, stops once we buffer VSOCK_BUF_ALLOC bytes; no more comes until
 * the program reads; a guest that ignores the credit gets RST. */
static void test_credit_slow_host(void **state)
{
	struct fx *f = *state;
	static uint8_t chunk[64 * KiB], back[4 * MiB];
	struct vsock_hdr h;
	uint32_t sent = 0, dev_fwd = 0, dev_alloc = 0;
	uint64_t quiet_since;
	int lfd, afd;

	start(f, 64);
	lfd = host_listen(f, 6005);
	tx(f, VIRTIO_VSOCK_OP_REQUEST, 4001, 6005, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RESPONSE, 6005, 4001);
	dev_alloc = h.buf_alloc;
	dev_fwd = h.fwd_cnt;
	afd = host_accept(f, lfd);
	quiet_since = ms_now();
	while (ms_now() - quiet_since < 300) {
		uint32_t credit = dev_alloc - (sent - dev_fwd), n;

		if (rx_pkt(f, &h, NULL, 0, credit ? 0 : 20)) {
			assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			dev_alloc = h.buf_alloc;
			dev_fwd = h.fwd_cnt;
			quiet_since = ms_now();
			continue;
		}
		if (!credit)
			continue;
		n = credit < sizeof(chunk) ? credit : sizeof(chunk);
		for (uint32_t i = 0; i < n; i++)
			chunk[i] = pat(sent + i);
		tx(f, VIRTIO_VSOCK_OP_RW, 4001, 6005, chunk, n, 0);
		sent += n;
		quiet_since = ms_now();
	}
	/* What the socket did not take is ours, bounded. */
	assert_true(stats(f).buffered > 0);
	assert_true(stats(f).buffered <= VSOCK_BUF_ALLOC);
	assert_true(stats(f).buffered_peak <= VSOCK_BUF_ALLOC);
	assert_int_equal(sent - dev_fwd, VSOCK_BUF_ALLOC);
	assert_int_equal(stats(f).overruns, 0);
	assert_true(sent < sizeof(back));
	quiet(f);
	/* The program reads it all, in order; the guest hears of it. */
	assert_int_equal(host_read(f, afd, back, sent), sent);
	for (uint32_t i = 0; i < sent; i++)
		if (back[i] != pat(i))
			fail_msg("byte %u: %u, expected %u", i, back[i],
				 pat(i));
	do {
		expect(f, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 6005, 4001);
	} while (h.fwd_cnt != sent);
	assert_int_equal(stats(f).buffered, 0);

	/* It stops reading again; a guest that sends on regardless is
	 * reset once beyond the credit, and the program reads EOF after
	 * what was accepted. */
	for (unsigned i = 0; i < 64; i++) {
		tx(f, VIRTIO_VSOCK_OP_RW, 4001, 6005, chunk, sizeof(chunk), 0);
		if (stats(f).overruns)
			break;
	}
	assert_int_equal(stats(f).overruns, 1);
	assert_true(rx_next(f, &h, NULL, 0, 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_true(stats(f).buffered_peak <= VSOCK_BUF_ALLOC);
	assert_int_equal(stats(f).buffered, 0);
	while (host_read(f, afd, back, sizeof(back)) > 0)
		;
	close(afd);
	close(lfd);
	unlink_port(f, 6005);
	assert_int_equal(stats(f).open, 0);
}

/* 1000 connections at once (and the table's limit). */
static void test_many(void **state)
{
	struct fx *f = *state;
	enum { N = 1000 };
	static int afd[VSOCK_MAX_CONNS];
	static bool seen[VSOCK_MAX_CONNS];
	struct rlimit rl;
	struct vsock_hdr h;
	unsigned got = 0, accepted = 0;
	uint32_t val;
	int lfd;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 2 * VSOCK_MAX_CONNS + 64)
		skip(); /* both ends live in this process */
	rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

	f->rx_len = HDR + 64;
	start(f, RX_SIZE);
	lfd = host_listen(f, 7000);
	/* All the REQUESTs first: the RESPONSEs wait for rx buffers in
	 * the device, a queue's worth at a time. */
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		tx(f, VIRTIO_VSOCK_OP_REQUEST, 10000 + i, 7000, NULL, 0, 0);
		if (i % 100 == 99)
			while (accepted <= i) {
				afd[accepted] =
					accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				assert_true(afd[accepted] >= 0);
				accepted++;
			}
	}
	while (accepted < VSOCK_MAX_CONNS) {
		afd[accepted] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		assert_true(afd[accepted] >= 0);
		accepted++;
	}
	while (got < VSOCK_MAX_CONNS && rx_pkt(f, &h, NULL, 0, 3000)) {
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RESPONSE);
		assert_false(seen[h.dst_port - 10000]);
		seen[h.dst_port - 10000] = true;
		got++;
	}
	assert_int_equal(got, VSOCK_MAX_CONNS);
	assert_int_equal(stats(f).open, VSOCK_MAX_CONNS);
	/* The table is full: the next is refused, so is a host program. */
	tx(f, VIRTIO_VSOCK_OP_REQUEST, 9999, 7000, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 7000, 9999);
	{
		int fd = host_connect(f);

		host_eof(f, fd);
		close(fd);
	}
	/* Let 24 go (their programs read EOF): N stay. */
	for (unsigned i = N; i < VSOCK_MAX_CONNS; i++)
		tx(f, VIRTIO_VSOCK_OP_RST, 10000 + i, 7000, NULL, 0, 0);
	run(f, 10);
	assert_int_equal(stats(f).open, N);
	/* Every one carries its own bytes: the guest sends its index, the
	 * host program echoes it. */
	for (unsigned i = 0; i < N; i++) {
		val = i;
		tx(f, VIRTIO_VSOCK_OP_RW, 10000 + i, 7000, &val, 4, 0);
	}
	run(f, 10);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		ssize_t r = recv(afd[i], &val, 4, MSG_DONTWAIT);

		if (r == 0) {
			close(afd[i]);
			afd[i] = -1;
			continue;
		}
		assert_int_equal(r, 4);
		host_write(afd[i], &val, 4);
	}
	memset(seen, 0, sizeof(seen));
	for (got = 0; got < N && rx_next(f, &h, &val, 4, 3000); got++) {
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
		assert_int_equal(h.len, 4);
		assert_int_equal(h.dst_port, 10000 + val);
		assert_false(seen[val]);
		seen[val] = true;
	}
	assert_int_equal(got, N);
	for (unsigned i = 0; i < N; i++)
		tx(f, VIRTIO_VSOCK_OP_RST, 10000 + i, 7000, NULL, 0, 0);
	run(f, 10);
	assert_int_equal(stats(f).open, 0);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		if (afd[i] < 0)
			continue;
		assert_int_equal(recv(afd[i], &val, 4, MSG_DONTWAIT), 0);
		close(afd[i]);
	}
	close(lfd);
	unlink_port(f, 7000);
	assert_int_equal(f->vd.needs_reset, 0);
}

/* Malformed packets: dropped or answered with RST, counted, never
 * trusted; the device goes on. */
static void test_malformed(void **state)
{
	struct fx *f = *state;
	static uint8_t big[VSOCK_MAX_PAYLOAD + 1];
	struct vsock_hdr h, p;
	struct vsock_stats s;
	int lfd, afd;

	start(f, 16);
	/* len beyond the buffer. */
	p = G(f, VIRTIO_VSOCK_OP_RW, 100, 200, 100);
	tx_raw(f, &p, "0123456789", 10, 1);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 200, 100);
	p = G(f, VIRTIO_VSOCK_OP_REQUEST, 101, 200, 1);
	tx_raw(f, &p, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 200, 101);
	/* len above our maximum, with the bytes there. */
	p = G(f, VIRTIO_VSOCK_OP_RW, 102, 200, sizeof(big));
	tx_raw(f, &p, big, sizeof(big), 2);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 200, 102);
	/* Unknown ops and type. */
	p = G(f, 0, 103, 200, 0);
	tx_raw(f, &p, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 200, 103);
	p = G(f, 99, 104, 200, 0);
	tx_raw(f, &p, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 200, 104);
	p = G(f, VIRTIO_VSOCK_OP_REQUEST, 105, 200, 0);
	p.type = 2; /* SEQPACKET: not offered */
	tx_raw(f, &p, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 200, 105);
	assert_int_equal(h.type, 2);
	/* A destination that is not the host: refused as from there. */
	p = G(f, VIRTIO_VSOCK_OP_REQUEST, 106, 200, 0);
	p.dst_cid = 5;
	tx_raw(f, &p, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 200, 106);
	assert_int_equal(h.src_cid, 5);
	assert_int_equal(h.dst_cid, CID);
	s = stats(f);
	assert_int_equal(s.bad_rst, 7);
	assert_int_equal(s.dropped, 0);
	/* Not from this guest, cut short, a bad RST: dropped silently. */
	p = G(f, VIRTIO_VSOCK_OP_REQUEST, 107, 200, 0);
	p.src_cid = 7;
	tx_raw(f, &p, NULL, 0, 0);
	p = G(f, VIRTIO_VSOCK_OP_RST, 108, 200, 5);
	tx_raw(f, &p, NULL, 0, 0);
	p = G(f, VIRTIO_VSOCK_OP_REQUEST, 109, 200, 0);
	vsock_hdr_encode(&p, gp(f, TXBUF(0), HDR));
	set_desc(f, &f->tx, 0, TXBUF(0), HDR - 1, 0, 0);
	publish(f, &f->tx, 0);
	f->ops->queue_notify(&f->vd, VIRTIO_VSOCK_TX);
	expect_none(f);
	s = stats(f);
	assert_int_equal(s.dropped, 3);
	assert_int_equal(s.bad_rst, 7);
	assert_int_equal(s.open, 0);

	/* On a live connection a bad packet aborts it: RST to the guest,
	 * EOF to the host program. */
	afd = open_g2h(f, 110, 6006, &lfd);
	p = G(f, VIRTIO_VSOCK_OP_RW, 110, 6006, 64);
	tx_raw(f, &p, "short", 5, 1);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 6006, 110);
	host_eof(f, afd);
	close(afd);
	/* The device goes on. */
	tx(f, VIRTIO_VSOCK_OP_REQUEST, 111, 6006, NULL, 0, 0);
	expect(f, &h, VIRTIO_VSOCK_OP_RESPONSE, 6006, 111);
	afd = host_accept(f, lfd);
	close(lfd);
	tx(f, VIRTIO_VSOCK_OP_RW, 111, 6006, "fine", 4, 0);
	{
		char b[4];

		assert_int_equal(host_read(f, afd, b, 4), 4);
		assert_memory_equal(b, "fine", 4);
	}
	tx(f, VIRTIO_VSOCK_OP_RST, 111, 6006, NULL, 0, 0);
	close(afd);
	unlink_port(f, 6006);
	assert_int_equal(stats(f).bad_rst, 8);
	assert_int_equal(f->vd.needs_reset, 0);
}

/* rx buffers missing or too small: packets wait, in order, and go when
 * the driver posts buffers that fit. */
static void test_rx_starved(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	char buf[32], want[32];
	uint32_t local;
	int fd;

	start(f, 0);
	f->rx_repost = false;
	tx(f, VIRTIO_VSOCK_OP_REQUEST, 500, 6100, NULL, 0, 0); /* refused */
	fd = host_connect(f);
	host_write(fd, "CONNECT 5004\n", 13);
	run(f, 50);
	expect_none(f);
	quiet(f);
	/* A buffer too small for a header is given back empty. */
	f->rx_len = 20;
	rx_post(f, 1);
	assert_int_equal(get16(f, f->rx.used + 2), 1);
	assert_int_equal(get32(f, f->rx.used + 8), 0);
	f->rx.used_seen++;
	assert_int_equal(stats(f).dropped, 1);
	/* One at a time: the RST first, then the REQUEST. */
	f->rx_len = HDR + 16;
	rx_post(f, 1);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, 6100, 500);
	expect_none(f);
	rx_post(f, 1);
	expect(f, &h, VIRTIO_VSOCK_OP_REQUEST, UINT32_MAX, 5004);
	local = h.src_port;
	tx(f, VIRTIO_VSOCK_OP_RESPONSE, 5004, local, NULL, 0, 0);
	snprintf(want, sizeof(want), "OK %u\n", local);
	assert_int_equal(host_read(f, fd, buf, strlen(want)), strlen(want));
	/* Buffers with room for a header only: they carry credit updates,
	 * and the bytes wait for a buffer that holds them. */
	f->rx_len = HDR;
	rx_post(f, 3);
	host_write(fd, "abc", 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(rx_pkt(f, &h, NULL, 0, 3000));
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	}
	quiet(f);
	f->rx_len = HDR + 2;
	rx_post(f, 2);
	assert_true(rx_pkt(f, &h, buf, sizeof(buf), 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 2);
	assert_memory_equal(buf, "ab", 2);
	assert_true(rx_pkt(f, &h, buf, sizeof(buf), 3000));
	assert_int_equal(h.len, 1);
	assert_memory_equal(buf, "c", 1);
	close(fd);
	run(f, 20);
	expect_none(f);
	f->rx_len = HDR + 16;
	rx_post(f, 1);
	expect(f, &h, VIRTIO_VSOCK_OP_SHUTDOWN, local, 5004);
	tx(f, VIRTIO_VSOCK_OP_RST, 5004, local, NULL, 0, 0);
	assert_int_equal(stats(f).open, 0);
	assert_int_equal(f->vd.needs_reset, 0);
}

/* Reset closes every connection; the listener stays. */
static void test_reset(void **state)
{
	struct fx *f = *state;
	uint32_t local;
	int lfd, afd, fd, pending;

	start(f, 16);
	afd = open_g2h(f, 600, 6007, &lfd);
	fd = open_h2g(f, 5005, &local);
	tx(f, VIRTIO_VSOCK_OP_RW, 600, 6007, "x", 1, 0);
	pending = host_connect(f);
	host_write(pending, "CONN", 4);
	run(f, 20);
	assert_int_equal(stats(f).open, 3);
	f->ops->reset(&f->vd);
	assert_int_equal(stats(f).open, 0);
	host_eof(f, fd);
	host_eof(f, pending);
	{
		char b;

		assert_int_equal(recv(afd, &b, 1, 0), 1); /* it got there */
	}
	host_eof(f, afd);
	close(afd);
	close(fd);
	close(pending);
	close(lfd);
	unlink_port(f, 6007);
	/* Activated again, it serves. */
	start(f, 16);
	fd = open_h2g(f, 5006, &local);
	close(fd);
	f->ops->reset(&f->vd);
	assert_int_equal(stats(f).open, 0);
}

/* A REQUEST the guest never answers, and a close it never acknowledges:
 * VSOCK_TIMEOUT_MS, then RST. */
static void test_timeout(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	uint64_t t0;
	int fd, lfd, afd;

	start(f, 16);
	fd = host_connect(f);
	host_write(fd, "CONNECT 5007\n", 13);
	expect(f, &h, VIRTIO_VSOCK_OP_REQUEST, UINT32_MAX, 5007);
	afd = open_g2h(f, 700, 6008, &lfd);
	close(afd);
	assert_true(rx_next(f, &h, NULL, 0, 3000));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	t0 = ms_now();
	while (stats(f).open && ms_now() - t0 < 5000)
		run(f, 50);
	assert_int_equal(stats(f).open, 0);
	assert_true(ms_now() - t0 >= VSOCK_TIMEOUT_MS - 300);
	assert_int_equal(stats(f).timeouts, 2);
	host_eof(f, fd);
	for (unsigned i = 0; i < 2; i++) {
		assert_true(rx_next(f, &h, NULL, 0, 100));
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	}
	quiet(f);
	close(fd);
	close(lfd);
	unlink_port(f, 6008);
}

/* Host programs that do not speak the protocol are closed; a line that
 * comes in pieces is fine. */
static void test_bad_connect(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"CONNECT abc\n",
		"HELLO\n",
		"CONNECT 4294967296\n",
		"CONNECT  5\n",
		"connect 5\n",
		"CONNECT 5555555555555555555555555555555555555",
		"\n",
	};
	struct vsock_hdr h;
	int fd;

	start(f, 16);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = host_connect(f);
		host_write(fd, bad[i], strlen(bad[i]));
		host_eof(f, fd);
		close(fd);
	}
	assert_int_equal(stats(f).bad_connect, 7);
	/* Gone before the line ends: closed, not counted. */
	fd = host_connect(f);
	host_write(fd, "CONN", 4);
	run(f, 20);
	close(fd);
	run(f, 20);
	assert_int_equal(stats(f).open, 0);
	/* In pieces. */
	fd = host_connect(f);
	host_write(fd, "CONNECT", 7);
	run(f, 20);
	host_write(fd, " 50", 3);
	run(f, 20);
	expect_none(f);
	host_write(fd, "08\n", 3);
	expect(f, &h, VIRTIO_VSOCK_OP_REQUEST, UINT32_MAX, 5008);
	/* Gone while the guest is asked: the guest hears RST. */
	close(fd);
	expect(f, &h, VIRTIO_VSOCK_OP_RST, UINT32_MAX, 5008);
	assert_int_equal(stats(f).bad_connect, 7);
	assert_int_equal(stats(f).open, 0);
}

static void test_print_stats(void **state)
{
	struct fx *f = *state;
	char out[512] = {0};
	FILE *mf = fmemopen(out, sizeof(out) - 1, "w");

	f->ops->print_stats(&f->vd, mf);
	fclose(mf);
	assert_string_equal(
		out,
		"  0 connections from the host, 0 from the guest, 0 refused, 0 open; 0.0 MiB from the guest, 0.0 MiB to it, at most 0.0 MiB buffered\n"
		"  0 packets dropped, 0 answered with RST, 0 credit overruns, 0 bad CONNECT lines, 0 timeouts\n");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_options),
		T(test_config),
		T(test_parse),
		T(test_host_to_guest),
		T(test_guest_to_host),
		T(test_half_close),
		T(test_rst),
		T(test_credit_guest),
		T(test_credit_slow_host),
		T(test_many),
		T(test_malformed),
		T(test_rx_starved),
		T(test_reset),
		T(test_timeout),
		T(test_bad_connect),
		T(test_print_stats),
	};
#undef T

	return cmocka_run_group_tests_name("vsock", tests, NULL, NULL);
}
