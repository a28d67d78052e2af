/*
 * retry.h - the retry schedule of a deferred recipient, as pure functions
 * of the configured schedule (retry: {first, factor, cap, max_age}), on the
 * virtual clock. relay.c asks them when a recipient is deferred; nothing
 * here reads a clock or keeps state.
 */
#ifndef EDSIM_RETRY_H
#define EDSIM_RETRY_H

#include "config.h"

/* The wait before the next attempt of a recipient that has been tried
 * `attempts` times: first, first*factor, first*factor^2, ... never above
 * cap (attempts 0 counts as 1). */
double retry_delay(const struct config_retry *rt, unsigned attempts);

/* 1 when a recipient whose message is `age` seconds old has reached
 * max_age and bounces as expired, else 0. A timer may fire a little early:
 * an age within `early` seconds of max_age counts as reached. */
int retry_expired(const struct config_retry *rt, double age, double early);

/* The wait before the next attempt, shortened so that the attempt falls at
 * max_age at the latest (where it expires): min(delay, max_age - age). */
double retry_clamp(const struct config_retry *rt, double age, double delay);

#endif
