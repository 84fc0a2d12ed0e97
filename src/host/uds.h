/* The UNIX listening sockets minivmm makes (the API's --api-sock, vsock's
 * uds=): the checks before one is made, and its removal at the end. */
#ifndef MINIVMM_HOST_UDS_H
#define MINIVMM_HOST_UDS_H

#include <sys/types.h>

/* @path's directory exists, @path does not end with '/', and @path itself
 * does not exist (an old socket is refused, as Firecracker does: a second
 * minivmm must not steal a running one's socket).  0, or -ENOENT, -EINVAL
 * or -EEXIST with a message that starts with @what and @path ("--api-sock
 * PATH: ...", "--vsock: uds=PATH: ..."). */
int uds_check_path(const char *what, const char *path);

/* Removes @path if it is still the socket whose device and inode were
 * @dev and @ino when it was made, and nothing that replaced it. */
void uds_unlink(const char *path, dev_t dev, ino_t ino);

#endif
