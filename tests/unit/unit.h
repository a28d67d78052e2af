/*
 * unit.h - the CUnit suites of edsim's unit tests.
 *
 * Every tests/unit/test_X.c exports register_X_tests(), which adds one or
 * more suites to the CUnit registry and returns 0, or -1 on a registry error.
 * main.c calls them all, runs the registry and cleans it up.
 */
#ifndef EDSIM_UNIT_H
#define EDSIM_UNIT_H

#include <CUnit/CUnit.h>
#include <stddef.h>

struct unit_test {
	const char *name;
	CU_TestFunc fn;
};

/* Adds a suite holding the n tests; 0 on success, -1 on a registry error. */
int unit_add_suite(const char *name, const struct unit_test *tests, size_t n);

#define UNIT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

int register_smtp_parse_tests(void);
int register_smtp_auth_tests(void);
int register_message_tests(void);
int register_catalog_tests(void);
int register_config_tests(void);
int register_policy_tests(void);
int register_oci_submit_tests(void);
int register_dkim_tests(void);
int register_resolver_tests(void);
int register_webhooks_tests(void);
int register_dsn_tests(void);
int register_conform_grade_tests(void);
int register_conform_report_tests(void);
int register_health_cmd_tests(void);
int register_jsonw_tests(void);
int register_scenario_engine_tests(void);
int register_ses_credentials_tests(void);
int register_sigv4_tests(void);
int register_ses_account_tests(void);
int register_retry_tests(void);
int register_store_tests(void);
int register_relay_hop_tests(void);
int register_ses_send_tests(void);

#endif
