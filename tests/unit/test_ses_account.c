/*
 * test_ses_account.c - the SES account (sim/ses/ses_account.c) on a
 * virtual clock: the check order, identities (configured, pending, created
 * through the API under each verification mode), the sandbox and the
 * mailbox simulator, the send rate and the 24-hour quota per recipient, the
 * failed-identity list and its "...", SMTP logins and the sending state;
 * and SES-shaped message ids (store.c) that parse back.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "ses_account.h"
#include "store.h"
#include "unit.h"

struct fixture {
	struct config cfg;
	struct vclock clock;
	struct ses_account *a;
};

static void setup(struct fixture *f, const char *ses_yaml)
{
	char *errors = NULL;

	CU_ASSERT_EQUAL_FATAL(config_load(&f->cfg, NULL, &errors), 0);
	if (ses_yaml != NULL)
		CU_ASSERT_EQUAL_FATAL(
		    config_overlay_text(&f->cfg, ses_yaml, strlen(ses_yaml), &errors), 0);
	vclock_init(&f->clock); /* real time; a test speeds it up where it needs to */
	f->a = ses_account_new(&f->cfg, &f->clock);
}

static void teardown(struct fixture *f)
{
	ses_account_free(f->a);
	config_free(&f->cfg);
}

static enum ses_verdict check(struct fixture *f, const char *sender, const char *rcpt, char *failed,
                              size_t len)
{
	struct ses_party s = {sender, sender}, r = {rcpt, rcpt};
	struct ses_envelope e = {.senders = &s, .nsenders = 1, .rcpts = &r, .nrcpt = 1};

	return ses_account_check(f->a, &e, failed, len);
}

static void charge(struct fixture *f, const char *rcpt, size_t n)
{
	struct ses_party r[8];
	struct ses_envelope e = {.rcpts = r, .nrcpt = n};

	for (size_t i = 0; i < n; i++)
		r[i] = (struct ses_party){rcpt, rcpt};
	ses_account_charge(f->a, &e);
}

static void test_identities_and_order(void)
{
	struct fixture f;
	char failed[256];

	setup(&f, "ses: {identities: [example.com, one@example.org], pending: [wait@example.net]}");
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed), SES_OK);
	CU_ASSERT_EQUAL(check(&f, "one@example.org", "x@gmail.com", failed, sizeof failed), SES_OK);
	CU_ASSERT_EQUAL(check(&f, "two@example.org", "x@gmail.com", failed, sizeof failed),
	                SES_UNVERIFIED);
	CU_ASSERT_STRING_EQUAL(failed, "two@example.org");
	CU_ASSERT_EQUAL(check(&f, "a@sub.example.com", "x@gmail.com", failed, sizeof failed),
	                SES_UNVERIFIED);
	CU_ASSERT_EQUAL(check(&f, "wait@example.net", "x@gmail.com", failed, sizeof failed),
	                SES_UNVERIFIED);
	f.cfg.ses.sending = SES_SENDING_PAUSED;
	CU_ASSERT_EQUAL(check(&f, "two@example.org", "x@gmail.com", failed, sizeof failed),
	                SES_PAUSED);
	f.cfg.ses.sending = SES_SENDING_SUSPENDED;
	CU_ASSERT_EQUAL(check(&f, "two@example.org", "x@gmail.com", failed, sizeof failed),
	                SES_SUSPENDED);
	CU_ASSERT_EQUAL(ses_account_set_sending(f.a, 1), -1);
	CU_ASSERT_STRING_EQUAL(ses_account_enforcement(f.a), "SHUTDOWN");
	teardown(&f);
}

static void test_sending_state_api(void)
{
	struct fixture f;
	char failed[64];

	setup(&f, NULL);
	CU_ASSERT_TRUE(ses_account_sending_enabled(f.a));
	CU_ASSERT_EQUAL(ses_account_set_sending(f.a, 0), 0);
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed),
	                SES_PAUSED);
	CU_ASSERT_FALSE(ses_account_sending_enabled(f.a));
	CU_ASSERT_STRING_EQUAL(ses_account_enforcement(f.a), "HEALTHY");
	CU_ASSERT_EQUAL(ses_account_set_sending(f.a, 1), 0);
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed), SES_OK);
	/* the configuration's own change wins (a scenario's settings) */
	ses_account_set_sending(f.a, 0);
	f.cfg.ses.sending = SES_SENDING_SUSPENDED;
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed),
	                SES_SUSPENDED);
	teardown(&f);
}

static void test_sandbox_and_simulator(void)
{
	struct fixture f;
	char failed[64];

	setup(&f, "ses: {sandbox: true}");
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed),
	                SES_UNVERIFIED);
	CU_ASSERT_STRING_EQUAL(failed, "x@gmail.com");
	CU_ASSERT_EQUAL(
	    check(&f, "a@example.com", "bounce+l1@simulator.amazonses.com", failed, sizeof failed),
	    SES_OK);
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "b@example.com", failed, sizeof failed), SES_OK);
	teardown(&f);
}

static void test_quota_defaults(void)
{
	struct fixture f;
	struct ses_quota q;

	setup(&f, NULL);
	ses_account_quota(f.a, &q);
	CU_ASSERT_EQUAL(q.max_send_rate, 14);
	CU_ASSERT_EQUAL(q.max_24h_send, 50000);
	CU_ASSERT_EQUAL(q.sent_last_24h, 0);
	teardown(&f);
	setup(&f, "ses: {sandbox: true}");
	ses_account_quota(f.a, &q);
	CU_ASSERT_EQUAL(q.max_send_rate, 1);
	CU_ASSERT_EQUAL(q.max_24h_send, 200);
	teardown(&f);
	setup(&f, "ses: {sandbox: true, max_send_rate: 5, max_24h_send: -1}");
	ses_account_quota(f.a, &q);
	CU_ASSERT_EQUAL(q.max_send_rate, 5);
	CU_ASSERT_EQUAL(q.max_24h_send, -1);
	teardown(&f);
}

static void test_rate_and_day(void)
{
	struct fixture f;
	struct ses_quota q;
	char failed[64];

	setup(&f, "ses: {max_send_rate: 1000000000, max_24h_send: 3}");
	charge(&f, "x@gmail.com", 2);
	charge(&f, "success@simulator.amazonses.com", 5);
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed), SES_OK);
	charge(&f, "x@gmail.com", 1);
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed),
	                SES_DAILY);
	/* the simulator does not count against the daily quota */
	CU_ASSERT_EQUAL(
	    check(&f, "a@example.com", "success@simulator.amazonses.com", failed, sizeof failed),
	    SES_OK);
	ses_account_quota(f.a, &q);
	CU_ASSERT_EQUAL(q.sent_last_24h, 3);
	ses_account_reset(f.a);
	ses_account_quota(f.a, &q);
	CU_ASSERT_EQUAL(q.sent_last_24h, 0);
	teardown(&f);
}

static void test_rate_window(void)
{
	struct fixture f;
	char failed[64];

	setup(&f, "ses: {max_send_rate: 2}");
	charge(&f, "x@gmail.com", 2);
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed), SES_RATE);
	vclock_set_speed(&f.clock, 1e6);
	usleep(10000); /* 10 ms: 10 000 virtual seconds */
	CU_ASSERT_EQUAL(check(&f, "a@example.com", "x@gmail.com", failed, sizeof failed), SES_OK);
	teardown(&f);
}

static void test_failed_list_truncated(void)
{
	struct fixture f;
	struct ses_party s[6];
	struct ses_envelope e = {.senders = s, .nsenders = 6};
	char failed[64];
	static const char *const names[] = {"aaaaaaaaaa@x.test", "bbbbbbbbbb@x.test",
	                                    "cccccccccc@x.test", "dddddddddd@x.test",
	                                    "eeeeeeeeee@x.test", "ffffffffff@x.test"};

	setup(&f, NULL);
	for (size_t i = 0; i < 6; i++)
		s[i] = (struct ses_party){names[i], names[i]};
	CU_ASSERT_EQUAL(ses_account_check(f.a, &e, failed, sizeof failed), SES_UNVERIFIED);
	CU_ASSERT_STRING_EQUAL(failed,
	                       "aaaaaaaaaa@x.test, bbbbbbbbbb@x.test, cccccccccc@x.test...");
	teardown(&f);
}

static void test_api_identities(void)
{
	struct fixture f;
	struct ses_identity_info info, list[8];

	setup(&f, "ses: {verification: {mode: delayed, delay: 1h}}");
	CU_ASSERT_EQUAL(ses_identity_create(f.a, "new.example"), 0);
	CU_ASSERT_EQUAL(ses_identity_create(f.a, "NEW.example"), -1);
	CU_ASSERT_EQUAL(ses_identity_create(f.a, "example.com"), -1); /* configured */
	CU_ASSERT_EQUAL(ses_identity_get(f.a, "new.example", &info), 0);
	CU_ASSERT_EQUAL(info.status, SES_ID_PENDING);
	CU_ASSERT_TRUE(info.is_domain);
	CU_ASSERT_STRING_EQUAL(ses_status_v1(info.status), "Pending");
	CU_ASSERT_EQUAL(ses_identity_list(f.a, list, 8), 2);
	vclock_set_speed(&f.clock, 1e6);
	usleep(10000); /* 10 000 virtual seconds: past the hour */
	CU_ASSERT_EQUAL(ses_identity_get(f.a, "new.example", &info), 0);
	CU_ASSERT_EQUAL(info.status, SES_ID_SUCCESS);
	CU_ASSERT_STRING_EQUAL(ses_status_v2(info.status), "SUCCESS");
	CU_ASSERT_EQUAL(ses_identity_delete(f.a, "new.example"), 0);
	CU_ASSERT_EQUAL(ses_identity_delete(f.a, "new.example"), -1);
	CU_ASSERT_EQUAL(ses_identity_get(f.a, "new.example", &info), -1);
	teardown(&f);
	setup(&f, "ses: {verification: {mode: never}}");
	CU_ASSERT_EQUAL(ses_identity_create(f.a, "me@new.example"), 0);
	CU_ASSERT_EQUAL(ses_identity_get(f.a, "me@new.example", &info), 0);
	CU_ASSERT_FALSE(info.is_domain);
	CU_ASSERT_EQUAL(info.status, SES_ID_PENDING);
	vclock_set_speed(&f.clock, 1e6);
	usleep(150000); /* 150 000 virtual seconds: more than a day, never clicked */
	CU_ASSERT_EQUAL(ses_identity_get(f.a, "me@new.example", &info), 0);
	CU_ASSERT_EQUAL(info.status, SES_ID_FAILED);
	teardown(&f);
}

static void test_smtp_login(void)
{
	struct fixture f;

	setup(&f, NULL);
	CU_ASSERT_TRUE(ses_account_smtp_login(f.a, "AKIAIOSFODNN7EXAMPLE",
	                                      "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"));
	CU_ASSERT_FALSE(ses_account_smtp_login(f.a, "AKIAIOSFODNN7EXAMPLE",
	                                       "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd"));
	CU_ASSERT_FALSE(ses_account_smtp_login(f.a, "AKIAOTHER", "x"));
	CU_ASSERT_STRING_EQUAL(ses_account_secret(f.a, "AKIAIOSFODNN7EXAMPLE"),
	                       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	teardown(&f);
}

static void test_ses_message_ids(void)
{
	struct store st = {.id_style = STORE_ID_SES};
	uint64_t seqs[] = {(uint64_t)1764800000000ULL << 20, ((uint64_t)1764800000000ULL << 20) + 7,
	                   ((uint64_t)1764800000001ULL << 20) | 0xfffff};
	char id[STORE_ID_MAX];
	uint64_t back;

	for (size_t i = 0; i < UNIT_COUNT(seqs); i++) {
		store_format_id(&st, seqs[i], id);
		CU_ASSERT_EQUAL(strlen(id), 60);
		CU_ASSERT_EQUAL(strncmp(id, "0100", 4), 0);
		CU_ASSERT_STRING_EQUAL(id + 53, "-000000");
		CU_ASSERT_EQUAL(store_parse_id(id, &back), 0);
		CU_ASSERT_EQUAL(back, seqs[i]);
	}
	store_format_id(&st, seqs[0], id);
	id[20] = id[20] == 'a' ? 'b' : 'a'; /* a changed UUID no longer parses */
	CU_ASSERT_EQUAL(store_parse_id(id, &back), -1);
	CU_ASSERT_EQUAL(store_parse_id("0100", &back), -1);
	store_format_id(NULL, seqs[1], id);
	CU_ASSERT_EQUAL(strlen(id), 16);
	CU_ASSERT_EQUAL(store_parse_id(id, &back), 0);
	CU_ASSERT_EQUAL(back, seqs[1]);
}

int register_ses_account_tests(void)
{
	static const struct unit_test tests[] = {
	    {"identities: domains, addresses, pending; the check order", test_identities_and_order},
	    {"sending paused and resumed through the API; suspended wins", test_sending_state_api},
	    {"the sandbox: recipients verified, the simulator excepted",
	     test_sandbox_and_simulator},
	    {"quotas: SES's values by default, the sandbox's, configured", test_quota_defaults},
	    {"the 24-hour quota counts recipients, not the simulator's", test_rate_and_day},
	    {"the send rate: a one-second window", test_rate_window},
	    {"the failed identities: truncated with ...", test_failed_list_truncated},
	    {"identities created through the API: delayed, never", test_api_identities},
	    {"SMTP logins: the key's password for the region", test_smtp_login},
	    {"SES message ids: shape, parsed back, tampering refused", test_ses_message_ids},
	};

	return unit_add_suite("ses_account", tests, UNIT_COUNT(tests));
}
