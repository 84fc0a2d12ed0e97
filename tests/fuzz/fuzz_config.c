/* libFuzzer target: the command-line parser on arbitrary argument vectors
 * (the input split at NUL bytes). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[33];
	int argc = 0;
	struct config c;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = "minivmm";
	for (char *p = copy; p < copy + size && argc < 32; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	config_parse(&c, argc, argv);
	free(copy);
	return 0;
}
