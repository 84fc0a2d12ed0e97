/* libmicrohttpd through dlopen: see mhd.h for why. */
#include "mhd.h"
#include "../err.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define MHD_SONAME "libmicrohttpd.so.12"

static struct mhd_lib mhd;
static void *mhd_handle;

int mhd_load(const struct mhd_lib **out)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(f) {"MHD_" #f, offsetof(struct mhd_lib, f)}
		SYM(start_daemon),
		SYM(stop_daemon),
		SYM(run),
		SYM(get_timeout),
		SYM(get_daemon_info),
		SYM(lookup_connection_value),
		SYM(create_response_from_buffer),
		SYM(add_response_header),
		SYM(queue_response),
		SYM(destroy_response),
#undef SYM
	};
	void *h;

	if (mhd_handle) {
		*out = &mhd;
		return 0;
	}
	h = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return err_set(
			-ENOENT,
			"cannot load %s (%s): the API server needs Debian's libmicrohttpd12",
			MHD_SONAME, dlerror());
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(h, syms[i].name);

		if (!f) {
			dlclose(h);
			return err_set(
				-ENOENT,
				"%s has no %s: a libmicrohttpd12 too old?",
				MHD_SONAME, syms[i].name);
		}
		/* A function pointer's bytes from dlsym's void *, as POSIX
		 * allows: each slot has the type of the function it holds. */
		memcpy((char *)&mhd + syms[i].off, &f, sizeof(f));
	}
	mhd_handle = h;
	*out = &mhd;
	return 0;
}
