/* A small AML emitter for the DSDT (ACPI 6.x, section 20.2 for the
 * encoding, 6.4 for resource descriptors): names, integers, strings,
 * Scope, Device, Buffer, and the two resource descriptors virtio-mmio
 * devices need. */
#ifndef MINIVMM_AML_H
#define MINIVMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0A
#define AML_WORD_PREFIX 0x0B
#define AML_DWORD_PREFIX 0x0C
#define AML_STRING_PREFIX 0x0D
#define AML_QWORD_PREFIX 0x0E
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_ROOT_CHAR 0x5C
#define AML_EXT_OP_PREFIX 0x5B
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */

/* Resource descriptors (6.4): Memory32Fixed, Extended Interrupt, End Tag. */
#define AML_RES_MEMORY32_FIXED 0x86
#define AML_RES_EXT_IRQ 0x89
#define AML_RES_END_TAG 0x79 /* small item 0xF, one byte follows */
#define AML_RES_MEM_RW 0x01
#define AML_RES_IRQ_CONSUMER 0x01
#define AML_RES_IRQ_EDGE 0x02
#define AML_RES_IRQ_ACTIVE_LOW 0x04
#define AML_RES_IRQ_SHARED 0x08

/* The largest PkgLength: 28 bits, in 4 bytes. */
#define AML_PKG_MAX 0x0FFFFFFFu

/*
 * Bytes go to buf[0..cap); len counts every byte emitted, even those that
 * did not fit (then overflow is set and nothing more is written), so an
 * emitter with buf NULL and cap 0 measures what a real one would write.
 * A package holds room for a 4-byte PkgLength until it ends, so the buffer
 * needs peak bytes, a few more than the len it ends with.
 */
struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t peak;
	bool overflow;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* Appends the PkgLength of a package whose @body bytes follow it.  The
 * value counts its own bytes too: one byte up to 63, else a lead byte
 * (bits 7-6: how many bytes follow, bits 3-0: the low nibble) and 1-3
 * bytes; past AML_PKG_MAX the emitter overflows. */
void aml_pkg_length(struct aml *a, size_t body);
/* A package whose length is known only at its end: begin returns a mark
 * (room for the longest PkgLength), end writes the PkgLength there and
 * moves the body down to follow it. */
size_t aml_pkg_begin(struct aml *a);
void aml_pkg_end(struct aml *a, size_t mark);
/* A NameString: an optional leading '\' (the root), then one NameSeg of
 * up to 4 characters, padded with '_'. */
void aml_name_string(struct aml *a, const char *name);
/* The smallest encoding: ZeroOp, OneOp, or Byte/Word/DWord/QWordPrefix. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* NameOp @name, the object is emitted next. */
void aml_name(struct aml *a, const char *name);
/* ScopeOp/DeviceOp with PkgLength and @name; close with aml_pkg_end. */
size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
/* BufferOp with its size and @n bytes. */
void aml_buffer(struct aml *a, const uint8_t *p, size_t n);

/* Resource template items, for the bytes of a ResourceTemplate buffer. */
void aml_res_memory32_fixed(struct aml *a, bool rw, uint32_t base,
			    uint32_t len);
void aml_res_interrupt(struct aml *a, uint8_t flags, uint32_t gsi);
/* The End Tag, checksum 0 ("the template needs no checksum"). */
void aml_res_end(struct aml *a);

#endif
