/* Picks the loader for the image the user named, and the checks common to
 * all loaders: reading the file, and not overwriting minivmm's own boot
 * structures. */
#include "boot.h"
#include "linux.h"
#include "../err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int boot_src_open(struct boot_src *s, const char *path, uint64_t max)
{
	struct stat st;
	int ret;

	*s = (struct boot_src){.path = path, .fd = -1};
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return err_set(-errno, "cannot open %s: %s", path,
			       strerror(errno));
	if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = err_set(-EINVAL, "%s is not a regular file", path);
		goto fail;
	}
	if (st.st_size == 0) {
		ret = err_set(-EINVAL, "%s is empty", path);
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		ret = err_set(
			-EFBIG,
			"%s (%lld bytes) is larger than guest memory (%" PRIu64
			" bytes): raise --mem",
			path, (long long)st.st_size, max);
		goto fail;
	}
	s->len = (uint64_t)st.st_size;
	return 0;
fail:
	boot_src_close(s);
	return ret;
}

void boot_src_close(struct boot_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	*s = (struct boot_src){.fd = -1};
}

int boot_src_read(const struct boot_src *s, uint64_t off, void *dst,
		  uint64_t len)
{
	uint8_t *p = dst;

	if (off > s->len || len > s->len - off)
		return err_set(-ENOEXEC,
			       "truncated image: it ends at 0x%" PRIx64
			       ", but 0x%" PRIx64 "-0x%" PRIx64 " is needed",
			       s->len, off, off + len - 1);
	if (s->fd < 0) {
		memcpy(p, s->buf + off, len);
		return 0;
	}
	while (len) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = pread(s->fd, p, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(n < 0 ? -errno : -EIO,
				       "cannot read %s: %s", s->path,
				       n < 0 ? strerror(errno)
					     : "the file shrank");
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int boot_src_to_guest(const struct boot_src *s, uint64_t off, uint64_t len,
		      struct vm_mem *m, uint64_t gpa)
{
	uint8_t *dst = mem_ptr(m, gpa, len);

	if (!dst)
		return err_set(-ERANGE,
			       "0x%" PRIx64 " bytes at 0x%" PRIx64
			       " lie outside guest memory",
			       len, gpa);
	return boot_src_read(s, off, dst, len);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

int boot_check_reserved(const struct vm_mem *m, enum cpu_mode mode,
			unsigned nr_vcpus, uint64_t gpa, uint64_t len,
			const char *what)
{
	uint64_t stacks_len = (uint64_t)nr_vcpus * BOOT_STACK_SIZE;
	uint64_t stacks = boot_stack_top(m, nr_vcpus - 1) - BOOT_STACK_SIZE;
	uint64_t high, high_len;
	uint64_t tables_end = mode == CPU_MODE_LONG
				      ? BOOT_TABLES_END
				      : BOOT_GDT_ADDR + BOOT_GDT_ENTRIES * 8;

	if (mode == CPU_MODE_REAL)
		return 0;
	if (stacks_len > m->regions[0].size - BOOT_TABLES_END)
		return err_set(
			-ENOMEM,
			"%u vCPU stacks of %llu KiB do not fit in guest memory: raise --mem",
			nr_vcpus, BOOT_STACK_SIZE >> 10);
	if (ranges_overlap(gpa, len, BOOT_GDT_ADDR, tables_end - BOOT_GDT_ADDR))
		return err_set(
			-EINVAL,
			"%s at 0x%" PRIx64 "-0x%" PRIx64
			" overlaps minivmm's boot tables at 0x%llx-0x%" PRIx64
			": load it elsewhere",
			what, gpa, gpa + len - 1, BOOT_GDT_ADDR,
			tables_end - 1);
	boot_high_tables(m, &high, &high_len);
	if (mode == CPU_MODE_LONG && ranges_overlap(gpa, len, high, high_len))
		return err_set(
			-EINVAL,
			"%s at 0x%" PRIx64 "-0x%" PRIx64
			" overlaps the page tables at the end of RAM: raise --mem or load it lower",
			what, gpa, gpa + len - 1);
	if (ranges_overlap(gpa, len, stacks, stacks_len))
		return err_set(-EINVAL,
			       "%s at 0x%" PRIx64 "-0x%" PRIx64
			       " overlaps the vCPU stacks at 0x%" PRIx64
			       "-0x%" PRIx64 ": raise --mem or load it lower",
			       what, gpa, gpa + len - 1, stacks,
			       stacks + stacks_len - 1);
	return 0;
}

/* Only the magic: bzimage_load() checks the rest of the header. */
static bool bzimage_probe(const struct boot_src *src)
{
	uint8_t magic[4];

	return boot_src_read(src, offsetof(struct boot_params, hdr.header),
			     magic, sizeof(magic)) == 0 &&
	       !memcmp(magic, LINUX_HDR_MAGIC, sizeof(magic));
}

void boot_image_close(struct boot_image *img)
{
	boot_src_close(&img->kernel);
	boot_src_close(&img->initrd);
	memset(img, 0, sizeof(*img));
	img->kernel.fd = img->initrd.fd = -1;
}

static int boot_image_classify(struct boot_image *img)
{
	const struct boot_src *k = &img->kernel;
	uint32_t pvh_entry;
	int ret;

	if (img->opt->raw_path) {
		img->kind = BOOT_RAW;
	} else if (elf_probe(k)) {
		ret = elf_check_file(k);
		if (ret)
			return ret;
		img->kind = pvh_find_entry(k, &pvh_entry) ? BOOT_PVH : BOOT_ELF;
		if (img->kind == BOOT_ELF && elf_is_linux(k))
			return err_set(
				-ENOEXEC,
				"%s is a Linux vmlinux without a PVH entry: build it with CONFIG_PVH=y or boot its bzImage",
				k->path);
	} else if (bzimage_probe(k)) {
		img->kind = BOOT_BZIMAGE;
	} else {
		return err_set(
			-ENOEXEC,
			"%s is neither an ELF executable nor a Linux kernel: use --raw for a flat binary",
			k->path);
	}
	if (img->opt->initrd_path && !boot_image_is_linux(img))
		return err_set(
			-EINVAL,
			"--initrd and --cmdline need a Linux kernel, and %s is not one",
			k->path);
	return 0;
}

int boot_image_open(struct boot_image *img, const struct boot_options *o,
		    uint64_t max)
{
	int ret;

	memset(img, 0, sizeof(*img));
	img->kernel.fd = img->initrd.fd = -1;
	img->opt = o;
	ret = boot_src_open(&img->kernel,
			    o->raw_path ? o->raw_path : o->kernel_path, max);
	if (ret)
		return ret;
	if (o->initrd_path) {
		ret = boot_src_open(&img->initrd, o->initrd_path, max);
		if (ret)
			goto fail;
	}
	ret = boot_image_classify(img);
	if (ret)
		goto fail;
	return 0;
fail:
	boot_image_close(img);
	return ret;
}

bool boot_image_is_linux(const struct boot_image *img)
{
	return img->kind == BOOT_BZIMAGE || img->kind == BOOT_PVH;
}

int boot_image_load(const struct boot_image *img, struct vm_mem *m,
		    const struct platform_desc *pd, struct boot_entry *e)
{
	const struct boot_options *o = img->opt;
	const struct boot_src *k = &img->kernel;
	const struct boot_src *initrd = img->initrd.fd >= 0 ? &img->initrd
							    : NULL;
	int ret = -EINVAL;

	switch (img->kind) {
	case BOOT_RAW:
		ret = raw_load(m, pd->nr_vcpus, k, o->load_addr,
			       o->entry_set ? o->entry : o->load_addr, o->mode,
			       e);
		break;
	case BOOT_ELF:
		ret = elf_load(m, pd->nr_vcpus, k, e);
		break;
	case BOOT_BZIMAGE:
		ret = bzimage_load(m, pd, k, initrd, o->cmdline, e);
		break;
	case BOOT_PVH:
		ret = pvh_load(m, pd, k, initrd, o->cmdline, e);
		break;
	}
	if (ret && !strstr(err_msg(), k->path)) {
		char msg[400];

		snprintf(msg, sizeof(msg), "%s", err_msg());
		err_set(ret, "%s: %s", k->path, msg);
	}
	return ret;
}

int boot_load(struct vm_mem *m, const struct platform_desc *pd,
	      const struct boot_options *o, struct boot_entry *e)
{
	struct boot_image img;
	int ret;

	ret = boot_image_open(&img, o, m->size);
	if (ret)
		return ret;
	ret = boot_image_load(&img, m, pd, e);
	boot_image_close(&img);
	return ret;
}
