/* libFuzzer target: virtio-vsock behind the real virtio-mmio transport,
 * with real UNIX sockets, the input as a guest's packets on fuzzed chains
 * and as what the host programs do.  The harness sets the three queues up
 * as a driver would (16 entries each), then runs the input's records:
 * a packet on tx (every header field chosen by the input: ops, types,
 * CIDs and ports from small sets or raw, a len that may lie about the
 * bytes there, the chain split anywhere or pointing outside RAM), rx
 * buffers of any size, turns of the I/O thread, host programs connecting
 * to PATH with good or bad CONNECT lines, writing, reading and closing,
 * and device resets.  Every packet the device puts on rx is checked: a
 * header that fits the buffer and its used length, from the host to this
 * guest, a known op.  Guest RAM is a heap block of exactly its size, so
 * ASan reports any access outside it.
 *
 * Input: records of 16 bytes: action, then 15 bytes of arguments. */
#include "mem.h"
#include "virtio/mmio.h"
#include "virtio/vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RAM_SIZE (1ull << 20)
#define QSIZE 16
#define RING(q) \
	(0x1000ull + 0x1000ull * (q)) /* desc; avail +0x400, used +0x800 */
#define TXBUF(s) (0x10000ull + 0x2400ull * (s))
#define RXBUF(i) (0x40000ull + 0x2400ull * (i))
#define BUF_MAX 0x2400
#define CID 3
#define HOST_PORT 5000 /* PATH_5000 has a listener */
#define MAX_HOST 8
#define MAX_RECORDS 512

static uint8_t *ram;
static struct vm_mem mem;
static struct virtio_vsock *vsock;
static char dir[] = "/tmp/fuzz-vsock.XXXXXX";
static char uds[108], port_path[128];
static int port_listener = -1;

/* The fake driver's view of the queues. */
static uint16_t avail_idx[3], used_seen[3], rx_len[QSIZE];
static struct virtio_dev *vd;
static int host[MAX_HOST];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void reg_write(uint64_t off, uint32_t v)
{
	virtio_mmio_io(vd, off, (uint8_t *)&v, 4, true);
}

static uint32_t reg_read(uint64_t off)
{
	uint32_t v = 0;

	virtio_mmio_io(vd, off, (uint8_t *)&v, 4, false);
	return v;
}

static void set_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + RING(q) + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void publish(unsigned q, uint16_t head)
{
	uint8_t *avail = ram + RING(q) + 0x400;

	memcpy(avail + 4 + 2 * (avail_idx[q] % QSIZE), &head, 2);
	avail_idx[q]++;
	memcpy(avail + 2, &avail_idx[q], 2);
	reg_write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* Reset, negotiate VERSION_1 (and EVENT_IDX if @event_idx), three ready
 * queues, DRIVER_OK. */
static void driver_up(bool event_idx)
{
	reg_write(VIRTIO_MMIO_STATUS, 0);
	memset(ram, 0, 0x10000);
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(used_seen, 0, sizeof(used_seen));
	reg_write(VIRTIO_MMIO_STATUS,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	reg_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(VIRTIO_MMIO_DRIVER_FEATURES,
		  event_idx ? 1u << VIRTIO_RING_F_EVENT_IDX : 0);
	reg_write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	reg_write(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE |
					      VIRTIO_STATUS_DRIVER |
					      VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 3; q++) {
		reg_write(VIRTIO_MMIO_QUEUE_SEL, q);
		reg_write(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		reg_write(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RING(q));
		reg_write(VIRTIO_MMIO_QUEUE_DRIVER_LOW,
			  (uint32_t)RING(q) + 0x400);
		reg_write(VIRTIO_MMIO_QUEUE_DEVICE_LOW,
			  (uint32_t)RING(q) + 0x800);
		reg_write(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	reg_write(VIRTIO_MMIO_STATUS,
		  reg_read(VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

/* Takes and checks what the device put on rx; posts the buffers again. */
static void consume_rx(void)
{
	const uint8_t *used = ram + RING(0) + 0x800;
	uint16_t idx;

	memcpy(&idx, used + 2, 2);
	check((uint16_t)(idx - used_seen[0]) <= QSIZE);
	while (used_seen[0] != idx) {
		const uint8_t *e = used + 4 + 8 * (used_seen[0] % QSIZE);
		uint32_t id, len;
		struct vsock_hdr h;

		memcpy(&id, e, 4);
		memcpy(&len, e + 4, 4);
		used_seen[0]++;
		check(id < QSIZE && len <= rx_len[id]);
		if (len == 0)
			continue; /* a buffer too small for a header */
		check(len >= VIRTIO_VSOCK_HDR_SIZE);
		vsock_hdr_decode(ram + RXBUF(id), &h);
		check(h.len + VIRTIO_VSOCK_HDR_SIZE == len);
		check(h.len <= VSOCK_MAX_PAYLOAD);
		check(h.dst_cid == CID);
		check(h.op >= VIRTIO_VSOCK_OP_REQUEST &&
		      h.op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST);
		check(h.op == VIRTIO_VSOCK_OP_RW || h.len == 0);
		check(h.op != VIRTIO_VSOCK_OP_RW || h.len > 0);
		if (h.op != VIRTIO_VSOCK_OP_RST)
			check(h.src_cid == VSOCK_HOST_CID &&
			      h.type == VIRTIO_VSOCK_TYPE_STREAM &&
			      h.buf_alloc == VSOCK_BUF_ALLOC);
	}
}

static void post_rx(unsigned n, uint32_t len)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t i = avail_idx[0] % QSIZE;

		if ((uint16_t)(avail_idx[0] - used_seen[0]) >= QSIZE)
			return; /* all posted */
		rx_len[i] = len;
		set_desc(0, i, RXBUF(i), len, VIRTQ_DESC_F_WRITE, 0);
		publish(0, i);
	}
}

static const uint64_t cids[] = {CID, VSOCK_HOST_CID, 7, CID | 1ull << 32};
static const uint32_t ports[] = {HOST_PORT,  HOST_PORT + 1,
				 1u << 30,   (1u << 30) + 1,
				 1024,	     0,
				 UINT32_MAX, 52};

/* A packet on tx from record @r. */
static void send_tx(const uint8_t *r)
{
	uint16_t slot = avail_idx[1] % QSIZE, d = slot;
	uint64_t at = TXBUF(slot);
	struct vsock_hdr h = {
		.src_cid = cids[r[3] & 3],
		.dst_cid = cids[(r[3] >> 2) & 3],
		.src_port = r[4] & 4 ? ports[r[4] & 7] : 1000 + (r[4] & 3),
		.dst_port = ports[r[4] >> 5],
		.len = le16(r + 5),
		.type = r[2] < 0xf0 ? VIRTIO_VSOCK_TYPE_STREAM : r[2] & 0xf,
		.op = r[1] % 10,
		.flags = r[9],
		.buf_alloc = (uint32_t)le16(r + 10) << (r[12] & 7),
		.fwd_cnt = (uint32_t)r[13] << 8,
	};
	uint32_t n = le16(r + 7) % (BUF_MAX - VIRTIO_VSOCK_HDR_SIZE);
	unsigned split = r[14] % 5;

	if (r[3] & 0x40)
		h.len = n; /* mostly honest */
	if ((uint16_t)(avail_idx[1] - used_seen[1]) >= QSIZE)
		return;
	vsock_hdr_encode(&h, ram + at);
	for (uint32_t i = 0; i < n; i++)
		ram[at + VIRTIO_VSOCK_HDR_SIZE + i] = (uint8_t)(i + r[13]);
	/* A chain takes entry d and perhaps d + 1: the device serves tx at
	 * once, so the next packet may reuse them. */
	switch (split) {
	case 0: /* one buffer */
		set_desc(1, d, at, VIRTIO_VSOCK_HDR_SIZE + n, 0, 0);
		break;
	case 1: /* header, payload */
	case 2: /* header split at r[14] */ {
		uint32_t cut =
			split == 1 ? VIRTIO_VSOCK_HDR_SIZE
				   : r[14] % (VIRTIO_VSOCK_HDR_SIZE + n + 1);
		uint16_t d2 = (uint16_t)((d + 1) % QSIZE);

		set_desc(1, d, at, cut, VIRTQ_DESC_F_NEXT, d2);
		set_desc(1, d2, at + cut, VIRTIO_VSOCK_HDR_SIZE + n - cut, 0,
			 0);
		break;
	}
	case 3: /* outside RAM, or across its end */
		set_desc(1, d, RAM_SIZE - (r[14] & 0x3f), 0x100, 0, 0);
		break;
	default: /* a device-writable buffer after the packet */
		set_desc(1, d, at, VIRTIO_VSOCK_HDR_SIZE + n, VIRTQ_DESC_F_NEXT,
			 (uint16_t)((d + 1) % QSIZE));
		set_desc(1, (uint16_t)((d + 1) % QSIZE), RXBUF(QSIZE - 1), 16,
			 VIRTQ_DESC_F_WRITE, 0);
		break;
	}
	publish(1, d);
	/* tx is served at once; what it consumed is free again. */
	virtio_mmio_poll(vd);
	memcpy(&used_seen[1], ram + RING(1) + 0x800 + 2, 2);
}

static int host_connect(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memcpy(a.sun_path, uds, sizeof(a.sun_path));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* What the host programs do, from record @r. */
static void host_act(const uint8_t *r)
{
	static const char *const lines[] = {
		"CONNECT 52\n", "CONNECT 1024\n",
		"CONNECT 0\n",	"CONNECT 4294967295\n",
		"CONNECT x\n",	"CONN",
		"ECT 52\n",	"CONNECT 52\nearly bytes",
	};
	unsigned k = r[2] % MAX_HOST;
	char buf[512];

	switch (r[1] % 5) {
	case 0: /* a host program connects and says its line */
		if (host[k] >= 0)
			close(host[k]);
		host[k] = host_connect();
		if (host[k] >= 0)
			(void)!send(host[k], lines[r[3] % 8],
				    strlen(lines[r[3] % 8]), MSG_NOSIGNAL);
		break;
	case 1: /* one a guest connection reached at PATH_5000 */
		if (host[k] >= 0)
			close(host[k]);
		host[k] = accept4(port_listener, NULL, NULL,
				  SOCK_NONBLOCK | SOCK_CLOEXEC);
		break;
	case 2: /* it writes */
		if (host[k] >= 0) {
			memset(buf, r[4], sizeof(buf));
			(void)!send(host[k], buf, 1 + r[5] % sizeof(buf),
				    MSG_NOSIGNAL);
		}
		break;
	case 3: /* it reads */
		if (host[k] >= 0)
			(void)!recv(host[k], buf, 1 + r[5] % sizeof(buf),
				    MSG_DONTWAIT);
		break;
	default: /* it half-closes or closes */
		if (host[k] >= 0 && r[4] & 1) {
			shutdown(host[k], r[4] & 2 ? SHUT_WR : SHUT_RD);
		} else if (host[k] >= 0) {
			close(host[k]);
			host[k] = -1;
		}
		break;
	}
}

static void cleanup(void)
{
	virtio_vsock_destroy(vsock); /* removes PATH */
	unlink(port_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char arg[160];
	struct vsock_options o;
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	(void)argc;
	(void)argv;
	ram = malloc(RAM_SIZE);
	if (!ram || mem_layout(&mem, RAM_SIZE, ram) || !mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	snprintf(arg, sizeof(arg), "cid=%d,uds=%s", CID, uds);
	if (vsock_options_parse(arg, &o) || virtio_vsock_create(&vsock, &o))
		abort();
	port_listener =
		socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	snprintf(port_path, sizeof(port_path), "%s_%d", uds, HOST_PORT);
	memcpy(a.sun_path, port_path, strlen(port_path) + 1);
	if (port_listener < 0 ||
	    bind(port_listener, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(port_listener, 64))
		abort();
	for (unsigned i = 0; i < MAX_HOST; i++)
		host[i] = -1;
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_mmio_ctx ctx = {.mem = &mem,
				      .vm_fd = -1,
				      .base = 0xd0000000,
				      .gsi = -1,
				      .id = "fuzz"};
	unsigned records = 0;
	int fd;

	if (virtio_mmio_create(&vd, virtio_vsock_get_ops(vsock), vsock, &ctx))
		abort();
	driver_up(size && (data[0] & 0x80));
	post_rx(8, 0x1000);
	for (; size >= 16 && records++ < MAX_RECORDS; data += 16, size -= 16) {
		switch (data[0] % 8) {
		case 0:
		case 1:
			send_tx(data);
			break;
		case 2:
			post_rx(1 + data[1] % 4, le16(data + 2) % BUF_MAX);
			break;
		case 3:
		case 4:
			virtio_mmio_poll(vd);
			break;
		case 5:
			host_act(data);
			break;
		case 6:
			consume_rx();
			post_rx(data[1] % 4, 0x1000);
			break;
		default:
			if (data[1] == 0x5a)
				driver_up(data[2] & 1);
			else
				virtio_mmio_poll(vd);
			break;
		}
	}
	virtio_mmio_poll(vd);
	consume_rx();
	/* Resets the device: every connection goes. */
	virtio_mmio_destroy(vd);
	for (unsigned i = 0; i < MAX_HOST; i++) {
		if (host[i] >= 0)
			close(host[i]);
		host[i] = -1;
	}
	while ((fd = accept4(port_listener, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	return 0;
}
