/* libFuzzer target: the device side of a split virtqueue, with the input as
 * the driver.  The input gives the queue's setup, the guest memory the rings
 * live in and a script of device calls and driver writes.  Guest RAM is a
 * heap block of exactly its size, so ASan reports any access outside it,
 * and every chain virtq_pop() returns is checked to lie inside it.
 *
 * Input: size selector, flags, desc/avail/used offsets (le16 each), image
 * length (le16), the image (copied to the bottom and the top 64 KiB of
 * RAM), then the script. */
#include "mem.h"
#include "virtio/virtq.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM_SIZE MEM_MIN_SIZE
#define WINDOW 0x10000ull /* the image and the rings: bottom or top of RAM */
#define HIGH (RAM_SIZE - WINDOW)
#define HEADER 10
#define MAX_OPS 1024

enum {
	F_EVENT_IDX = 1,
	F_INDIRECT = 2,
	F_DESC_HIGH = 4, /* that ring in the top window */
	F_AVAIL_HIGH = 8,
	F_USED_HIGH = 16,
	F_ANY_SIZE = 32, /* the selector is the size (0..255), not its log */
};

static uint8_t *ram;
static struct vm_mem mem;
static struct virtq_chain chain;

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned next8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static unsigned next16(struct input *in)
{
	unsigned lo = next8(in);

	return lo | next8(in) << 8;
}

/* A chain virtq_pop() returned: within the queue's limits, every buffer in
 * guest RAM (and read at both ends, for ASan), readable ones first. */
static void check_chain(const struct virtq *q, const struct virtq_chain *c)
{
	uint64_t out = 0, in = 0;

	if (c->head >= q->size || !c->nr || c->nr > q->size ||
	    c->nr_out > c->nr)
		abort();
	for (unsigned i = 0; i < c->nr; i++) {
		const struct virtq_buf *b = &c->buf[i];
		const volatile uint8_t *p = b->host;

		if (b->writable != (i >= c->nr_out))
			abort();
		if ((uint8_t *)b->host < ram ||
		    (uint8_t *)b->host + b->len > ram + RAM_SIZE)
			abort();
		if (b->len) {
			(void)p[0];
			(void)p[b->len - 1];
		}
		if (b->writable)
			in += b->len;
		else
			out += b->len;
	}
	if (in != c->in_len || out != c->out_len || in + out > 0xffffffffull)
		abort();
}

static void run(struct virtq *q, struct input *in)
{
	uint16_t inflight[VIRTQ_MAX_SIZE];
	uint32_t inflight_len[VIRTQ_MAX_SIZE];
	unsigned first = 0, nr = 0;
	int ret;

	for (unsigned op = 0; op < MAX_OPS && in->left; op++) {
		unsigned code = next8(in);

		switch (code % 8) {
		case 0:
		case 1:
		case 2:
			ret = virtq_pop(q, &chain);
			if (ret == 1) {
				check_chain(q, &chain);
				if (nr == VIRTQ_MAX_SIZE) {
					virtq_push(q, inflight[first], 0);
					first = (first + 1) % VIRTQ_MAX_SIZE;
					nr--;
				}
				inflight[(first + nr) % VIRTQ_MAX_SIZE] =
					chain.head;
				inflight_len[(first + nr) % VIRTQ_MAX_SIZE] =
					(uint32_t)chain.in_len;
				nr++;
			} else if (ret == -EBADMSG) {
				if (chain.head >= q->size || chain.nr)
					abort();
				virtq_push(q, chain.head, 0);
			} else if (ret == -EPROTO) {
				if (!q->broken || virtq_has_work(q) ||
				    virtq_pop(q, &chain) != -EPROTO)
					abort();
			} else if (ret != 0) {
				abort();
			}
			break;
		case 3: /* complete the oldest, with what it could hold */
			if (nr) {
				uint32_t len = next16(in);

				if (len > inflight_len[first])
					len = inflight_len[first];
				virtq_push(q, inflight[first], len);
				first = (first + 1) % VIRTQ_MAX_SIZE;
				nr--;
			}
			break;
		case 4:
			virtq_should_notify(q);
			break;
		case 5:
			virtq_enable_notify(q);
			virtq_has_work(q);
			break;
		case 6:
			virtq_disable_notify(q);
			break;
		case 7: { /* the driver writes 16 bits into a window */
			uint64_t base = next8(in) & 1 ? HIGH : 0;
			uint64_t off = next16(in) % (WINDOW - 1);
			uint16_t v = next16(in);

			memcpy(ram + base + off, &v, 2);
			break;
		}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	unsigned sel, flags, img;
	uint64_t desc, avail, used;
	uint16_t qsize;
	struct virtq q;

	if (!ram) {
		ram = aligned_alloc(4096, RAM_SIZE);
		if (!ram || mem_layout(&mem, RAM_SIZE, ram))
			abort();
		memset(ram, 0, RAM_SIZE);
	}
	if (size < HEADER)
		return 0;
	sel = next8(&in);
	flags = next8(&in);
	desc = next16(&in) + (flags & F_DESC_HIGH ? HIGH : 0);
	avail = next16(&in) + (flags & F_AVAIL_HIGH ? HIGH : 0);
	used = next16(&in) + (flags & F_USED_HIGH ? HIGH : 0);
	img = next16(&in);
	if (img > in.left)
		img = in.left;
	memcpy(ram, in.p, img);
	memcpy(ram + HIGH, in.p, img);
	in.p += img;
	in.left -= img;
	qsize = flags & F_ANY_SIZE ? sel : 1u << (sel % 9);

	if (virtq_init(&q, &mem, qsize, desc, avail, used, flags & F_EVENT_IDX,
		       flags & F_INDIRECT) == 0)
		run(&q, &in);
	else if (virtq_pop(&q, &chain) != -EPROTO)
		abort();

	/* Back to zeroes for the next input: the windows, and the used ring
	 * (the one thing the device writes), which may reach past them. */
	memset(ram, 0, WINDOW);
	memset(ram + HIGH, 0, WINDOW);
	if (q.size)
		memset(q.used, 0, 4 + 8 * q.size + (q.event_idx ? 2 : 0));
	return 0;
}
