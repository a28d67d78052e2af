/*
 * test_message.c - RFC 5322 header section parsing and address lists
 * (sim/message.c).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "unit.h"

#define BIG ((size_t)262144)

static enum header_result parse(const char *msg, size_t max, struct header_info *h)
{
	return message_parse_headers(msg, strlen(msg), max, h);
}

/* ---- message_parse_headers --------------------------------------------------- */

static void test_normal_message(void)
{
	static const char headers[] =
	    "Message-ID: <abc.123@example.com>\r\n"
	    "Subject: Quarterly report\r\n"
	    "\tand a folded line\r\n"
	    "  and another\r\n"
	    "From: \"Alice Example\" <alice@example.com>, bob@example.org,\r\n"
	    " Carol <carol@example.net>\r\n"
	    "To: dave@example.com\r\n"
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n";
	static const char body[] = "Hello\r\n\r\nworld\r\n";
	char msg[1024];
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	snprintf(msg, sizeof msg, "%s\r\n%s", headers, body);
	CU_ASSERT_EQUAL(parse(msg, BIG, h), HDR_OK);
	CU_ASSERT_STRING_EQUAL(h->message_id, "<abc.123@example.com>");
	CU_ASSERT_STRING_EQUAL(h->subject, "Quarterly report and a folded line and another");
	CU_ASSERT_EQUAL(h->nfrom, 3);
	CU_ASSERT_STRING_EQUAL(h->from[0], "alice@example.com");
	CU_ASSERT_STRING_EQUAL(h->from[1], "bob@example.org");
	CU_ASSERT_STRING_EQUAL(h->from[2], "carol@example.net");
	CU_ASSERT_EQUAL(h->header_bytes, strlen(headers));
	CU_ASSERT_EQUAL(h->body_offset, strlen(headers) + 2);
	CU_ASSERT_STRING_EQUAL(msg + h->body_offset, body);
	free(h);
}

static void test_field_names_case_insensitive(void)
{
	static const char msg[] = "message-id: <x@y>\r\nSUBJECT: hi\r\nfrom: a@b.c\r\n\r\nbody";
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(parse(msg, BIG, h), HDR_OK);
	CU_ASSERT_STRING_EQUAL(h->message_id, "<x@y>");
	CU_ASSERT_STRING_EQUAL(h->subject, "hi");
	CU_ASSERT_EQUAL(h->nfrom, 1);
	CU_ASSERT_STRING_EQUAL(h->from[0], "a@b.c");
	free(h);
}

static void test_missing_fields(void)
{
	static const char msg[] = "To: a@b.c\r\nX-Custom: 1\r\n\r\nbody\r\n";
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(parse(msg, BIG, h), HDR_OK);
	CU_ASSERT_STRING_EQUAL(h->message_id, "");
	CU_ASSERT_STRING_EQUAL(h->subject, "");
	CU_ASSERT_EQUAL(h->nfrom, 0);
	free(h);
}

static void test_many_from_addresses(void)
{
	char msg[1024] = "From: ";
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int i = 0; i < 10; i++)
		snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%su%d@example.com",
		         i ? ", " : "", i);
	strcat(msg, "\r\n\r\nbody");
	CU_ASSERT_EQUAL(parse(msg, BIG, h), HDR_OK);
	CU_ASSERT_EQUAL(h->nfrom, 10); /* counted beyond HDR_FROM_MAX */
	CU_ASSERT_STRING_EQUAL(h->from[0], "u0@example.com");
	CU_ASSERT_STRING_EQUAL(h->from[HDR_FROM_MAX - 1], "u7@example.com");
	free(h);
}

static void test_no_headers_first_line(void)
{
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(parse("Hello there, this is just text\r\n\r\nmore\r\n", BIG, h),
	                HDR_NO_HEADERS);
	CU_ASSERT_EQUAL(parse("Just one line without a colon", BIG, h), HDR_NO_HEADERS);
	CU_ASSERT_EQUAL(parse(" Subject: starts with a continuation\r\n\r\n", BIG, h),
	                HDR_NO_HEADERS);
	CU_ASSERT_EQUAL(parse("Subject : space before the colon\r\n\r\n", BIG, h), HDR_NO_HEADERS);
	CU_ASSERT_EQUAL(parse(": empty field name\r\n\r\n", BIG, h), HDR_NO_HEADERS);
	free(h);
}

static void test_no_headers_blank_first_line(void)
{
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	/* an empty header section: the message is all body */
	CU_ASSERT_EQUAL(parse("\r\nSubject: this is body text\r\n", BIG, h), HDR_NO_HEADERS);
	CU_ASSERT_EQUAL(parse("\nbody with bare LF\n", BIG, h), HDR_NO_HEADERS);
	free(h);
}

static void test_no_headers_empty_message(void)
{
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(message_parse_headers("", 0, BIG, h), HDR_NO_HEADERS);
	free(h);
}

/* A header section of exactly size bytes (CRLF endings), then a blank line and a body. */
static char *header_of_size(size_t size)
{
	static const char first[] = "Subject: x\r\n";
	char *msg = malloc(size + 32);
	size_t pad = size - strlen(first) - strlen("X-Pad: \r\n");

	strcpy(msg, first);
	strcat(msg, "X-Pad: ");
	memset(msg + strlen(msg), 'p', pad);
	strcpy(msg + strlen(first) + strlen("X-Pad: ") + pad, "\r\n\r\nbody\r\n");
	return msg;
}

static void test_header_size_limit(void)
{
	struct header_info *h = malloc(sizeof *h);
	char *at = header_of_size(200), *over = header_of_size(201);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(parse(at, 200, h), HDR_OK);
	CU_ASSERT_EQUAL(h->header_bytes, 200);
	CU_ASSERT_EQUAL(h->body_offset, 202);
	CU_ASSERT_STRING_EQUAL(at + h->body_offset, "body\r\n");
	CU_ASSERT_EQUAL(parse(over, 200, h), HDR_TOO_LARGE);
	CU_ASSERT_EQUAL(parse(over, 201, h), HDR_OK);
	CU_ASSERT_EQUAL(h->header_bytes, 201);
	free(at);
	free(over);
	free(h);
}

static void test_header_size_limit_large(void)
{
	struct header_info *h = malloc(sizeof *h);
	char *at = header_of_size(BIG), *over = header_of_size(BIG + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(parse(at, BIG, h), HDR_OK);
	CU_ASSERT_EQUAL(h->header_bytes, BIG);
	CU_ASSERT_EQUAL(parse(over, BIG, h), HDR_TOO_LARGE);
	free(at);
	free(over);
	free(h);
}

static void test_header_size_no_body(void)
{
	static const char msg[] = "Subject: 0123456789\r\n"; /* 21 bytes, no blank line */
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(parse(msg, 21, h), HDR_OK);
	CU_ASSERT_EQUAL(parse(msg, 20, h), HDR_TOO_LARGE);
	free(h);
}

static void test_malformed_middle(void)
{
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(
	    parse("From: a@b.c\r\nthis line is not a header\r\nSubject: x\r\n\r\nbody", BIG, h),
	    HDR_MALFORMED);
	CU_ASSERT_EQUAL(parse("From: a@b.c\r\nBad Name: x\r\n\r\nbody", BIG, h), HDR_MALFORMED);
	CU_ASSERT_EQUAL(parse("From: a@b.c\r\nNoColonHere\r\n\r\nbody", BIG, h), HDR_MALFORMED);
	/* malformed text after the blank line is body, not a header */
	CU_ASSERT_EQUAL(parse("From: a@b.c\r\n\r\nthis line is not a header\r\n", BIG, h), HDR_OK);
	free(h);
}

static void test_headers_without_body(void)
{
	static const char crlf[] = "From: a@b.c\r\nSubject: no body\r\n";
	static const char no_eol[] = "From: a@b.c\r\nSubject: no body";
	static const char blank[] = "From: a@b.c\r\nSubject: no body\r\n\r\n";
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(parse(crlf, BIG, h), HDR_OK);
	CU_ASSERT_EQUAL(h->header_bytes, strlen(crlf));
	CU_ASSERT_EQUAL(h->body_offset, strlen(crlf));
	CU_ASSERT_STRING_EQUAL(h->subject, "no body");

	CU_ASSERT_EQUAL(parse(no_eol, BIG, h), HDR_OK);
	CU_ASSERT_EQUAL(h->header_bytes, strlen(no_eol));
	CU_ASSERT_EQUAL(h->body_offset, strlen(no_eol));
	CU_ASSERT_STRING_EQUAL(h->subject, "no body");

	CU_ASSERT_EQUAL(parse(blank, BIG, h), HDR_OK);
	CU_ASSERT_EQUAL(h->header_bytes, strlen(crlf));
	CU_ASSERT_EQUAL(h->body_offset, strlen(blank));
	free(h);
}

static void test_bare_lf(void)
{
	static const char headers[] = "Message-ID: <lf@example.com>\nSubject: bare\n LF folded\n"
	                              "From: Lf <lf@example.com>\n";
	char msg[256];
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	snprintf(msg, sizeof msg, "%s\nbody line\n", headers);
	CU_ASSERT_EQUAL(parse(msg, BIG, h), HDR_OK);
	CU_ASSERT_STRING_EQUAL(h->message_id, "<lf@example.com>");
	CU_ASSERT_STRING_EQUAL(h->subject, "bare LF folded");
	CU_ASSERT_EQUAL(h->nfrom, 1);
	CU_ASSERT_STRING_EQUAL(h->from[0], "lf@example.com");
	CU_ASSERT_EQUAL(h->header_bytes, strlen(headers));
	CU_ASSERT_EQUAL(h->body_offset, strlen(headers) + 1);
	CU_ASSERT_STRING_EQUAL(msg + h->body_offset, "body line\n");
	free(h);
}

static void test_long_value_truncated(void)
{
	size_t n = HDR_VALUE_MAX + 500;
	char *msg = malloc(n + 64);
	struct header_info *h = malloc(sizeof *h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	strcpy(msg, "Subject: ");
	memset(msg + 9, 's', n);
	strcpy(msg + 9 + n, "\r\n more\r\n\r\nbody");
	CU_ASSERT_EQUAL(parse(msg, BIG, h), HDR_OK);
	CU_ASSERT_EQUAL(strlen(h->subject), HDR_VALUE_MAX);
	free(msg);
	free(h);
}

/* ---- message_parse_address_list ----------------------------------------------- */

static void test_list_simple(void)
{
	char out[4][256];

	CU_ASSERT_EQUAL(message_parse_address_list("a@b.c", out, 4), 1);
	CU_ASSERT_STRING_EQUAL(out[0], "a@b.c");
	CU_ASSERT_EQUAL(message_parse_address_list("a@b.c, d@e.f,g@h.i", out, 4), 3);
	CU_ASSERT_STRING_EQUAL(out[0], "a@b.c");
	CU_ASSERT_STRING_EQUAL(out[1], "d@e.f");
	CU_ASSERT_STRING_EQUAL(out[2], "g@h.i");
	CU_ASSERT_EQUAL(message_parse_address_list("", out, 4), 0);
	CU_ASSERT_EQUAL(message_parse_address_list(" , ,", out, 4), 0);
}

static void test_list_angle(void)
{
	char out[4][256];

	CU_ASSERT_EQUAL(message_parse_address_list("Alice <alice@example.com>", out, 4), 1);
	CU_ASSERT_STRING_EQUAL(out[0], "alice@example.com");
	CU_ASSERT_EQUAL(message_parse_address_list("<a@b.c>,Bob Smith <bob@example.org>", out, 4),
	                2);
	CU_ASSERT_STRING_EQUAL(out[0], "a@b.c");
	CU_ASSERT_STRING_EQUAL(out[1], "bob@example.org");
}

static void test_list_quoted_commas(void)
{
	char out[4][256];

	CU_ASSERT_EQUAL(
	    message_parse_address_list(
	        "\"Doe, John\" <john@example.com>, \"Roe, Jane <boss>\" <jane@example.com>", out,
	        4),
	    2);
	CU_ASSERT_STRING_EQUAL(out[0], "john@example.com");
	CU_ASSERT_STRING_EQUAL(out[1], "jane@example.com");
}

static void test_list_quoted_pair(void)
{
	char out[4][256];

	/* RFC 5322 quoted-pair: \" inside a quoted display name does not end it */
	CU_ASSERT_EQUAL(message_parse_address_list(
	                    "\"Smith \\\"JS\\\", John\" <js@example.com>, k@example.com", out, 4),
	                2);
	CU_ASSERT_STRING_EQUAL(out[0], "js@example.com");
	CU_ASSERT_STRING_EQUAL(out[1], "k@example.com");
	CU_ASSERT_EQUAL(
	    message_parse_address_list("\"a\\\"b, c\" <x@example.com>, k@example.com", out, 4), 2);
	CU_ASSERT_STRING_EQUAL(out[0], "x@example.com");
	CU_ASSERT_STRING_EQUAL(out[1], "k@example.com");
}

static void test_list_comments(void)
{
	char out[4][256];

	CU_ASSERT_EQUAL(message_parse_address_list(
	                    "jane@example.com (Jane, the boss), x@y.z (x (nested, c))", out, 4),
	                2);
	CU_ASSERT_STRING_EQUAL(out[0], "jane@example.com");
	CU_ASSERT_STRING_EQUAL(out[1], "x@y.z");
	CU_ASSERT_EQUAL(
	    message_parse_address_list("Jane <jane@example.com> (work, <not@this.one>)", out, 4),
	    1);
	CU_ASSERT_STRING_EQUAL(out[0], "jane@example.com");
	CU_ASSERT_EQUAL(message_parse_address_list("(only a comment)", out, 4), 0);
}

static void test_list_quoted_local_part(void)
{
	char out[4][256];

	/* the same address address_is_valid accepts for the envelope */
	CU_ASSERT_EQUAL(message_parse_address_list("\"quoted local\"@example.com", out, 4), 1);
	CU_ASSERT_STRING_EQUAL(out[0], "\"quoted local\"@example.com");
	CU_ASSERT_EQUAL(message_parse_address_list("Q <\"quoted local\"@example.com>", out, 4), 1);
	CU_ASSERT_STRING_EQUAL(out[0], "\"quoted local\"@example.com");
}

static void test_list_max(void)
{
	char out[2][256];

	strcpy(out[1], "sentinel");
	CU_ASSERT_EQUAL(message_parse_address_list("a@b.c, d@e.f, g@h.i", out, 1), 3);
	CU_ASSERT_STRING_EQUAL(out[0], "a@b.c");
	CU_ASSERT_STRING_EQUAL(out[1], "sentinel"); /* nothing written beyond max */
}

int register_message_tests(void)
{
	static const struct unit_test headers[] = {
	    {"normal message", test_normal_message},
	    {"field names are case-insensitive", test_field_names_case_insensitive},
	    {"message without the known fields", test_missing_fields},
	    {"From with more than HDR_FROM_MAX addresses", test_many_from_addresses},
	    {"no header section: first line not a field", test_no_headers_first_line},
	    {"no header section: blank first line", test_no_headers_blank_first_line},
	    {"no header section: empty message", test_no_headers_empty_message},
	    {"header section at and over max_header_bytes", test_header_size_limit},
	    {"header section at and over 256 KB", test_header_size_limit_large},
	    {"size accounting without a body", test_header_size_no_body},
	    {"malformed line in the middle", test_malformed_middle},
	    {"headers and no body", test_headers_without_body},
	    {"bare LF line endings", test_bare_lf},
	    {"overlong value is truncated", test_long_value_truncated},
	};
	static const struct unit_test lists[] = {
	    {"plain addresses", test_list_simple},
	    {"angle addresses", test_list_angle},
	    {"quoted commas", test_list_quoted_commas},
	    {"quoted-pair in display name", test_list_quoted_pair},
	    {"comments", test_list_comments},
	    {"quoted local part", test_list_quoted_local_part},
	    {"more addresses than max", test_list_max},
	};

	if (unit_add_suite("message: message_parse_headers", headers, UNIT_COUNT(headers)) < 0 ||
	    unit_add_suite("message: message_parse_address_list", lists, UNIT_COUNT(lists)) < 0)
		return -1;
	return 0;
}
