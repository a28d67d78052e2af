/*
 * refclient_ses.c - the reference client's SES requests and answers (see
 * refclient_ses.h). Base64 is OpenSSL's, the form encoding libcurl's, the
 * JSON jansson's; the signature is libcurl's own SigV4.
 */
#include "refclient_ses.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V2_PATH "/v2/email/outbound-emails"

/* The codes the AWS SDKs retry as throttling, whatever the HTTP status. */
static const char *const throttling_codes[] = {"Throttling",
                                               "ThrottlingException",
                                               "ThrottledException",
                                               "RequestThrottledException",
                                               "TooManyRequestsException",
                                               "LimitExceededException",
                                               "RequestLimitExceeded",
                                               "BandwidthLimitExceeded",
                                               "RequestThrottled",
                                               "SlowDown",
                                               "PriorRequestNotComplete",
                                               "ProvisionedThroughputExceededException",
                                               NULL};

static char *base64_of(const char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
	return out;
}

/* A version 4 UUID, as the SDKs make their invocation ids. */
static void new_uuid(char *buf, size_t n)
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof r) != 1)
		memset(r, 0x42, sizeof r);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(buf, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
	         r[13], r[14], r[15]);
}

static char *v2_body(const char *from, const char *const *to, size_t nto, const char *data)
{
	json_t *list = json_array(), *root;
	char *s;

	for (size_t i = 0; i < nto; i++)
		json_array_append_new(list, json_string(to[i]));
	root = json_pack("{s:s, s:{s:o}, s:{s:{s:s}}}", "FromEmailAddress", from, "Destination",
	                 "ToAddresses", list, "Content", "Raw", "Data", data);
	s = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	return s;
}

/* appends "&name=value" (value form-encoded) to *body; -1 when memory runs out */
static int form_add(char **body, size_t *len, const char *name, const char *value)
{
	char *enc = curl_easy_escape(NULL, value, 0), *grown;
	size_t add = enc != NULL ? strlen(name) + strlen(enc) + 2 : 0;

	if (enc == NULL || (grown = realloc(*body, *len + add + 1)) == NULL) {
		curl_free(enc);
		return -1;
	}
	*len += (size_t)sprintf(grown + *len, "%s%s=%s", *len ? "&" : "", name, enc);
	*body = grown;
	curl_free(enc);
	return 0;
}

static char *v1_body(const char *from, const char *const *to, size_t nto, const char *data)
{
	char *body = NULL, name[48];
	size_t len = 0;
	int rc = form_add(&body, &len, "Action", "SendRawEmail") |
	         form_add(&body, &len, "Version", "2010-12-01") |
	         form_add(&body, &len, "Source", from);

	for (size_t i = 0; i < nto; i++) {
		snprintf(name, sizeof name, "Destinations.member.%zu", i + 1);
		rc |= form_add(&body, &len, name, to[i]);
	}
	rc |= form_add(&body, &len, "RawMessage.Data", data);
	if (rc != 0) {
		free(body);
		return NULL;
	}
	return body;
}

int ses_call_new(struct ses_call *c, enum ses_api api, const char *endpoint, const char *from,
                 const char *const *to, size_t nto, const char *raw, size_t len)
{
	size_t base = strlen(endpoint);
	char *data = base64_of(raw, len);

	memset(c, 0, sizeof *c);
	c->api = api;
	while (base > 0 && endpoint[base - 1] == '/')
		base--;
	new_uuid(c->invocation_id, sizeof c->invocation_id);
	if (data != NULL && (c->url = malloc(base + sizeof V2_PATH)) != NULL)
		sprintf(c->url, "%.*s%s", (int)base, endpoint, api == SES_API_V2 ? V2_PATH : "/");
	if (data != NULL)
		c->body =
		    api == SES_API_V2 ? v2_body(from, to, nto, data) : v1_body(from, to, nto, data);
	free(data);
	if (c->url == NULL || c->body == NULL) {
		ses_call_free(c);
		return -1;
	}
	return 0;
}

void ses_call_free(struct ses_call *c)
{
	free(c->url);
	free(c->body);
	c->url = c->body = NULL;
}

struct curl_slist *ses_call_headers(const struct ses_call *c, long n, long max)
{
	char id[96], req[96];
	const char *lines[] = {
	    c->api == SES_API_V2 ? "Content-Type: application/json"
	                         : "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
	    "Expect:", id, req};
	struct curl_slist *list = NULL, *next;

	snprintf(id, sizeof id, "amz-sdk-invocation-id: %s", c->invocation_id);
	snprintf(req, sizeof req, "amz-sdk-request: attempt=%ld; max=%ld", n, max);
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		if ((next = curl_slist_append(list, lines[i])) == NULL) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

void ses_call_setup(CURL *h, const struct ses_call *c, struct curl_slist *headers,
                    const char *region, const char *key_id, const char *secret)
{
	char sigv4[128];

	snprintf(sigv4, sizeof sigv4, "aws:amz:%s:ses", region);
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4); /* libcurl copies the strings */
	curl_easy_setopt(h, CURLOPT_USERNAME, key_id);
	curl_easy_setopt(h, CURLOPT_PASSWORD, secret);
}

/* The text between <tag> and </tag> in xml, into out ("" when absent). */
static void xml_text(const char *xml, const char *tag, char *out, size_t n)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	out[0] = '\0';
	if (xml == NULL || (a = strstr(xml, open)) == NULL ||
	    (b = strstr(a += strlen(open), close)) == NULL)
		return;
	snprintf(out, n, "%.*s", (int)(b - a), a);
}

/* The v2 error code: x-amzn-ErrorType up to ':' ("TooManyRequestsException"). */
static void v2_code(CURL *h, char *out, size_t n)
{
	struct curl_header *hdr;

	out[0] = '\0';
	if (curl_easy_header(h, "x-amzn-ErrorType", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
		snprintf(out, n, "%.*s", (int)strcspn(hdr->value, ":"), hdr->value);
}

static void v2_field(const char *body, const char *key, char *out, size_t n)
{
	json_t *root = body != NULL ? json_loads(body, 0, NULL) : NULL;
	const char *s = json_string_value(json_object_get(root, key));

	snprintf(out, n, "%s", s != NULL ? s : "");
	json_decref(root);
}

static int throttling(const char *code)
{
	for (size_t i = 0; throttling_codes[i] != NULL; i++)
		if (strcmp(code, throttling_codes[i]) == 0)
			return 1;
	return 0;
}

int ses_answer(const struct ses_call *c, CURL *h, long status, const char *body, char *text,
               size_t n)
{
	char code[128], msg[400];

	if (status / 100 == 2) {
		if (c->api == SES_API_V2)
			v2_field(body, "MessageId", msg, sizeof msg);
		else
			xml_text(body, "MessageId", msg, sizeof msg);
		snprintf(text, n, "MessageId %s", msg);
		return 0;
	}
	if (c->api == SES_API_V2) {
		v2_code(h, code, sizeof code);
		v2_field(body, "message", msg, sizeof msg);
		if (msg[0] == '\0')
			v2_field(body, "Message", msg, sizeof msg);
	} else {
		xml_text(body, "Code", code, sizeof code);
		xml_text(body, "Message", msg, sizeof msg);
	}
	snprintf(text, n, "%s: %s", code[0] ? code : "-", msg);
	for (char *p = text; *p != '\0'; p++)
		if (iscntrl((unsigned char)*p))
			*p = ' ';
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504 ||
	       throttling(code);
}
