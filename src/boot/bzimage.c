/* Linux bzImage kernels through the x86 boot protocol (boot.rst): the setup
 * header is checked field by field against the file and guest RAM, then the
 * protected-mode kernel, zero page, command line and initrd are placed. */
#include "linux.h"
#include "../err.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define PAGE_SIZE 4096ull
#define SECTOR 512u
#define BZ_JUMP_OFFSET 0x200	/* 2-byte jump; its offset ends the header */
#define BZ_ENTRY64_OFFSET 0x200 /* 64-bit entry, from the kernel's start */
#define BZ_HDR_COPY_END 0x290	/* the zero page's header area ends here */
#define BZ_HEAD_MAX (BZ_JUMP_OFFSET + 2 + 0xff) /* the longest header */

/* What the rest of the loader needs from a checked header. */
struct bz_info {
	uint8_t head[BZ_HEAD_MAX]; /* the file's first bytes (0 past its end) */
	struct setup_header h;	   /* bytes past the file's header are 0 */
	size_t hdr_end;		   /* file offset just past the header */
	size_t pm_off;	  /* file offset of the protected-mode kernel */
	uint64_t pm_size; /* its length */
};

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Offset just past the last field protocol @version defines that minivmm
 * reads, so a header shorter than that is refused. */
static size_t bz_hdr_need(uint16_t version)
{
	if (version >= 0x020A)
		return offsetof(struct boot_params, hdr.init_size) + 4;
	if (version >= 0x0208)
		return offsetof(struct boot_params, hdr.payload_length) + 4;
	return offsetof(struct boot_params, hdr.cmdline_size) + 4;
}

static int bz_parse(const struct boot_src *src, struct bz_info *bz)
{
	uint64_t len = src->len;
	const uint8_t *buf = bz->head;
	size_t copy, need;
	uint16_t version;
	int ret;

	memset(bz, 0, sizeof(*bz));
	if (len < offsetof(struct boot_params, hdr.version) + 2)
		return err_set(-ENOEXEC,
			       "truncated kernel: %" PRIu64
			       " bytes is too short for a Linux boot header",
			       len);
	ret = boot_src_read(src, 0, bz->head,
			    len < BZ_HEAD_MAX ? len : BZ_HEAD_MAX);
	if (ret)
		return ret;
	if (memcmp(buf + offsetof(struct boot_params, hdr.header),
		   LINUX_HDR_MAGIC, 4))
		return err_set(
			-ENOEXEC,
			"not a Linux bzImage: no \"HdrS\" boot header magic at 0x202");
	if (get_le16(buf + offsetof(struct boot_params, hdr.boot_flag)) !=
	    LINUX_BOOT_FLAG)
		return err_set(
			-ENOEXEC,
			"not a Linux bzImage: boot flag at 0x1FE is not 0xAA55");
	version = get_le16(buf + offsetof(struct boot_params, hdr.version));
	if (version < LINUX_PROTOCOL_MIN)
		return err_set(
			-ENOTSUP,
			"Linux boot protocol %u.%02u is older than 2.06; minivmm boots kernels from Linux 2.6.22 on",
			version >> 8, version & 0xff);
	/* The jump at 0x200 lands just past the header. */
	bz->hdr_end = BZ_JUMP_OFFSET + 2 + (size_t)buf[BZ_JUMP_OFFSET + 1];
	need = bz_hdr_need(version);
	if (bz->hdr_end > len)
		return err_set(
			-ENOEXEC,
			"truncated kernel: the boot header ends at 0x%zx, the file at 0x%" PRIx64,
			bz->hdr_end, len);
	if (bz->hdr_end < need)
		return err_set(
			-ENOEXEC,
			"corrupt boot header: it ends at 0x%zx but protocol %u.%02u defines fields up to 0x%zx",
			bz->hdr_end, version >> 8, version & 0xff, need);
	copy = bz->hdr_end - LINUX_HDR_OFFSET;
	if (copy > sizeof(bz->h))
		copy = sizeof(bz->h);
	memcpy(&bz->h, buf + LINUX_HDR_OFFSET, copy);

	/* setup_sects 0 means 4, for kernels older than anything we take,
	 * but it costs nothing to honour. */
	bz->pm_off = ((size_t)(bz->h.setup_sects ? bz->h.setup_sects : 4) + 1) *
		     SECTOR;
	if (bz->pm_off >= len)
		return err_set(-ENOEXEC,
			       "truncated kernel: %" PRIu64
			       " bytes, but its setup code alone is %zu",
			       len, bz->pm_off);
	/* syssize counts 16-byte paragraphs; trailing bytes (signatures) are
	 * not part of the kernel. */
	bz->pm_size = (uint64_t)bz->h.syssize * 16;
	if (!bz->pm_size)
		bz->pm_size = len - bz->pm_off;
	if (bz->pm_size > len - bz->pm_off)
		return err_set(
			-ENOEXEC,
			"truncated kernel: the header says %" PRIu64
			" bytes follow the setup code, the file has %" PRIu64,
			bz->pm_size, len - bz->pm_off);
	return 0;
}

int bzimage_payload(const struct boot_src *kernel, uint64_t *off,
		    uint64_t *plen)
{
	uint64_t len = kernel->len, start;
	struct bz_info bz;
	int ret;

	ret = bz_parse(kernel, &bz);
	if (ret)
		return ret;
	if (bz.h.version < 0x0208)
		return err_set(
			-ENOTSUP,
			"boot protocol %u.%02u has no payload fields (2.08+)",
			bz.h.version >> 8, bz.h.version & 0xff);
	if (__builtin_add_overflow((uint64_t)bz.pm_off,
				   (uint64_t)bz.h.payload_offset, &start) ||
	    start > len || bz.h.payload_length > len - start ||
	    !bz.h.payload_length)
		return err_set(
			-ENOEXEC,
			"corrupt boot header: payload 0x%x+0x%x lies outside the %" PRIu64
			"-byte file",
			bz.h.payload_offset, bz.h.payload_length, len);
	*off = start;
	*plen = bz.h.payload_length;
	return 0;
}

int linux_write_cmdline(struct vm_mem *m, const char *cmdline, uint64_t max,
			const char *limit_what)
{
	size_t clen = cmdline ? strlen(cmdline) : 0;
	char *dst;

	if (max > LINUX_CMDLINE_MAX - 1)
		max = LINUX_CMDLINE_MAX - 1;
	if (clen > max)
		return err_set(
			-E2BIG,
			"the kernel command line is %zu bytes, longer than %s of %" PRIu64
			": shorten it",
			clen, limit_what, max);
	dst = mem_ptr(m, LINUX_CMDLINE_ADDR, clen + 1);
	if (!dst)
		return err_set(
			-ENOMEM,
			"guest memory is too small for the command line at 0x%llx",
			LINUX_CMDLINE_ADDR);
	if (clen)
		memcpy(dst, cmdline, clen);
	dst[clen] = '\0';
	return 0;
}

int linux_place_initrd(struct vm_mem *m, const struct boot_src *initrd,
		       uint64_t low, uint64_t high, uint64_t *addr)
{
	uint64_t start, len = initrd->len;
	int ret;

	/* Page-align the floor: the kernel frees the initrd by pages. */
	if (__builtin_add_overflow(low, PAGE_SIZE - 1, &low))
		low = UINT64_MAX;
	low &= ~(PAGE_SIZE - 1);
	if (high < low || len > high - low ||
	    ((high - len) & ~(PAGE_SIZE - 1)) < low)
		return err_set(
			-ENOMEM,
			"the initrd (%" PRIu64
			" KiB) does not fit between the kernel's end at 0x%" PRIx64
			" and 0x%" PRIx64
			": raise --mem or use a smaller initrd",
			len >> 10, low, high);
	start = (high - len) & ~(PAGE_SIZE - 1);
	if (!mem_ptr(m, start, len))
		return err_set(-ENOMEM,
			       "the initrd at 0x%" PRIx64 " (%" PRIu64
			       " KiB) lies outside guest memory: raise --mem",
			       start, len >> 10);
	ret = boot_src_to_guest(initrd, 0, len, m, start);
	if (ret)
		return ret;
	*addr = start;
	return 0;
}

/* Where the kernel goes: pref_address (1 MiB before protocol 2.10),
 * rounded up to kernel_alignment if relocatable.  Non-relocatable kernels
 * run at pref_address whatever we do, so loading them there is simplest;
 * either way the kernel's runtime start is the load address, and it needs
 * init_size bytes from there. */
static int bz_place_kernel(const struct vm_mem *m, const struct bz_info *bz,
			   uint64_t *load, uint64_t *end)
{
	const struct setup_header *h = &bz->h;
	uint64_t addr = LINUX_KERNEL_MIN_ADDR, need, top;
	uint64_t low_end = m->regions[0].size;

	if (h->version >= 0x020A && h->pref_address > addr)
		addr = h->pref_address;
	if (h->relocatable_kernel) {
		uint64_t align = h->kernel_alignment;

		if (!align || (align & (align - 1)) || align > (1ull << 30))
			return err_set(
				-ENOEXEC,
				"corrupt boot header: kernel_alignment 0x%" PRIx64
				" is not a power of two up to 1 GiB",
				align);
		if (__builtin_add_overflow(addr, align - 1, &addr))
			addr = UINT64_MAX;
		addr &= ~(align - 1);
	}
	/* Before 2.10 the header does not say how much memory the kernel
	 * needs; assume it decompresses to 4 times its size. */
	if (h->version >= 0x020A)
		need = h->init_size;
	else if (__builtin_mul_overflow(bz->pm_size, 4, &need))
		need = UINT64_MAX;
	if (need < bz->pm_size)
		need = bz->pm_size;
	if (__builtin_add_overflow(addr, need, &top) || top > low_end ||
	    !mem_ptr(m, addr, need))
		return err_set(
			-ENOMEM,
			"the kernel needs 0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64
			" MiB from its load address) but RAM below 3 GiB ends at 0x%" PRIx64
			": raise --mem",
			addr, addr + need - 1, need >> 20, low_end);
	*load = addr;
	*end = top;
	return 0;
}

int bzimage_load(struct vm_mem *m, const struct platform_desc *pd,
		 const struct boot_src *kernel, const struct boot_src *initrd,
		 const char *cmdline, struct boot_entry *e)
{
	uint64_t initrd_len = initrd ? initrd->len : 0;
	struct boot_params *bp;
	struct bz_info bz;
	uint64_t load = 0, kernel_end = 0, initrd_addr = 0, initrd_high;
	uint64_t rsdp = 0, mp = 0;
	unsigned n_e820;
	bool long_mode;
	uint8_t *zp;
	size_t copy;
	int ret;

	ret = bz_parse(kernel, &bz);
	if (ret)
		return ret;
	if (!(bz.h.loadflags & LINUX_LOADED_HIGH))
		return err_set(
			-ENOEXEC,
			"this is a zImage (loadflags lacks LOADED_HIGH); minivmm boots bzImage kernels");
	/* 2.12 on, the header says whether the 64-bit entry exists; before
	 * that, the 32-bit boot protocol works for every kernel. */
	long_mode = bz.h.version >= LINUX_PROTOCOL_XLOADFLAGS;
	if (long_mode && !(bz.h.xloadflags & LINUX_XLF_KERNEL_64))
		return err_set(
			-ENOEXEC,
			"not a 64-bit kernel (xloadflags lacks XLF_KERNEL_64): minivmm boots x86-64 Linux, build it with CONFIG_X86_64=y");
	if (long_mode && bz.pm_size <= BZ_ENTRY64_OFFSET)
		return err_set(
			-ENOEXEC,
			"truncated kernel: %" PRIu64
			" bytes of protected-mode code do not reach the 64-bit entry at 0x200",
			bz.pm_size);
	ret = bz_place_kernel(m, &bz, &load, &kernel_end);
	if (ret)
		return ret;
	ret = linux_write_cmdline(m, cmdline, bz.h.cmdline_size,
				  "this kernel's cmdline_size");
	if (ret)
		return ret;
	/* initrd_addr_max is the highest address the initrd's last byte may
	 * have.  Kernels with XLF_CAN_BE_LOADED_ABOVE_4G could take it
	 * higher, but region 0 (below 3 GiB) has room enough. */
	initrd_high = (uint64_t)bz.h.initrd_addr_max + 1;
	if (initrd_high > m->regions[0].size)
		initrd_high = m->regions[0].size;
	if (initrd_len) {
		ret = linux_place_initrd(m, initrd, kernel_end, initrd_high,
					 &initrd_addr);
		if (ret)
			return ret;
	}
	zp = mem_ptr(m, LINUX_ZERO_PAGE_ADDR, sizeof(*bp));
	if (!zp)
		return err_set(-ENOMEM,
			       "guest memory is too small for the zero page");
	ret = mptable_write(m, pd, &mp);
	if (!ret)
		ret = acpi_write(m, pd, &rsdp);
	if (ret)
		return ret;
	ret = boot_src_to_guest(kernel, bz.pm_off, bz.pm_size, m, load);
	if (ret)
		return ret;

	/* Build the zero page in place: the file's header, then what the
	 * loader owns; everything else, the sentinel included, stays 0. */
	bp = (struct boot_params *)zp;
	memset(bp, 0, sizeof(*bp));
	copy = (bz.hdr_end < BZ_HDR_COPY_END ? bz.hdr_end : BZ_HDR_COPY_END) -
	       LINUX_HDR_OFFSET;
	memcpy(zp + LINUX_HDR_OFFSET, bz.head + LINUX_HDR_OFFSET, copy);
	bp->hdr.type_of_loader = LINUX_LOADER_UNDEFINED;
	bp->hdr.loadflags |= LINUX_CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = LINUX_HEAP_END;
	bp->hdr.code32_start = (uint32_t)load;
	bp->hdr.cmd_line_ptr = (uint32_t)LINUX_CMDLINE_ADDR;
	bp->ext_cmd_line_ptr = (uint32_t)(LINUX_CMDLINE_ADDR >> 32);
	bp->hdr.ramdisk_image = (uint32_t)initrd_addr;
	bp->ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
	bp->hdr.ramdisk_size = (uint32_t)initrd_len;
	bp->ext_ramdisk_size = (uint32_t)((uint64_t)initrd_len >> 32);
	/* A list the loader would own; the file's value means nothing. */
	bp->hdr.setup_data = 0;
	bp->acpi_rsdp_addr = rsdp;
	ret = e820_build(m, bp->e820_table, E820_MAX_ENTRIES, &n_e820);
	if (ret)
		return ret;
	bp->e820_entries = (uint8_t)n_e820;

	*e = (struct boot_entry){
		.mode = long_mode ? CPU_MODE_LONG : CPU_MODE_PROTECTED,
		.rip = long_mode ? load + BZ_ENTRY64_OFFSET : load,
		.rsi = LINUX_ZERO_PAGE_ADDR,
		.per_cpu_stack = false,
	};
	return 0;
}
