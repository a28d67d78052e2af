/*
 * test_health_cmd.c - `edsim health`'s flags, the ready file's control
 * port and the judgement of a health answer (sim/health_cmd.c).
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "health_cmd.h"
#include "unit.h"

/* Parses a NULL-terminated list of flags after "health"; the return code. */
static int parse(struct health_opts *o, char *err, size_t errlen, const char *const *flags)
{
	char *argv[16] = {"health"};
	int argc = 1;

	while (flags[argc - 1] != NULL && argc < 15) {
		argv[argc] = (char *)flags[argc - 1];
		argc++;
	}
	return health_parse_args(argc, argv, o, err, errlen);
}

static void test_flags_none(void)
{
	struct health_opts o;
	char err[256];

	CU_ASSERT_EQUAL(parse(&o, err, sizeof err, (const char *const[]){NULL}), 0);
	CU_ASSERT_PTR_NULL(o.control);
	CU_ASSERT_PTR_NULL(o.state_dir);
	CU_ASSERT_EQUAL(o.wait, 0.0);
	CU_ASSERT_EQUAL(o.quiet, 0);
}

static void test_flags_all(void)
{
	struct health_opts o;
	char err[256];

	CU_ASSERT_EQUAL(
	    parse(&o, err, sizeof err,
	          (const char *const[]){"--control", "[::1]:8025", "--state-dir", "var", "--config",
	                                "e.yaml", "--wait", "1500ms", "-q", NULL}),
	    0);
	CU_ASSERT_STRING_EQUAL(o.control, "[::1]:8025");
	CU_ASSERT_STRING_EQUAL(o.state_dir, "var");
	CU_ASSERT_STRING_EQUAL(o.config, "e.yaml");
	CU_ASSERT_DOUBLE_EQUAL(o.wait, 1.5, 1e-9);
	CU_ASSERT_STRING_EQUAL(o.wait_text, "1500ms");
	CU_ASSERT_EQUAL(o.quiet, 1);
}

static void test_flags_bad(void)
{
	struct health_opts o;
	char err[256];

	CU_ASSERT_EQUAL(parse(&o, err, sizeof err, (const char *const[]){"--nope", NULL}), -1);
	CU_ASSERT_STRING_EQUAL(err, "unknown argument '--nope'");
	CU_ASSERT_EQUAL(parse(&o, err, sizeof err, (const char *const[]){"--wait", NULL}), -1);
	CU_ASSERT_STRING_EQUAL(err, "--wait needs a value");
	CU_ASSERT_EQUAL(parse(&o, err, sizeof err, (const char *const[]){"--wait", "-1s", NULL}),
	                -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--wait: expected a duration"));
	CU_ASSERT_EQUAL(
	    parse(&o, err, sizeof err, (const char *const[]){"--control", "localhost", NULL}), -1);
	CU_ASSERT_EQUAL(
	    parse(&o, err, sizeof err, (const char *const[]){"--control", "127.0.0.1:0", NULL}),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--control: expected HOST:PORT"));
}

static void test_ready_control(void)
{
	CU_ASSERT_EQUAL(health_ready_control("{\"pid\": 7, \"smtp\": 2525, \"smtps\": 2465, "
	                                     "\"https\": 0, \"control\": 8025}\n"),
	                8025);
	CU_ASSERT_EQUAL(health_ready_control("{\"pid\": 7, \"control\": 0}"), -1);
	CU_ASSERT_EQUAL(health_ready_control("{\"pid\": 7}"), -1);
	CU_ASSERT_EQUAL(health_ready_control("{\"control\": \"8025\"}"), -1);
	CU_ASSERT_EQUAL(health_ready_control("{\"control\": 70000}"), -1);
	CU_ASSERT_EQUAL(health_ready_control("{\"contr"), -1);
	CU_ASSERT_EQUAL(health_ready_control(""), -1);
}

static void test_judge(void)
{
	char reason[256] = "";

	CU_ASSERT_EQUAL(
	    health_judge(200, "{\"status\": \"ok\", \"draining\": false}", reason, sizeof reason),
	    0);
	CU_ASSERT_EQUAL(health_judge(200, "{\"status\": \"draining\", \"draining\": true}", reason,
	                             sizeof reason),
	                -1);
	CU_ASSERT_STRING_EQUAL(reason, "draining (edsim is shutting down)");
	CU_ASSERT_EQUAL(health_judge(404, "{\"code\": \"NotFound\"}", reason, sizeof reason), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(reason, "answered HTTP 404"));
	CU_ASSERT_EQUAL(health_judge(200, "<html>", reason, sizeof reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "the answer is not an edsim health report");
	CU_ASSERT_EQUAL(health_judge(200, NULL, reason, sizeof reason), -1);
	CU_ASSERT_EQUAL(health_judge(200, "{\"status\": \"starting\"}", reason, sizeof reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "status 'starting'");
}

int register_health_cmd_tests(void)
{
	static const struct unit_test tests[] = {
	    {"no flags: one try at the configuration's address", test_flags_none},
	    {"every flag", test_flags_all},
	    {"bad flags are refused with the reason", test_flags_bad},
	    {"the control port of a ready file", test_ready_control},
	    {"a health answer: ok, draining, not edsim", test_judge},
	};

	return unit_add_suite("health_cmd", tests, UNIT_COUNT(tests));
}
