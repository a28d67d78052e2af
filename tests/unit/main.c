/*
 * main.c - CUnit runner for edsim's unit tests (basic interface, verbose).
 *
 * Exit status: 0 when every test passed, 1 when an assertion failed or the
 * CUnit registry reported an error. The registry is always cleaned up so that
 * ASan's leak check sees no CUnit allocations.
 */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "unit.h"

int unit_add_suite(const char *name, const struct unit_test *tests, size_t n)
{
	CU_pSuite suite = CU_add_suite(name, NULL, NULL);

	if (suite == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			return -1;
	return 0;
}

int main(void)
{
	static int (*const registers[])(void) = {
	    register_smtp_parse_tests,
	    register_smtp_auth_tests,
	    register_message_tests,
	    register_catalog_tests,
	    register_config_tests,
	    register_policy_tests,
	    register_oci_submit_tests,
	    register_dkim_tests,
	    register_resolver_tests,
	    register_webhooks_tests,
	    register_dsn_tests,
	    register_conform_report_tests,
	    register_conform_grade_tests,
	    register_health_cmd_tests,
	    register_jsonw_tests,
	    register_retry_tests,
	    register_store_tests,
	    register_scenario_engine_tests,
	    register_ses_credentials_tests,
	    register_sigv4_tests,
	    register_ses_account_tests,
	    register_relay_hop_tests,
	    register_ses_send_tests,
	};
	unsigned int failures;
	CU_ErrorCode err;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "unit-tests: cannot initialise CUnit: %s\n", CU_get_error_msg());
		return 1;
	}
	for (size_t i = 0; i < UNIT_COUNT(registers); i++) {
		if (registers[i]() != 0 || CU_get_error() != CUE_SUCCESS) {
			fprintf(stderr, "unit-tests: cannot register tests: %s\n",
			        CU_get_error_msg());
			CU_cleanup_registry();
			return 1;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	err = CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	if (err == CUE_SUCCESS)
		err = CU_get_error();
	if (err != CUE_SUCCESS)
		fprintf(stderr, "unit-tests: CUnit error: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	return (failures > 0 || err != CUE_SUCCESS) ? 1 : 0;
}
