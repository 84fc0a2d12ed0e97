/* AML encoding (ACPI 6.x section 20.2) and resource descriptors (6.4),
 * just what minivmm's DSDT needs.  Every write is bounds-checked; a full
 * buffer sets overflow and the caller reports it once. */
#include "aml.h"

#include <string.h>

#define AML_PKG_LEN_BYTES_MAX 4

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	*a = (struct aml){.buf = buf, .cap = buf ? cap : 0};
}

static bool aml_writable(const struct aml *a)
{
	return a->buf && !a->overflow;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (aml_writable(a)) {
		if (n <= a->cap - a->len)
			memcpy(a->buf + a->len, p, n);
		else
			a->overflow = true;
	}
	a->len += n;
	if (a->len > a->peak)
		a->peak = a->len;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

/* How many bytes the PkgLength of a @body-byte package takes; 0 if none
 * can say it. */
static unsigned aml_pkg_length_size(size_t body)
{
	if (body + 1 <= 0x3F)
		return 1;
	for (unsigned n = 2; n <= AML_PKG_LEN_BYTES_MAX; n++)
		if (body + n <= (1ull << (4 + 8 * (n - 1))) - 1)
			return n;
	return 0;
}

/* The @n-byte encoding of @len into @out. */
static void aml_pkg_length_encode(uint8_t *out, unsigned n, size_t len)
{
	if (n == 1) {
		out[0] = (uint8_t)len;
		return;
	}
	out[0] = (uint8_t)((n - 1) << 6 | (len & 0x0F));
	for (unsigned i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
}

void aml_pkg_length(struct aml *a, size_t body)
{
	uint8_t enc[AML_PKG_LEN_BYTES_MAX];
	unsigned n = aml_pkg_length_size(body);

	if (!n) {
		a->overflow = true;
		return;
	}
	aml_pkg_length_encode(enc, n, body + n);
	aml_bytes(a, enc, n);
}

size_t aml_pkg_begin(struct aml *a)
{
	static const uint8_t room[AML_PKG_LEN_BYTES_MAX];
	size_t mark = a->len;

	aml_bytes(a, room, sizeof(room));
	return mark;
}

void aml_pkg_end(struct aml *a, size_t mark)
{
	size_t body = a->len - mark - AML_PKG_LEN_BYTES_MAX;
	unsigned n = aml_pkg_length_size(body);

	if (!n) {
		a->overflow = true;
		return;
	}
	if (aml_writable(a)) {
		aml_pkg_length_encode(a->buf + mark, n, body + n);
		memmove(a->buf + mark + n,
			a->buf + mark + AML_PKG_LEN_BYTES_MAX, body);
	}
	a->len -= AML_PKG_LEN_BYTES_MAX - n;
}

void aml_name_string(struct aml *a, const char *name)
{
	char seg[4] = {'_', '_', '_', '_'};
	size_t n;

	if (*name == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		name++;
	}
	n = strlen(name);
	memcpy(seg, name, n < sizeof(seg) ? n : sizeof(seg));
	aml_bytes(a, seg, sizeof(seg));
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1); /* with the NullChar */
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

size_t aml_scope_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_SCOPE_OP);
	mark = aml_pkg_begin(a);
	aml_name_string(a, name);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	mark = aml_pkg_begin(a);
	aml_name_string(a, name);
	return mark;
}

void aml_buffer(struct aml *a, const uint8_t *p, size_t n)
{
	struct aml size;

	/* BufferSize is an integer before the bytes: measure it first. */
	aml_init(&size, NULL, 0);
	aml_integer(&size, n);
	aml_byte(a, AML_BUFFER_OP);
	aml_pkg_length(a, size.len + n);
	aml_integer(a, n);
	aml_bytes(a, p, n);
}

void aml_res_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len)
{
	aml_byte(a, AML_RES_MEMORY32_FIXED);
	aml_le(a, 9, 2); /* the bytes after the length field */
	aml_byte(a, rw ? AML_RES_MEM_RW : 0);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

void aml_res_interrupt(struct aml *a, uint8_t flags, uint32_t gsi)
{
	aml_byte(a, AML_RES_EXT_IRQ);
	aml_le(a, 6, 2); /* flags, table length, one DWORD; no source */
	aml_byte(a, flags);
	aml_byte(a, 1);
	aml_le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, AML_RES_END_TAG);
	aml_byte(a, 0);
}
