/*
 * test_smtp_parse.c - SMTP command lines, paths, MAIL/RCPT parameters and
 * RFC 5321 mailbox syntax (sim/smtp_parse.c).
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "smtp_parse.h"
#include "unit.h"

/* ---- commands -------------------------------------------------------------- */

static void check_command(const char *line, enum smtp_verb verb, const char *arg)
{
	struct smtp_command cmd;

	smtp_parse_command(line, &cmd);
	CU_ASSERT_EQUAL(cmd.verb, verb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cmd.arg);
	CU_ASSERT_STRING_EQUAL(cmd.arg, arg);
}

static void test_command_verbs(void)
{
	check_command("EHLO client.example.com", VERB_EHLO, "client.example.com");
	check_command("HELO client", VERB_HELO, "client");
	check_command("STARTTLS", VERB_STARTTLS, "");
	check_command("AUTH PLAIN AHVzZXIAcGFzcw==", VERB_AUTH, "PLAIN AHVzZXIAcGFzcw==");
	check_command("MAIL FROM:<a@b.c>", VERB_MAIL, "FROM:<a@b.c>");
	check_command("RCPT TO:<a@b.c>", VERB_RCPT, "TO:<a@b.c>");
	check_command("DATA", VERB_DATA, "");
	check_command("RSET", VERB_RSET, "");
	check_command("NOOP", VERB_NOOP, "");
	check_command("QUIT", VERB_QUIT, "");
	check_command("VRFY postmaster", VERB_VRFY, "postmaster");
	check_command("EXPN list", VERB_EXPN, "list");
	check_command("HELP", VERB_HELP, "");
}

static void test_command_case_insensitive(void)
{
	check_command("ehlo x", VERB_EHLO, "x");
	check_command("Mail FROM:<a@b.c>", VERB_MAIL, "FROM:<a@b.c>");
	check_command("rCpT TO:<a@b.c>", VERB_RCPT, "TO:<a@b.c>");
	check_command("quit", VERB_QUIT, "");
	check_command("StartTLS", VERB_STARTTLS, "");
}

static void test_command_args(void)
{
	/* several spaces after the verb are skipped; the rest is kept verbatim */
	check_command("EHLO    spaced.example  ", VERB_EHLO, "spaced.example  ");
	check_command("NOOP ", VERB_NOOP, "");
	check_command("MAIL FROM: <a@b.c> SIZE=10", VERB_MAIL, "FROM: <a@b.c> SIZE=10");
}

static void test_command_unknown(void)
{
	check_command("XYZZY magic", VERB_UNKNOWN, "magic");
	check_command("", VERB_UNKNOWN, "");
	check_command("EHLOX host", VERB_UNKNOWN, "host"); /* a verb prefix is not the verb */
	check_command("EHL host", VERB_UNKNOWN, "host");
	check_command("BDAT 100 LAST", VERB_UNKNOWN, "100 LAST");
	check_command("MAIL:FROM:<a@b.c>", VERB_UNKNOWN, "");
}

static void test_verb_names(void)
{
	CU_ASSERT_STRING_EQUAL(smtp_verb_name(VERB_EHLO), "EHLO");
	CU_ASSERT_STRING_EQUAL(smtp_verb_name(VERB_MAIL), "MAIL");
	CU_ASSERT_STRING_EQUAL(smtp_verb_name(VERB_STARTTLS), "STARTTLS");
	CU_ASSERT_STRING_EQUAL(smtp_verb_name(VERB_HELP), "HELP");
	CU_ASSERT_STRING_EQUAL(smtp_verb_name(VERB_UNKNOWN), "UNKNOWN");
}

/* ---- paths ----------------------------------------------------------------- */

static void check_path(const char *arg, const char *prefix, enum path_result want,
                       const char *addr_want, const char *params_want)
{
	char addr[256] = "untouched";
	const char *params = NULL;

	CU_ASSERT_EQUAL(smtp_parse_path(arg, prefix, addr, sizeof addr, &params), want);
	if (want == PATH_SYNTAX)
		return;
	CU_ASSERT_STRING_EQUAL(addr, addr_want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(params);
	CU_ASSERT_STRING_EQUAL(params, params_want);
}

static void test_path_brackets(void)
{
	check_path("FROM:<a@b.c>", "FROM:", PATH_OK, "a@b.c", "");
	check_path("TO:<first.last@example.com>", "TO:", PATH_OK, "first.last@example.com", "");
	check_path("FROM:<>", "FROM:", PATH_OK, "", ""); /* null reverse-path */
	check_path("from:<a@b.c>", "FROM:", PATH_OK, "a@b.c", "");
	check_path("To:<a@b.c>", "TO:", PATH_OK, "a@b.c", "");
}

static void test_path_without_brackets(void)
{
	check_path("FROM:a@b.c", "FROM:", PATH_OK, "a@b.c", "");
	check_path("TO:a@b.c", "TO:", PATH_OK, "a@b.c", "");
	check_path("FROM:a@b.c SIZE=100", "FROM:", PATH_OK, "a@b.c", "SIZE=100");
}

static void test_path_space_after_colon(void)
{
	check_path("FROM: <a@b.c>", "FROM:", PATH_OK, "a@b.c", "");
	check_path("FROM:   <a@b.c>", "FROM:", PATH_OK, "a@b.c", "");
	check_path("FROM: a@b.c", "FROM:", PATH_OK, "a@b.c", "");
	check_path("TO: <a@b.c>", "TO:", PATH_OK, "a@b.c", "");
}

static void test_path_params(void)
{
	check_path("FROM:<a@b.c> SIZE=1000", "FROM:", PATH_OK, "a@b.c", "SIZE=1000");
	check_path("FROM:<a@b.c>   SIZE=1000 BODY=8BITMIME", "FROM:", PATH_OK, "a@b.c",
	           "SIZE=1000 BODY=8BITMIME");
	check_path("FROM:<a@b.c> ", "FROM:", PATH_OK, "a@b.c", "");
	check_path("TO:<a@b.c> NOTIFY=NEVER", "TO:", PATH_OK, "a@b.c", "NOTIFY=NEVER");
}

static void test_path_missing_prefix(void)
{
	check_path("<a@b.c>", "FROM:", PATH_SYNTAX, NULL, NULL);
	check_path("a@b.c", "FROM:", PATH_SYNTAX, NULL, NULL);
	check_path("FROM <a@b.c>", "FROM:", PATH_SYNTAX, NULL, NULL);
	check_path("TO:<a@b.c>", "FROM:", PATH_SYNTAX, NULL, NULL);
	check_path("FROM:<a@b.c>", "TO:", PATH_SYNTAX, NULL, NULL);
	check_path("", "FROM:", PATH_SYNTAX, NULL, NULL);
}

static void test_path_syntax_errors(void)
{
	check_path("FROM:<a@b.c", "FROM:", PATH_SYNTAX, NULL, NULL); /* unterminated "<" */
	check_path("FROM:<", "FROM:", PATH_SYNTAX, NULL, NULL);
	check_path("FROM:", "FROM:", PATH_SYNTAX, NULL, NULL); /* no address at all */
	check_path("FROM:   ", "FROM:", PATH_SYNTAX, NULL, NULL);
	check_path("FROM:<a@b.c>SIZE=1", "FROM:", PATH_SYNTAX, NULL, NULL); /* glued param */
}

static void test_path_too_long(void)
{
	char addr[8];
	const char *params = NULL;

	/* longer than the buffer: truncated, reported as an invalid address */
	CU_ASSERT_EQUAL(
	    smtp_parse_path("FROM:<abcdefgh@x.y> SIZE=5", "FROM:", addr, sizeof addr, &params),
	    PATH_INVALID_ADDRESS);
	CU_ASSERT_STRING_EQUAL(addr, "abcdefg");
	CU_ASSERT_PTR_NOT_NULL_FATAL(params);
	CU_ASSERT_STRING_EQUAL(params, "SIZE=5");

	/* exactly addrlen - 1 characters still fits */
	CU_ASSERT_EQUAL(smtp_parse_path("TO:<a@b.cde>", "TO:", addr, sizeof addr, &params),
	                PATH_OK);
	CU_ASSERT_STRING_EQUAL(addr, "a@b.cde");
	/* addrlen characters do not */
	CU_ASSERT_EQUAL(smtp_parse_path("TO:a@b.cdef", "TO:", addr, sizeof addr, &params),
	                PATH_INVALID_ADDRESS);
	CU_ASSERT_STRING_EQUAL(addr, "a@b.cde");
}

static void test_path_long_realistic(void)
{
	char arg[600], addr[256];
	const char *params = NULL;

	strcpy(arg, "FROM:<");
	memset(arg + 6, 'x', 300);
	strcpy(arg + 306, "@example.com>");
	CU_ASSERT_EQUAL(smtp_parse_path(arg, "FROM:", addr, sizeof addr, &params),
	                PATH_INVALID_ADDRESS);
	CU_ASSERT_EQUAL(strlen(addr), sizeof addr - 1);
}

/* ---- MAIL / RCPT parameters ------------------------------------------------- */

static void test_mail_params_empty(void)
{
	unsigned long long size = 99;

	CU_ASSERT_EQUAL(smtp_parse_mail_params("", &size), PARAM_OK);
	CU_ASSERT_EQUAL(size, 0);
	size = 99;
	CU_ASSERT_EQUAL(smtp_parse_mail_params("   ", &size), PARAM_OK);
	CU_ASSERT_EQUAL(size, 0);
}

static void test_mail_params_size(void)
{
	unsigned long long size = 0;

	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=1000", &size), PARAM_OK);
	CU_ASSERT_EQUAL(size, 1000);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("size=2097152", &size), PARAM_OK);
	CU_ASSERT_EQUAL(size, 2097152);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=0", &size), PARAM_OK);
	CU_ASSERT_EQUAL(size, 0);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=5000000000", &size), PARAM_OK);
	CU_ASSERT_EQUAL(size, 5000000000ULL);
}

static void test_mail_params_bad_size(void)
{
	unsigned long long size;

	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=abc", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=12x", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=-5", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=+5", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE= 5", &size), PARAM_SYNTAX);
}

static void test_mail_params_body(void)
{
	unsigned long long size;

	CU_ASSERT_EQUAL(smtp_parse_mail_params("BODY=8BITMIME", &size), PARAM_OK);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("BODY=7BIT", &size), PARAM_OK);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("body=8bitmime", &size), PARAM_OK);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("BODY=BINARYMIME", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("BODY=", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("BODY", &size), PARAM_SYNTAX);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("BODY=8BIT", &size), PARAM_SYNTAX);
}

static void test_mail_params_auth(void)
{
	unsigned long long size;

	CU_ASSERT_EQUAL(smtp_parse_mail_params("AUTH=<>", &size), PARAM_OK);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("AUTH=a@b.c", &size), PARAM_OK);
}

static void test_mail_params_unknown(void)
{
	unsigned long long size;

	CU_ASSERT_EQUAL(smtp_parse_mail_params("RET=HDRS", &size), PARAM_UNSUPPORTED);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SMTPUTF8", &size), PARAM_UNSUPPORTED);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=10 ENVID=x", &size), PARAM_UNSUPPORTED);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("AVERYLONGPARAMETERNAMEBEYONDTHIRTYTWO=1", &size),
	                PARAM_UNSUPPORTED);
}

static void test_mail_params_several(void)
{
	unsigned long long size = 0;

	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=42 BODY=8BITMIME AUTH=<>", &size), PARAM_OK);
	CU_ASSERT_EQUAL(size, 42);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("BODY=7BIT  SIZE=7", &size), PARAM_OK);
	CU_ASSERT_EQUAL(size, 7);
	CU_ASSERT_EQUAL(smtp_parse_mail_params("SIZE=7 BODY=9BIT", &size), PARAM_SYNTAX);
}

static void test_rcpt_params(void)
{
	CU_ASSERT_EQUAL(smtp_parse_rcpt_params(""), PARAM_OK);
	CU_ASSERT_EQUAL(smtp_parse_rcpt_params("   "), PARAM_OK);
	CU_ASSERT_EQUAL(smtp_parse_rcpt_params("NOTIFY=NEVER"), PARAM_UNSUPPORTED);
	CU_ASSERT_EQUAL(smtp_parse_rcpt_params("ORCPT=rfc822;a@b.c"), PARAM_UNSUPPORTED);
	CU_ASSERT_EQUAL(smtp_parse_rcpt_params(" SIZE=1"), PARAM_UNSUPPORTED);
}

/* ---- address_is_valid --------------------------------------------------------- */

static void test_address_valid(void)
{
	CU_ASSERT_TRUE(address_is_valid("a@b.c"));
	CU_ASSERT_TRUE(address_is_valid("first.last@example.com"));
	CU_ASSERT_TRUE(address_is_valid("\"quoted local\"@example.com"));
	CU_ASSERT_TRUE(address_is_valid("user@[127.0.0.1]"));
	CU_ASSERT_TRUE(address_is_valid("user@localhost"));
	CU_ASSERT_TRUE(address_is_valid("user+tag@sub.example-domain.org"));
	CU_ASSERT_TRUE(address_is_valid("!#$%&'*+-/=?^_`{|}~@example.com"));
	CU_ASSERT_TRUE(address_is_valid("\"a@b\"@example.com"));
	CU_ASSERT_TRUE(address_is_valid("\"esc\\\"aped\"@example.com"));
	CU_ASSERT_TRUE(address_is_valid("User@Example.COM"));
	CU_ASSERT_TRUE(address_is_valid("a@1.2.3.com"));
}

static void test_address_ipv6_literal(void)
{
	/* RFC 5321 4.1.3: IPv6-address-literal = "IPv6:" IPv6-addr */
	CU_ASSERT_TRUE(address_is_valid("user@[IPv6:::1]"));
	CU_ASSERT_TRUE(address_is_valid("user@[IPv6:2001:db8::1]"));
}

static void test_address_length_limits(void)
{
	char addr[400];

	memset(addr, 'a', 64);
	strcpy(addr + 64, "@example.com");
	CU_ASSERT_TRUE(address_is_valid(addr)); /* 64-character local part */
	memset(addr, 'a', 65);
	strcpy(addr + 65, "@example.com");
	CU_ASSERT_FALSE(address_is_valid(addr)); /* 65-character local part */

	/* 63-character label is fine, 64 is not */
	strcpy(addr, "a@");
	memset(addr + 2, 'b', 63);
	strcpy(addr + 65, ".com");
	CU_ASSERT_TRUE(address_is_valid(addr));
	strcpy(addr, "a@");
	memset(addr + 2, 'b', 64);
	strcpy(addr + 66, ".com");
	CU_ASSERT_FALSE(address_is_valid(addr));
}

static void test_address_invalid(void)
{
	CU_ASSERT_FALSE(address_is_valid(""));
	CU_ASSERT_FALSE(address_is_valid("userexample.com")); /* no @ */
	CU_ASSERT_FALSE(address_is_valid("a@@b.c"));          /* two @@ */
	CU_ASSERT_FALSE(address_is_valid("a@b@c.d"));
	CU_ASSERT_FALSE(address_is_valid(".user@example.com"));  /* leading dot */
	CU_ASSERT_FALSE(address_is_valid("user.@example.com"));  /* trailing dot */
	CU_ASSERT_FALSE(address_is_valid("us..er@example.com")); /* double dot */
	CU_ASSERT_FALSE(address_is_valid("user@example..com"));
	CU_ASSERT_FALSE(address_is_valid("user@.example.com"));
	CU_ASSERT_FALSE(address_is_valid("user@example.com."));
	CU_ASSERT_FALSE(address_is_valid("@example.com"));      /* empty local part */
	CU_ASSERT_FALSE(address_is_valid("user@"));             /* empty domain */
	CU_ASSERT_FALSE(address_is_valid("user@-example.com")); /* label starts with '-' */
	CU_ASSERT_FALSE(address_is_valid("user@example-.com")); /* label ends with '-' */
	CU_ASSERT_FALSE(address_is_valid("user@sub.example.com-"));
	CU_ASSERT_FALSE(address_is_valid("us\xc3\xa9r@example.com")); /* non-ASCII local */
	CU_ASSERT_FALSE(address_is_valid("user@exampl\xc3\xa9.com")); /* non-ASCII domain */
	CU_ASSERT_FALSE(address_is_valid("us er@example.com"));       /* space */
	CU_ASSERT_FALSE(address_is_valid("user@exa mple.com"));
	CU_ASSERT_FALSE(address_is_valid("user@example_domain.com"));
	CU_ASSERT_FALSE(address_is_valid("<user@example.com>"));
	CU_ASSERT_FALSE(address_is_valid("\"unterminated@example.com"));
	CU_ASSERT_FALSE(address_is_valid("\"bad\"quote\"@example.com"));
	CU_ASSERT_FALSE(address_is_valid("user@[]"));
	CU_ASSERT_FALSE(address_is_valid("user@[127.0.0.1"));
}

int register_smtp_parse_tests(void)
{
	static const struct unit_test commands[] = {
	    {"verbs", test_command_verbs},
	    {"verbs are case-insensitive", test_command_case_insensitive},
	    {"arguments", test_command_args},
	    {"unknown verbs", test_command_unknown},
	    {"verb names", test_verb_names},
	};
	static const struct unit_test paths[] = {
	    {"with brackets", test_path_brackets},
	    {"without brackets", test_path_without_brackets},
	    {"space after FROM:", test_path_space_after_colon},
	    {"parameters after the path", test_path_params},
	    {"missing prefix is PATH_SYNTAX", test_path_missing_prefix},
	    {"unterminated < and other syntax errors", test_path_syntax_errors},
	    {"too long for the buffer", test_path_too_long},
	    {"300-character local part", test_path_long_realistic},
	};
	static const struct unit_test params[] = {
	    {"MAIL without parameters", test_mail_params_empty},
	    {"MAIL SIZE=n", test_mail_params_size},
	    {"MAIL bad SIZE", test_mail_params_bad_size},
	    {"MAIL BODY=", test_mail_params_body},
	    {"MAIL AUTH=<>", test_mail_params_auth},
	    {"MAIL unknown parameter", test_mail_params_unknown},
	    {"MAIL several parameters", test_mail_params_several},
	    {"RCPT parameters", test_rcpt_params},
	};
	static const struct unit_test addresses[] = {
	    {"valid addresses", test_address_valid},
	    {"IPv6 address literal", test_address_ipv6_literal},
	    {"length limits", test_address_length_limits},
	    {"invalid addresses", test_address_invalid},
	};

	if (unit_add_suite("smtp_parse: commands", commands, UNIT_COUNT(commands)) < 0 ||
	    unit_add_suite("smtp_parse: paths", paths, UNIT_COUNT(paths)) < 0 ||
	    unit_add_suite("smtp_parse: parameters", params, UNIT_COUNT(params)) < 0 ||
	    unit_add_suite("smtp_parse: address_is_valid", addresses, UNIT_COUNT(addresses)) < 0)
		return -1;
	return 0;
}
