/*
 * test_dsn.c - bounce reports: the status a reply stands for, and the
 * parts of the multipart/report (RFC 3464) that dsn_build() writes.
 */
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "unit.h"

static void status_of(const char *reply, int expired, const char *want)
{
	struct dsn_recipient r = {.address = "a@example.net", .reply = reply, .expired = expired};
	char out[16];

	dsn_status(&r, out, sizeof out);
	CU_ASSERT_STRING_EQUAL(out, want);
}

static void test_status(void)
{
	status_of("550 5.1.1 User unknown", 0, "5.1.1");
	status_of("552 5.3.4 Message too big", 0, "5.3.4");
	status_of("554 Transaction failed", 0, "5.0.0");
	status_of("451 4.7.1 Try again later", 0, "4.7.1");
	status_of("cannot connect to mx [127.0.0.2]:25: Connection refused", 0, "4.0.0");
	status_of("550 5.1.2 no such domain: nope.test", 0, "5.1.2");
	status_of("451 4.7.1 Try again later", 1, "4.4.7");
	status_of(NULL, 0, "4.0.0");
}

static const char original[] = "From: a@example.com\r\n"
                               "To: b@example.net\r\n"
                               "Subject: Quarterly\r\n"
                               "\r\n"
                               "secret body line\r\n";

static char *build(size_t *len)
{
	static const struct dsn_recipient rs[] = {
	    {"b@example.net", "550 5.1.1 User unknown", "mx.example.net [192.0.2.1]:25", 0},
	    {"c@example.net", "451 4.4.1 Connection timed out", NULL, 1},
	};
	struct dsn_report rep = {.reporting_mta = "edsim.test",
	                         .sender = "a@example.com",
	                         .envelope_id = "1a2b3c4d5e6f7081",
	                         .arrival = 1764067561.0,
	                         .now = 1764067600.0,
	                         .original = original,
	                         .original_len = sizeof original - 1,
	                         .rcpts = rs,
	                         .nrcpt = 2};

	return dsn_build(&rep, "<x.dsn@edsim.test>", len);
}

static void test_report_parts(void)
{
	size_t len = 0;
	char *m = build(&len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(strlen(m), len);
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "To: <a@example.com>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Message-ID: <x.dsn@edsim.test>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(m, "Content-Type: multipart/report; report-type=delivery-status;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Content-Type: message/delivery-status\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Reporting-MTA: dns; edsim.test\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Arrival-Date: Tue, 25 Nov 2025 10:46:01 +0000\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m,
	                              "Final-Recipient: rfc822; b@example.net\r\nAction: failed\r\n"
	                              "Status: 5.1.1\r\nRemote-MTA: dns; mx.example.net "
	                              "[192.0.2.1]:25\r\nDiagnostic-Code: smtp; 550 5.1.1 User "
	                              "unknown\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m,
	                              "Final-Recipient: rfc822; c@example.net\r\nAction: failed\r\n"
	                              "Status: 4.4.7\r\nDiagnostic-Code: smtp; 451 4.4.1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Content-Type: text/rfc822-headers\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Subject: Quarterly\r\n"));
	CU_ASSERT_PTR_NULL(strstr(m, "secret body line")); /* the header only */
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\r\n--edsim-dsn-1a2b3c4d5e6f7081--\r\n"));
	free(m);
}

static void test_every_line_crlf(void)
{
	size_t len = 0;
	char *m = build(&len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	for (size_t i = 0; i < len; i++)
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) {
			CU_FAIL("a bare LF in the report");
			break;
		}
	CU_ASSERT(len >= 2 && m[len - 2] == '\r' && m[len - 1] == '\n');
	free(m);
}

int register_dsn_tests(void)
{
	static const struct unit_test tests[] = {
	    {"status from the reply's enhanced code, its class, or 4.4.7 when expired",
	     test_status},
	    {"report: headers, delivery-status fields per recipient, the original header only",
	     test_report_parts},
	    {"report: every line ends in CRLF", test_every_line_crlf},
	};
	return unit_add_suite("dsn", tests, UNIT_COUNT(tests));
}
