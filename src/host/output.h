/* Guest output (COM1, the debug console) to a host fd that may block: a
 * pipe whose reader stalls, a terminal stopped with Ctrl-S, a slow ssh
 * session.  The write never outlives the VM: once it is stopping, the
 * stop's kick interrupts a blocked write and the rest is dropped. */
#ifndef MINIVMM_HOST_OUTPUT_H
#define MINIVMM_HOST_OUTPUT_H

#include <stddef.h>

/* Writes all of @buf to @fd.  A write interrupted by a signal is retried
 * unless *@stopping (an atomic flag, set once the VM stops) is set.
 * Returns 0; -ECANCELED if the VM is stopping (the rest is dropped);
 * -EPIPE if the reader closed its end (main ignores SIGPIPE); or another
 * -errno (ENOSPC, EIO: the rest is dropped). */
int output_write(int fd, const void *buf, size_t len, const int *stopping);

#endif
