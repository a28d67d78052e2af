/*
 * test_config.c - the embedded defaults, configuration files laid over them,
 * located errors, and duration parsing (sim/config.c, sim/ydoc.c).
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"
#include "ydoc.h"

static char tmpdir[64];
static char path[128];

static int config_init(void)
{
	strcpy(tmpdir, "/tmp/edsim-unit-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int config_cleanup(void)
{
	return rmdir(tmpdir);
}

/* Writes text to tmpdir/name; the path is left in path. */
static int write_config(const char *name, const char *text)
{
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Loads text from a file; on success returns 0 with cfg loaded. */
static int load(const char *name, const char *text, struct config *cfg, char **errors)
{
	int rc;

	*errors = NULL;
	if (write_config(name, text) < 0)
		return -2;
	rc = config_load(cfg, path, errors);
	unlink(path);
	if (rc == 0 && *errors != NULL) {
		free(*errors);
		*errors = NULL;
		CU_FAIL("config_load succeeded but set *errors");
	}
	return rc;
}

/* ---- defaults ----------------------------------------------------------------- */

static void test_defaults(void)
{
	struct config cfg;
	char *errors = (char *)"not reset";

	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, NULL, &errors), 0);
	CU_ASSERT_PTR_NULL(errors);
	CU_ASSERT_STRING_EQUAL(cfg.listen_smtp, "127.0.0.1:2525");
	CU_ASSERT_STRING_EQUAL(cfg.listen_smtps, "127.0.0.1:2465");
	CU_ASSERT_STRING_EQUAL(cfg.listen_control, "127.0.0.1:8025");
	CU_ASSERT_STRING_EQUAL(cfg.hostname, "localhost");
	CU_ASSERT_STRING_EQUAL(cfg.state_dir, "var");
	CU_ASSERT_STRING_EQUAL(cfg.store_path, "edsim.db");
	CU_ASSERT_PTR_NULL(cfg.tls_cert);
	CU_ASSERT_PTR_NULL(cfg.tls_key);
	CU_ASSERT_EQUAL(cfg.limits.message_bytes, 2097152);
	CU_ASSERT_EQUAL(cfg.limits.header_bytes, 262144);
	CU_ASSERT_EQUAL(cfg.limits.line_bytes, 1000);
	CU_ASSERT_EQUAL(cfg.limits.recipients, 50);
	CU_ASSERT_EQUAL(cfg.limits.connections_per_ip, 20);
	CU_ASSERT_EQUAL(cfg.limits.auth_failures_per_ip, 5);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.auth_failure_window, 600.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.command_timeout, 60.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.drain_timeout, 10.0, 1e-9);
	CU_ASSERT_EQUAL(cfg.limits.per_minute, 0);
	CU_ASSERT_EQUAL(cfg.limits.per_day, 0);
	CU_ASSERT_EQUAL(cfg.limits.quota_unit, QUOTA_MESSAGE);
	CU_ASSERT_EQUAL(cfg.limits.store_bytes, 0);
	CU_ASSERT_EQUAL(cfg.nusers, 0);
	CU_ASSERT_EQUAL(cfg.nsuppressions, 0);
	CU_ASSERT_EQUAL(cfg.auth_required, 1);
	CU_ASSERT_STRING_EQUAL(cfg.log_level, "info");
	config_free(&cfg);
	CU_ASSERT_PTR_NULL(cfg.listen_smtp);
	CU_ASSERT_EQUAL(cfg.nusers, 0);
}

/* ---- files laid over the defaults ------------------------------------------------ */

static void test_overrides(void)
{
	static const char yaml[] = "listen:\n"
	                           "  smtp: 0.0.0.0:2626\n"
	                           "  smtps: null\n"
	                           "hostname: mx.test\n"
	                           "store: { path: \":memory:\" }\n"
	                           "limits:\n"
	                           "  message_bytes: 1000\n"
	                           "  recipients: 5\n"
	                           "  per_minute: 10\n"
	                           "  per_day: 100\n"
	                           "  quota_unit: recipient-chunk\n"
	                           "suppressions: [gone@example.com, \"Bounced@Example.com\"]\n"
	                           "auth: { required: false }\n"
	                           "log: { level: debug }\n";
	struct config cfg;
	char *errors;

	CU_ASSERT_EQUAL_FATAL(load("over.yaml", yaml, &cfg, &errors), 0);
	CU_ASSERT_STRING_EQUAL(cfg.listen_smtp, "0.0.0.0:2626");
	CU_ASSERT_PTR_NULL(cfg.listen_smtps);
	CU_ASSERT_STRING_EQUAL(cfg.listen_control, "127.0.0.1:8025"); /* untouched */
	CU_ASSERT_STRING_EQUAL(cfg.hostname, "mx.test");
	CU_ASSERT_STRING_EQUAL(cfg.state_dir, "var");
	CU_ASSERT_STRING_EQUAL(cfg.store_path, ":memory:");
	CU_ASSERT_EQUAL(cfg.limits.message_bytes, 1000);
	CU_ASSERT_EQUAL(cfg.limits.header_bytes, 262144);
	CU_ASSERT_EQUAL(cfg.limits.recipients, 5);
	CU_ASSERT_EQUAL(cfg.limits.per_minute, 10);
	CU_ASSERT_EQUAL(cfg.limits.per_day, 100);
	CU_ASSERT_EQUAL(cfg.limits.quota_unit, QUOTA_RECIPIENT_CHUNK);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.command_timeout, 60.0, 1e-9);
	CU_ASSERT_EQUAL_FATAL(cfg.nsuppressions, 2);
	CU_ASSERT_STRING_EQUAL(cfg.suppressions[0], "gone@example.com");
	CU_ASSERT_STRING_EQUAL(cfg.suppressions[1], "Bounced@Example.com");
	CU_ASSERT_EQUAL(cfg.auth_required, 0);
	CU_ASSERT_STRING_EQUAL(cfg.log_level, "debug");
	config_free(&cfg);
}

static void test_empty_file(void)
{
	struct config cfg;
	char *errors;

	/* an empty mapping changes nothing */
	CU_ASSERT_EQUAL_FATAL(load("braces.yaml", "{}\n", &cfg, &errors), 0);
	CU_ASSERT_EQUAL(cfg.limits.message_bytes, 2097152);
	config_free(&cfg);
}

static void test_users(void)
{
	static const char yaml[] = "users:\n"
	                           "  - name: alice\n"
	                           "    password: s3cret\n"
	                           "    approved_senders: [\"*@example.com\", bob@other.org]\n"
	                           "  - name: ocid1.user.oc1..xyz\n"
	                           "    password: \"p:w d\"\n";
	struct config cfg;
	char *errors;

	CU_ASSERT_EQUAL_FATAL(load("users.yaml", yaml, &cfg, &errors), 0);
	CU_ASSERT_EQUAL_FATAL(cfg.nusers, 2);
	CU_ASSERT_STRING_EQUAL(cfg.users[0].name, "alice");
	CU_ASSERT_STRING_EQUAL(cfg.users[0].password, "s3cret");
	CU_ASSERT_EQUAL_FATAL(cfg.users[0].napproved, 2);
	CU_ASSERT_STRING_EQUAL(cfg.users[0].approved_senders[0], "*@example.com");
	CU_ASSERT_STRING_EQUAL(cfg.users[0].approved_senders[1], "bob@other.org");
	CU_ASSERT_STRING_EQUAL(cfg.users[1].name, "ocid1.user.oc1..xyz");
	CU_ASSERT_STRING_EQUAL(cfg.users[1].password, "p:w d");
	CU_ASSERT_EQUAL(cfg.users[1].napproved, 0);
	config_free(&cfg);
}

static void test_durations(void)
{
	struct config cfg;
	char *errors;

	CU_ASSERT_EQUAL_FATAL(load("dur.yaml",
	                           "limits:\n"
	                           "  auth_failure_window: 500ms\n"
	                           "  command_timeout: 10m\n"
	                           "  drain_timeout: 1h\n",
	                           &cfg, &errors),
	                      0);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.auth_failure_window, 0.5, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.command_timeout, 600.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.drain_timeout, 3600.0, 1e-9);
	config_free(&cfg);

	CU_ASSERT_EQUAL_FATAL(load("dur2.yaml",
	                           "limits: { auth_failure_window: 3d, command_timeout: 90, "
	                           "drain_timeout: 2.5s }\n",
	                           &cfg, &errors),
	                      0);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.auth_failure_window, 259200.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.command_timeout, 90.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(cfg.limits.drain_timeout, 2.5, 1e-9);
	config_free(&cfg);
}

/* ---- located errors ---------------------------------------------------------------- */

/* Loads text expecting failure; want is "LINE:COL: message start" and must
 * appear right after the file's path. */
static void check_error(const char *text, const char *want)
{
	struct config cfg;
	char *errors = NULL, expect[512];

	CU_ASSERT_EQUAL(load("bad.yaml", text, &cfg, &errors), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(errors);
	snprintf(expect, sizeof expect, "%s:%s", path, want);
	if (strstr(errors, expect) == NULL)
		fprintf(stderr, "\n    expected \"%s\" in:\n%s", expect, errors);
	CU_ASSERT_PTR_NOT_NULL(strstr(errors, expect));
	CU_ASSERT_PTR_NULL(strstr(errors, "<embedded"));
	free(errors);
	config_free(&cfg);
}

static void test_error_unknown_key(void)
{
	check_error("limits:\n  mesage_bytes: 10\n", "2:3: unknown key 'mesage_bytes'");
	check_error("hostname: x\nhostnme: y\n", "2:1: unknown key 'hostnme'");
	check_error("users:\n  - name: a\n    password: b\n    pasword: c\n",
	            "4:5: unknown key 'pasword'");
	check_error("listen: { smtp: 127.0.0.1:25, imap: 127.0.0.1:143 }\n",
	            "1:31: unknown key 'imap'");
}

static void test_error_bad_duration(void)
{
	check_error("limits:\n  command_timeout: 5x\n",
	            "2:20: limits.command_timeout: expected a duration");
	check_error("limits:\n  auth_failure_window: -1s\n",
	            "2:24: limits.auth_failure_window: expected a duration");
	check_error("limits:\n  drain_timeout: [1, 2]\n",
	            "2:18: limits.drain_timeout: expected a duration");
}

static void test_error_wrong_type(void)
{
	check_error("limits:\n  recipients: many\n",
	            "2:15: limits.recipients: expected a non-negative integer");
	check_error("limits:\n  message_bytes: -5\n",
	            "2:18: limits.message_bytes: expected a non-negative integer");
	check_error("users: alice\n", "1:8: users: expected a list");
	check_error("auth: { required: maybe }\n", "1:19: auth.required: expected true or false");
	check_error("limits: 5\n", "1:9: limits: expected a mapping");
	check_error("limits:\n  quota_unit: bytes\n",
	            "2:15: limits.quota_unit: expected message or recipient-chunk");
	check_error("https:\n  auth: strict\n", "2:9: https.auth: expected off, present or verify");
	check_error("relay:\n  tls: [x]\n", "2:8: relay.tls: expected none, may or encrypt");
	check_error("log:\n  level: loud\n",
	            "2:10: log.level: expected debug, info, warn or error");
	check_error("hostname: [a, b]\n", "1:11: hostname: expected a string");
	check_error("suppressions:\n  - a@b.c\n  - [x]\n", "3:5: suppressions: expected a string");
}

static void test_error_consistency(void)
{
	check_error("limits:\n  line_bytes: 79\n", "2:3: limits.line_bytes: expected at least 80");
	check_error("tls:\n  cert: /etc/cert.pem\n",
	            "2:3: tls: give both cert and key, or neither");
	check_error("store: { path: null }\n", "1:8: store.path: expected a path or ':memory:'");
}

static void test_ses_section(void)
{
	struct config cfg;
	char *errors = NULL;

	CU_ASSERT_EQUAL_FATAL(load("ses.yaml",
	                           "ses:\n  region: eu-west-1\n  sandbox: true\n  sending: paused\n"
	                           "  identities: [a.example]\n  max_24h_send: -1\n",
	                           &cfg, &errors),
	                      0);
	CU_ASSERT_STRING_EQUAL(cfg.ses.region, "eu-west-1");
	CU_ASSERT_STRING_EQUAL(cfg.ses.account_id, "123456789012"); /* the default stays */
	CU_ASSERT_EQUAL(cfg.ses.sending, SES_SENDING_PAUSED);
	CU_ASSERT_EQUAL(config_ses_max_send_rate(&cfg.ses), 1); /* the sandbox's */
	CU_ASSERT_EQUAL(config_ses_max_24h_send(&cfg.ses), -1);
	CU_ASSERT_EQUAL(cfg.ses.nkeys, 1);
	config_free(&cfg);
	check_error("ses:\n  account_id: \"12345\"\n", "2:15: ses.account_id: expected 12 digits");
	check_error("ses:\n  sending: stopped\n",
	            "2:12: ses.sending: expected enabled, paused or suspended");
	check_error("ses:\n  max_send_rate: -3\n",
	            "2:18: ses.max_send_rate: expected a number from 0 to 1e+12");
	check_error("ses:\n  access_keys: [{id: A}]\n", "2:17: ses.access_keys[].secret");
	check_error("ses:\n  verification: {mode: later}\n",
	            "2:24: ses.verification.mode: expected instant, delayed or never");
	check_error("ses:\n  regoin: x\n", "2:3: unknown key 'regoin'");
}

static void test_error_yaml_syntax(void)
{
	check_error("limits:\n  recipients: 5\n bad indentation: 1\n", "3:2: YAML syntax error");
	check_error("hostname: \"unterminated\n", "");
	check_error("listen: { smtp: x\n", "2:1: YAML syntax error");
}

static void test_error_several(void)
{
	struct config cfg;
	char *errors = NULL;

	CU_ASSERT_EQUAL(
	    load("two.yaml", "limits:\n  recipients: x\nauth: { required: 2 }\n", &cfg, &errors),
	    -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(errors);
	CU_ASSERT_PTR_NOT_NULL(strstr(errors, ":2:15: limits.recipients"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errors, ":3:19: auth.required"));
	free(errors);
	config_free(&cfg);
}

static void test_error_missing_file(void)
{
	struct config cfg;
	char *errors = NULL, missing[160];

	snprintf(missing, sizeof missing, "%s/does-not-exist.yaml", tmpdir);
	CU_ASSERT_EQUAL(config_load(&cfg, missing, &errors), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(errors);
	CU_ASSERT_EQUAL(strncmp(errors, missing, strlen(missing)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(errors, "cannot open"));
	free(errors);
	config_free(&cfg);
}

static void test_set_string(void)
{
	char *slot = NULL;

	config_set_string(&slot, "a");
	CU_ASSERT_STRING_EQUAL(slot, "a");
	config_set_string(&slot, "bb");
	CU_ASSERT_STRING_EQUAL(slot, "bb");
	config_set_string(&slot, NULL);
	CU_ASSERT_PTR_NULL(slot);
}

/* ---- parse_duration ------------------------------------------------------------------ */

static void check_duration(const char *text, double want)
{
	double secs = -1;

	CU_ASSERT_EQUAL(parse_duration(text, &secs), 0);
	CU_ASSERT_DOUBLE_EQUAL(secs, want, 1e-9);
}

static void test_parse_duration(void)
{
	check_duration("500ms", 0.5);
	check_duration("60s", 60);
	check_duration("10m", 600);
	check_duration("1h", 3600);
	check_duration("3d", 259200);
	check_duration("42", 42);
	check_duration("1.5s", 1.5);
	check_duration("0", 0);
}

static void test_parse_duration_invalid(void)
{
	double secs = 123;

	CU_ASSERT_EQUAL(parse_duration(NULL, &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("-1s", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("abc", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("ms", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("5x", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("10 m", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("10M", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("1hour", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("5s ", &secs), -1);
	CU_ASSERT_DOUBLE_EQUAL(secs, 123, 0); /* untouched on failure */
}

static void test_parse_duration_non_finite(void)
{
	double secs = 123;

	/* not "a bare number of seconds": NaN or infinite timeouts */
	CU_ASSERT_EQUAL(parse_duration("nan", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("inf", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("infinity", &secs), -1);
	CU_ASSERT_EQUAL(parse_duration("1e999s", &secs), -1);
	CU_ASSERT_FALSE(isnan(secs));
}

int register_config_tests(void)
{
	static const struct unit_test tests[] = {
	    {"config_load(NULL) gives the defaults", test_defaults},
	    {"overrides", test_overrides},
	    {"empty mapping", test_empty_file},
	    {"users with approved_senders", test_users},
	    {"durations", test_durations},
	    {"error: unknown key names file:line:col", test_error_unknown_key},
	    {"error: bad duration names file:line:col", test_error_bad_duration},
	    {"error: wrong type names file:line:col", test_error_wrong_type},
	    {"error: inconsistent settings", test_error_consistency},
	    {"error: YAML syntax names file:line:col", test_error_yaml_syntax},
	    {"error: several reported at once", test_error_several},
	    {"the ses: section, its defaults and its errors", test_ses_section},
	    {"error: missing file", test_error_missing_file},
	    {"config_set_string", test_set_string},
	};
	static const struct unit_test durations[] = {
	    {"units", test_parse_duration},
	    {"invalid", test_parse_duration_invalid},
	    {"non-finite values", test_parse_duration_non_finite},
	};
	CU_pSuite suite = CU_add_suite("config", config_init, config_cleanup);

	if (suite == NULL)
		return -1;
	for (size_t i = 0; i < UNIT_COUNT(tests); i++)
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			return -1;
	return unit_add_suite("config: parse_duration", durations, UNIT_COUNT(durations));
}
