/* virtio-vsock: stream connections between the guest's AF_VSOCK sockets
 * and host programs on UNIX sockets (Firecracker's scheme, vsock_uds.h).
 *
 * A connection, keyed by (local port, peer port) = (host side, guest
 * side), goes through these states:
 *
 *   HOST_LINE   a host program connected to PATH; we read "CONNECT P\n"
 *   HOST_REQ    REQUEST to the guest's port P sent (or waiting for an rx
 *               buffer); its RESPONSE opens the connection and writes
 *               "OK <local port>\n" to the host program, its RST (nobody
 *               listens) or VSOCK_TIMEOUT_MS without an answer closes it
 *   CONNECTING  the guest's REQUEST to CID 2 port P: our connect to PATH_P
 *               has not completed (AF_UNIX completes at once, in practice)
 *   OPEN        bytes flow both ways; SHUTDOWN and EOF half-close them
 *   CLOSING     the host program is gone and the guest was told
 *               (SHUTDOWN with both flags): we wait for its RST, at most
 *               VSOCK_TIMEOUT_MS, then send ours
 *   RST         an RST waits for an rx buffer; the entry goes once sent
 *
 * Flow control (5.10.6.3), the numbers in vsock.h.  Guest to host: we
 * advertise buf_alloc VSOCK_BUF_ALLOC for each connection, write the
 * guest's bytes straight from its buffers to the host socket and keep what
 * the socket does not take, at most VSOCK_BUF_ALLOC per connection (a
 * guest that sends beyond the credit it was given gets RST); fwd_cnt
 * counts what the host program took, and a CREDIT_UPDATE goes out once it
 * moved VSOCK_CREDIT_THRESHOLD past what the guest last heard, or once our
 * buffer for the connection drained (it is freed then).  Host to
 * guest: we read a host socket straight into a guest rx buffer, never more
 * than the guest's credit (buf_alloc - (tx_cnt - fwd_cnt)) allows, so
 * nothing is buffered on that side.  A socket is watched for EPOLLIN only
 * while the guest has credit and we have an rx buffer for it; otherwise
 * its bytes wait in the host kernel and the host program blocks.
 *
 * The host sockets, the listening socket and a timer are in the device's
 * own epoll fd, which the transport watches as one fd (virtio_dev_add_fd):
 * the transport allows only a few fds per device, and 1024 connections
 * need 1024 sockets.  Each socket is registered once; its interest changes
 * with EPOLL_CTL_MOD.  EPOLLHUP and EPOLLERR come whatever the interest,
 * so a socket that reports one leaves the epoll set, and what it still
 * holds is read without epoll's word (reads no longer block).
 *
 * Packets the guest gets are written into its rx buffers as they are
 * produced: control packets of a connection are flags on it (so a guest
 * that posts no rx buffers costs nothing but the flags), RSTs for packets
 * with no connection go into a small ring (dropped, and counted, when it
 * is full), and a connection with something to send while there is no rx
 * buffer waits in a FIFO until the driver posts some.
 *
 * Everything runs with the transport's device lock held (virtio.h): on the
 * I/O thread (queue notifications, the epoll fd) or on a vCPU thread
 * (activate, reset). */
#include "vsock.h"
#include "../err.h"
#include "../host/log.h"
#include "../host/uds.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "vsock.c assumes a little-endian host");

#define VSOCK_HASH 2048	  /* buckets: a power of two */
#define VSOCK_RST_RING 64 /* RSTs for packets with no connection */
#define VSOCK_BURST 16	  /* packets read from one socket per event */
#define VSOCK_EVENTS 64	  /* epoll events taken at once */
#define VSOCK_TICK_MS 250 /* the timer's period while something waits */
#define VSOCK_NOFILE 4096 /* the open-file limit we ask for */
/* Connection buffers kept for reuse once drained: a stream whose host
 * reader keeps up only now and then fills and drains its buffer over and
 * over, and a fresh 256 KiB allocation is an mmap, 64 page faults and an
 * munmap each time.  At most this many (1 MiB) stay allocated unused. */
#define VSOCK_BUF_CACHE 4
#define TAG_LISTEN (1ull << 63)
#define TAG_TIMER ((1ull << 63) | 1)

_Static_assert(VSOCK_MAX_CONNS + 256 <= VSOCK_NOFILE, "fds for conns");

enum conn_state {
	C_FREE,
	C_HOST_LINE,
	C_HOST_REQ,
	C_CONNECTING,
	C_OPEN,
	C_CLOSING,
	C_RST,
};

/* Control packets a connection owes the guest, sent in this order. */
#define PEND_REQUEST 1u
#define PEND_RESPONSE 2u
#define PEND_CREDIT_UPDATE 4u
#define PEND_CREDIT_REQUEST 8u
#define PEND_SHUTDOWN 16u

struct vsock_conn {
	struct vsock_conn *hnext;	  /* hash chain */
	struct vsock_conn *wprev, *wnext; /* waiting for rx buffers */
	struct vsock_conn *tprev, *tnext; /* with a deadline */
	uint32_t slot;
	uint32_t gen; /* moves when the slot is freed: stale epoll events */
	enum conn_state state;
	int fd;		 /* the host socket, or -1 */
	uint32_t events; /* its epoll interest */
	bool in_epoll, hashed, in_wait, in_timed;
	bool host_eof;	   /* read gave 0: the host program sends no more */
	bool host_wclosed; /* writes fail (EPIPE, hang-up): it takes no more */
	bool host_gone;	   /* hung up: out of epoll, reads do not block */
	bool shut_wr;	   /* we passed the guest's SEND shutdown on */
	bool shut_rd;	   /* we passed the guest's RCV shutdown on */
	bool credit_asked; /* CREDIT_REQUEST sent, no credit news since */
	uint32_t local_port, peer_port;
	unsigned pending;   /* PEND_* */
	uint32_t shut_sent; /* SHUTDOWN flags told to the guest */
	uint32_t peer_shut; /* SHUTDOWN flags the guest sent */
	/* host to guest: the guest's credit, and what we sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* guest to host: what it sent, what the host program took, what
	 * fwd_cnt the guest last heard */
	uint32_t rx_cnt, fwd_cnt, fwd_sent;
	uint8_t *buf; /* ring of VSOCK_BUF_ALLOC bytes, while not empty */
	uint32_t buf_head, buf_len;
	/* HOST_LINE: the CONNECT line read so far; OPEN: the OK line still
	 * to write */
	char line[VSOCK_UDS_LINE_MAX];
	uint32_t line_len, line_off;
	uint64_t deadline; /* ns, CLOCK_MONOTONIC */
};

struct virtio_vsock {
	struct virtio_device_ops ops;
	struct vsock_options opt;
	struct virtio_dev *vd;
	int epfd, listen_fd, timer_fd;
	dev_t sock_dev;
	ino_t sock_ino;
	bool listening; /* the listener's EPOLLIN is on */
	bool timer_armed;
	bool active; /* activated and not reset; the rings are good */
	struct virtq *rxq, *txq;
	bool rx_pushed, tx_pushed;
	/* An rx chain taken from the ring and not yet used: a read that
	 * found nothing keeps it for the next packet. */
	bool spare;
	struct virtq_chain rx_chain;
	struct virtq_chain tx_chain;

	struct vsock_conn *conns; /* VSOCK_MAX_CONNS slots */
	uint32_t free_slot[VSOCK_MAX_CONNS];
	unsigned nr_free;
	struct vsock_conn *hash[VSOCK_HASH];
	struct vsock_conn *wait_head, *wait_tail;
	unsigned nr_wait;
	struct vsock_conn *timed;
	uint32_t next_port;

	struct vsock_hdr rst[VSOCK_RST_RING];
	unsigned rst_head, rst_len;

	uint8_t *buf_cache[VSOCK_BUF_CACHE]; /* drained buffers, for reuse */
	unsigned nr_buf_cache;

	struct vsock_stats st; /* atomic */
	struct ratelimit rl;
};

static void conn_rst(struct virtio_vsock *v, struct vsock_conn *c);

/* ---- counters ---- */

static void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static void stat_sub(uint64_t *c, uint64_t n)
{
	__atomic_fetch_sub(c, n, __ATOMIC_RELAXED);
}

static void stat_buffered(struct virtio_vsock *v, uint32_t more)
{
	uint64_t now =
		__atomic_add_fetch(&v->st.buffered, more, __ATOMIC_RELAXED);

	if (now > __atomic_load_n(&v->st.buffered_peak, __ATOMIC_RELAXED))
		__atomic_store_n(&v->st.buffered_peak, now, __ATOMIC_RELAXED);
}

/* Host-side trouble the guest did not cause (out of fds or memory): a
 * line, rate-limited. */
static void vsock_log(struct virtio_vsock *v, const char *what, int err)
{
	unsigned long dropped = 0;

	if (!ratelimit_allow(&v->rl, &dropped))
		return;
	if (dropped)
		log_write(LOG_WARNING,
			  "vsock: %s: %s (%lu similar lines dropped)", what,
			  strerror(err), dropped);
	else
		log_write(LOG_WARNING, "vsock: %s: %s", what, strerror(err));
}

/* ---- packets ---- */

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void vsock_hdr_decode(const uint8_t in[VIRTIO_VSOCK_HDR_SIZE],
		      struct vsock_hdr *h)
{
	h->src_cid = get_le(in, 8);
	h->dst_cid = get_le(in + 8, 8);
	h->src_port = (uint32_t)get_le(in + 16, 4);
	h->dst_port = (uint32_t)get_le(in + 20, 4);
	h->len = (uint32_t)get_le(in + 24, 4);
	h->type = (uint16_t)get_le(in + 28, 2);
	h->op = (uint16_t)get_le(in + 30, 2);
	h->flags = (uint32_t)get_le(in + 32, 4);
	h->buf_alloc = (uint32_t)get_le(in + 36, 4);
	h->fwd_cnt = (uint32_t)get_le(in + 40, 4);
}

void vsock_hdr_encode(const struct vsock_hdr *h,
		      uint8_t out[VIRTIO_VSOCK_HDR_SIZE])
{
	put_le(out, h->src_cid, 8);
	put_le(out + 8, h->dst_cid, 8);
	put_le(out + 16, h->src_port, 4);
	put_le(out + 20, h->dst_port, 4);
	put_le(out + 24, h->len, 4);
	put_le(out + 28, h->type, 2);
	put_le(out + 30, h->op, 2);
	put_le(out + 32, h->flags, 4);
	put_le(out + 36, h->buf_alloc, 4);
	put_le(out + 40, h->fwd_cnt, 4);
}

/* Up to @len bytes of buffers from byte @off of the chain's readable
 * (@writable false) or writable part, as iovecs; returns how many. */
static unsigned chain_iov(const struct virtq_chain *c, bool writable,
			  uint64_t off, uint64_t len, struct iovec *iov)
{
	unsigned first = writable ? c->nr_out : 0;
	unsigned end = writable ? c->nr : c->nr_out, n = 0;

	for (unsigned i = first; i < end && len; i++) {
		const struct virtq_buf *b = &c->buf[i];
		uint64_t k;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		k = b->len - off < len ? b->len - off : len;
		iov[n].iov_base = (uint8_t *)b->host + off;
		iov[n].iov_len = k;
		n++;
		len -= k;
		off = 0;
	}
	return n;
}

enum vsock_verdict vsock_pkt_parse(const struct virtq_chain *c,
				   uint64_t guest_cid, struct vsock_hdr *h)
{
	uint8_t raw[VIRTIO_VSOCK_HDR_SIZE];
	enum vsock_verdict bad = VSOCK_PKT_RST;

	memset(h, 0, sizeof(*h));
	if (virtq_chain_read(c, 0, raw, sizeof(raw)) < sizeof(raw))
		return VSOCK_PKT_DROP; /* no flow to answer */
	vsock_hdr_decode(raw, h);
	/* 5.10.6.4: the guest's packets come from guest_cid.  Anything else
	 * is not from this guest's stack: not answered, as vhost-vsock. */
	if (h->src_cid != guest_cid)
		return VSOCK_PKT_DROP;
	/* Never an RST for an RST: two peers must not bounce them. */
	if (h->op == VIRTIO_VSOCK_OP_RST)
		bad = VSOCK_PKT_DROP;
	if (h->dst_cid != VSOCK_HOST_CID)
		return bad; /* no such peer: "connection refused" */
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return bad;
	if (h->op < VIRTIO_VSOCK_OP_REQUEST ||
	    h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return bad;
	/* A length we cannot take whole: the stream would have a hole. */
	if (h->len > VSOCK_MAX_PAYLOAD ||
	    h->len > c->out_len - VIRTIO_VSOCK_HDR_SIZE)
		return bad;
	return VSOCK_PKT_OK;
}

/* ---- rx: packets to the guest ---- */

/* An rx chain with room for a header in v->rx_chain: the spare one, or the
 * next the driver made available.  False if there is none (the driver is
 * then asked to notify when it posts one). */
static bool rx_get(struct virtio_vsock *v)
{
	struct virtq *q = v->rxq;
	bool rearmed = false;
	int ret;

	if (!v->active || !q)
		return false;
	if (v->spare)
		return true;
	for (;;) {
		ret = virtq_pop(q, &v->rx_chain);
		if (ret == 0) {
			if (rearmed)
				return false;
			virtq_enable_notify(q);
			rearmed = true;
			if (!virtq_has_work(q))
				return false;
			continue;
		}
		if (ret < 0 && ret != -EBADMSG) {
			v->active = false; /* until the driver resets us */
			virtio_dev_needs_reset(v->vd);
			return false;
		}
		if (ret == -EBADMSG ||
		    v->rx_chain.in_len < VIRTIO_VSOCK_HDR_SIZE) {
			/* Unusable: given back empty. */
			virtq_push(q, v->rx_chain.head, 0);
			v->rx_pushed = true;
			stat_add(&v->st.dropped, 1);
			continue;
		}
		v->spare = true;
		return true;
	}
}

/* Bytes of payload the spare chain holds after the header. */
static uint32_t rx_room(const struct virtio_vsock *v)
{
	uint64_t room = v->rx_chain.in_len - VIRTIO_VSOCK_HDR_SIZE;

	return room > VSOCK_MAX_PAYLOAD ? VSOCK_MAX_PAYLOAD : (uint32_t)room;
}

/* Writes header @h into the spare chain (payload, if any, is there
 * already) and gives the chain to the driver. */
static void rx_push(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	uint8_t raw[VIRTIO_VSOCK_HDR_SIZE];
	struct iovec iov[VIRTIO_VSOCK_HDR_SIZE];
	unsigned n = chain_iov(&v->rx_chain, true, 0, sizeof(raw), iov);
	size_t off = 0;

	vsock_hdr_encode(h, raw);
	for (unsigned i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, raw + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	virtq_push(v->rxq, v->rx_chain.head, VIRTIO_VSOCK_HDR_SIZE + h->len);
	v->rx_pushed = true;
	v->spare = false;
}

/* The header of a packet of @c: addresses, and our credit. */
static void conn_hdr(const struct virtio_vsock *v, struct vsock_conn *c,
		     struct vsock_hdr *h, uint16_t op, uint32_t flags,
		     uint32_t len)
{
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->opt.cid;
	h->src_port = c->local_port;
	h->dst_port = c->peer_port;
	h->len = len;
	h->type = VIRTIO_VSOCK_TYPE_STREAM;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = VSOCK_BUF_ALLOC;
	h->fwd_cnt = c->fwd_cnt;
	c->fwd_sent = c->fwd_cnt;
}

/* A control packet of @c; false if there is no rx buffer. */
static bool rx_ctl(struct virtio_vsock *v, struct vsock_conn *c, uint16_t op,
		   uint32_t flags)
{
	struct vsock_hdr h;

	if (!rx_get(v))
		return false;
	conn_hdr(v, c, &h, op, flags, 0);
	rx_push(v, &h);
	return true;
}

/* An RST for packet @p, which has no connection (addresses swapped, as
 * Linux's reset_no_sock); dropped if the ring is full. */
static void rst_queue(struct virtio_vsock *v, const struct vsock_hdr *p)
{
	struct vsock_hdr *h;

	if (p->op == VIRTIO_VSOCK_OP_RST)
		return;
	if (v->rst_len == VSOCK_RST_RING) {
		stat_add(&v->st.dropped, 1);
		return;
	}
	h = &v->rst[(v->rst_head + v->rst_len++) % VSOCK_RST_RING];
	memset(h, 0, sizeof(*h));
	h->src_cid = p->dst_cid;
	h->dst_cid = p->src_cid;
	h->src_port = p->dst_port;
	h->dst_port = p->src_port;
	h->type = p->type;
	h->op = VIRTIO_VSOCK_OP_RST;
}

static void rst_flush(struct virtio_vsock *v)
{
	while (v->rst_len && rx_get(v)) {
		rx_push(v, &v->rst[v->rst_head]);
		v->rst_head = (v->rst_head + 1) % VSOCK_RST_RING;
		v->rst_len--;
	}
}

/* ---- the connection table ---- */

static uint64_t conn_tag(const struct vsock_conn *c)
{
	return (uint64_t)c->gen << 32 | c->slot;
}

static unsigned hash_of(uint32_t local, uint32_t peer)
{
	uint64_t k = ((uint64_t)local << 32 | peer) * 0x9e3779b97f4a7c15ull;

	return (unsigned)(k >> 53) & (VSOCK_HASH - 1);
}

static struct vsock_conn *conn_find(struct virtio_vsock *v, uint32_t local,
				    uint32_t peer)
{
	struct vsock_conn *c = v->hash[hash_of(local, peer)];

	while (c && (c->local_port != local || c->peer_port != peer))
		c = c->hnext;
	return c;
}

static void conn_hash(struct virtio_vsock *v, struct vsock_conn *c)
{
	unsigned b = hash_of(c->local_port, c->peer_port);

	c->hnext = v->hash[b];
	v->hash[b] = c;
	c->hashed = true;
}

static void conn_unhash(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct vsock_conn **p = &v->hash[hash_of(c->local_port, c->peer_port)];

	while (*p != c)
		p = &(*p)->hnext;
	*p = c->hnext;
	c->hashed = false;
}

static void wait_add(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->in_wait)
		return;
	c->wnext = NULL;
	c->wprev = v->wait_tail;
	if (v->wait_tail)
		v->wait_tail->wnext = c;
	else
		v->wait_head = c;
	v->wait_tail = c;
	c->in_wait = true;
	v->nr_wait++;
}

static void wait_del(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!c->in_wait)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		v->wait_head = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	else
		v->wait_tail = c->wprev;
	c->in_wait = false;
	v->nr_wait--;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void timer_set(struct virtio_vsock *v, bool on)
{
	struct itimerspec it = {0};

	if (on == v->timer_armed)
		return;
	if (on) {
		it.it_value.tv_nsec = VSOCK_TICK_MS * 1000000l;
		it.it_interval = it.it_value;
	}
	if (!timerfd_settime(v->timer_fd, 0, &it, NULL))
		v->timer_armed = on;
}

static void timed_add(struct virtio_vsock *v, struct vsock_conn *c)
{
	c->deadline = now_ns() + VSOCK_TIMEOUT_MS * 1000000ull;
	if (c->in_timed)
		return;
	c->tprev = NULL;
	c->tnext = v->timed;
	if (v->timed)
		v->timed->tprev = c;
	v->timed = c;
	c->in_timed = true;
	timer_set(v, true);
}

static void timed_del(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!c->in_timed)
		return;
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else
		v->timed = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	c->in_timed = false;
	if (!v->timed)
		timer_set(v, false);
}

static void listen_set(struct virtio_vsock *v, bool on)
{
	struct epoll_event ev = {.events = on ? EPOLLIN : 0,
				 .data.u64 = TAG_LISTEN};

	if (on != v->listening &&
	    !epoll_ctl(v->epfd, EPOLL_CTL_MOD, v->listen_fd, &ev))
		v->listening = on;
}

static struct vsock_conn *conn_alloc(struct virtio_vsock *v, int fd,
				     enum conn_state state)
{
	struct vsock_conn *c;
	uint32_t slot, gen;

	if (!v->nr_free)
		return NULL;
	slot = v->free_slot[--v->nr_free];
	c = &v->conns[slot];
	gen = c->gen;
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->gen = gen;
	c->fd = fd;
	c->state = state;
	stat_add(&v->st.open, 1);
	return c;
}

/* Registers @c's socket with @events; false (the socket is closed) if
 * epoll cannot take it. */
static bool conn_register(struct virtio_vsock *v, struct vsock_conn *c,
			  uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = conn_tag(c)};
	int sndbuf = (int)VSOCK_BUF_ALLOC;

	/* Room for a whole window of the guest's bytes in the socket where
	 * the host can take it (the kernel caps it at net.core.wmem_max and
	 * doubles it), so that less of a stream goes through our buffer, a
	 * second copy.  A refusal only costs that copy. */
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
		vsock_log(v, "epoll_ctl", errno);
		close(c->fd);
		c->fd = -1;
		return false;
	}
	c->in_epoll = true;
	c->events = events;
	return true;
}

/* Drops what waits for the host program: it can take no more. */
/* A connection buffer of VSOCK_BUF_ALLOC bytes: a cached one, or new. */
static uint8_t *buf_get(struct virtio_vsock *v)
{
	if (v->nr_buf_cache)
		return v->buf_cache[--v->nr_buf_cache];
	return malloc(VSOCK_BUF_ALLOC);
}

static void buf_put(struct virtio_vsock *v, uint8_t *buf)
{
	if (buf && v->nr_buf_cache < VSOCK_BUF_CACHE)
		v->buf_cache[v->nr_buf_cache++] = buf;
	else
		free(buf);
}

static void conn_drop_buf(struct virtio_vsock *v, struct vsock_conn *c)
{
	stat_sub(&v->st.buffered, c->buf_len);
	c->fwd_cnt += c->buf_len;
	buf_put(v, c->buf);
	c->buf = NULL;
	c->buf_head = c->buf_len = 0;
	c->line_off = c->line_len;
}

static void conn_close_host(struct virtio_vsock *v, struct vsock_conn *c)
{
	conn_drop_buf(v, c);
	if (c->fd >= 0)
		close(c->fd); /* leaves the epoll set with it */
	c->fd = -1;
	c->in_epoll = false;
	c->events = 0;
}

static void conn_free(struct virtio_vsock *v, struct vsock_conn *c)
{
	conn_close_host(v, c);
	if (c->hashed)
		conn_unhash(v, c);
	wait_del(v, c);
	timed_del(v, c);
	c->state = C_FREE;
	c->gen = (c->gen + 1) & 0x7fffffff;
	v->free_slot[v->nr_free++] = c->slot;
	stat_sub(&v->st.open, 1);
	/* A listener turned off for want of slots or fds may go on. */
	listen_set(v, true);
}

/* ---- host to guest ---- */

/* What the guest can take on @c now (5.10.6.3).  A fwd_cnt ahead of what
 * we sent, or a buf_alloc below what is in flight, gives 0. */
static uint32_t conn_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0
					     : c->peer_buf_alloc - in_flight;
}

static bool conn_may_read(const struct vsock_conn *c)
{
	return c->state == C_OPEN && c->fd >= 0 && !c->host_eof &&
	       !(c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV);
}

/* The epoll interest @c's socket should have now. */
static uint32_t conn_want(const struct vsock_conn *c)
{
	uint32_t ev = 0;

	switch (c->state) {
	case C_HOST_LINE:
		return EPOLLIN;
	case C_CONNECTING:
		return EPOLLOUT;
	case C_OPEN:
		if (conn_may_read(c) && conn_credit(c) && !c->in_wait)
			ev |= EPOLLIN;
		if (!c->host_wclosed &&
		    (c->buf_len || c->line_off < c->line_len))
			ev |= EPOLLOUT;
		return ev;
	default:
		return 0;
	}
}

static void conn_watch(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t want = conn_want(c);
	struct epoll_event ev = {.events = want, .data.u64 = conn_tag(c)};

	if (!c->in_epoll || want == c->events)
		return;
	if (!epoll_ctl(v->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		c->events = want;
}

/* The host socket hung up: out of the epoll set (EPOLLHUP would be
 * reported for ever), and nothing can be written to it any more. */
static void conn_hangup(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->in_epoll)
		epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->in_epoll = false;
	c->events = 0;
	c->host_gone = true;
	c->host_wclosed = true;
	conn_drop_buf(v, c);
}

/* One RW packet from @c's socket into an rx buffer: 1 sent, 0 nothing
 * now (no bytes, EOF, or no credit), -ENOBUFS no rx buffer. */
static int conn_read(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct iovec iov[VIRTQ_MAX_SIZE];
	struct vsock_hdr h;
	uint32_t max = conn_credit(c);
	unsigned n;
	ssize_t got;

	if (!max)
		return 0;
	if (!rx_get(v))
		return -ENOBUFS;
	/* A chain with room for a header only still serves: it carries
	 * our credit instead, and the next chain gets the bytes. */
	while (!rx_room(v)) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
		rx_push(v, &h);
		if (!rx_get(v))
			return -ENOBUFS;
	}
	if (max > rx_room(v))
		max = rx_room(v);
	n = chain_iov(&v->rx_chain, true, VIRTIO_VSOCK_HDR_SIZE, max, iov);
	got = readv(c->fd, iov, (int)n);
	if (got > 0) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_RW, 0, (uint32_t)got);
		rx_push(v, &h);
		c->tx_cnt += (uint32_t)got;
		stat_add(&v->st.bytes_out, (uint64_t)got);
		/* Out of credit with bytes perhaps waiting: ask once (Linux
		 * tells on its own when its reader makes room, but a
		 * driver need not). */
		if (!conn_credit(c) && !c->credit_asked) {
			c->pending |= PEND_CREDIT_REQUEST;
			c->credit_asked = true;
		}
		return 1;
	}
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return 0; /* the chain stays for the next packet */
	/* EOF, or the host program reset the connection. */
	c->host_eof = true;
	if (got < 0)
		conn_hangup(v, c);
	return 0;
}

/* ---- guest to host ---- */

/* Tells the guest our credit once it grew by the threshold, or once what
 * we buffered is all out (then the guest may send VSOCK_BUF_ALLOC again,
 * and a guest that waits for that needs to hear it). */
static void conn_credit_check(struct vsock_conn *c, bool drained)
{
	if (c->fwd_cnt - c->fwd_sent >= VSOCK_CREDIT_THRESHOLD ||
	    (drained && c->fwd_cnt != c->fwd_sent))
		c->pending |= PEND_CREDIT_UPDATE;
}

/* The host program stopped reading: what waits is dropped. */
static void conn_write_failed(struct virtio_vsock *v, struct vsock_conn *c)
{
	c->host_wclosed = true;
	conn_drop_buf(v, c);
}

/* Writes the OK line and the ring to the host socket, as far as it
 * takes them. */
static void conn_flush(struct virtio_vsock *v, struct vsock_conn *c)
{
	bool had = c->buf_len;
	ssize_t n;

	if (c->fd < 0 || c->host_wclosed)
		return;
	while (c->line_off < c->line_len) {
		n = send(c->fd, c->line + c->line_off,
			 c->line_len - c->line_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_write_failed(v, c);
			return;
		}
		c->line_off += (uint32_t)n;
	}
	while (c->buf_len) {
		uint32_t first = VSOCK_BUF_ALLOC - c->buf_head;
		struct iovec iov[2] = {
			{c->buf + c->buf_head,
			 first < c->buf_len ? first : c->buf_len},
			{c->buf, first < c->buf_len ? c->buf_len - first : 0},
		};
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_write_failed(v, c);
			break;
		}
		c->buf_head = (c->buf_head + (uint32_t)n) % VSOCK_BUF_ALLOC;
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
		stat_sub(&v->st.buffered, (uint64_t)n);
	}
	if (!c->buf_len && c->buf) {
		/* An idle connection keeps no buffer. */
		buf_put(v, c->buf);
		c->buf = NULL;
		c->buf_head = 0;
	}
	conn_credit_check(c, had && !c->buf_len);
}

/* The payload of RW packet @h on chain @ch for @c: straight to the host
 * socket if nothing waits before it, the rest into the ring.  False if @c
 * was aborted. */
static bool conn_write(struct virtio_vsock *v, struct vsock_conn *c,
		       const struct virtq_chain *ch, uint32_t len)
{
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint32_t done = 0, tail, first;

	if (!len)
		return true;
	/* The guest may have in flight what our last fwd_cnt allowed; a
	 * packet beyond that breaks 5.10.6.3.1 (and would make us buffer
	 * without bound). */
	if ((uint64_t)(uint32_t)(c->rx_cnt - c->fwd_sent) + len >
	    VSOCK_BUF_ALLOC) {
		stat_add(&v->st.overruns, 1);
		conn_rst(v, c);
		return false;
	}
	c->rx_cnt += len;
	stat_add(&v->st.bytes_in, len);
	if (c->host_wclosed) {
		c->fwd_cnt += len; /* nobody takes it: consumed */
		return true;
	}
	if (!c->buf_len && c->line_off == c->line_len) {
		struct msghdr m = {.msg_iov = iov};
		ssize_t n;

		m.msg_iovlen =
			chain_iov(ch, false, VIRTIO_VSOCK_HDR_SIZE, len, iov);
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_write_failed(v, c);
			c->fwd_cnt += len;
			return true;
		}
		done = n > 0 ? (uint32_t)n : 0;
		c->fwd_cnt += done;
	}
	if (done < len) {
		if (!c->buf) {
			c->buf = buf_get(v);
			if (!c->buf) {
				vsock_log(v, "connection buffer", ENOMEM);
				conn_rst(v, c);
				return false;
			}
			c->buf_head = 0;
		}
		/* Fits: buf_len = rx_cnt - fwd_cnt <= rx_cnt - fwd_sent,
		 * checked above. */
		tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
		first = VSOCK_BUF_ALLOC - tail;
		if (first > len - done)
			first = len - done;
		virtq_chain_read(ch, VIRTIO_VSOCK_HDR_SIZE + done,
				 c->buf + tail, first);
		virtq_chain_read(ch, VIRTIO_VSOCK_HDR_SIZE + done + first,
				 c->buf, len - done - first);
		c->buf_len += len - done;
		stat_buffered(v, len - done);
	}
	conn_credit_check(c, false);
	return true;
}

/* ---- the state machine ---- */

/* Sends @c's control packets: 1 all sent, 0 no rx buffer, -1 @c was an
 * RST and is gone. */
static int conn_send_ctl(struct virtio_vsock *v, struct vsock_conn *c)
{
	static const uint16_t op[] = {
		VIRTIO_VSOCK_OP_REQUEST,       VIRTIO_VSOCK_OP_RESPONSE,
		VIRTIO_VSOCK_OP_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_REQUEST,
		VIRTIO_VSOCK_OP_SHUTDOWN,
	};

	if (c->state == C_RST) {
		if (!rx_ctl(v, c, VIRTIO_VSOCK_OP_RST, 0))
			return 0;
		conn_free(v, c);
		return -1;
	}
	for (unsigned i = 0; c->pending; i++) {
		unsigned bit = 1u << i;

		if (!(c->pending & bit))
			continue;
		if (!rx_ctl(v, c, op[i],
			    bit == PEND_SHUTDOWN ? c->shut_sent : 0))
			return 0;
		c->pending &= ~bit;
		if (bit == PEND_REQUEST)
			timed_add(v, c); /* the guest has VSOCK_TIMEOUT_MS */
	}
	return 1;
}

/* Aborts @c: the host socket goes, and an RST goes to the guest, now or
 * when it posts an rx buffer.  @c must not be used afterwards. */
static void conn_rst(struct virtio_vsock *v, struct vsock_conn *c)
{
	conn_close_host(v, c);
	timed_del(v, c);
	c->pending = 0;
	c->state = C_RST;
	if (!v->active)
		conn_free(v, c); /* no ring to tell: reset forgets the flow */
	else if (!conn_send_ctl(v, c))
		wait_add(v, c);
}

/* After anything happened to an open connection: pass half-closes on,
 * tell the guest what the host program stopped doing, and close what is
 * finished.  False if @c is gone. */
static bool conn_settle(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t tell = 0;
	bool flushed;

	if (c->state != C_OPEN)
		return true;
	flushed = !c->buf_len && c->line_off == c->line_len;
	if ((c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && flushed &&
	    !c->shut_wr && !c->host_wclosed) {
		shutdown(c->fd, SHUT_WR); /* the host program reads EOF */
		c->shut_wr = true;
	}
	if ((c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) && !c->shut_rd) {
		/* The host program's further writes fail with EPIPE. */
		shutdown(c->fd, SHUT_RD);
		c->shut_rd = true;
	}
	/* 5.10.6.6: the guest will neither send nor receive; once its bytes
	 * are out (or cannot go), our RST completes the close. */
	if (c->peer_shut == VIRTIO_VSOCK_SHUTDOWN_BOTH &&
	    (flushed || c->host_wclosed)) {
		conn_rst(v, c);
		return false;
	}
	/* A hung-up host program whose bytes the guest will not read has
	 * said all it will. */
	if (c->host_gone && (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))
		c->host_eof = true;
	if (c->host_eof)
		tell |= VIRTIO_VSOCK_SHUTDOWN_SEND;
	if (c->host_wclosed)
		tell |= VIRTIO_VSOCK_SHUTDOWN_RCV;
	if (tell & ~c->shut_sent) {
		c->shut_sent |= tell;
		c->pending |= PEND_SHUTDOWN;
	}
	if (c->shut_sent == VIRTIO_VSOCK_SHUTDOWN_BOTH) {
		/* Nothing more to do with the socket: wait for the guest's
		 * RST. */
		conn_close_host(v, c);
		c->state = C_CLOSING;
		timed_add(v, c);
	}
	return true;
}

/* Moves @c along: its control packets, then (if @readable, or the socket
 * hung up) bytes from its socket while the guest has credit and rx
 * buffers, then what that changed.  @c may be gone afterwards. */
static void conn_pump(struct virtio_vsock *v, struct vsock_conn *c,
		      bool readable)
{
	bool blocked = false;
	int r;

	wait_del(v, c); /* served now; back at the tail if blocked again */
	r = conn_send_ctl(v, c);
	if (r < 0)
		return;
	if (!r) {
		blocked = true;
	} else if (readable || c->host_gone) {
		for (unsigned i = 0; i < VSOCK_BURST && conn_may_read(c); i++) {
			r = conn_read(v, c);
			if (r == -ENOBUFS)
				blocked = true;
			if (r <= 0)
				break;
		}
	}
	if (!conn_settle(v, c))
		return;
	if (!blocked) {
		r = conn_send_ctl(v, c);
		if (r < 0)
			return;
		blocked = !r;
	}
	if (blocked)
		wait_add(v, c);
	conn_watch(v, c);
}

/* The driver posted rx buffers (or may have): RSTs first, then the
 * connections that waited, each once. */
static void vsock_rx_kick(struct virtio_vsock *v)
{
	unsigned n = v->nr_wait;

	rst_flush(v);
	while (n-- && v->wait_head && !v->rst_len && rx_get(v)) {
		struct vsock_conn *c = v->wait_head;

		wait_del(v, c);
		conn_pump(v, c, true);
	}
}

/* ---- the host side ---- */

static void vsock_accept(struct virtio_vsock *v)
{
	for (unsigned i = 0; i < VSOCK_BURST; i++) {
		struct vsock_conn *c;
		int fd = accept4(v->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN) {
				/* EMFILE and the like: wait until a
				 * connection ends instead of spinning. */
				vsock_log(v, "accept", errno);
				listen_set(v, false);
			}
			return;
		}
		c = conn_alloc(v, fd, C_HOST_LINE);
		if (!c) {
			/* VSOCK_MAX_CONNS: the host program reads EOF. */
			close(fd);
			stat_add(&v->st.refused, 1);
			continue;
		}
		if (!conn_register(v, c, EPOLLIN))
			conn_free(v, c);
	}
}

/* A free local port for a host program's connection to guest port
 * @peer. */
static uint32_t vsock_local_port(struct virtio_vsock *v, uint32_t peer)
{
	for (;;) {
		uint32_t p = v->next_port++;

		if (v->next_port < VSOCK_LOCAL_PORT_BASE)
			v->next_port = VSOCK_LOCAL_PORT_BASE;
		if (!conn_find(v, p, peer))
			return p;
	}
}

/* HOST_LINE: reads the CONNECT line without going past its newline (the
 * bytes after it are the guest's), and sends the REQUEST. */
static void conn_read_line(struct virtio_vsock *v, struct vsock_conn *c)
{
	char *nl;
	ssize_t n;
	size_t take;

	n = recv(c->fd, c->line + c->line_len, sizeof(c->line) - c->line_len,
		 MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (c->host_gone)
			conn_free(v, c);
		return;
	}
	if (n <= 0) {
		conn_free(v, c); /* gone before its line */
		return;
	}
	nl = memchr(c->line + c->line_len, '\n', (size_t)n);
	take = nl ? (size_t)(nl - (c->line + c->line_len)) + 1 : (size_t)n;
	if (recv(c->fd, c->line + c->line_len, take, 0) != (ssize_t)take) {
		conn_free(v, c);
		return;
	}
	c->line_len += (uint32_t)take;
	if (!nl) {
		if (c->line_len == sizeof(c->line)) {
			stat_add(&v->st.bad_connect, 1);
			conn_free(v, c); /* too long to be one */
		} else if (c->host_gone) {
			conn_free(v, c);
		}
		return;
	}
	if (vsock_uds_parse_connect(c->line, c->line_len, &c->peer_port)) {
		stat_add(&v->st.bad_connect, 1);
		conn_free(v, c);
		return;
	}
	c->local_port = vsock_local_port(v, c->peer_port);
	conn_hash(v, c);
	c->line_len = c->line_off = 0;
	c->state = C_HOST_REQ;
	c->pending = PEND_REQUEST;
	c->peer_buf_alloc = 0; /* no credit until the guest says */
	if (c->host_gone) {
		/* It closed right after its line: nobody to answer. */
		conn_free(v, c);
		return;
	}
	conn_watch(v, c);
	conn_pump(v, c, false);
}

/* CONNECTING: the connect to PATH_P completed, or failed. */
static void conn_connected(struct virtio_vsock *v, struct vsock_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err ||
	    c->host_gone) {
		stat_add(&v->st.refused, 1);
		conn_rst(v, c);
		return;
	}
	c->state = C_OPEN;
	c->pending |= PEND_RESPONSE;
	stat_add(&v->st.from_guest, 1);
	conn_pump(v, c, false);
}

static void conn_event(struct virtio_vsock *v, struct vsock_conn *c,
		       uint32_t ev)
{
	if (ev & (EPOLLHUP | EPOLLERR))
		conn_hangup(v, c);
	switch (c->state) {
	case C_HOST_LINE:
		conn_read_line(v, c);
		break;
	case C_HOST_REQ:
		/* Only a hang-up comes here: the host program gave up
		 * waiting.  A guest that got the REQUEST hears of it. */
		if (c->pending & PEND_REQUEST)
			conn_free(v, c);
		else
			conn_rst(v, c);
		break;
	case C_CONNECTING:
		conn_connected(v, c);
		break;
	case C_OPEN:
		if (ev & EPOLLOUT)
			conn_flush(v, c);
		conn_pump(v, c, ev & (EPOLLIN | EPOLLHUP | EPOLLERR));
		break;
	default:
		break;
	}
}

/* The timer: REQUESTs the guest did not answer, guests that did not
 * answer our closing SHUTDOWN. */
static void vsock_tick(struct virtio_vsock *v)
{
	uint64_t expired, now = now_ns();
	struct vsock_conn *c, *next;

	if (read(v->timer_fd, &expired, sizeof(expired)) < 0) {
		/* EAGAIN: a tick taken already; the scan is harmless */
	}
	for (c = v->timed; c; c = next) {
		next = c->tnext; /* conn_rst() frees @c at most */
		if (c->deadline > now)
			continue;
		stat_add(&v->st.timeouts, 1);
		conn_rst(v, c);
	}
}

static void vsock_notify(struct virtio_vsock *v)
{
	if (v->rx_pushed) {
		v->rx_pushed = false;
		virtio_dev_notify(v->vd, VIRTIO_VSOCK_RX);
	}
	if (v->tx_pushed) {
		v->tx_pushed = false;
		virtio_dev_notify(v->vd, VIRTIO_VSOCK_TX);
	}
}

/* The device's epoll fd: the listener, the timer, the host sockets. */
static void vsock_event(struct virtio_dev *vd, int fd)
{
	struct virtio_vsock *v = virtio_dev_priv(vd);
	struct epoll_event ev[VSOCK_EVENTS];
	int n = epoll_wait(v->epfd, ev, VSOCK_EVENTS, 0);

	(void)fd;
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		uint32_t slot = (uint32_t)tag;
		struct vsock_conn *c;

		if (tag == TAG_LISTEN) {
			vsock_accept(v);
			continue;
		}
		if (tag == TAG_TIMER) {
			vsock_tick(v);
			continue;
		}
		if (slot >= VSOCK_MAX_CONNS)
			continue;
		c = &v->conns[slot];
		/* An event of a connection freed earlier in this batch. */
		if (c->state == C_FREE || c->gen != (uint32_t)(tag >> 32))
			continue;
		conn_event(v, c, ev[i].events);
	}
	vsock_notify(v);
}

/* ---- the guest's packets ---- */

/* A REQUEST to the host: connect to PATH_<port>; RESPONSE or RST. */
static void vsock_guest_connect(struct virtio_vsock *v,
				const struct vsock_hdr *h)
{
	struct vsock_conn *c = conn_alloc(v, -1, C_CONNECTING);
	bool in_progress;
	int fd;

	if (!c) {
		stat_add(&v->st.refused, 1);
		rst_queue(v, h); /* "insufficient resources" (5.10.6.6) */
		return;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	conn_hash(v, c);
	fd = vsock_uds_connect(v->opt.uds, h->dst_port, &in_progress);
	if (fd < 0) {
		if (fd != -ECONNREFUSED && fd != -ENOENT && fd != -EAGAIN)
			vsock_log(v, "connect", -fd);
		stat_add(&v->st.refused, 1);
		conn_rst(v, c);
		return;
	}
	c->fd = fd;
	if (!conn_register(v, c, in_progress ? EPOLLOUT : 0)) {
		stat_add(&v->st.refused, 1);
		conn_rst(v, c);
		return;
	}
	if (in_progress)
		return;
	c->state = C_OPEN;
	c->pending |= PEND_RESPONSE;
	stat_add(&v->st.from_guest, 1);
	conn_pump(v, c, false);
}

/* Packet @h (checked) on chain @ch for connection @c. */
static void conn_packet(struct virtio_vsock *v, struct vsock_conn *c,
			const struct vsock_hdr *h, const struct virtq_chain *ch)
{
	if (c->state == C_RST)
		return; /* our RST is on its way */
	if (h->op == VIRTIO_VSOCK_OP_RST) {
		/* Refused (no listener in the guest), or aborted. */
		if (c->state == C_HOST_REQ)
			stat_add(&v->st.refused, 1);
		conn_free(v, c);
		return;
	}
	/* 5.10.6.3.1: every packet of a flow carries the sender's credit. */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->credit_asked = false;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_REQUEST:
		/* A second REQUEST for a live flow. */
		stat_add(&v->st.bad_rst, 1);
		conn_rst(v, c);
		return;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != C_HOST_REQ || (c->pending & PEND_REQUEST)) {
			stat_add(&v->st.bad_rst, 1);
			conn_rst(v, c);
			return;
		}
		timed_del(v, c);
		c->state = C_OPEN;
		stat_add(&v->st.from_host, 1);
		c->line_off = 0;
		c->line_len = (uint32_t)snprintf(c->line, sizeof(c->line),
						 "OK %u\n", c->local_port);
		conn_flush(v, c);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state == C_CLOSING) {
			/* Its close crossed ours: the RST ends both. */
			conn_rst(v, c);
			return;
		}
		if (c->state != C_OPEN) {
			stat_add(&v->st.bad_rst, 1);
			conn_rst(v, c);
			return;
		}
		c->peer_shut |= h->flags & VIRTIO_VSOCK_SHUTDOWN_BOTH;
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state == C_CLOSING)
			break; /* sent before it heard we closed */
		if (c->state != C_OPEN ||
		    (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND)) {
			stat_add(&v->st.bad_rst, 1);
			conn_rst(v, c);
			return;
		}
		if (!conn_write(v, c, ch, h->len))
			return;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= PEND_CREDIT_UPDATE;
		break;
	default: /* CREDIT_UPDATE: taken above */
		break;
	}
	conn_pump(v, c, false);
}

static void vsock_tx_pkt(struct virtio_vsock *v, const struct virtq_chain *ch)
{
	struct vsock_hdr h;
	enum vsock_verdict verdict = vsock_pkt_parse(ch, v->opt.cid, &h);
	struct vsock_conn *c = NULL;

	if (verdict == VSOCK_PKT_DROP) {
		stat_add(&v->st.dropped, 1);
		return;
	}
	if (h.dst_cid == VSOCK_HOST_CID)
		c = conn_find(v, h.dst_port, h.src_port);
	if (verdict == VSOCK_PKT_RST) {
		stat_add(&v->st.bad_rst, 1);
		if (c)
			conn_rst(v, c);
		else
			rst_queue(v, &h);
		return;
	}
	if (c)
		conn_packet(v, c, &h, ch);
	else if (h.op == VIRTIO_VSOCK_OP_REQUEST)
		vsock_guest_connect(v, &h);
	else
		rst_queue(v, &h); /* no such connection (any more) */
}

/* Takes every packet the driver queued on tx.  5.10.6.1: tx is served
 * whether or not rx has room; what we owe the guest is flags on the
 * connections and the bounded RST ring. */
static void vsock_tx(struct virtio_vsock *v)
{
	struct virtq *q = v->txq;
	int ret;

	if (!v->active || !q)
		return;
	for (;;) {
		virtq_disable_notify(q);
		while ((ret = virtq_pop(q, &v->tx_chain)) != 0) {
			if (ret == -EBADMSG) {
				virtq_push(q, v->tx_chain.head, 0);
				v->tx_pushed = true;
				stat_add(&v->st.dropped, 1);
				continue;
			}
			if (ret < 0) {
				v->active = false;
				virtio_dev_needs_reset(v->vd);
				return;
			}
			vsock_tx_pkt(v, &v->tx_chain);
			/* Its bytes are in the host socket or our ring. */
			virtq_push(q, v->tx_chain.head, 0);
			v->tx_pushed = true;
			if (!v->active)
				return; /* rx broke meanwhile */
		}
		virtq_enable_notify(q);
		if (!virtq_has_work(q))
			break;
	}
}

/* ---- the device model ---- */

static int vsock_init(struct virtio_dev *vd)
{
	struct virtio_vsock *v = virtio_dev_priv(vd);

	v->vd = vd;
	return virtio_dev_add_fd(vd, v->epfd, vsock_event);
}

static int vsock_activate(struct virtio_dev *vd, uint64_t features)
{
	struct virtio_vsock *v = virtio_dev_priv(vd);

	(void)features;
	v->vd = vd;
	v->rxq = virtio_dev_queue(vd, VIRTIO_VSOCK_RX);
	v->txq = virtio_dev_queue(vd, VIRTIO_VSOCK_TX);
	v->spare = false;
	v->active = true;
	vsock_tx(v);
	vsock_rx_kick(v);
	vsock_notify(v);
	return 0;
}

static void vsock_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_vsock *v = virtio_dev_priv(vd);

	if (!v->active)
		return;
	if (q == VIRTIO_VSOCK_TX)
		vsock_tx(v);
	/* RSTs the packets asked for, and what waited for buffers. */
	if (q == VIRTIO_VSOCK_TX || q == VIRTIO_VSOCK_RX)
		vsock_rx_kick(v);
	/* The event queue: we have no event to send (TRANSPORT_RESET is
	 * for a restored snapshot). */
	vsock_notify(v);
}

/* Closes every connection (the host programs read EOF) and forgets the
 * queues; the listener stays. */
static void vsock_reset(struct virtio_dev *vd)
{
	struct virtio_vsock *v = virtio_dev_priv(vd);

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state != C_FREE)
			conn_free(v, &v->conns[i]);
	v->active = false;
	v->rxq = v->txq = NULL;
	v->spare = false;
	v->rst_len = 0;
	v->rx_pushed = v->tx_pushed = false;
}

static void vsock_config_read(struct virtio_dev *vd, uint32_t off, void *data,
			      uint32_t len)
{
	struct virtio_vsock *v = virtio_dev_priv(vd);
	uint8_t cfg[VIRTIO_VSOCK_CONFIG_SIZE];

	put_le(cfg, v->opt.cid, 8);
	if (off > sizeof(cfg) || len > sizeof(cfg) - off) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, cfg + off, len);
}

void virtio_vsock_stats(struct virtio_vsock *v, struct vsock_stats *s)
{
	const uint64_t *src = (const uint64_t *)&v->st;
	uint64_t *dst = (uint64_t *)s;

	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static void vsock_print_stats(struct virtio_dev *vd, FILE *f)
{
	struct vsock_stats s;
	const double mib = 1024.0 * 1024.0;

	virtio_vsock_stats(virtio_dev_priv(vd), &s);
	fprintf(f,
		"  %" PRIu64 " connections from the host, %" PRIu64
		" from the guest, %" PRIu64 " refused, %" PRIu64
		" open; %.1f MiB from the guest, %.1f MiB to it, at most %.1f MiB buffered\n",
		s.from_host, s.from_guest, s.refused, s.open,
		(double)s.bytes_in / mib, (double)s.bytes_out / mib,
		(double)s.buffered_peak / mib);
	fprintf(f,
		"  %" PRIu64 " packets dropped, %" PRIu64
		" answered with RST, %" PRIu64 " credit overruns, %" PRIu64
		" bad CONNECT lines, %" PRIu64 " timeouts\n",
		s.dropped, s.bad_rst, s.overruns, s.bad_connect, s.timeouts);
}

static unsigned vsock_read_metrics(struct virtio_dev *vd,
				   struct virtio_metric *m)
{
	struct vsock_stats s;
	unsigned i = 0;

	virtio_vsock_stats(virtio_dev_priv(vd), &s);
	/* rx: to the guest, tx: from it, as Firecracker's queues are named. */
	m[i++] = (struct virtio_metric){"conns_added",
					s.from_host + s.from_guest, false};
	m[i++] = (struct virtio_metric){"conns_refused", s.refused, false};
	m[i++] = (struct virtio_metric){"conns_killed", s.timeouts + s.overruns,
					false};
	m[i++] = (struct virtio_metric){"conns_open", s.open, true};
	m[i++] = (struct virtio_metric){"rx_bytes_count", s.bytes_out, false};
	m[i++] = (struct virtio_metric){"tx_bytes_count", s.bytes_in, false};
	m[i++] = (struct virtio_metric){"tx_dropped", s.dropped + s.bad_rst,
					false};
	m[i++] = (struct virtio_metric){"buffered_bytes", s.buffered, true};
	return i;
}

static const struct virtio_device_ops vsock_ops = {
	.name = "virtio-vsock",
	.init = vsock_init,
	.device_id = VIRTIO_ID_VSOCK,
	.features = 0, /* stream only: implied with no feature (5.10.3) */
	.nr_queues = 3,
	.config_size = VIRTIO_VSOCK_CONFIG_SIZE,
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
	.print_stats = vsock_print_stats,
	.read_metrics = vsock_read_metrics,
};

/* 1024 connections need 1024 fds besides minivmm's own; the usual soft
 * limit is 1024.  Only ever raised, and within the hard limit. */
static void vsock_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= VSOCK_NOFILE)
		return;
	rl.rlim_cur = rl.rlim_max < VSOCK_NOFILE ? rl.rlim_max : VSOCK_NOFILE;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int virtio_vsock_create(struct virtio_vsock **out,
			const struct vsock_options *o)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct virtio_vsock *v;
	int ret;

	if (o->cid < 3 || o->cid == UINT32_MAX || !o->uds[0] ||
	    strnlen(o->uds, sizeof(o->uds)) > VSOCK_UDS_PATH_MAX)
		return err_set(-EINVAL,
			       "vsock: bad options (cid %u, uds '%.*s')",
			       o->cid, (int)sizeof(o->uds), o->uds);
	v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(-ENOMEM, "out of memory");
	v->opt = *o;
	v->ops = vsock_ops;
	v->epfd = v->listen_fd = v->timer_fd = -1;
	v->next_port = VSOCK_LOCAL_PORT_BASE;
	v->rl.burst = 10;
	/* Untouched slots cost no memory (calloc of a large block maps
	 * zero pages). */
	v->conns = calloc(VSOCK_MAX_CONNS, sizeof(*v->conns));
	if (!v->conns) {
		ret = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		v->free_slot[i] = VSOCK_MAX_CONNS - 1 - i;
	v->nr_free = VSOCK_MAX_CONNS;
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	v->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->epfd < 0 || v->timer_fd < 0) {
		ret = err_set(-errno, "vsock: epoll/timerfd: %s",
			      strerror(errno));
		goto fail;
	}
	ev.data.u64 = TAG_TIMER;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->timer_fd, &ev)) {
		ret = err_set(-errno, "vsock: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	vsock_raise_nofile();
	ret = vsock_uds_listen(o->uds, &v->sock_dev, &v->sock_ino);
	if (ret < 0)
		goto fail;
	v->listen_fd = ret;
	ev.data.u64 = TAG_LISTEN;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &ev)) {
		ret = err_set(-errno, "vsock: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	v->listening = true;
	*out = v;
	return 0;
fail:
	virtio_vsock_destroy(v);
	return ret;
}

const struct virtio_device_ops *virtio_vsock_get_ops(struct virtio_vsock *v)
{
	return &v->ops;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (!v)
		return;
	if (v->conns)
		for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
			if (v->conns[i].state != C_FREE)
				conn_free(v, &v->conns[i]);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		uds_unlink(v->opt.uds, v->sock_dev, v->sock_ino);
	}
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->epfd >= 0)
		close(v->epfd);
	while (v->nr_buf_cache)
		free(v->buf_cache[--v->nr_buf_cache]);
	free(v->conns);
	free(v);
}
