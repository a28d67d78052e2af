/*
 * test_oci_submit.c - the submitEmail checks (one per HTTPS catalog row
 * they produce, in the service's order) and the message built from a
 * request (headers, RFC 2047 words, multipart/alternative, Bcc hidden).
 */
#include <stdlib.h>
#include <string.h>

#include "oci_submit.h"
#include "unit.h"

static const char valid[] =
    "{\"sender\": {\"compartmentId\": \"ocid1.compartment.oc1..c\","
    " \"senderAddress\": {\"email\": \"noreply@example.com\", \"name\": \"Example\"}},"
    " \"recipients\": {\"to\": [{\"email\": \"a@example.net\", \"name\": \"A\"}],"
    " \"cc\": [{\"email\": \"c@example.net\"}], \"bcc\": [{\"email\": \"b@example.net\"}]},"
    " \"subject\": \"Hello\", \"bodyText\": \"line one\\nline two\","
    " \"messageId\": \"<m1@example.com>\", \"headerFields\": {\"X-Campaign\": \"7\"}}";

/* The valid request with one JSON path replaced (or removed with "null"). */
static json_t *variant(const char *key_path, const char *value)
{
	json_t *body = json_loads(valid, 0, NULL), *obj = body, *v;
	char path[128], *part, *next, *save = NULL;

	snprintf(path, sizeof path, "%s", key_path);
	part = strtok_r(path, ".", &save);
	while ((next = strtok_r(NULL, ".", &save)) != NULL) {
		obj = json_object_get(obj, part);
		part = next;
	}
	v = json_loads(value, JSON_DECODE_ANY, NULL);
	if (v == NULL || json_is_null(v)) {
		json_object_del(obj, part);
		json_decref(v);
	} else {
		json_object_set_new(obj, part, v);
	}
	return body;
}

static void expect_error(const char *path, const char *value, const char *id, const char *fill)
{
	json_t *body = variant(path, value);
	struct oci_error err = {0};

	CU_ASSERT_EQUAL(oci_submit_check(body, &err), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err.id);
	CU_ASSERT_STRING_EQUAL(err.id, id);
	CU_ASSERT_STRING_EQUAL(err.value, fill);
	json_decref(body);
}

static void test_valid(void)
{
	json_t *body = json_loads(valid, 0, NULL);
	struct oci_error err = {0};

	CU_ASSERT_EQUAL(oci_submit_check(body, &err), 0);
	json_decref(body);
}

static void test_sender(void)
{
	expect_error("sender", "null", "oci.https.missing-sender", "");
	expect_error("sender.compartmentId", "\"\"", "oci.https.missing-compartment", "");
	expect_error("sender.compartmentId", "null", "oci.https.missing-compartment", "");
	expect_error("sender.senderAddress", "null", "oci.https.missing-sender", "");
	expect_error("sender.senderAddress.email", "\"\"", "oci.https.empty-address", "");
	expect_error("sender.senderAddress.email", "\"not an address\"",
	             "oci.https.invalid-address", "not an address");
}

static void test_recipients(void)
{
	char many[4096];
	size_t used = (size_t)snprintf(many, sizeof many, "[");

	expect_error("recipients", "null", "oci.https.missing-recipients", "");
	expect_error("recipients", "{\"to\": [], \"cc\": []}", "oci.https.missing-recipients", "");
	expect_error("recipients.to", "[{\"name\": \"no email\"}]", "oci.https.empty-address", "");
	expect_error("recipients.cc", "[{\"email\": \"x@@y\"}]", "oci.https.invalid-address",
	             "x@@y");
	for (int i = 0; i < 49; i++)
		used += (size_t)snprintf(many + used, sizeof many - used,
		                         "%s{\"email\": \"r%d@example.net\"}", i ? ", " : "", i);
	snprintf(many + used, sizeof many - used, "]");
	/* 49 in to, 1 cc, 1 bcc: 51 in all */
	expect_error("recipients.to", many, "oci.https.too-many-recipients", "");
	expect_error("replyTo", "[{\"email\": \"bad\"}]", "oci.https.invalid-address", "bad");
}

static void test_content(void)
{
	expect_error("subject", "\"\"", "oci.https.missing-subject", "");
	expect_error("subject", "null", "oci.https.missing-subject", "");
	expect_error("bodyText", "null", "oci.https.missing-body", "");
	expect_error("messageId", "\"no-brackets@example.com\"", "oci.https.invalid-message-id",
	             "");
	expect_error("messageId", "\"<no-at-sign>\"", "oci.https.invalid-message-id", "");
	expect_error("headerFields", "{\"\": \"x\"}", "oci.https.empty-header-key", "");
	expect_error("headerFields", "{\"X-Caf\\u00e9\": \"x\"}", "oci.https.non-ascii-header-key",
	             "X-Caf\xc3\xa9");
	expect_error("headerFields", "{\"subject\": \"x\"}", "oci.https.reserved-header",
	             "subject");
	expect_error("headerFields", "{\"Reply-To\": \"x\"}", "oci.https.reserved-header",
	             "Reply-To");
}

static void test_msg_id(void)
{
	CU_ASSERT_TRUE(oci_msg_id_valid("<a.b@example.com>"));
	CU_ASSERT_TRUE(oci_msg_id_valid("<x@[127.0.0.1]>"));
	CU_ASSERT_FALSE(oci_msg_id_valid("<a..b@example.com>"));
	CU_ASSERT_FALSE(oci_msg_id_valid("<@example.com>"));
	CU_ASSERT_FALSE(oci_msg_id_valid("<a@>"));
	CU_ASSERT_FALSE(oci_msg_id_valid("a@example.com"));
}

static void test_recipient_list(void)
{
	json_t *body = json_loads(valid, 0, NULL);
	const char **list = NULL;
	size_t n = oci_submit_recipients(body, &list);

	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(list[0], "a@example.net");
	CU_ASSERT_STRING_EQUAL(list[1], "c@example.net");
	CU_ASSERT_STRING_EQUAL(list[2], "b@example.net");
	free(list);
	json_decref(body);
}

static void test_message_text(void)
{
	json_t *body = json_loads(valid, 0, NULL);
	size_t len = 0;
	char *m = oci_submit_message(body, "<generated@edsim>", 1795600000.0, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(strlen(m), len);
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "From: \"Example\" <noreply@example.com>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "To: \"A\" <a@example.net>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Cc: <c@example.net>\r\n"));
	CU_ASSERT_PTR_NULL(strstr(m, "b@example.net")); /* Bcc never shows */
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Subject: Hello\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Message-ID: <m1@example.com>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "X-Campaign: 7\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Content-Type: text/plain; charset=UTF-8\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\r\n\r\nline one\r\nline two\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Date: Wed, 25 Nov 2026 09:46:40 +0000\r\n"));
	free(m);
	json_decref(body);
}

static void test_message_alternative(void)
{
	json_t *body = variant("bodyHtml", "\"<p>hi</p>\"");
	size_t len = 0;
	char *m;

	json_object_set_new(body, "subject", json_string("Caf\xc3\xa9 \xe2\x82\xac"));
	json_object_del(body, "messageId");
	m = oci_submit_message(body, "<generated@edsim>", 1795600000.0, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Content-Type: multipart/alternative; boundary=\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Content-Type: text/plain; charset=UTF-8"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Content-Type: text/html; charset=UTF-8"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "<p>hi</p>\r\n"));
	/* "Café €" as an RFC 2047 B word */
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Subject: =?UTF-8?B?Q2Fmw6kg4oKs?=\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "Message-ID: <generated@edsim>\r\n"));
	free(m);
	json_decref(body);
}

int register_oci_submit_tests(void)
{
	static const struct unit_test checks[] = {
	    {"a valid request passes", test_valid},
	    {"sender, compartment, sender address", test_sender},
	    {"recipients, their addresses, 50 at most, reply-to", test_recipients},
	    {"subject, body, Message-ID, custom headers", test_content},
	    {"msg-id syntax", test_msg_id},
	};
	static const struct unit_test building[] = {
	    {"envelope recipients: to, cc, bcc", test_recipient_list},
	    {"a text message: headers from the fields, no Bcc", test_message_text},
	    {"text and HTML: multipart/alternative; RFC 2047 subject", test_message_alternative},
	};

	if (unit_add_suite("oci_submit: submitEmail checks", checks, UNIT_COUNT(checks)) < 0 ||
	    unit_add_suite("oci_submit: building the message", building, UNIT_COUNT(building)) < 0)
		return -1;
	return 0;
}
