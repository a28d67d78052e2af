/*
 * log.c - levelled logging to stderr, one line per message, with a
 * wall-clock time stamp. The level is process-wide configuration set once at
 * start, not mutable state that the server changes while it runs.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	struct timeval tv;
	struct tm tm;
	char stamp[32];
	va_list ap;

	if (level < min_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
	fprintf(stderr, "edsim %s.%03ld %s: ", stamp, (long)(tv.tv_usec / 1000), names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
