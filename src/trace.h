/* The seed's exit trace, line for line: "VMM enter guest..." before each
 * entry and a "Handle PIO" (or "Handle MMIO") block for each access. */
#ifndef MINIVMM_TRACE_H
#define MINIVMM_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

void trace_vm_start(FILE *f);
void trace_enter(FILE *f);
void trace_pio(FILE *f, uint16_t port, bool is_write, const uint8_t *data,
	       uint32_t size);
void trace_mmio(FILE *f, uint64_t addr, bool is_write, const uint8_t *data,
		uint32_t len);

#endif
