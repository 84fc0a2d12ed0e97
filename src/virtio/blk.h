/* virtio-blk (virtio 1.2, 5.2): a disk for the guest, backed by a drive
 * (src/host/disk.h).  blk_parse() turns one descriptor chain into a checked
 * request without a transport, for the device, the tests and the fuzzer;
 * the device model itself is virtio_blk_ops. */
#ifndef MINIVMM_VIRTIO_BLK_H
#define MINIVMM_VIRTIO_BLK_H

#include "virtio.h"
#include "../host/disk.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* Status byte values. */
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/* Flag of a discard/write-zeroes segment. */
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

#define VIRTIO_BLK_HDR_SIZE 16	   /* le32 type, le32 reserved, le64 sector */
#define VIRTIO_BLK_DWZ_SEG_SIZE 16 /* le64 sector, le32 num, le32 flags */
#define VIRTIO_BLK_ID_BYTES 20

/* What the device offers in its configuration space. */
#define VIRTIO_BLK_SEG_MAX (VIRTQ_MAX_SIZE - 2) /* header and status */
/* Per segment: a request of seg_max segments stays below what one
 * preadv/pwritev moves (2 GiB - 4 KiB), so a driver that keeps to the
 * limits never sees its request split. */
#define VIRTIO_BLK_SIZE_MAX (4u << 20)
/* Per discard or write-zeroes request, as QEMU: 2 GiB - 4 KiB. */
#define VIRTIO_BLK_MAX_DWZ_SECTORS ((0x80000000u - 4096) / DISK_SECTOR_SIZE)

/* The configuration space (5.2.4), fields little-endian, up to
 * write_zeroes_may_unmap. */
struct virtio_blk_config {
	uint64_t capacity; /* 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders; /* geometry: not offered */
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp; /* topology: not offered */
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback; /* CONFIG_WCE: not offered */
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
};

/* The bytes of configuration space the device has. */
#define VIRTIO_BLK_CONFIG_SIZE 60

/* One request as blk_parse() found it. */
struct blk_req {
	uint32_t type;
	uint64_t sector;
	uint8_t *status; /* the status byte, in guest RAM */
	/* IN, OUT: the data buffers, @len bytes (a multiple of 512) from
	 * sector * 512.  GET_ID: the buffer for the ID, @len bytes.
	 * Buffers of length 0 are left out. */
	struct iovec iov[VIRTQ_MAX_SIZE];
	unsigned nr_iov;
	uint64_t len;
	/* DISCARD, WRITE_ZEROES: the segment's range, in bytes, and its
	 * unmap flag. */
	uint64_t offset;
	uint64_t bytes;
	bool unmap;
	/* What the used ring reports written when the request succeeds:
	 * the data of IN and GET_ID, and the status byte. */
	uint32_t written;
};

/* Parses chain @c (from virtq_pop()) for a disk of @capacity sectors,
 * read-only if @ro.  Every guest value is copied out once, and @r is all
 * the device uses afterwards.  Returns:
 *  -EBADMSG: no status byte (no device-writable byte in the chain): the
 *   request cannot be answered; complete the chain with length 0;
 *  VIRTIO_BLK_S_OK: serve @r;
 *  VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP: write that status to
 *   *r->status and complete the chain with length 1, nothing else done. */
int blk_parse(const struct virtq_chain *c, uint64_t capacity, bool ro,
	      struct blk_req *r);

struct virtio_blk;

/* Opens the drive @o and makes a virtio-blk device for it with @nr_queues
 * request queues (1..VIRTIO_MAX_QUEUES; VIRTIO_BLK_F_MQ if more than
 * one).  -errno with a message. */
int virtio_blk_create(struct virtio_blk **out, const struct disk_options *o,
		      unsigned nr_queues);
/* After the transport is gone (it resets the device first). */
void virtio_blk_destroy(struct virtio_blk *b);

/* The device model: the callbacks, with the features, queue count and
 * configuration size of a writable, write-back, one-queue drive.  A drive
 * offers different features (RO, no FLUSH with cache=unsafe, MQ), so give
 * the transport virtio_blk_get_ops(b), this drive's copy; priv is @b. */
extern const struct virtio_device_ops virtio_blk_ops;
const struct virtio_device_ops *virtio_blk_get_ops(const struct virtio_blk *b);

/* The configuration space, as the transport's config_read sees it:
 * @len bytes at @off (off + len <= VIRTIO_BLK_CONFIG_SIZE). */
void virtio_blk_config_read(const struct virtio_blk *b, uint32_t off,
			    void *data, uint32_t len);
/* Replaces the rate limiter's limits (PATCH /drives/{id} after the
 * start): from any thread; the I/O thread takes them at once, with full
 * buckets. */
void virtio_blk_set_rate(struct virtio_blk *b, const struct throttle_config *c);
/* Swaps the drive's medium for the file at @path (PATCH /drives/{id} with
 * path_on_host after the start), from the API thread: the file is opened
 * and locked here as at the start (ro as the drive is), so a file that
 * cannot be used is refused (-errno, err_msg()) and the old one stays;
 * the I/O thread then puts it in place once the requests in flight on the
 * old file have completed, and the guest gets a configuration change with
 * the new capacity.  With @wait, returns once that is done (a second at
 * most); without (a paused VM, whose I/O thread is parked), at once. */
int virtio_blk_swap(struct virtio_blk *b, const char *path, bool wait);
/* The drive, for tests and --stats. */
struct disk *virtio_blk_disk(struct virtio_blk *b);

#endif
