/* UNIX listening sockets: see uds.h. */
#include "uds.h"
#include "../err.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int uds_check_path(const char *what, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return err_set(
			-ENOENT,
			"%s%s: directory %s does not exist: create it or choose another path",
			what, path, dir);
	if (slash && !slash[1])
		return err_set(-EINVAL, "%s%s ends with '/': give a file name",
			       what, path);
	if (!lstat(path, &st))
		return err_set(
			-EEXIST,
			"%s%s already exists: remove it (a socket left by an earlier run?) or choose another path",
			what, path);
	return 0;
}

void uds_unlink(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	if (!lstat(path, &st) && st.st_dev == dev && st.st_ino == ino)
		unlink(path);
}
