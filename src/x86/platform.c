/* The virtio-mmio slots of the PC platform: where each device is and which
 * GSI it raises (the table is in platform.h), and the description the
 * firmware tables are written from. */
#include "platform.h"
#include "../err.h"

#include <errno.h>
#include <inttypes.h>

/* The IOAPIC pins from PLATFORM_VIRTIO_GSI_FIRST up that PLATFORM_GSI_USED
 * leaves free, in order (tests/unit/test_tables_linux.c checks it). */
static const uint8_t virtio_gsis[PLATFORM_VIRTIO_SLOTS] = {
	5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
};

_Static_assert(PLATFORM_VIRTIO_BASE +
			       PLATFORM_VIRTIO_SLOTS * PLATFORM_VIRTIO_SIZE <=
		       PLATFORM_IOAPIC_ADDR,
	       "the virtio slots run into the IOAPIC");
_Static_assert(PLATFORM_VIRTIO_BASE >= MEM_HOLE_START,
	       "the virtio slots must lie in the MMIO hole");

uint64_t platform_virtio_base(unsigned slot)
{
	if (slot >= PLATFORM_VIRTIO_SLOTS)
		return 0;
	return PLATFORM_VIRTIO_BASE + (uint64_t)slot * PLATFORM_VIRTIO_SIZE;
}

uint32_t platform_virtio_gsi(unsigned slot)
{
	return slot < PLATFORM_VIRTIO_SLOTS ? virtio_gsis[slot] : 0;
}

unsigned platform_virtio_room(const struct platform_desc *pd)
{
	return pd->first_slot < PLATFORM_VIRTIO_SLOTS
		       ? PLATFORM_VIRTIO_SLOTS - pd->first_slot
		       : 0;
}

int platform_add_virtio(struct platform_desc *pd, unsigned *index)
{
	unsigned n = pd->nr_virtio, slot = pd->first_slot + n;

	if (n >= platform_virtio_room(pd))
		return err_set(-ENOSPC,
			       "too many virtio devices: minivmm has %u slots",
			       platform_virtio_room(pd));
	pd->virtio[n] = (struct platform_virtio){
		.base = platform_virtio_base(slot),
		.size = PLATFORM_VIRTIO_SIZE,
		.gsi = platform_virtio_gsi(slot),
	};
	pd->nr_virtio = n + 1;
	*index = n;
	return 0;
}

int platform_check_virtio(const struct platform_desc *pd)
{
	uint32_t seen = 0;

	if (pd->nr_virtio > platform_virtio_room(pd))
		return err_set(-EINVAL,
			       "too many virtio devices: minivmm has %u slots",
			       platform_virtio_room(pd));
	for (unsigned i = 0; i < pd->nr_virtio; i++) {
		const struct platform_virtio *v = &pd->virtio[i];

		if (v->base < MEM_HOLE_START || !v->size ||
		    v->size > PLATFORM_IOAPIC_ADDR - v->base)
			return err_set(-EINVAL,
				       "virtio device %u at 0x%" PRIx64
				       "+0x%" PRIx32
				       " lies outside the MMIO hole below 0x%x",
				       i, v->base, v->size,
				       PLATFORM_IOAPIC_ADDR);
		if (v->gsi >= PLATFORM_IOAPIC_PINS ||
		    (PLATFORM_GSI_USED & (1u << v->gsi)) ||
		    (seen & (1u << v->gsi)))
			return err_set(-EINVAL,
				       "virtio device %u: GSI %" PRIu32
				       " is not a free IOAPIC pin",
				       i, v->gsi);
		seen |= 1u << v->gsi;
	}
	return 0;
}
