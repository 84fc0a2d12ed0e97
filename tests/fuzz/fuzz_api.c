/* libFuzzer target: the Firecracker API's request handler, as the API
 * client (untrusted) drives it.  The input: one byte picking the method and
 * the instance's state, the path up to the first NUL, then the body.  The
 * same body is also read as a --config-file, and whatever was accepted is
 * turned into a struct config. */
#include "api/handler.h"
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_ctx ctx;
static struct config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "PUT", "PATCH", "DELETE"};
	const uint8_t *rest, *nul, *body;
	size_t rlen, plen, blen;
	struct api_reply r;
	char *path;

	if (size < 1)
		return 0;
	rest = data + 1;
	rlen = size - 1;
	nul = memchr(rest, '\0', rlen);
	plen = nul ? (size_t)(nul - rest) : rlen;
	body = nul ? nul + 1 : rest + rlen;
	blen = nul ? rlen - plen - 1 : 0;
	path = malloc(plen + 1);
	if (!path)
		return 0;
	memcpy(path, rest, plen);
	path[plen] = '\0';
	api_ctx_init(&ctx, "fuzz", "0");
	ctx.state = (enum api_state)((data[0] >> 2) % 3);
	api_handle(&ctx, methods[data[0] & 3], path, (const char *)body, blen,
		   &r);
	if (r.body && memchr(r.body, '\0', r.len))
		abort(); /* a reply is one JSON text */
	api_reply_free(&r);
	fc_vm_init(&ctx.vm);
	if (!fc_config_parse(&ctx.vm, (const char *)body, blen)) {
		config_init(&cfg);
		fc_vm_to_config(&ctx.vm, &cfg);
	}
	free(path);
	return 0;
}
