/*
 * retry.c - the retry schedule of a deferred recipient: how long it waits
 * before its next attempt, and when it expires.
 *
 * Invariants, for every schedule config.c accepts (first > 0, cap >= first,
 * factor from 1 to 100, max_age >= 0): a delay is never below first nor
 * above cap and never decreases from one attempt to the next, even when
 * factor^attempts overflows; an age at or past max_age (less the early
 * slack) is expired; a clamped delay never carries an attempt past max_age.
 */
#include "retry.h"

#include <math.h>

double retry_delay(const struct config_retry *rt, unsigned attempts)
{
	double d = rt->first * pow(rt->factor, attempts > 0 ? (double)(attempts - 1) : 0.0);

	return d < rt->cap ? d : rt->cap;
}

int retry_expired(const struct config_retry *rt, double age, double early)
{
	return age + early >= rt->max_age;
}

double retry_clamp(const struct config_retry *rt, double age, double delay)
{
	return age + delay > rt->max_age ? rt->max_age - age : delay;
}
