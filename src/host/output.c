/* Blocking guest output that gives up when the VM stops. */
#include "output.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

int output_write(int fd, const void *buf, size_t len, const int *stopping)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n;

		/* Checked before every try: a kick that came before write()
		 * blocked is repeated by vm_run until the thread is out. */
		if (__atomic_load_n(stopping, __ATOMIC_ACQUIRE))
			return -ECANCELED;
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
