/* libFuzzer target: the virtio-mmio transport with a real device behind it
 * (virtio-blk on a 64 KiB memfd with io=sync, or virtio-rng), the input as
 * the driver.  The input is a script of register reads and writes (any
 * offset and width), writes into guest RAM (where the rings and buffers
 * live), and "run the I/O thread now" steps.  Guest RAM is a heap block of
 * exactly its size, so ASan reports any access outside it.
 *
 * Input: a device selector byte, then records of 8 bytes: op, offset (le16:
 * a register, or the word of RAM), width, value (le32). */
#include "mem.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define RAM_SIZE MEM_MIN_SIZE
#define MAX_OPS 2048

static uint8_t *ram;
static struct vm_mem mem;
static char disk_path[64];

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	ram = malloc(RAM_SIZE);
	if (!ram || mem_layout(&mem, RAM_SIZE, ram))
		abort();
	/* A file, not a memfd: the drive wants a path. */
	snprintf(disk_path, sizeof(disk_path), "/tmp/fuzz-virtio-%d.img",
		 (int)getpid());
	fd = open(disk_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 64 * 1024))
		abort();
	close(fd);
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
	const struct virtio_device_ops *ops = &virtio_rng_ops;
	struct virtio_blk *blk = NULL;
	struct virtio_dev *vd;
	unsigned ops_done = 0;

	if (!size)
		return 0;
	memset(ram, 0, RAM_SIZE);
	if (data[0] & 1) {
		struct disk_options o;

		if (disk_options_parse(disk_path, &o))
			abort();
		o.io = DISK_IO_SYNC; /* deterministic */
		if (virtio_blk_create(&blk, &o, 1 + (data[0] >> 1) % 2))
			return 0;
		ops = virtio_blk_get_ops(blk);
	}
	if (virtio_mmio_create(&vd, ops, blk, &ctx)) {
		if (blk)
			virtio_blk_destroy(blk);
		return 0;
	}
	data++;
	size--;
	while (size >= 8 && ops_done++ < MAX_OPS) {
		unsigned op = data[0] % 4, width = 1u << (data[3] % 4);
		uint64_t word = (uint64_t)data[1] | (uint64_t)data[2] << 8;
		uint64_t off = word & 0xfff;
		uint32_t val = le32(data + 4);
		uint8_t buf[8] = {0};

		switch (op) {
		case 0: /* register write */
			memcpy(buf, &val, 4);
			virtio_mmio_io(vd, off, buf, width, true);
			break;
		case 1: /* register read */
			virtio_mmio_io(vd, off, buf, width, false);
			break;
		case 2: /* the driver writes a word of the first 64 KiB of
			 * guest RAM, where rings and buffers go */
			memcpy(ram + (word & 0x3fff) * 4, &val, 4);
			break;
		case 3: /* the I/O thread's turn */
			virtio_mmio_poll(vd);
			break;
		}
		data += 8;
		size -= 8;
	}
	virtio_mmio_poll(vd);
	virtio_mmio_destroy(vd);
	if (blk)
		virtio_blk_destroy(blk);
	return 0;
}
