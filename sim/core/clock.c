/*
 * clock.c - monotonic and wall time, the virtual clock, and their text
 * form for records.
 */
#include "clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

double clock_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vclock_init(struct vclock *c)
{
	c->speed = 1.0;
	c->origin_real = c->origin_virtual = clock_now();
}

double vclock_now(const struct vclock *c)
{
	return c->origin_virtual + (clock_now() - c->origin_real) * c->speed;
}

void vclock_set_speed(struct vclock *c, double speed)
{
	c->origin_virtual = vclock_now(c);
	c->origin_real = clock_now();
	c->speed = speed > 0 ? speed : 1.0;
}

double vclock_wall(const struct vclock *c)
{
	return clock_wall() + (vclock_now(c) - clock_now());
}

double vclock_real(const struct vclock *c, double virtual_secs)
{
	return virtual_secs / c->speed;
}

static char *two_digits(char *o, int v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

/* Written digit by digit: events and delivery records take one or more
 * stamps per message, and strftime() plus snprintf() cost more than the
 * rest of a record. */
void clock_format(double t, char *out, unsigned long outlen)
{
	time_t secs = (time_t)t;
	struct tm tm;
	int ms = (int)((t - (double)secs) * 1000.0), year;
	char stamp[CLOCK_STAMP_LEN + 1], *o = stamp;

	if (ms > 999)
		ms = 999;
	if (ms < 0)
		ms = 0;
	gmtime_r(&secs, &tm);
	year = tm.tm_year + 1900;
	if (year < 0 || year > 9999 || outlen < sizeof stamp) {
		snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
		         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
		return;
	}
	o = two_digits(o, year / 100);
	o = two_digits(o, year % 100);
	*o++ = '-';
	o = two_digits(o, tm.tm_mon + 1);
	*o++ = '-';
	o = two_digits(o, tm.tm_mday);
	*o++ = 'T';
	o = two_digits(o, tm.tm_hour);
	*o++ = ':';
	o = two_digits(o, tm.tm_min);
	*o++ = ':';
	o = two_digits(o, tm.tm_sec);
	*o++ = '.';
	*o++ = (char)('0' + ms / 100);
	o = two_digits(o, ms % 100);
	*o++ = 'Z';
	*o = '\0';
	memcpy(out, stamp, sizeof stamp);
}

void clock_format_rfc5322(double t, char *out, unsigned long outlen)
{
	time_t secs = (time_t)t;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

double clock_parse(const char *s)
{
	struct tm tm = {0};
	double sec;

	if (s == NULL || sscanf(s, "%d-%d-%dT%d:%d:%lf", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	                        &tm.tm_hour, &tm.tm_min, &sec) != 6)
		return NAN;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) + sec;
}
