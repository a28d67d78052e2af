/*
 * test_catalog.c - loading the condition catalog, filling its templates, and
 * the embedded OCI catalog against the table in DESIGN.md (sim/catalog.c).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "embedded.h"
#include "unit.h"

static int load_text(struct catalog *c, const char *text, char **errors)
{
	return catalog_load(c, "t.yaml", (const unsigned char *)text, strlen(text), errors);
}

/* ---- catalog_load -------------------------------------------------------------- */

static void test_load_valid(void)
{
	static const char yaml[] = "profile: test\n"
	                           "conditions:\n"
	                           "  - id: t.smtp.one\n"
	                           "    protocol: smtp\n"
	                           "    stage: mail\n"
	                           "    code: 451\n"
	                           "    enhanced: \"4.3.0\"\n"
	                           "    text: \"Hello {user}\"\n"
	                           "    kind: transient\n"
	                           "    closes: true\n"
	                           "    source: inferred\n"
	                           "  - id: t.smtp.two\n"
	                           "    protocol: smtp\n"
	                           "    code: 503\n"
	                           "    enhanced: null\n"
	                           "    text: Plain text\n"
	                           "  - id: t.https.one\n"
	                           "    protocol: https\n"
	                           "    status: 400\n"
	                           "    error_code: InvalidParameter\n"
	                           "    message: \"Bad {thing}\"\n";
	struct catalog c;
	const struct cat_entry *e;
	char *errors = (char *)"not reset";

	CU_ASSERT_EQUAL_FATAL(load_text(&c, yaml, &errors), 0);
	CU_ASSERT_PTR_NULL(errors);
	CU_ASSERT_EQUAL(c.n, 3);
	CU_ASSERT_STRING_EQUAL(c.profile, "test");

	e = catalog_find(&c, "t.smtp.one");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->protocol, CAT_SMTP);
	CU_ASSERT_EQUAL(e->code, 451);
	CU_ASSERT_STRING_EQUAL(e->enhanced, "4.3.0");
	CU_ASSERT_STRING_EQUAL(e->text, "Hello {user}");
	CU_ASSERT_STRING_EQUAL(e->stage, "mail");
	CU_ASSERT_STRING_EQUAL(e->kind, "transient");
	CU_ASSERT_STRING_EQUAL(e->source, "inferred");
	CU_ASSERT_EQUAL(e->closes, 1);

	e = catalog_find(&c, "t.smtp.two");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->code, 503);
	CU_ASSERT_PTR_NULL(e->enhanced);
	CU_ASSERT_STRING_EQUAL(e->text, "Plain text");
	CU_ASSERT_EQUAL(e->closes, 0);
	CU_ASSERT_PTR_NULL(e->stage);

	e = catalog_find(&c, "t.https.one");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->protocol, CAT_HTTPS);
	CU_ASSERT_EQUAL(e->status, 400);
	CU_ASSERT_STRING_EQUAL(e->error_code, "InvalidParameter");
	CU_ASSERT_STRING_EQUAL(e->message, "Bad {thing}");

	CU_ASSERT_PTR_NULL(catalog_find(&c, "t.smtp.three"));
	catalog_free(&c);
	CU_ASSERT_EQUAL(c.n, 0);
	CU_ASSERT_PTR_NULL(c.entries);
}

/* Loads yaml expecting failure; checks that want is among the error lines. */
static void check_load_error(const char *yaml, const char *want)
{
	struct catalog c;
	char *errors = NULL;

	CU_ASSERT_EQUAL(load_text(&c, yaml, &errors), -1);
	CU_ASSERT_EQUAL(c.n, 0);
	CU_ASSERT_PTR_NULL(c.entries);
	CU_ASSERT_PTR_NOT_NULL_FATAL(errors);
	if (strstr(errors, want) == NULL)
		fprintf(stderr, "\n    expected error \"%s\" in:\n%s", want, errors);
	CU_ASSERT_PTR_NOT_NULL(strstr(errors, want));
	free(errors);
	catalog_free(&c);
}

static void test_load_duplicate_id(void)
{
	check_load_error("profile: test\n"
	                 "conditions:\n"
	                 "  - id: t.smtp.one\n"
	                 "    protocol: smtp\n"
	                 "    code: 451\n"
	                 "    text: first\n"
	                 "  - id: t.smtp.one\n"
	                 "    protocol: smtp\n"
	                 "    code: 452\n"
	                 "    text: second\n",
	                 "t.yaml:7:5: duplicate id 't.smtp.one'");
}

static void test_load_missing_text(void)
{
	check_load_error("profile: test\n"
	                 "conditions:\n"
	                 "  - id: t.smtp.notext\n"
	                 "    protocol: smtp\n"
	                 "    code: 451\n",
	                 "t.yaml:3:5: SMTP condition t.smtp.notext: missing 'text'");
}

static void test_load_unknown_key(void)
{
	check_load_error("profile: test\n"
	                 "conditions:\n"
	                 "  - id: t.smtp.one\n"
	                 "    protocol: smtp\n"
	                 "    code: 451\n"
	                 "    text: first\n"
	                 "    colour: red\n",
	                 "t.yaml:7:5: unknown key 'colour'");
	check_load_error("profile: test\nproviders: []\nconditions: []\n",
	                 "t.yaml:2:1: unknown key 'providers'");
	check_load_error("conditions: []\n",
	                 "t.yaml:1:1: missing 'profile' (the profile these conditions belong to)");
	check_load_error("profile: [a]\nconditions: []\n",
	                 "t.yaml:1:10: profile: expected a string");
}

static void test_load_other_errors(void)
{
	check_load_error("profile: test\n"
	                 "conditions:\n"
	                 "  - id: t.smtp.one\n"
	                 "    protocol: smtp\n"
	                 "    code: 45\n"
	                 "    text: x\n",
	                 "t.yaml:5:11: code: expected a value from 200 to 599");
	check_load_error("profile: test\n"
	                 "conditions:\n"
	                 "  - id: t.x\n"
	                 "    protocol: ftp\n",
	                 "t.yaml:4:15: protocol: expected smtp or https");
	check_load_error("profile: test\n"
	                 "conditions:\n"
	                 "  - protocol: smtp\n"
	                 "    code: 250\n"
	                 "    text: x\n",
	                 "t.yaml:3:5: id: expected a string");
	check_load_error("profile: test\nconditions: nope\n",
	                 "t.yaml:2:13: conditions: expected a list of conditions");
	check_load_error("profile: test\nconditions: [\n", "t.yaml:");
	check_load_error("", "t.yaml:1:1:");
}

/* ---- catalog_fill / catalog_smtp_line ------------------------------------------ */

static const struct cat_var vars[] = {
    {"user", "U"},
    {"recipient", "R"},
    {"limit", "10"},
    {"empty", NULL},
};

static void test_fill_placeholders(void)
{
	char out[128];

	CU_ASSERT_EQUAL(
	    catalog_fill("Suppression for user {user} to {recipient}", vars, 4, out, sizeof out),
	    strlen("Suppression for user U to R"));
	CU_ASSERT_STRING_EQUAL(out, "Suppression for user U to R");
	catalog_fill("{limit}{limit} and {user}", vars, 4, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "1010 and U");
	catalog_fill("[{empty}]", vars, 4, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "[]");
	catalog_fill("no placeholders", NULL, 0, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "no placeholders");
	catalog_fill("", vars, 4, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_fill_unknown_kept(void)
{
	char out[128];

	catalog_fill("{unknown} and {user}", vars, 4, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "{unknown} and U");
	catalog_fill("open { brace {user", vars, 4, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "open { brace {user");
	catalog_fill("{} {USER} {user }", vars, 4, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "{} {USER} {user }");
	catalog_fill("{user}", NULL, 0, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, "{user}");
}

static void test_fill_truncation(void)
{
	static const struct cat_var longv[] = {{"v", "0123456789"}};
	char out[8];

	memset(out, 'z', sizeof out);
	CU_ASSERT_EQUAL(catalog_fill("abcdefghijkl", NULL, 0, out, sizeof out), 7);
	CU_ASSERT_STRING_EQUAL(out, "abcdefg");
	CU_ASSERT_EQUAL(catalog_fill("ab{v}", longv, 1, out, sizeof out), 7);
	CU_ASSERT_STRING_EQUAL(out, "ab01234");
	CU_ASSERT_EQUAL(catalog_fill("{v}xyz", longv, 1, out, sizeof out), 7);
	CU_ASSERT_STRING_EQUAL(out, "0123456");
	CU_ASSERT_EQUAL(catalog_fill("abc", NULL, 0, out, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	out[0] = 'q';
	CU_ASSERT_EQUAL(catalog_fill("abc", NULL, 0, out, 0), 0);
	CU_ASSERT_EQUAL(out[0], 'q'); /* nothing written */
}

static void test_smtp_line(void)
{
	struct cat_entry with = {0}, without = {0};
	char out[128];

	with.id = (char *)"t.with";
	with.code = 254;
	with.enhanced = (char *)"4.7.1";
	with.text = (char *)"Suppression for user {user} to {recipient}";
	without.id = (char *)"t.without";
	without.code = 503;
	without.text = (char *)"Need RCPT command";

	CU_ASSERT_EQUAL(catalog_smtp_line(&with, vars, 4, out, sizeof out),
	                strlen("254 4.7.1 Suppression for user U to R"));
	CU_ASSERT_STRING_EQUAL(out, "254 4.7.1 Suppression for user U to R");
	CU_ASSERT_EQUAL(catalog_smtp_line(&without, NULL, 0, out, sizeof out),
	                strlen("503 Need RCPT command"));
	CU_ASSERT_STRING_EQUAL(out, "503 Need RCPT command");
	/* truncated inside the text */
	CU_ASSERT_EQUAL(catalog_smtp_line(&without, NULL, 0, out, 9), 8);
	CU_ASSERT_STRING_EQUAL(out, "503 Need");
}

/* ---- the embedded OCI catalog --------------------------------------------------- */

static struct catalog oci;
static int oci_loaded;

static int oci_init(void)
{
	char *errors = NULL;

	oci_loaded = catalog_load(&oci, "oci.yaml", embedded_catalog_oci_yaml,
	                          embedded_catalog_oci_yaml_len(), &errors) == 0;
	if (!oci_loaded)
		fprintf(stderr, "embedded catalog: %s", errors ? errors : "?");
	free(errors);
	return 0;
}

static int oci_cleanup(void)
{
	catalog_free(&oci);
	return 0;
}

static void oci_line(const char *id, const struct cat_var *v, size_t nv, const char *want)
{
	const struct cat_entry *e = catalog_find(&oci, id);
	char out[512];

	if (e == NULL)
		fprintf(stderr, "\n    missing catalog id %s\n", id);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->protocol, CAT_SMTP);
	catalog_smtp_line(e, v, nv, out, sizeof out);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "\n    %s: got \"%s\", want \"%s\"\n", id, out, want);
	CU_ASSERT_STRING_EQUAL(out, want);
}

static void test_oci_loads(void)
{
	CU_ASSERT_TRUE_FATAL(oci_loaded);
	CU_ASSERT_TRUE(oci.n > 40);
	for (size_t i = 0; i < oci.n; i++) {
		const struct cat_entry *e = &oci.entries[i];
		CU_ASSERT_PTR_NOT_NULL(e->id);
		CU_ASSERT_PTR_NOT_NULL(e->kind);
		CU_ASSERT_PTR_NOT_NULL(e->source);
		if (e->source != NULL)
			CU_ASSERT_TRUE(strcmp(e->source, "documented") == 0 ||
			               strcmp(e->source, "inferred") == 0);
		if (e->protocol == CAT_SMTP) {
			CU_ASSERT_EQUAL(strncmp(e->id, "oci.smtp.", 9), 0);
			CU_ASSERT_PTR_NOT_NULL(e->text);
		} else {
			CU_ASSERT_EQUAL(strncmp(e->id, "oci.https.", 10), 0);
		}
	}
}

static void test_oci_sample_lines(void)
{
	static const struct cat_var limit[] = {{"limit", "10"}};
	static const struct cat_var supp[] = {{"user", "U"}, {"recipient", "R"}};

	CU_ASSERT_TRUE_FATAL(oci_loaded);
	oci_line("oci.smtp.rate-minute", limit, 1,
	         "455 Maximum messages sent per minute reached : limit is 10");
	oci_line("oci.smtp.suppressed", supp, 2, "254 4.7.1 Suppression for user U to R");
	oci_line("oci.smtp.need-rcpt", NULL, 0, "503 Need RCPT command");
}

/* The OCI SMTP table of DESIGN.md (/work/shared/DESIGN.md), with its <...>
 * placeholders filled in as the session fills them. */
static void test_oci_design_table(void)
{
	static const struct {
		const char *id;
		const char *line;
	} table[] = {
	    {"suppressed", "254 4.7.1 Suppression for user ocid1.user.oc1..u to r@example.com"},
	    {"timeout", "421 Timeout waiting for data from client"},
	    {"exec-problem",
	     "421 4.4.0 Problem attempting to execute commands. Please try again later"},
	    {"too-many-connections", "421 Too many connections, try again later"},
	    {"too-many-auth-failures", "421 Too many auth failures, try again later"},
	    {"mail-system-failure", "421 4.3.0 Mail system failure, closing transmission channel"},
	    {"server-error", "451 Server error"},
	    {"processing-error", "451 Error in Processing"},
	    {"storage-error", "452 System storage error"},
	    {"rate-minute", "455 Maximum messages sent per minute reached : limit is 10"},
	    {"rate-day", "455 Maximum messages sent per day reached : limit is 200"},
	    {"auth-bad-base64", "501 Invalid command argument, not a valid Base64 string"},
	    {"auth-no-nul", "501 Invalid command argument, does not contain NUL"},
	    {"auth-no-second-nul", "501 Invalid command argument, does not contain the second NUL"},
	    {"need-rcpt", "503 Need RCPT command"},
	    {"auth-method-unsupported", "504 Method not supported"},
	    {"auth-mechanism-mismatch", "504 AUTH mechanism mismatch"},
	    {"size-exceeded", "552 Exceeds byte limit"},
	    {"auth-invalid", "535 Authentication credentials invalid"},
	    {"auth-required", "535 Authentication required"},
	    {"sender-not-authorized",
	     "535 Authorization failed: address s@example.com not authorized"},
	    {"invalid-address", "553 <bad@@x> Invalid email address"},
	    {"parse-error", "554 Message parse error"},
	};
	char id[64];

	CU_ASSERT_TRUE_FATAL(oci_loaded);
	for (size_t i = 0; i < UNIT_COUNT(table); i++) {
		const char *address =
		    strcmp(table[i].id, "invalid-address") == 0 ? "<bad@@x>" : "s@example.com";
		const char *lim = strcmp(table[i].id, "rate-day") == 0 ? "200" : "10";
		const struct cat_var v[] = {{"user", "ocid1.user.oc1..u"},
		                            {"recipient", "r@example.com"},
		                            {"limit", lim},
		                            {"address", address}};
		snprintf(id, sizeof id, "oci.smtp.%s", table[i].id);
		oci_line(id, v, UNIT_COUNT(v), table[i].line);
	}
}

static void test_oci_entry_fields(void)
{
	const struct cat_entry *e;

	CU_ASSERT_TRUE_FATAL(oci_loaded);
	e = catalog_find(&oci, "oci.smtp.timeout");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->closes, 1);
	CU_ASSERT_STRING_EQUAL(e->kind, "transient");
	CU_ASSERT_STRING_EQUAL(e->source, "documented");
	e = catalog_find(&oci, "oci.smtp.need-rcpt");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->closes, 0);
	CU_ASSERT_STRING_EQUAL(e->kind, "permanent");
	e = catalog_find(&oci, "oci.https.missing-subject");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->protocol, CAT_HTTPS);
	CU_ASSERT_EQUAL(e->status, 400);
	CU_ASSERT_STRING_EQUAL(e->error_code, "MissingParameter");
	CU_ASSERT_STRING_EQUAL(e->message, "Required attribute subject can't be empty or null.");
}

int register_catalog_tests(void)
{
	static const struct unit_test load[] = {
	    {"valid catalog", test_load_valid},
	    {"duplicate id names line:column", test_load_duplicate_id},
	    {"SMTP condition without text", test_load_missing_text},
	    {"unknown key", test_load_unknown_key},
	    {"other located errors", test_load_other_errors},
	};
	static const struct unit_test fill[] = {
	    {"placeholders filled", test_fill_placeholders},
	    {"unknown placeholders kept", test_fill_unknown_kept},
	    {"truncation at outlen", test_fill_truncation},
	    {"catalog_smtp_line with and without enhanced code", test_smtp_line},
	};
	static const struct unit_test embedded[] = {
	    {"loads and is well-formed", test_oci_loads},
	    {"sample lines", test_oci_sample_lines},
	    {"every row of the DESIGN.md OCI SMTP table", test_oci_design_table},
	    {"entry fields", test_oci_entry_fields},
	};
	CU_pSuite suite;

	if (unit_add_suite("catalog: catalog_load", load, UNIT_COUNT(load)) < 0 ||
	    unit_add_suite("catalog: templates", fill, UNIT_COUNT(fill)) < 0)
		return -1;
	suite = CU_add_suite("catalog: embedded OCI catalog", oci_init, oci_cleanup);
	if (suite == NULL)
		return -1;
	for (size_t i = 0; i < UNIT_COUNT(embedded); i++)
		if (CU_add_test(suite, embedded[i].name, embedded[i].fn) == NULL)
			return -1;
	return 0;
}
