/*
 * test_scenario_engine.c - the scenario engine's one decision
 * (engine_decide, sim/core/scenario_engine.c), as the SMTP session, the
 * HTTPS API and the relay each ask it: real scenario texts loaded against
 * the embedded OCI catalog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "scenario_engine.h"
#include "unit.h"

static struct catalog oci;

static int engine_suite_init(void)
{
	char *errors = NULL;
	int rc = catalog_load(&oci, "oci.yaml", embedded_catalog_oci_yaml,
	                      embedded_catalog_oci_yaml_len(), &errors);

	free(errors);
	return rc == 0 ? 0 : -1;
}

static int engine_suite_cleanup(void)
{
	catalog_free(&oci);
	return 0;
}

/* An engine running the scenario whose rules are `rules` (YAML list items). */
static struct engine *engine_with(const char *rules)
{
	char text[4096], *errors = NULL;
	struct scenario *sc;
	struct engine *e = engine_new();

	snprintf(text, sizeof text, "edsim: 1\nname: t\nprofile: oci\nrules:\n%s", rules);
	sc = scenario_load("t.yaml", text, strlen(text), &oci, &errors);
	if (sc == NULL)
		fprintf(stderr, "scenario refused: %s\n", errors ? errors : "?");
	free(errors);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
	engine_set(e, sc);
	return e;
}

static struct verdict decide(struct engine *e, enum scenario_stage stage)
{
	struct hook_ctx ctx = {.stage = stage, .connection = 1, .command = 1, .attempt = 1};

	return engine_decide(e, &ctx, NULL);
}

static void test_no_scenario_is_native(void)
{
	struct engine *e = engine_new();
	struct verdict v = decide(e, STAGE_MAIL);

	CU_ASSERT_EQUAL(v.kind, V_NATIVE);
	CU_ASSERT_PTR_NULL(v.rule);
	engine_free(e);
}

static void test_other_stage_is_native(void)
{
	struct engine *e = engine_with("  - when: { stage: rcpt }\n"
	                               "    do: { reply: oci.smtp.rate-minute }\n");

	CU_ASSERT_EQUAL(decide(e, STAGE_MAIL).kind, V_NATIVE);
	CU_ASSERT_EQUAL(decide(e, STAGE_RCPT).kind, V_REPLY);
	engine_free(e);
}

static void test_catalog_reply_has_its_code_and_label(void)
{
	struct engine *e = engine_with("  - when: { stage: auth }\n"
	                               "    do: { reply: oci.smtp.auth-invalid }\n");
	struct verdict v = decide(e, STAGE_AUTH);

	CU_ASSERT_EQUAL(v.kind, V_REPLY);
	CU_ASSERT_EQUAL(v.code, 535);
	CU_ASSERT_PTR_NOT_NULL(v.rule);
	CU_ASSERT_STRING_EQUAL(v.label, "rule 1 (line 5)");
	engine_free(e);
}

static void test_literal_reply_code(void)
{
	struct engine *e = engine_with("  - when: { stage: mail }\n"
	                               "    do: { reply: \"451 4.3.0 try later\" }\n");

	CU_ASSERT_EQUAL(decide(e, STAGE_MAIL).code, 451);
	engine_free(e);
}

static void test_delay_waits_then_the_held_rule_acts(void)
{
	struct engine *e = engine_with("  - when: { stage: mail, times: 1 }\n"
	                               "    do: { delay: 2s, reply: oci.smtp.rate-minute }\n");
	struct hook_ctx ctx = {.stage = STAGE_MAIL, .connection = 1, .command = 1};
	struct verdict v = engine_decide(e, &ctx, NULL), after;

	CU_ASSERT_EQUAL(v.kind, V_WAIT);
	CU_ASSERT_DOUBLE_EQUAL(v.delay, 2.0, 1e-9);
	/* the wait is over: the held rule acts without matching again (times: 1
	 * is used up) and without waiting */
	after = engine_decide(e, &ctx, v.rule);
	CU_ASSERT_EQUAL(after.kind, V_REPLY);
	CU_ASSERT_EQUAL(after.code, 455);
	CU_ASSERT_PTR_EQUAL(after.rule, v.rule);
	CU_ASSERT_EQUAL(decide(e, STAGE_MAIL).kind, V_NATIVE);
	engine_free(e);
}

static void test_drop_accept_pass(void)
{
	struct engine *e = engine_with("  - when: { stage: data }\n"
	                               "    do: { drop: true }\n"
	                               "  - when: { stage: rcpt }\n"
	                               "    do: { accept: true }\n"
	                               "  - when: { stage: ehlo }\n"
	                               "    do: { set: { limits: { recipients: 3 } } }\n");

	CU_ASSERT_EQUAL(decide(e, STAGE_DATA).kind, V_DROP);
	CU_ASSERT_EQUAL(decide(e, STAGE_RCPT).kind, V_ACCEPT);
	CU_ASSERT_EQUAL(decide(e, STAGE_EHLO).kind, V_PASS);
	engine_free(e);
}

static void test_first_rule_in_file_order_and_times(void)
{
	struct engine *e = engine_with("  - when: { stage: mail, times: 2 }\n"
	                               "    do: { reply: oci.smtp.rate-minute }\n"
	                               "  - when: { stage: mail }\n"
	                               "    do: { reply: oci.smtp.rate-day }\n");

	CU_ASSERT_EQUAL(decide(e, STAGE_MAIL).code, 455);
	CU_ASSERT_EQUAL(decide(e, STAGE_MAIL).code, 455);
	/* the first rule has fired twice: the second one answers from now on */
	CU_ASSERT_STRING_EQUAL(decide(e, STAGE_MAIL).label, "rule 2 (line 7)");
	engine_reset(e);
	CU_ASSERT_STRING_EQUAL(decide(e, STAGE_MAIL).label, "rule 1 (line 5)");
	engine_free(e);
}

static void test_counter_matchers(void)
{
	struct engine *e = engine_with("  - when: { stage: mail, connection: 2 }\n"
	                               "    do: { reply: oci.smtp.rate-minute }\n");
	struct hook_ctx first = {.stage = STAGE_MAIL, .connection = 1};
	struct hook_ctx second = {.stage = STAGE_MAIL, .connection = 2};

	CU_ASSERT_EQUAL(engine_decide(e, &first, NULL).kind, V_NATIVE);
	CU_ASSERT_EQUAL(engine_decide(e, &second, NULL).kind, V_REPLY);
	engine_free(e);
}

static void test_https_status(void)
{
	struct engine *e =
	    engine_with("  - when: { stage: request }\n"
	                "    do: { status: 503, code: ServiceUnavailable, message: \"later\" }\n"
	                "  - when: { stage: submit }\n"
	                "    do: { reply: oci.https.too-many-requests }\n");

	CU_ASSERT_EQUAL(decide(e, STAGE_REQUEST).code, 503);
	CU_ASSERT_EQUAL(decide(e, STAGE_SUBMIT).code, 429);
	engine_free(e);
}

static void test_relay_downstream(void)
{
	struct engine *e = engine_with("  - when: { stage: relay, attempt: 1 }\n"
	                               "    do: { downstream: drop }\n"
	                               "  - when: { stage: relay, attempt: 2 }\n"
	                               "    do: { downstream: \"550 5.1.1 User unknown\" }\n");
	struct hook_ctx ctx = {.stage = STAGE_RELAY, .attempt = 1};

	CU_ASSERT_EQUAL(engine_decide(e, &ctx, NULL).kind, V_DROP);
	ctx.attempt = 2;
	struct verdict v = engine_decide(e, &ctx, NULL);
	CU_ASSERT_EQUAL(v.kind, V_REPLY);
	CU_ASSERT_EQUAL(v.code, 550);
	ctx.attempt = 3;
	CU_ASSERT_EQUAL(engine_decide(e, &ctx, NULL).kind, V_NATIVE);
	engine_free(e);
}

int register_scenario_engine_tests(void)
{
	static const struct unit_test tests[] = {
	    {"no scenario: native", test_no_scenario_is_native},
	    {"a rule of another stage: native", test_other_stage_is_native},
	    {"a catalog reply: its code and the rule's label",
	     test_catalog_reply_has_its_code_and_label},
	    {"a literal reply's code", test_literal_reply_code},
	    {"a delay waits, then the held rule acts", test_delay_waits_then_the_held_rule_acts},
	    {"drop, accept, a rule that only sets", test_drop_accept_pass},
	    {"the first rule in file order; times; reset", test_first_rule_in_file_order_and_times},
	    {"counter matchers", test_counter_matchers},
	    {"HTTPS: literal status and catalog status", test_https_status},
	    {"relay: downstream drop and reply", test_relay_downstream},
	};
	CU_pSuite suite =
	    CU_add_suite("scenario engine: the decision", engine_suite_init, engine_suite_cleanup);

	if (suite == NULL)
		return -1;
	for (size_t i = 0; i < UNIT_COUNT(tests); i++)
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			return -1;
	return 0;
}
