/*
 * test_retry.c - the retry schedule of a deferred recipient (sim/relay/retry.c):
 * the delay of each attempt (first, growth by factor, the cap), the expiry at
 * max_age and its boundary, the clamp that makes the last wait end at
 * max_age, and the odd schedules config.c accepts (factor 1, cap = first,
 * max_age 0, factor 100 until it overflows, factor nan refused).
 */
#include <CUnit/CUnit.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "retry.h"
#include "unit.h"

/* The default schedule (sim/default.yaml): 1m, 2, 1h, 3d. */
static const struct config_retry defaults = {60, 2, 3600, 3 * 86400};

/* Loads the defaults with `text` laid over them as runtime settings (as a
 * scenario's settings: are); returns config_overlay_text's result and, on
 * success, the schedule in *rt. */
static int schedule_from(const char *text, struct config_retry *rt)
{
	struct config cfg;
	char *errors = NULL;
	int rc;

	if (config_load(&cfg, NULL, &errors) != 0) {
		free(errors);
		CU_FAIL("the embedded defaults load");
		return -2;
	}
	rc = config_overlay_text(&cfg, text, strlen(text), &errors);
	free(errors);
	if (rc == 0)
		*rt = cfg.retry;
	config_free(&cfg);
	return rc;
}

/* ---- retry_delay ---------------------------------------------------------------- */

static void test_delay_default_schedule(void)
{
	static const double want[] = {60, 120, 240, 480, 960, 1920, 3600, 3600, 3600};

	for (unsigned i = 0; i < UNIT_COUNT(want); i++)
		CU_ASSERT_DOUBLE_EQUAL(retry_delay(&defaults, i + 1), want[i], 1e-9);
}

static void test_delay_first_attempt(void)
{
	/* attempts 0 (no attempt recorded yet) waits like the first */
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&defaults, 0), 60, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&defaults, 1), 60, 1e-9);
}

static void test_delay_fractional_factor(void)
{
	const struct config_retry rt = {10, 1.5, 1000, 86400};

	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 1), 10, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 2), 15, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 3), 22.5, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 4), 33.75, 1e-9);
}

static void test_delay_cap(void)
{
	const struct config_retry rt = {1, 10, 500, 86400};

	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 3), 100, 1e-9);
	/* 1000 is above the cap: the cap, and the cap from then on */
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 4), 500, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 5), 500, 1e-9);
	/* exactly at the cap */
	const struct config_retry exact = {1, 10, 100, 86400};
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&exact, 3), 100, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&exact, 4), 100, 1e-9);
}

static void test_delay_factor_one(void)
{
	const struct config_retry rt = {30, 1, 3600, 86400};

	for (unsigned a = 0; a < 1000; a += 37)
		CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, a), 30, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, UINT_MAX), 30, 1e-9);
}

static void test_delay_cap_equals_first(void)
{
	const struct config_retry rt = {0.001, 2, 0.001, 86400};

	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 1), 0.001, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 2), 0.001, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 50), 0.001, 1e-12);
}

static void test_delay_overflow(void)
{
	/* factor 100: 100^154 is about 1e308, 100^155 overflows to infinity */
	const struct config_retry rt = {1, 100, 7200, 86400};

	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 155), 7200, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 156), 7200, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 1000), 7200, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, UINT_MAX), 7200, 1e-9);
}

/* For every attempt: first <= delay <= cap, and never less than the last. */
static void assert_well_formed(const struct config_retry *rt)
{
	double last = 0;

	for (unsigned a = 0; a <= 400; a++) {
		double d = retry_delay(rt, a);
		CU_ASSERT_FALSE(isnan(d));
		CU_ASSERT_TRUE(d >= rt->first && d <= rt->cap);
		CU_ASSERT_TRUE(d >= last);
		last = d;
	}
}

static void test_delay_well_formed(void)
{
	const struct config_retry schedules[] = {
	    defaults, {1, 100, 7200, 1}, {0.001, 1, 0.001, 0}, {5, 1.01, 1e9, 1e9}, {60, 3, 60, 60},
	};

	for (size_t i = 0; i < UNIT_COUNT(schedules); i++)
		assert_well_formed(&schedules[i]);
}

/* ---- retry_expired ---------------------------------------------------------------- */

static void test_expired_boundary(void)
{
	const double max = defaults.max_age;

	CU_ASSERT_FALSE(retry_expired(&defaults, 0, 0));
	CU_ASSERT_FALSE(retry_expired(&defaults, max - 1, 0));
	CU_ASSERT_FALSE(retry_expired(&defaults, nextafter(max, 0), 0));
	/* exactly at max_age: expired */
	CU_ASSERT_TRUE(retry_expired(&defaults, max, 0));
	CU_ASSERT_TRUE(retry_expired(&defaults, max + 1, 0));
}

static void test_expired_early_slack(void)
{
	const double max = defaults.max_age;

	/* a timer may fire early: within `early` of max_age counts as reached */
	CU_ASSERT_TRUE(retry_expired(&defaults, max - 0.5, 0.5));
	CU_ASSERT_FALSE(retry_expired(&defaults, max - 0.75, 0.5));
	CU_ASSERT_TRUE(retry_expired(&defaults, max - 0.25, 0.5));
}

static void test_expired_max_age_zero(void)
{
	const struct config_retry rt = {60, 2, 3600, 0};

	/* max_age 0: the first deferral expires */
	CU_ASSERT_TRUE(retry_expired(&rt, 0, 0));
	CU_ASSERT_TRUE(retry_expired(&rt, 0, 0.01));
	CU_ASSERT_TRUE(retry_expired(&rt, 5, 0));
}

/* ---- retry_clamp ---------------------------------------------------------------- */

static void test_clamp(void)
{
	const struct config_retry rt = {60, 2, 3600, 1000};

	/* well before max_age: the schedule's delay */
	CU_ASSERT_DOUBLE_EQUAL(retry_clamp(&rt, 100, 240), 240, 1e-9);
	/* the attempt would fall exactly at max_age: unchanged */
	CU_ASSERT_DOUBLE_EQUAL(retry_clamp(&rt, 760, 240), 240, 1e-9);
	/* past max_age: shortened to end at max_age */
	CU_ASSERT_DOUBLE_EQUAL(retry_clamp(&rt, 900, 240), 100, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_clamp(&rt, 999.5, 3600), 0.5, 1e-9);
}

/* A recipient deferred over and over on the virtual clock: the waits follow
 * the schedule, the last one ends exactly at max_age, where it expires. */
static void test_whole_life(void)
{
	const struct config_retry rt = {60, 2, 3600, 4 * 3600};
	/* 60 + ... + 1920 = 3780, + 3600 + 3600 = 10980; 14400 - 10980 = 3420 */
	static const double want[] = {60, 120, 240, 480, 960, 1920, 3600, 3600, 3420};
	double age = 0;
	unsigned attempts = 0;

	while (!retry_expired(&rt, age, 0) && attempts < 100) {
		double d = retry_clamp(&rt, age, retry_delay(&rt, ++attempts));
		if (attempts <= UNIT_COUNT(want))
			CU_ASSERT_DOUBLE_EQUAL(d, want[attempts - 1], 1e-9);
		age += d;
	}
	CU_ASSERT_EQUAL(attempts, UNIT_COUNT(want));
	CU_ASSERT_DOUBLE_EQUAL(age, rt.max_age, 1e-9);
}

/* ---- schedules the configuration accepts -------------------------------------------- */

static void test_config_accepts_and_refuses(void)
{
	struct config_retry rt;

	CU_ASSERT_EQUAL(schedule_from("retry: {}", &rt), 0);
	CU_ASSERT_DOUBLE_EQUAL(rt.first, defaults.first, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(rt.factor, defaults.factor, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(rt.cap, defaults.cap, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(rt.max_age, defaults.max_age, 1e-9);

	/* the edges the configuration allows, each a usable schedule */
	CU_ASSERT_EQUAL(schedule_from("retry: {first: 1ms, cap: 1ms, factor: 1, max_age: 0s}", &rt),
	                0);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 7), 0.001, 1e-12);
	CU_ASSERT_TRUE(retry_expired(&rt, 0, 0));
	CU_ASSERT_EQUAL(schedule_from("retry: {factor: 100, cap: 3d}", &rt), 0);
	assert_well_formed(&rt);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 2), 6000, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(retry_delay(&rt, 3), 259200, 1e-9); /* 600000, capped at 3d */

	/* what it refuses */
	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {first: 0s}", &rt), 0);
	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {first: 2h}", &rt), 0); /* above cap 1h */
	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {cap: 59s}", &rt), 0);  /* below first 1m */
	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {factor: 0.5}", &rt), 0);
	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {factor: 101}", &rt), 0);
	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {max_age: -1s}", &rt), 0);
}

/* "factor: nan" is refused like any factor outside 1 to 100. */
static void test_config_factor_nan(void)
{
	struct config_retry rt;

	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {factor: nan}", &rt), 0);
	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {factor: -nan}", &rt), 0);
	CU_ASSERT_NOT_EQUAL(schedule_from("retry: {factor: inf}", &rt), 0);
}

int register_retry_tests(void)
{
	static const struct unit_test tests[] = {
	    {"retry_delay: the default schedule 1m, 2, 1h", test_delay_default_schedule},
	    {"retry_delay: the first attempt (and attempts 0) waits first",
	     test_delay_first_attempt},
	    {"retry_delay: a fractional factor", test_delay_fractional_factor},
	    {"retry_delay: capped, and exactly at the cap", test_delay_cap},
	    {"retry_delay: factor 1 waits first every time", test_delay_factor_one},
	    {"retry_delay: cap = first = 1ms", test_delay_cap_equals_first},
	    {"retry_delay: factor^attempts overflowing gives the cap", test_delay_overflow},
	    {"retry_delay: within [first, cap], never decreasing", test_delay_well_formed},
	    {"retry_expired: the boundary is exactly max_age", test_expired_boundary},
	    {"retry_expired: a timer firing early counts", test_expired_early_slack},
	    {"retry_expired: max_age 0 expires at once", test_expired_max_age_zero},
	    {"retry_clamp: the last wait ends at max_age", test_clamp},
	    {"a recipient deferred until it expires", test_whole_life},
	    {"the schedules config.c accepts and refuses", test_config_accepts_and_refuses},
	    {"config.c refuses factor: nan and inf", test_config_factor_nan},
	};

	return unit_add_suite("retry", tests, UNIT_COUNT(tests));
}
