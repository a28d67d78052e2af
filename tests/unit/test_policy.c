/*
 * test_policy.c - credentials, approved senders, suppression, connection
 * slots, the auth-failure throttle and quotas (sim/policy.c). Times are
 * passed explicitly, so no test sleeps.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "config.h"
#include "policy.h"
#include "unit.h"

static char *alice_approved[] = {"*@example.com", "bob@other.org", "user?@wild.net"};
static char *carol_approved[] = {"carol@third.net"};
static struct config_user two_users[] = {
    {"alice", "s3cret", alice_approved, 3, NULL},
    {"carol", "pw2", carol_approved, 1, NULL},
};
static char *suppressed[] = {"gone@example.com", "Bounced@Example.org"};

static void base_config(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->limits.connections_per_ip = 2;
	cfg->limits.auth_failures_per_ip = 3;
	cfg->limits.auth_failure_window = 600;
	cfg->limits.quota_unit = QUOTA_MESSAGE;
	cfg->auth_required = 1;
}

static void users_config(struct config *cfg)
{
	base_config(cfg);
	cfg->users = two_users;
	cfg->nusers = UNIT_COUNT(two_users);
	cfg->suppressions = suppressed;
	cfg->nsuppressions = UNIT_COUNT(suppressed);
}

/* ---- credentials and senders ------------------------------------------------------ */

static void test_open_policy(void)
{
	struct config cfg;
	struct policy *p;

	base_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_TRUE(policy_is_open(p));
	CU_ASSERT_TRUE(policy_check_credentials(p, "anyone", "anything"));
	CU_ASSERT_TRUE(policy_check_credentials(p, "", ""));
	CU_ASSERT_TRUE(policy_sender_approved(p, "anyone", "x@y.z"));
	CU_ASSERT_TRUE(policy_sender_approved(p, NULL, "x@y.z"));
	CU_ASSERT_FALSE(policy_is_suppressed(p, "gone@example.com"));
	policy_free(p);
}

static void test_credentials(void)
{
	struct config cfg;
	struct policy *p;

	users_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_FALSE(policy_is_open(p));
	CU_ASSERT_TRUE(policy_check_credentials(p, "alice", "s3cret"));
	CU_ASSERT_TRUE(policy_check_credentials(p, "carol", "pw2"));
	CU_ASSERT_FALSE(policy_check_credentials(p, "alice", "wrong"));
	CU_ASSERT_FALSE(policy_check_credentials(p, "alice", "S3CRET"));
	CU_ASSERT_FALSE(policy_check_credentials(p, "alice", ""));
	CU_ASSERT_FALSE(policy_check_credentials(p, "alice", "pw2")); /* carol's password */
	CU_ASSERT_FALSE(policy_check_credentials(p, "mallory", "s3cret"));
	CU_ASSERT_FALSE(policy_check_credentials(p, "", ""));
	CU_ASSERT_FALSE(policy_check_credentials(p, NULL, "s3cret"));
	policy_free(p);
}

static void test_sender_approved_for_user(void)
{
	struct config cfg;
	struct policy *p;

	users_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_TRUE(policy_sender_approved(p, "alice", "anyone@example.com"));
	CU_ASSERT_TRUE(policy_sender_approved(p, "alice", "Someone@EXAMPLE.COM"));
	CU_ASSERT_TRUE(policy_sender_approved(p, "alice", "bob@other.org"));
	CU_ASSERT_TRUE(policy_sender_approved(p, "alice", "BOB@Other.Org"));
	CU_ASSERT_TRUE(policy_sender_approved(p, "alice", "user1@wild.net"));
	CU_ASSERT_FALSE(policy_sender_approved(p, "alice", "user12@wild.net"));
	CU_ASSERT_FALSE(policy_sender_approved(p, "alice", "bob2@other.org"));
	CU_ASSERT_FALSE(policy_sender_approved(p, "alice", "a@sub.example.com"));
	CU_ASSERT_FALSE(policy_sender_approved(p, "alice", "a@example.com.evil.net"));
	CU_ASSERT_FALSE(policy_sender_approved(p, "alice", "carol@third.net")); /* carol's */
	CU_ASSERT_TRUE(policy_sender_approved(p, "carol", "carol@third.net"));
	CU_ASSERT_FALSE(policy_sender_approved(p, "carol", "x@example.com"));
	CU_ASSERT_FALSE(policy_sender_approved(p, "mallory", "x@example.com"));
	CU_ASSERT_FALSE(policy_sender_approved(p, "alice", ""));
	policy_free(p);
}

static void test_sender_approved_without_user(void)
{
	struct config cfg;
	struct policy *p;

	users_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* no AUTH: any configured user's approval counts */
	CU_ASSERT_TRUE(policy_sender_approved(p, NULL, "x@example.com"));
	CU_ASSERT_TRUE(policy_sender_approved(p, NULL, "Carol@Third.NET"));
	CU_ASSERT_FALSE(policy_sender_approved(p, NULL, "x@nowhere.net"));
	policy_free(p);
}

static void test_suppression(void)
{
	struct config cfg;
	struct policy *p;

	users_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_TRUE(policy_is_suppressed(p, "gone@example.com"));
	CU_ASSERT_TRUE(policy_is_suppressed(p, "GONE@Example.Com"));
	CU_ASSERT_TRUE(policy_is_suppressed(p, "bounced@example.org"));
	CU_ASSERT_FALSE(policy_is_suppressed(p, "gone@example.co"));
	CU_ASSERT_FALSE(policy_is_suppressed(p, "xgone@example.com"));
	CU_ASSERT_FALSE(policy_is_suppressed(p, ""));
	policy_free(p);
}

/* The list kept beside the configuration: bounces and the control API. */
static void test_suppression_list(void)
{
	struct config cfg;
	struct policy *p;
	json_t *all;

	users_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_FALSE(policy_is_suppressed(p, "new@example.net"));
	policy_suppress(p, "New@Example.NET", "550 5.1.1 User unknown", 1000.0, "bounce");
	CU_ASSERT_TRUE(policy_is_suppressed(p, "new@example.net"));
	CU_ASSERT_TRUE(policy_is_suppressed(p, "NEW@EXAMPLE.NET"));
	policy_suppress(p, "other@example.net", NULL, 1001.0, "api");
	all = policy_suppressions(p);
	/* the configuration's two entries first, then the two added */
	CU_ASSERT_EQUAL(json_array_size(all), 4);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(all, 0), "source")),
	                       "configuration");
	CU_ASSERT_STRING_EQUAL(
	    json_string_value(json_object_get(json_array_get(all, 2), "address")),
	    "New@Example.NET");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(all, 2), "reason")),
	                       "550 5.1.1 User unknown");
	json_decref(all);
	CU_ASSERT_EQUAL(policy_unsuppress(p, "NEW@example.net"), 1);
	CU_ASSERT_EQUAL(policy_unsuppress(p, "new@example.net"), 0);
	CU_ASSERT_FALSE(policy_is_suppressed(p, "new@example.net"));
	CU_ASSERT_EQUAL(policy_unsuppress(p, NULL), 1);
	CU_ASSERT_FALSE(policy_is_suppressed(p, "other@example.net"));
	CU_ASSERT_TRUE(policy_is_suppressed(p, "gone@example.com")); /* the configuration's stay */
	policy_free(p);
}

/* ---- connection slots --------------------------------------------------------------- */

static void test_connection_slots(void)
{
	struct config cfg;
	struct policy *p;

	base_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), 0);
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), 0);
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), -1); /* at the limit of 2 */
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.2"), 0);  /* other IPs unaffected */
	CU_ASSERT_EQUAL(policy_connection_open(p, "::1"), 0);
	policy_connection_close(p, "10.0.0.1");
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), 0);
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), -1);
	policy_connection_close(p, "10.0.0.1");
	policy_connection_close(p, "10.0.0.1");
	policy_connection_close(p, "10.0.0.1");  /* one close too many is ignored */
	policy_connection_close(p, "192.0.2.9"); /* never opened */
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), 0);
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), 0);
	CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), -1);
	policy_free(p);
}

static void test_connection_unlimited(void)
{
	struct config cfg;
	struct policy *p;

	base_config(&cfg);
	cfg.limits.connections_per_ip = 0;
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(policy_connection_open(p, "10.0.0.1"), 0);
	policy_free(p);
}

/* ---- auth failure throttle ------------------------------------------------------------ */

static void test_auth_throttle(void)
{
	struct config cfg;
	struct policy *p;

	base_config(&cfg); /* 3 failures within 600 s */
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 1000));
	policy_auth_failure(p, "10.0.0.1", 1000);
	policy_auth_failure(p, "10.0.0.1", 1100);
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 1101));
	policy_auth_failure(p, "10.0.0.1", 1200);
	CU_ASSERT_TRUE(policy_auth_blocked(p, "10.0.0.1", 1200));
	CU_ASSERT_TRUE(policy_auth_blocked(p, "10.0.0.1", 1500));
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.2", 1500)); /* per IP */
	policy_free(p);
}

static void test_auth_cool_off(void)
{
	struct config cfg;
	struct policy *p;

	base_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	policy_auth_failure(p, "10.0.0.1", 1000);
	policy_auth_failure(p, "10.0.0.1", 1001);
	policy_auth_failure(p, "10.0.0.1", 1002);
	/* blocked for one window (600 s) from the last failure */
	CU_ASSERT_TRUE(policy_auth_blocked(p, "10.0.0.1", 1601.9));
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 1602));
	/* the count starts again after the cool-off */
	policy_auth_failure(p, "10.0.0.1", 1603);
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 1604));
	policy_auth_failure(p, "10.0.0.1", 1605);
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 1606));
	policy_auth_failure(p, "10.0.0.1", 1607);
	CU_ASSERT_TRUE(policy_auth_blocked(p, "10.0.0.1", 1608));
	CU_ASSERT_TRUE(policy_auth_blocked(p, "10.0.0.1", 2206));
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 2207));
	policy_free(p);
}

static void test_auth_failures_spread_out(void)
{
	struct config cfg;
	struct policy *p;

	base_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* three failures, but not within one 600 s window */
	policy_auth_failure(p, "10.0.0.1", 1000);
	policy_auth_failure(p, "10.0.0.1", 1300);
	policy_auth_failure(p, "10.0.0.1", 1601);
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 1602));
	policy_auth_failure(p, "10.0.0.1", 1700);
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 1701));
	policy_auth_failure(p, "10.0.0.1", 1800); /* 3 since 1601 */
	CU_ASSERT_TRUE(policy_auth_blocked(p, "10.0.0.1", 1801));
	policy_free(p);
}

static void test_auth_throttle_disabled(void)
{
	struct config cfg;
	struct policy *p;

	base_config(&cfg);
	cfg.limits.auth_failures_per_ip = 0;
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 20; i++)
		policy_auth_failure(p, "10.0.0.1", 1000 + i);
	CU_ASSERT_FALSE(policy_auth_blocked(p, "10.0.0.1", 1020));
	policy_free(p);
}

/* ---- quotas ------------------------------------------------------------------------------ */

static void test_quota_disabled(void)
{
	struct config cfg;
	struct policy *p;
	unsigned long long limit = 77;

	base_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 1000; i++)
		policy_quota_charge(p, "alice", 1, 1000);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1000, &limit), QUOTA_OK);
	CU_ASSERT_EQUAL(limit, 77);
	policy_free(p);
}

static void test_quota_minute(void)
{
	struct config cfg;
	struct policy *p;
	unsigned long long limit = 0;

	base_config(&cfg);
	cfg.limits.per_minute = 2;
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1000, &limit), QUOTA_OK);
	policy_quota_charge(p, "alice", 1, 1000); /* the window opens at 1000 */
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1010, &limit), QUOTA_OK);
	policy_quota_charge(p, "alice", 1, 1010);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1020, &limit), QUOTA_MINUTE);
	CU_ASSERT_EQUAL(limit, 2);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1059.9, &limit), QUOTA_MINUTE);
	CU_ASSERT_EQUAL(policy_quota_check(p, "bob", 1020, &limit), QUOTA_OK); /* per user */
	/* the window rolls over a minute after it opened */
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1060, &limit), QUOTA_OK);
	policy_quota_charge(p, "alice", 1, 1070); /* a new window opens at 1070 */
	policy_quota_charge(p, "alice", 1, 1071);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1129, &limit), QUOTA_MINUTE);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1130, &limit), QUOTA_OK);
	policy_free(p);
}

static void test_quota_day(void)
{
	struct config cfg;
	struct policy *p;
	unsigned long long limit = 0;
	double t = 5000;

	base_config(&cfg);
	cfg.limits.per_minute = 2;
	cfg.limits.per_day = 5;
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* five messages over three minutes: the day window opened at 5000 */
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(policy_quota_check(p, "alice", t, &limit), QUOTA_OK);
		policy_quota_charge(p, "alice", 1, t);
		t += 40;
	}
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", t + 120, &limit), QUOTA_DAY);
	CU_ASSERT_EQUAL(limit, 5);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 5000 + 86399, &limit), QUOTA_DAY);
	CU_ASSERT_EQUAL(policy_quota_check(p, "carol", 5000 + 86399, &limit), QUOTA_OK);
	/* the day window rolls over 24 h after it opened */
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 5000 + 86400, &limit), QUOTA_OK);
	policy_quota_charge(p, "alice", 1, 5000 + 86400);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 5000 + 86401, &limit), QUOTA_OK);
	policy_free(p);
}

static void test_quota_day_takes_precedence(void)
{
	struct config cfg;
	struct policy *p;
	unsigned long long limit = 0;

	base_config(&cfg);
	cfg.limits.per_minute = 3;
	cfg.limits.per_day = 3;
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	policy_quota_charge(p, "alice", 3, 1000); /* both quotas reached at once */
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1001, &limit), QUOTA_DAY);
	CU_ASSERT_EQUAL(limit, 3);
	policy_free(p);
}

static void test_quota_units_charge(void)
{
	struct config cfg;
	struct policy *p;
	unsigned long long limit = 0;

	base_config(&cfg);
	cfg.limits.per_minute = 10;
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	policy_quota_charge(p, NULL, 9, 1000); /* no AUTH: one shared anonymous counter */
	CU_ASSERT_EQUAL(policy_quota_check(p, NULL, 1001, &limit), QUOTA_OK);
	policy_quota_charge(p, NULL, 4, 1002); /* may overshoot */
	CU_ASSERT_EQUAL(policy_quota_check(p, NULL, 1003, &limit), QUOTA_MINUTE);
	CU_ASSERT_EQUAL(limit, 10);
	CU_ASSERT_EQUAL(policy_quota_check(p, "alice", 1003, &limit), QUOTA_OK);
	policy_free(p);
}

static void test_quota_units(void)
{
	const size_t mb2 = 2 * 1024 * 1024;
	struct config cfg;
	struct policy *p;

	base_config(&cfg);
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* quota_unit: message - one unit per accepted message */
	CU_ASSERT_EQUAL(policy_quota_units(p, 1, 100), 1);
	CU_ASSERT_EQUAL(policy_quota_units(p, 50, 10 * mb2), 1);
	policy_free(p);

	/* quota_unit: recipient-chunk - per recipient and per started 2 MB */
	cfg.limits.quota_unit = QUOTA_RECIPIENT_CHUNK;
	p = policy_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(policy_quota_units(p, 1, 100), 1);
	CU_ASSERT_EQUAL(policy_quota_units(p, 3, 100), 3);
	CU_ASSERT_EQUAL(policy_quota_units(p, 3, 0), 3);
	CU_ASSERT_EQUAL(policy_quota_units(p, 3, mb2), 3);
	CU_ASSERT_EQUAL(policy_quota_units(p, 3, mb2 + 1), 6);
	CU_ASSERT_EQUAL(policy_quota_units(p, 2, 5 * 1024 * 1024), 6);
	CU_ASSERT_EQUAL(policy_quota_units(p, 50, 2 * mb2), 100);
	policy_free(p);
}

int register_policy_tests(void)
{
	static const struct unit_test senders[] = {
	    {"open policy (no users)", test_open_policy},
	    {"credentials", test_credentials},
	    {"approved senders of a user (globs, any case)", test_sender_approved_for_user},
	    {"approved senders without AUTH", test_sender_approved_without_user},
	    {"suppression", test_suppression},
	    {"suppression list: add, list, remove (any case)", test_suppression_list},
	};
	static const struct unit_test throttles[] = {
	    {"connection slots per IP", test_connection_slots},
	    {"connection slots unlimited", test_connection_unlimited},
	    {"auth failure throttle", test_auth_throttle},
	    {"auth failure cool-off", test_auth_cool_off},
	    {"auth failures outside the window", test_auth_failures_spread_out},
	    {"auth failure throttle disabled", test_auth_throttle_disabled},
	};
	static const struct unit_test quotas[] = {
	    {"no quotas configured", test_quota_disabled},
	    {"per minute with roll-over", test_quota_minute},
	    {"per day with roll-over", test_quota_day},
	    {"day verdict before minute", test_quota_day_takes_precedence},
	    {"charging several units", test_quota_units_charge},
	    {"policy_quota_units for both units", test_quota_units},
	};

	if (unit_add_suite("policy: credentials and senders", senders, UNIT_COUNT(senders)) < 0 ||
	    unit_add_suite("policy: connections and auth throttle", throttles,
	                   UNIT_COUNT(throttles)) < 0 ||
	    unit_add_suite("policy: quotas", quotas, UNIT_COUNT(quotas)) < 0)
		return -1;
	return 0;
}
