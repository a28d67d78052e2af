/*
 * clock.c - monotonic and wall time, and their text form for records.
 */
#include "clock.h"

#include <math.h>
#include <stdio.h>
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

void clock_format(double t, char *out, unsigned long outlen)
{
	time_t secs = (time_t)t;
	struct tm tm;
	char base[24];
	int ms = (int)((t - (double)secs) * 1000.0);

	if (ms > 999)
		ms = 999;
	gmtime_r(&secs, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", base, ms);
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
