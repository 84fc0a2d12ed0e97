/* MC146818 CMOS RTC: ports 0x70 (index) and 0x71 (data), the host's UTC
 * time in BCD or binary per register B, a guest-settable offset, and 128
 * bytes of CMOS memory.  No periodic, alarm or update interrupts. */
#include "legacy.h"
#include "../bus.h"
#include "../err.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_WDAY 0x06
#define RTC_MDAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32
#define RTC_CMOS_SIZE 128

#define REG_A_UIP 0x80
#define REG_B_SET 0x80 /* updates halted while the guest sets the clock */
#define REG_B_UIE 0x10
#define REG_B_DM 0x04 /* binary, not BCD */
#define REG_B_24H 0x02
#define REG_D_VRT 0x80 /* battery good */

struct rtc {
	pthread_mutex_t lock;
	time_t (*now)(void);
	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
	/* Guest time minus host time, so a guest setting the clock (hwclock
	 * --systohc) changes only its own view. */
	int64_t offset;
};

static bool rtc_is_time_reg(unsigned i)
{
	switch (i) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_WDAY:
	case RTC_MDAY:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

static uint8_t rtc_to_reg(uint8_t b, unsigned v)
{
	v %= 100;
	if (b & REG_B_DM)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

/* Tolerates any byte: invalid BCD digits just give odd numbers, which
 * timegm() normalizes. */
static int rtc_from_reg(uint8_t b, uint8_t v)
{
	if (b & REG_B_DM)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_hour_to_reg(uint8_t b, int hour)
{
	int h12 = hour % 12 ? hour % 12 : 12;

	if (b & REG_B_24H)
		return rtc_to_reg(b, (unsigned)hour);
	return rtc_to_reg(b, (unsigned)h12) | (hour >= 12 ? 0x80 : 0);
}

static int rtc_hour_from_reg(uint8_t b, uint8_t v)
{
	if (b & REG_B_24H)
		return rtc_from_reg(b, v);
	return rtc_from_reg(b, v & 0x7f) % 12 + (v & 0x80 ? 12 : 0);
}

/* Writes @tm into the time registers in register B's format @b. */
static void rtc_store_tm(struct rtc *r, uint8_t b, const struct tm *tm)
{
	int year = tm->tm_year + 1900;

	r->cmos[RTC_SECONDS] = rtc_to_reg(b, (unsigned)tm->tm_sec);
	r->cmos[RTC_MINUTES] = rtc_to_reg(b, (unsigned)tm->tm_min);
	r->cmos[RTC_HOURS] = rtc_hour_to_reg(b, tm->tm_hour);
	r->cmos[RTC_WDAY] = rtc_to_reg(b, (unsigned)tm->tm_wday + 1);
	r->cmos[RTC_MDAY] = rtc_to_reg(b, (unsigned)tm->tm_mday);
	r->cmos[RTC_MONTH] = rtc_to_reg(b, (unsigned)tm->tm_mon + 1);
	r->cmos[RTC_YEAR] = rtc_to_reg(b, (unsigned)(year % 100));
	r->cmos[RTC_CENTURY] = rtc_to_reg(b, (unsigned)(year / 100));
}

static void rtc_load_tm(const struct rtc *r, uint8_t b, struct tm *tm)
{
	memset(tm, 0, sizeof(*tm));
	tm->tm_sec = rtc_from_reg(b, r->cmos[RTC_SECONDS]);
	tm->tm_min = rtc_from_reg(b, r->cmos[RTC_MINUTES]);
	tm->tm_hour = rtc_hour_from_reg(b, r->cmos[RTC_HOURS]);
	tm->tm_mday = rtc_from_reg(b, r->cmos[RTC_MDAY]);
	tm->tm_mon = rtc_from_reg(b, r->cmos[RTC_MONTH]) - 1;
	tm->tm_year = rtc_from_reg(b, r->cmos[RTC_CENTURY]) * 100 +
		      rtc_from_reg(b, r->cmos[RTC_YEAR]) - 1900;
}

/* Refreshes the time registers from the host clock, unless the guest has
 * halted updates to set them. */
static void rtc_update(struct rtc *r, time_t host)
{
	time_t t = (time_t)((int64_t)host + r->offset);
	struct tm tm;

	if (r->cmos[RTC_REG_B] & REG_B_SET)
		return;
	if (!gmtime_r(&t, &tm)) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	rtc_store_tm(r, r->cmos[RTC_REG_B], &tm);
}

/* The guest's time registers become the new time. */
static void rtc_commit(struct rtc *r, time_t host)
{
	struct tm tm;
	time_t t;

	rtc_load_tm(r, r->cmos[RTC_REG_B], &tm);
	t = timegm(&tm);
	if (t == (time_t)-1)
		return; /* unrepresentable: keep the old time */
	r->offset = (int64_t)t - (int64_t)host;
}

static void rtc_write_b(struct rtc *r, uint8_t val, time_t host)
{
	uint8_t old = r->cmos[RTC_REG_B];
	struct tm tm;

	/* Keep the time registers meaningful across a format change. */
	rtc_update(r, host);
	rtc_load_tm(r, old, &tm);
	if (val & REG_B_SET)
		val &= (uint8_t)~REG_B_UIE; /* as the chip does */
	r->cmos[RTC_REG_B] = val;
	rtc_store_tm(r, val, &tm);
	if ((old & REG_B_SET) && !(val & REG_B_SET))
		rtc_commit(r, host);
}

static uint8_t rtc_read(struct rtc *r, unsigned i)
{
	if (rtc_is_time_reg(i))
		rtc_update(r, r->now());
	switch (i) {
	case RTC_REG_A:
		/* UIP is never set: the registers are computed on each
		 * read, and Linux re-reads the seconds to catch a tick. */
		return r->cmos[i] & (uint8_t)~REG_A_UIP;
	case RTC_REG_C:
		return 0; /* no interrupt sources */
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		return r->cmos[i];
	}
}

static void rtc_write(struct rtc *r, unsigned i, uint8_t val)
{
	time_t host;

	if (rtc_is_time_reg(i)) {
		host = r->now();
		rtc_update(r, host);
		r->cmos[i] = val;
		if (!(r->cmos[RTC_REG_B] & REG_B_SET))
			rtc_commit(r, host);
		return;
	}
	switch (i) {
	case RTC_REG_A:
		r->cmos[i] = val & (uint8_t)~REG_A_UIP;
		break;
	case RTC_REG_B:
		rtc_write_b(r, val, r->now());
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		r->cmos[i] = val;
		break;
	}
}

void rtc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
	    bool is_write)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (offset == 0) {
		/* Bit 7 masks NMIs on a PC; KVM has no such line to mask. */
		if (is_write)
			r->index = data[0] & (RTC_CMOS_SIZE - 1);
		else
			data[0] = 0xff; /* write-only on real hardware */
	} else if (is_write) {
		rtc_write(r, r->index, data[0]);
	} else {
		data[0] = rtc_read(r, r->index);
	}
	pthread_mutex_unlock(&r->lock);
	/* A wider access reads its low byte; the rest is open bus. */
	if (!is_write) {
		for (uint32_t i = 1; i < len; i++)
			data[i] = 0xff;
	}
}

static time_t rtc_host_now(void)
{
	return time(NULL);
}

int rtc_create(struct rtc **rp, time_t (*now)(void))
{
	struct rtc *r;

	*rp = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&r->lock, NULL);
	r->now = now ? now : rtc_host_now;
	r->cmos[RTC_REG_A] = 0x26;	/* 32.768 kHz base, 1024 Hz rate */
	r->cmos[RTC_REG_B] = REG_B_24H; /* BCD, 24-hour: what BIOSes set */
	/* Memory size bytes (0x30/0x31, 0x34/0x35, 0x5B-0x5D) stay zero:
	 * Linux takes the memory map from the boot protocol. */
	*rp = r;
	return 0;
}

int rtc_register(struct rtc *r, struct bus *pio)
{
	return bus_add(pio, RTC_PORT, 2, "rtc", rtc_io, r);
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}
