/*
 * test_conform_grade.c - the conformance grader on recorded evidence.
 *
 * The fixtures in tests/fixtures/conform/grade/ are real edsim records
 * (events, messages, transcripts from its control API) of swaks, curl and a
 * raw SMTP client, some edited into variants (README.md there says which).
 * Each test grades one and asserts the attempts, check verdicts and the case
 * verdict; a few edit the evidence in memory for one more variant.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "grade.h"
#include "unit.h"

#define FIXTURES "tests/fixtures/conform/grade/"

static json_t *load(const char *name)
{
	char path[256];
	json_error_t err;
	json_t *ev;

	snprintf(path, sizeof path, FIXTURES "%s", name);
	ev = json_load_file(path, 0, &err);
	if (ev == NULL)
		fprintf(stderr, "%s: %s (line %d)\n", path, err.text, err.line);
	return ev;
}

static json_t *grade_file(const char *name, int strict)
{
	json_t *ev = load(name), *res;

	if (ev == NULL)
		return NULL;
	res = grade_case(ev, strict);
	json_decref(ev);
	return res;
}

static const json_t *check_of(const json_t *res, const char *id)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(res, "checks"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0)
			return c;
	}
	return NULL;
}

static const char *field(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "(none)";
}

/* The verdict of check id, "(absent)" when the check was left out. */
static const char *verdict(const json_t *res, const char *id)
{
	const json_t *c = check_of(res, id);

	return c ? field(c, "verdict") : "(absent)";
}

static const json_t *attempt(const json_t *res, size_t i)
{
	return json_array_get(json_object_get(res, "attempts"), i);
}

static long long int_of(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static double num_of(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* Whether some evidence line of check id contains text. */
static int evidence_has(const json_t *res, const char *id, const char *text)
{
	const json_t *l;
	size_t i;

	json_array_foreach(json_object_get(check_of(res, id), "evidence"), i, l)
	{
		if (strstr(json_string_value(l), text) != NULL)
			return 1;
	}
	return 0;
}

static void assert_attempt(const json_t *res, size_t i, long long conn, const char *outcome,
                           long long code)
{
	const json_t *a = attempt(res, i);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(int_of(a, "n"), (long long)i + 1);
	CU_ASSERT_EQUAL(int_of(a, "connection"), conn);
	CU_ASSERT_STRING_EQUAL(field(a, "outcome"), outcome);
	CU_ASSERT_EQUAL(int_of(a, "code"), code);
}

static size_t lines_in(const char *s)
{
	size_t n = *s != '\0';

	for (; *s; s++)
		n += *s == '\n' && s[1] != '\0';
	return n;
}

static void test_good_client(void)
{
	json_t *res = grade_file("good.json", 0);
	const json_t *a, *c, *l;
	double t1, t2, t3;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	CU_ASSERT_STRING_EQUAL(field(res, "case"), "oci.smtp.composite.server-error-twice");
	CU_ASSERT_STRING_EQUAL(field(res, "client"), "good-client");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 3);
	assert_attempt(res, 0, 1, "rejected", 451);
	assert_attempt(res, 1, 2, "rejected", 451);
	assert_attempt(res, 2, 3, "accepted", 250);
	a = attempt(res, 0);
	CU_ASSERT(json_is_true(json_object_get(a, "tls")));
	CU_ASSERT_STRING_EQUAL(field(a, "kind"), "smtp");
	t1 = num_of(a, "t"), t2 = num_of(attempt(res, 1), "t"), t3 = num_of(attempt(res, 2), "t");
	CU_ASSERT(t1 >= 0 && t1 < 0.5);
	CU_ASSERT(t2 - t1 > 1.0 && t2 - t1 < 1.3);
	CU_ASSERT(t3 - t2 > 2.0 && t3 - t2 < 2.3);
	/* greeting, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, data-end, QUIT */
	json_array_foreach(json_object_get(a, "replies"), i, l)
	{
		if (i == 0)
			CU_ASSERT_STRING_EQUAL(field(l, "stage"), "greeting");
		if (int_of(l, "code") == 451)
			CU_ASSERT_STRING_EQUAL(field(l, "stage"), "data-end");
		if (int_of(l, "code") == 354)
			CU_ASSERT_STRING_EQUAL(field(l, "stage"), "data");
		if (int_of(l, "code") == 235)
			CU_ASSERT_STRING_EQUAL(field(l, "stage"), "auth");
	}
	CU_ASSERT_EQUAL(json_array_size(json_object_get(a, "replies")), 10);
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "attempts"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "retried"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "min-gap"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "backoff"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "tls"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "report"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "reconnect-after-421"), "INFO");
	CU_ASSERT_STRING_EQUAL(verdict(res, "budget"), "INFO");
	CU_ASSERT_STRING_EQUAL(verdict(res, "retry-after"), "(absent)");
	c = check_of(res, "delivered-once");
	CU_ASSERT_STRING_EQUAL(field(c, "expected"), "1 stored message with Message-ID <x@y>");
	CU_ASSERT_STRING_EQUAL(field(c, "actual"), "1");
	CU_ASSERT(json_is_null(json_object_get(c, "remedy")));
	CU_ASSERT(evidence_has(res, "delivered-once",
	                       "(connection 2, TLS): 451 Server error at data-end"));
	CU_ASSERT(evidence_has(res, "delivered-once", "attempt 3 at 3."));
	CU_ASSERT_STRING_EQUAL(field(check_of(res, "backoff"), "actual"),
	                       "growing (1.06 s, 2.05 s)");
	/* the excerpt: around the decisive replies, credentials masked */
	json_array_foreach(json_object_get(res, "transcript_excerpt"), i, l)
	{
		CU_ASSERT(strstr(field(l, "line"), "AHUAcA") == NULL);
	}
	CU_ASSERT(json_array_size(json_object_get(res, "transcript_excerpt")) <= 60);
	CU_ASSERT(lines_in(field(json_object_get(res, "client_result"), "output_excerpt")) == 40);
	CU_ASSERT_EQUAL(int_of(json_object_get(res, "client_result"), "exit_code"), 0);
	json_decref(res);
}

static void test_naive_client(void)
{
	json_t *res = grade_file("naive.json", 0);
	const json_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 1);
	assert_attempt(res, 0, 1, "rejected", 451);
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "attempts"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "retried"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "min-gap"), "INFO");
	CU_ASSERT_STRING_EQUAL(verdict(res, "backoff"), "INFO");
	/* The scenario expects success (report.failure false): the honest exit 26
	 * still fails the report check. */
	CU_ASSERT_STRING_EQUAL(verdict(res, "report"), "FAIL");
	CU_ASSERT_STRING_EQUAL(field(check_of(res, "report"), "actual"), "exit 26");
	c = check_of(res, "retried");
	CU_ASSERT_STRING_EQUAL(field(c, "expected"), "at least 2 attempts");
	CU_ASSERT_STRING_EQUAL(field(c, "actual"), "1");
	CU_ASSERT(strncmp(field(c, "remedy"), "A temporary fault on the service side", 37) == 0);
	CU_ASSERT(evidence_has(res, "delivered-once", "the message was lost"));
	json_decref(res);
}

static void test_no_backoff(void)
{
	json_t *res = grade_file("no-backoff.json", 0);
	const json_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "WARN");
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "min-gap"), "WARN");
	CU_ASSERT_STRING_EQUAL(verdict(res, "backoff"), "WARN");
	c = check_of(res, "backoff");
	CU_ASSERT(strncmp(field(c, "actual"), "constant (0.2", 13) == 0);
	CU_ASSERT_PTR_NOT_NULL(json_string_value(json_object_get(c, "remedy")));
	CU_ASSERT(evidence_has(res, "backoff", "retries with no backoff"));
	CU_ASSERT(evidence_has(res, "min-gap", "retries too fast"));
	CU_ASSERT_STRING_EQUAL(field(check_of(res, "min-gap"), "expected"), "every gap >= 1.00 s");
	json_decref(res);
}

static void test_strict(void)
{
	json_t *res = grade_file("no-backoff.json", 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "min-gap"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "backoff"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "PASS");
	CU_ASSERT(evidence_has(res, "backoff", "strict"));
	CU_ASSERT_PTR_NOT_NULL(
	    json_string_value(json_object_get(check_of(res, "min-gap"), "remedy")));
	json_decref(res);
}

static void test_tight_loop(void)
{
	json_t *res = grade_file("tight-loop.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "min-gap"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "backoff"), "WARN");
	CU_ASSERT(evidence_has(res, "min-gap", "a retry loop with no pause"));
	json_decref(res);
}

static void test_duplicate(void)
{
	json_t *res = grade_file("duplicate.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	assert_attempt(res, 1, 2, "accepted", 250);
	assert_attempt(res, 2, 3, "accepted", 250);
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "FAIL");
	CU_ASSERT_STRING_EQUAL(field(check_of(res, "delivered-once"), "actual"), "2");
	CU_ASSERT(evidence_has(res, "delivered-once", "stored 2 times"));
	CU_ASSERT(evidence_has(res, "delivered-once", "stored message "));
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "PASS");
	json_decref(res);
}

static void test_auth_in_clear(void)
{
	json_t *res = grade_file("auth-clear.json", 0);
	const json_t *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "tls"), "FAIL");
	CU_ASSERT(evidence_has(res, "tls", "connection 1: AUTH PLAIN sent before TLS"));
	CU_ASSERT(strstr(field(check_of(res, "tls"), "remedy"), "STARTTLS") != NULL);
	/* one connection, two attempts: the MAIL after the failed transaction */
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 2);
	assert_attempt(res, 0, 1, "rejected", 530);
	assert_attempt(res, 1, 1, "rejected", 535);
	a = attempt(res, 0);
	CU_ASSERT(json_is_false(json_object_get(a, "tls")));
	CU_ASSERT_STRING_EQUAL(field(json_array_get(json_object_get(a, "replies"), 2), "stage"),
	                       "auth");
	json_decref(res);
}

static void test_after_421(void)
{
	json_t *res = grade_file("after-421.json", 0);
	const json_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	assert_attempt(res, 0, 1, "rejected", 421);
	CU_ASSERT_STRING_EQUAL(verdict(res, "reconnect-after-421"), "FAIL");
	c = check_of(res, "reconnect-after-421");
	CU_ASSERT_STRING_EQUAL(field(c, "actual"), "2 command(s) after 1 421 reply");
	CU_ASSERT(
	    evidence_has(res, "reconnect-after-421", "RCPT TO:<b@example.net> after the 421"));
	CU_ASSERT(strstr(field(c, "remedy"), "421") != NULL);
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "PASS");
	json_decref(res);
}

static void test_greeting_421(void)
{
	json_t *res = grade_file("greeting-421.json", 0);
	const json_t *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 2);
	assert_attempt(res, 0, 1, "rejected", 421);
	a = attempt(res, 0);
	CU_ASSERT(json_is_false(json_object_get(a, "tls")));
	CU_ASSERT_STRING_EQUAL(field(json_array_get(json_object_get(a, "replies"), 0), "stage"),
	                       "greeting");
	assert_attempt(res, 1, 2, "accepted", 250);
	CU_ASSERT_STRING_EQUAL(verdict(res, "reconnect-after-421"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "tls"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "backoff"), "INFO");
	CU_ASSERT(evidence_has(res, "attempts",
	                       "(connection 1): 421 Too many connections, try again later at "
	                       "greeting"));
	json_decref(res);
}

static void test_permanent_then_retry(void)
{
	json_t *res = grade_file("auth-retry.json", 0);
	const json_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	assert_attempt(res, 0, 1, "rejected", 535);
	assert_attempt(res, 1, 2, "rejected", 535);
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "FAIL");
	c = check_of(res, "gives-up");
	CU_ASSERT_STRING_EQUAL(field(c, "actual"), "1 more attempt(s) after the 535 of attempt 1");
	CU_ASSERT_STRING_EQUAL(verdict(res, "attempts"), "FAIL");
	CU_ASSERT_STRING_EQUAL(field(check_of(res, "attempts"), "expected"), "1 to 1");
	CU_ASSERT_STRING_EQUAL(verdict(res, "not-delivered"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "report"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "min-gap"), "(absent)");
	CU_ASSERT_STRING_EQUAL(verdict(res, "backoff"), "(absent)");
	json_decref(res);
}

/* auth-retry.json with one field changed, graded; returns the report check's verdict. */
static char report_verdict[16];
static const char *report_with(const char *obj, const char *key, json_t *value)
{
	json_t *ev = load("auth-retry.json"), *res;

	report_verdict[0] = '\0';
	if (ev == NULL)
		return "(no fixture)";
	json_object_set_new(json_object_get(ev, obj), key, value);
	res = grade_case(ev, 0);
	snprintf(report_verdict, sizeof report_verdict, "%s", verdict(res, "report"));
	json_decref(res);
	json_decref(ev);
	return report_verdict;
}

static void test_report(void)
{
	CU_ASSERT_STRING_EQUAL(report_with("client_result", "output", json_string("auth failed\n")),
	                       "WARN");
	CU_ASSERT_STRING_EQUAL(report_with("client_result", "output", json_string("error 5350\n")),
	                       "WARN");
	CU_ASSERT_STRING_EQUAL(report_with("client_result", "exit_code", json_integer(0)), "FAIL");
	CU_ASSERT_STRING_EQUAL(report_with("client", "kind", json_string("mta")), "INFO");
	CU_ASSERT_STRING_EQUAL(report_with("run", "timed_out", json_true()), "FAIL");
	CU_ASSERT_STRING_EQUAL(report_with("client_result", "exit_code", json_integer(1)), "PASS");
}

static void test_https_retry_after(void)
{
	json_t *res = grade_file("https-retry-after.json", 0);
	const json_t *a, *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	CU_ASSERT_STRING_EQUAL(field(res, "protocol"), "https");
	assert_attempt(res, 0, 0, "rejected", 429);
	assert_attempt(res, 1, 0, "accepted", 200);
	a = attempt(res, 0);
	CU_ASSERT_STRING_EQUAL(field(a, "kind"), "https");
	CU_ASSERT_DOUBLE_EQUAL(num_of(a, "retry_after"), 1.0, 1e-9);
	CU_ASSERT(json_is_null(json_object_get(attempt(res, 1), "retry_after")));
	CU_ASSERT_STRING_EQUAL(verdict(res, "retry-after"), "FAIL");
	c = check_of(res, "retry-after");
	CU_ASSERT_STRING_EQUAL(field(c, "expected"), "the next attempt >= 1.00 s after a 429");
	CU_ASSERT_STRING_EQUAL(field(c, "actual"), "0.32 s after the 429 of attempt 1");
	CU_ASSERT_STRING_EQUAL(field(c, "remedy"),
	                       "Lower the request rate or spread bursts over time.");
	CU_ASSERT_STRING_EQUAL(verdict(res, "min-gap"), "WARN");
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "tls"), "(absent)");
	CU_ASSERT_STRING_EQUAL(verdict(res, "reconnect-after-421"), "(absent)");
	CU_ASSERT(
	    evidence_has(res, "retry-after", "attempt 1 at 0.01 s (HTTPS): 429 TooManyRequests"));
	json_decref(res);
}

/* A rule dropping the first request: edsim records type "dropped", code 0. */
static void test_https_dropped(void)
{
	json_t *ev = load("https-retry-after.json"), *res, *e;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	e = json_array_get(json_object_get(json_object_get(ev, "edsim"), "events"), 0);
	json_object_set_new(e, "type", json_string("dropped"));
	json_object_set_new(e, "code", json_integer(0));
	json_object_set_new(e, "reply", json_null());
	res = grade_case(ev, 0);
	assert_attempt(res, 0, 0, "dropped", 0);
	CU_ASSERT(evidence_has(res, "retried", "(HTTPS): dropped by edsim without a reply"));
	CU_ASSERT_STRING_EQUAL(verdict(res, "retry-after"), "INFO");
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "PASS");
	json_decref(res);
	/* and the client stopped there */
	json_array_remove(json_object_get(json_object_get(ev, "edsim"), "events"), 1);
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "PASS"); /* still stored */
	json_decref(res);
	json_decref(ev);
}

static void test_dropped(void)
{
	json_t *res = grade_file("drop-after-data.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	assert_attempt(res, 0, 1, "dropped", 0);
	assert_attempt(res, 1, 2, "accepted", 250);
	CU_ASSERT(evidence_has(res, "retried", "dropped by edsim without a reply"));
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "PASS");
	json_decref(res);
}

static void test_same_connection(void)
{
	json_t *res = grade_file("same-connection.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	assert_attempt(res, 0, 1, "rejected", 455);
	assert_attempt(res, 1, 1, "accepted", 250);
	CU_ASSERT_STRING_EQUAL(verdict(res, "retried"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "min-gap"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "PASS");
	/* this raw client exits 1 after any 4xx, even once the retry was accepted */
	CU_ASSERT_STRING_EQUAL(verdict(res, "report"), "FAIL");
	json_decref(res);
}

static void test_implicit_tls(void)
{
	json_t *res = grade_file("smtps.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	CU_ASSERT(json_is_true(json_object_get(attempt(res, 0), "tls")));
	CU_ASSERT_STRING_EQUAL(verdict(res, "tls"), "PASS");
	json_decref(res);
}

/* curl without the CA aborts the handshake on the smtps port, then swaks
 * gets the 451: the failed handshake is an attempt with no command. */
static void test_handshake_failed(void)
{
	json_t *res = grade_file("tls-handshake-failed.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 2);
	assert_attempt(res, 0, 1, "closed", 0);
	assert_attempt(res, 1, 2, "rejected", 451);
	CU_ASSERT(json_is_false(json_object_get(attempt(res, 0), "tls")));
	CU_ASSERT(evidence_has(res, "attempts", "(connection 1): the TLS handshake failed"));
	CU_ASSERT_STRING_EQUAL(verdict(res, "tls"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "FAIL");
	json_decref(res);
}

static void test_suppressed(void)
{
	json_t *ev = load("suppressed.json"), *res, *expect;
	const char *ids[] = {"exercised",           "suppressed", "attempts",
	                     "reconnect-after-421", "tls",        "budget"};

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "suppressed"), "PASS");
	assert_attempt(res, 0, 1, "accepted", 254);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "checks")), 6);
	json_decref(res);
	/* as the runner writes it: every expect key present, unset ones 0 or null */
	expect = json_object_get(json_object_get(ev, "case"), "expect");
	json_object_set_new(expect, "min_gap", json_real(0));
	json_object_set_new(expect, "backoff", json_null());
	json_object_set_new(expect, "gives_up", json_null());
	json_object_set_new(expect, "report", json_pack("{s:n, s:i}", "failure", "code", 0));
	res = grade_case(ev, 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "checks")), 6);
	for (size_t i = 0; i < UNIT_COUNT(ids); i++)
		CU_ASSERT_PTR_NOT_NULL(check_of(res, ids[i]));
	json_decref(res);
	/* stored twice: the client resent a suppressed message */
	json_array_append(
	    json_object_get(json_object_get(ev, "edsim"), "messages"),
	    json_array_get(json_object_get(json_object_get(ev, "edsim"), "messages"), 0));
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "suppressed"), "FAIL");
	json_decref(res);
	json_decref(ev);
}

static void test_budget(void)
{
	json_t *ev = load("good.json"), *res;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	json_object_set_new(json_object_get(ev, "run"), "timed_out", json_true());
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "budget"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "report"), "FAIL");
	CU_ASSERT_TRUE(
	    json_is_true(json_object_get(json_object_get(res, "client_result"), "timed_out")));
	json_decref(res);
	/* a long-running MTA is stopped at the budget; it delivered once */
	json_object_set_new(json_object_get(ev, "client"), "kind", json_string("mta"));
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "budget"), "INFO");
	CU_ASSERT_STRING_EQUAL(verdict(res, "report"), "INFO");
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	json_decref(res);
	/* without run.started the earliest record is time 0 */
	json_object_set_new(json_object_get(ev, "run"), "started", json_real(0));
	res = grade_case(ev, 0);
	CU_ASSERT_DOUBLE_EQUAL(num_of(attempt(res, 0), "t"), 0.0, 1e-9);
	json_decref(res);
	json_decref(ev);
	ev = load("auth-retry.json");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	json_object_set_new(json_object_get(ev, "run"), "timed_out", json_true());
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "budget"), "INFO");
	json_decref(res);
	json_decref(ev);
}

static void test_skipped(void)
{
	json_t *ev = load("https-retry-after.json"), *res;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	res = grade_skipped(json_object_get(ev, "case"), "swaks",
	                    "swaks speaks SMTP only; this is an HTTPS case");
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "SKIPPED");
	CU_ASSERT_STRING_EQUAL(field(res, "reason"),
	                       "swaks speaks SMTP only; this is an HTTPS case");
	CU_ASSERT_STRING_EQUAL(field(res, "case"), "oci.https.too-many-requests");
	CU_ASSERT_STRING_EQUAL(field(res, "client"), "swaks");
	CU_ASSERT_STRING_EQUAL(field(res, "protocol"), "https");
	CU_ASSERT_STRING_EQUAL(
	    json_string_value(json_array_get(json_object_get(res, "catalog_rows"), 0)),
	    "oci.https.too-many-requests");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "checks")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 0);
	json_decref(res);
	json_decref(ev);
}

/* smtplib's login(): PLAIN, then LOGIN on the same session, both 535. */
static void test_auth_fallback(void)
{
	json_t *res = grade_file("auth-fallback.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 1);
	assert_attempt(res, 0, 1, "rejected", 535);
	CU_ASSERT_STRING_EQUAL(verdict(res, "attempts"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "auth-fallback"), "WARN");
	CU_ASSERT(
	    evidence_has(res, "auth-fallback", "AUTH PLAIN LOGIN, 1 more mechanism(s) after 535"));
	CU_ASSERT(evidence_has(res, "auth-fallback", "auth-failure limit"));
	CU_ASSERT(strstr(field(check_of(res, "auth-fallback"), "remedy"), "504") != NULL);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "WARN");
	json_decref(res);
	/* after 504 the fallback is noted, not held against the client */
	res = grade_file("auth-fallback-504.json", 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 1);
	CU_ASSERT_STRING_EQUAL(verdict(res, "auth-fallback"), "INFO");
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	json_decref(res);
	/* the same mechanism again on the same session is a retry: two attempts */
	res = grade_file("auth-retry.json", 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "auth-fallback"), "(absent)");
	json_decref(res);
}

/* One connection in a case about a burst of them: nothing was met. */
static void test_not_exercised(void)
{
	static const char unmet[] = "condition not exercised: the client's 1 attempt(s) never "
	                            "met \"421 Too many connections";
	json_t *ev = load("not-exercised.json"), *res;
	const json_t *c;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	res = grade_case(ev, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "INFO");
	CU_ASSERT(strncmp(field(res, "reason"), unmet, strlen(unmet)) == 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "exercised"), "INFO");
	CU_ASSERT_STRING_EQUAL(field(json_array_get(json_object_get(res, "checks"), 0), "id"),
	                       "exercised");
	json_array_foreach(json_object_get(res, "checks"), i, c)
	{
		CU_ASSERT(strcmp(field(c, "verdict"), "INFO") == 0);
	}
	CU_ASSERT(evidence_has(res, "delivered-once", "not graded (was PASS)"));
	json_decref(res);
	/* stored twice is the client's own doing: still a FAIL */
	json_array_append(
	    json_object_get(json_object_get(ev, "edsim"), "messages"),
	    json_array_get(json_object_get(json_object_get(ev, "edsim"), "messages"), 0));
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "FAIL");
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	json_decref(res);
	json_decref(ev);
	/* AUTH in clear (auth-clear.json never reaches the 451 it is about) */
	res = grade_file("auth-clear.json", 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "exercised"), "INFO");
	CU_ASSERT_STRING_EQUAL(verdict(res, "tls"), "FAIL");
	json_decref(res);
}

/* A rule used the quota up at the client's first MAIL: a client that
 * started 3 s late met the 455 all the same. */
static void test_late_quota(void)
{
	json_t *res = grade_file("late-quota.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(verdict(res, "exercised"), "PASS");
	CU_ASSERT_STRING_EQUAL(field(check_of(res, "exercised"), "actual"),
	                       "attempt 1 met oci.smtp.rate-minute");
	assert_attempt(res, 0, 1, "rejected", 455);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	json_decref(res);
}

/* An SMTP app given an HTTPS case: SKIPPED, not FAIL. */
static void test_other_protocol(void)
{
	json_t *res = grade_file("other-protocol.json", 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "SKIPPED");
	CU_ASSERT_STRING_EQUAL(
	    field(res, "reason"),
	    "the client acted only over SMTP (1 attempt(s)); this is an HTTPS case");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "checks")), 0);
	json_decref(res);
}

/* Postfix waits RFC 5321's 5 minutes for the reply to MAIL FROM; the 60 s
 * budget stopped it first: nothing can be said of what it does next. */
static void test_rfc_wait(void)
{
	json_t *ev = load("rfc-wait.json"), *res;
	const json_t *c;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	res = grade_case(ev, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "INFO");
	CU_ASSERT(strstr(field(res, "reason"), "still waiting for the reply to MAIL FROM after ") ==
	          field(res, "reason"));
	CU_ASSERT(strstr(field(res, "reason"), "(RFC 5321 allows 5 min)") != NULL);
	json_array_foreach(json_object_get(res, "checks"), i, c)
	{
		CU_ASSERT(strcmp(field(c, "verdict"), "INFO") == 0);
	}
	CU_ASSERT(evidence_has(res, "delivered-once", "not graded (was FAIL): still waiting"));
	CU_ASSERT(
	    evidence_has(res, "attempts", "no reply yet; still waiting when the budget ran out"));
	json_decref(res);
	/* past RFC 5321's limit the wait is the client's fault: graded */
	json_object_set_new(json_object_get(ev, "run"), "budget", json_real(400));
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	CU_ASSERT_STRING_EQUAL(verdict(res, "delivered-once"), "FAIL");
	json_decref(res);
	json_decref(ev);
}

/* SES v2's 400 LimitExceededException is a transient error code of the
 * catalog (case.transient_codes): a client that stops after it gave up on a
 * temporary failure, whatever the status; without the list, a 400 is
 * permanent. */
static void test_transient_code(void)
{
	json_t *ev = load("ses-transient-400.json"), *res;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	res = grade_case(ev, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "FAIL");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(res, "attempts")), 1);
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "FAIL");
	CU_ASSERT_STRING_EQUAL(field(check_of(res, "gives-up"), "actual"),
	                       "stopped after the temporary failure of attempt 1 (rejected)");
	json_decref(res);
	json_object_del(json_object_get(ev, "case"), "transient_codes");
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "PASS");
	json_decref(res);
	json_decref(ev);
}

/* The AWS CLI names a refusal by its error code, not its HTTP status: that
 * reports it; output naming neither WARNs. */
static void test_report_error_code(void)
{
	json_t *ev = load("ses-error-code.json"), *res;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	res = grade_case(ev, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(field(res, "verdict"), "PASS");
	CU_ASSERT_STRING_EQUAL(verdict(res, "report"), "PASS");
	CU_ASSERT_STRING_EQUAL(field(check_of(res, "report"), "expected"),
	                       "exit status non-zero, output naming 403 or SignatureDoesNotMatch");
	CU_ASSERT_STRING_EQUAL(verdict(res, "gives-up"), "PASS");
	json_decref(res);
	json_object_set_new(
	    json_object_get(ev, "client_result"), "output",
	    json_string("An error occurred when calling the SendRawEmail operation"));
	res = grade_case(ev, 0);
	CU_ASSERT_STRING_EQUAL(verdict(res, "report"), "WARN");
	json_decref(res);
	json_decref(ev);
}

static void test_rank(void)
{
	CU_ASSERT_EQUAL(grade_rank("SKIPPED"), 0);
	CU_ASSERT(grade_rank("SKIPPED") < grade_rank("INFO"));
	CU_ASSERT(grade_rank("INFO") < grade_rank("PASS"));
	CU_ASSERT(grade_rank("PASS") < grade_rank("WARN"));
	CU_ASSERT(grade_rank("WARN") < grade_rank("FAIL"));
	CU_ASSERT_EQUAL(grade_rank("pass"), -1);
	CU_ASSERT_EQUAL(grade_rank(NULL), -1);
}

int register_conform_grade_tests(void)
{
	static const struct unit_test tests[] = {
	    {"good client: growing gaps, delivered once", test_good_client},
	    {"naive client: one attempt", test_naive_client},
	    {"constant 0.25 s gaps: WARN", test_no_backoff},
	    {"strict: WARN becomes FAIL", test_strict},
	    {"0.05 s gaps: a retry loop", test_tight_loop},
	    {"stored twice", test_duplicate},
	    {"AUTH in clear", test_auth_in_clear},
	    {"commands after a 421", test_after_421},
	    {"421 in place of the greeting", test_greeting_421},
	    {"retry after a permanent 535", test_permanent_then_retry},
	    {"report: exit status and code", test_report},
	    {"HTTPS 429 retried before Retry-After", test_https_retry_after},
	    {"HTTPS request dropped", test_https_dropped},
	    {"dropped after the data", test_dropped},
	    {"retry on the same connection", test_same_connection},
	    {"implicit TLS", test_implicit_tls},
	    {"TLS handshake failed", test_handshake_failed},
	    {"suppressed, and keys left out", test_suppressed},
	    {"budget", test_budget},
	    {"grade_skipped", test_skipped},
	    {"AUTH mechanism fallback on one session", test_auth_fallback},
	    {"condition not exercised: INFO", test_not_exercised},
	    {"quota used up at the client's first MAIL", test_late_quota},
	    {"acted only in the other protocol: SKIPPED", test_other_protocol},
	    {"stopped by the budget within RFC 5321's wait", test_rfc_wait},
	    {"an HTTPS error code the catalog calls transient", test_transient_code},
	    {"report: an HTTPS failure named by its error code", test_report_error_code},
	    {"grade_rank", test_rank},
	};

	return unit_add_suite("conform_grade", tests, UNIT_COUNT(tests));
}
