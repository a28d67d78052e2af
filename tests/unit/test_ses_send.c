/*
 * test_ses_send.c - the pure parts of the SES APIs' send path: SES's
 * address checks (sim/ses/ses_send.c), domain and tag syntax, the message
 * made of Simple content (sim/ses/ses_mime.c), strict base64
 * (sim/core/base64.c) and SES's reading of a raw header section
 * (sim/ses/ses_message.c).
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "ses_message.h"
#include "ses_mime.h"
#include "ses_send.h"
#include "unit.h"

static void test_address_problems(void)
{
	static const struct {
		const char *written, *problem, *bare;
	} cases[] = {
	    {"a@example.com", NULL, "a@example.com"},
	    {"Name <a@example.com>", NULL, "a@example.com"},
	    {"\"Last, First\" <a@example.com>", NULL, "a@example.com"},
	    {"\"quoted local\"@example.com", NULL, "\"quoted local\"@example.com"},
	    {"nodomain", "invalid-address-no-domain", "nodomain"},
	    {"", "invalid-address-no-domain", ""},
	    {"a@", "invalid-address-empty-domain", "a@"},
	    {"a b@example.com", "invalid-address-local", "a b@example.com"},
	    {"j\xc3\xb6@example.com", "invalid-address-local", "j\xc3\xb6@example.com"},
	    {"a@exa mple.com", "invalid-address-domain", "a@exa mple.com"},
	    {"a@b\xc3\xbc"
	     "cher.example",
	     "invalid-address-domain",
	     "a@b\xc3\xbc"
	     "cher.example"},
	    {"Who <who@example.com> ", NULL, "who@example.com"},
	};
	char bare[256];

	for (size_t i = 0; i < UNIT_COUNT(cases); i++) {
		const char *p = ses_address_problem(cases[i].written, bare, sizeof bare);
		CU_ASSERT_STRING_EQUAL(p ? p : "(none)",
		                       cases[i].problem ? cases[i].problem : "(none)");
		CU_ASSERT_STRING_EQUAL(bare, cases[i].bare);
	}
}

static void test_domains_and_tags(void)
{
	CU_ASSERT_TRUE(ses_domain_ok("example.com"));
	CU_ASSERT_TRUE(ses_domain_ok("mail-1.sub_domain.example"));
	CU_ASSERT_FALSE(ses_domain_ok(""));
	CU_ASSERT_FALSE(ses_domain_ok("bad domain"));
	CU_ASSERT_FALSE(ses_domain_ok("a..b"));
	CU_ASSERT_FALSE(ses_domain_ok(".example.com"));
	CU_ASSERT_FALSE(ses_domain_ok("example.com."));
	CU_ASSERT_TRUE(ses_tag_ok("campaign_2026-spring"));
	CU_ASSERT_FALSE(ses_tag_ok(""));
	CU_ASSERT_FALSE(ses_tag_ok("bad tag"));
	CU_ASSERT_FALSE(ses_tag_ok("v1.0"));
}

static void test_base64_strict(void)
{
	unsigned char out[64];
	size_t len = 0;
	int bad = 0;
	unsigned char *data;

	CU_ASSERT_EQUAL(base64_decode("aGk=", 4, out, sizeof out), 2);
	CU_ASSERT_STRING_EQUAL((char *)out, "hi");
	CU_ASSERT_EQUAL(base64_decode("aGk", 3, out, sizeof out), -1);  /* not padded */
	CU_ASSERT_EQUAL(base64_decode("a=Gk", 4, out, sizeof out), -1); /* '=' inside */
	CU_ASSERT_EQUAL(base64_decode("aG!=", 4, out, sizeof out), -1); /* outside the alphabet */
	CU_ASSERT_EQUAL(base64_decode("", 0, out, sizeof out), -1);     /* empty */
	CU_ASSERT_EQUAL(base64_decode("aGVsbG8=", 8, out, 4), -1);      /* no room */
	data = base64_decode_alloc("aGVs\r\nbG8=\n", 11, &len, &bad);   /* wrapped lines */
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT_STRING_EQUAL((char *)data, "hello");
	free(data);
	CU_ASSERT_PTR_NULL(base64_decode_alloc("not base64!", 11, &len, &bad));
	CU_ASSERT_TRUE(bad);
}

static void test_simple_message(void)
{
	const char *to[] = {"A <a@example.net>", "b@example.net"}, *bcc[] = {"hidden@example.net"};
	const struct ses_field headers[] = {{"X-Custom", "value"}};
	const struct ses_attachment att[] = {{.content_b64 = "aGVsbG8=", .filename = "h.txt"}};
	struct ses_send s = {.from = "J\xc3\xb6rg <j@example.com>",
	                     .to = {to, 2},
	                     .bcc = {bcc, 1},
	                     .subject = "Hello",
	                     .text = "line one\nline two",
	                     .text_charset = "ISO-8859-1",
	                     .html = "<p>hi</p>",
	                     .headers = headers,
	                     .nheaders = 1,
	                     .attachments = att,
	                     .nattachments = 1};
	size_t len = 0;
	int bad = 0;
	char *msg = ses_mime_simple(&s, "<id@email.amazonses.com>", 1780000000.0, &len, &bad);

	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	CU_ASSERT_EQUAL(strlen(msg), len);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "From: =?UTF-8?B?SsO2cmc=?= <j@example.com>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "To: A <a@example.net>,\r\n b@example.net\r\n"));
	CU_ASSERT_PTR_NULL(strstr(msg, "hidden@example.net"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Subject: Hello\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Message-ID: <id@email.amazonses.com>\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "X-Custom: value\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Content-Type: multipart/mixed; boundary="));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Content-Type: multipart/alternative; boundary="));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "text/plain; charset=ISO-8859-1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "line one\r\nline two\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "filename=\"h.txt\"\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "base64\r\n\r\naGVsbG8=\r\n"));
	free(msg);
	s.attachments = (const struct ses_attachment[]){{.content_b64 = "%%", .filename = "x"}};
	CU_ASSERT_PTR_NULL(ses_mime_simple(&s, "<id@x>", 1780000000.0, &len, &bad));
	CU_ASSERT_TRUE(bad);
}

static void test_raw_header_section(void)
{
	static const char raw[] = "From: a@example.com\r\n"
	                          "To: One <one@example.net>, two@example.net\r\n"
	                          "Cc: three@example.net\r\n"
	                          "X-SES-CONFIGURATION-SET: marketing\r\n"
	                          "X-SES-MESSAGE-TAGS: t=v\r\n"
	                          "Subject: s\r\n"
	                          "Subject: again\r\n"
	                          "\r\n"
	                          "body\r\n";
	char copy[sizeof raw], list[4][256];
	size_t header = strstr(raw, "\r\n\r\n") - raw + 2, len = sizeof raw - 1, kept;
	struct ses_header_scan sc;

	ses_message_scan(raw, header, &sc);
	CU_ASSERT_STRING_EQUAL(sc.config_set, "marketing");
	CU_ASSERT_STRING_EQUAL(sc.duplicate, "Subject");
	CU_ASSERT_EQUAL(ses_message_recipients(raw, header, list, 4), 3);
	CU_ASSERT_STRING_EQUAL(list[0], "one@example.net");
	CU_ASSERT_STRING_EQUAL(list[2], "three@example.net");
	memcpy(copy, raw, sizeof raw);
	kept = ses_message_strip(copy, &len, header);
	CU_ASSERT_EQUAL(len, sizeof raw - 1 - (header - kept));
	copy[len] = '\0';
	CU_ASSERT_PTR_NULL(strstr(copy, "X-SES-"));
	CU_ASSERT_PTR_NOT_NULL(strstr(copy, "Subject: again\r\n\r\nbody\r\n"));
}

int register_ses_send_tests(void)
{
	static const struct unit_test tests[] = {
	    {"addresses: SES's syntax checks and the addr-spec", test_address_problems},
	    {"domain identities and tag names", test_domains_and_tags},
	    {"base64: strict, wrapped lines allowed when allocating", test_base64_strict},
	    {"Simple content: headers, parts, charsets, attachments", test_simple_message},
	    {"a raw header section: X-SES-*, duplicates, recipients", test_raw_header_section},
	};
	return unit_add_suite("ses: the APIs' send path", tests, UNIT_COUNT(tests));
}
