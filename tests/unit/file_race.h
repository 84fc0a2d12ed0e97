/* Another process rewriting or truncating an image while minivmm loads it,
 * made deterministic: the loaders' pread goes through __wrap_pread (the
 * Makefile links the tests that include this with -Wl,--wrap=pread), which
 * counts the reads that touch a watched range of the file and, right after
 * the first of them, runs an action once.  Include it in one file of a test
 * binary only. */
#ifndef MINIVMM_TESTS_FILE_RACE_H
#define MINIVMM_TESTS_FILE_RACE_H

#include "boot/boot.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct file_race {
	uint64_t off, len; /* the watched range; len 0: nothing watched */
	unsigned reads;	   /* reads that touched it */
	void (*after_first)(struct file_race *r);
	char path[64];	     /* the file, for the action */
	const void *rewrite; /* after_first = file_race_rewrite: these bytes */
	size_t rewrite_len;  /* at offset rewrite_off */
	uint64_t rewrite_off;
	uint64_t truncate_to; /* after_first = file_race_truncate */
};

static struct file_race race;

ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t ret = __real_pread(fd, buf, n, off);
	uint64_t o = (uint64_t)off;

	if (race.len && o < race.off + race.len && race.off < o + n &&
	    race.reads++ == 0 && race.after_first)
		race.after_first(&race);
	return ret;
}

/* The action: overwrite part of the file, as another writer would. */
static inline void file_race_rewrite(struct file_race *r)
{
	int fd = open(r->path, O_WRONLY);

	if (fd < 0 || pwrite(fd, r->rewrite, r->rewrite_len,
			     (off_t)r->rewrite_off) != (ssize_t)r->rewrite_len)
		abort();
	close(fd);
}

/* The action: cut the file short. */
static inline void file_race_truncate(struct file_race *r)
{
	if (truncate(r->path, (off_t)r->truncate_to))
		abort();
}

/* Writes @len bytes of @img to a new file, opens it as @src, and watches
 * [@off, @off + @wlen) of it; the caller sets the action. */
static inline void file_race_open(struct boot_src *src, const void *img,
				  size_t len, uint64_t off, uint64_t wlen)
{
	int fd;

	memset(&race, 0, sizeof(race));
	strcpy(race.path, "/tmp/minivmm-race-XXXXXX");
	fd = mkstemp(race.path);
	if (fd < 0 || write(fd, img, len) != (ssize_t)len)
		abort();
	close(fd);
	if (boot_src_open(src, race.path, 1ull << 30))
		abort();
	race.off = off;
	race.len = wlen;
}

static inline void file_race_close(struct boot_src *src)
{
	boot_src_close(src);
	unlink(race.path);
	memset(&race, 0, sizeof(race));
}

#endif
