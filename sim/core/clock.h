/*
 * clock.h - time for edsim's policies.
 *
 * All timeouts, windows and quotas read time through this module so that a
 * later virtual clock can run them faster than real time. clock_now() is a
 * monotonic reading in seconds; clock_wall() is Unix time for records.
 */
#ifndef EDSIM_CLOCK_H
#define EDSIM_CLOCK_H

double clock_now(void);
double clock_wall(void);
/* The length of clock_format()'s text for years 0 to 9999. */
#define CLOCK_STAMP_LEN 24
/* Formats Unix time t as RFC 3339 UTC with milliseconds into out (>= 32 bytes). */
void clock_format(double t, char *out, unsigned long outlen);
/* The Unix time of a clock_format() text (or any "YYYY-MM-DDTHH:MM:SS[.fff]",
 * read as UTC); NAN when s is not one. */
double clock_parse(const char *s);
/* The RFC 5322 date of t (Unix time), in UTC: "Wed, 25 Nov 2026 10:46:01 +0000". */
void clock_format_rfc5322(double t, char *out, unsigned long outlen);

#endif
