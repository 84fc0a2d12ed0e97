/* ACPI fixed-hardware power management registers (PM1a event and control
 * blocks, ports in x86/platform.h): enough for Linux's ACPI power-off.
 * Writing SLP_TYP = S5 with SLP_EN powers the machine off. */
#include "dev.h"
#include "../bus.h"
#include "../err.h"
#include "../x86/platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct acpi_pm {
	pthread_mutex_t lock;
	uint16_t enable;  /* PM1_EN: kept, no event ever fires */
	uint16_t control; /* PM1_CNT */
	void (*poweroff)(void *opaque);
	void *opaque;
};

static uint16_t acpi_pm_read16(const uint8_t *data, uint32_t len)
{
	uint16_t v = 0;

	memcpy(&v, data, len < 2 ? len : 2);
	return v;
}

static void acpi_pm_evt_io(void *opaque, uint64_t offset, uint8_t *data,
			   uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	if (offset >= 2 && is_write) {
		pm->enable = acpi_pm_read16(data, len);
	} else if (!is_write) {
		/* PM1_STS (offset 0) reads 0: no events; PM1_EN reads back. */
		uint32_t v = offset >= 2 ? pm->enable : 0;

		memset(data, 0, len);
		memcpy(data, &v, len < 4 ? len : 4);
	}
	pthread_mutex_unlock(&pm->lock);
}

static void acpi_pm_cnt_io(void *opaque, uint64_t offset, uint8_t *data,
			   uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	bool off = false;
	uint16_t v;

	pthread_mutex_lock(&pm->lock);
	if (!is_write) {
		v = pm->control | PLATFORM_PM1_CNT_SCI_EN;
		memset(data, 0, len);
		memcpy(data, (uint8_t *)&v + offset,
		       len + offset > 2 ? 2 - offset : len);
	} else if (offset == 0) {
		v = acpi_pm_read16(data, len);
		off = (v & PLATFORM_PM1_CNT_SLP_EN) &&
		      ((v & PLATFORM_PM1_CNT_SLP_TYP_MASK) >>
		       PLATFORM_PM1_CNT_SLP_TYP_SHIFT) == PLATFORM_SLP_TYP_S5;
		/* SLP_EN is write-only and reads as 0. */
		pm->control = v & ~PLATFORM_PM1_CNT_SLP_EN;
	}
	pthread_mutex_unlock(&pm->lock);
	if (off && pm->poweroff)
		pm->poweroff(pm->opaque);
}

int acpi_pm_create(struct acpi_pm **pmp, struct bus *pio,
		   void (*poweroff)(void *opaque), void *opaque)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int ret;

	if (!pm)
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&pm->lock, NULL);
	pm->poweroff = poweroff;
	pm->opaque = opaque;
	ret = bus_add(pio, PLATFORM_PM1A_EVT_PORT, PLATFORM_PM1_EVT_LEN,
		      "acpi-pm1-evt", acpi_pm_evt_io, pm);
	if (!ret)
		ret = bus_add(pio, PLATFORM_PM1A_CNT_PORT, PLATFORM_PM1_CNT_LEN,
			      "acpi-pm1-cnt", acpi_pm_cnt_io, pm);
	if (ret) {
		acpi_pm_destroy(pm);
		return ret;
	}
	*pmp = pm;
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
