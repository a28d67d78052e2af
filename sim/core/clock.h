/*
 * clock.h - time for edsim's policies.
 *
 * All timeouts, windows and quotas read time through this module.
 * clock_now() is a monotonic reading in seconds; clock_wall() is Unix time
 * for records. A struct vclock is the scenario's virtual clock: monotonic
 * time run `speed` times faster since the speed was last set; its readings
 * never go back when the speed changes.
 */
#ifndef EDSIM_CLOCK_H
#define EDSIM_CLOCK_H

double clock_now(void);
double clock_wall(void);

struct vclock {
	double speed; /* > 0 */
	double origin_real, origin_virtual;
};

/* Speed 1, reading clock_now() from now on. */
void vclock_init(struct vclock *c);
/* The virtual time, in seconds (monotonic). */
double vclock_now(const struct vclock *c);
/* The virtual time as Unix time: the wall clock plus how far the virtual
 * clock has run ahead of the real one (the wall clock at speed 1). */
double vclock_wall(const struct vclock *c);
/* Runs the clock at speed (<= 0: 1) from its present reading on. */
void vclock_set_speed(struct vclock *c, double speed);
/* The real seconds a virtual duration lasts. */
double vclock_real(const struct vclock *c, double virtual_secs);
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
