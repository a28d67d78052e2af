/*
 * oci_submit.c - checking a submitEmail request and building its message.
 *
 * Order of the checks (the first failure answers): sender, its compartment,
 * its address; recipients present, each address, at most 50 in all; the
 * reply-to addresses; subject; a body; the Message-ID; the custom headers.
 *
 * Everything allocated here grows with the request (its recipients, its
 * text), so it is checked: a recipient list that cannot grow stops short,
 * and a message that cannot be built whole is not built at all (NULL).
 */
#include "oci_submit.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "address.h"
#include "util.h"

static int fail(struct oci_error *err, const char *id, const char *value)
{
	err->id = id;
	snprintf(err->value, sizeof err->value, "%s", value ? value : "");
	return -1;
}

static const char *text_of(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* An {email, name} object: the email must be there and valid. */
static int check_address(const json_t *addr, struct oci_error *err)
{
	const char *email = json_is_object(addr) ? text_of(addr, "email") : NULL;

	if (empty(email))
		return fail(err, "oci.https.empty-address", NULL);
	if (!address_is_valid(email))
		return fail(err, "oci.https.invalid-address", email);
	return 0;
}

static int check_list(const json_t *list, size_t *count, struct oci_error *err)
{
	size_t i;
	const json_t *addr;

	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return fail(err, "oci.https.empty-address", NULL);
	json_array_foreach(list, i, addr)
	{
		if (check_address(addr, err) < 0)
			return -1;
		(*count)++;
	}
	return 0;
}

static int check_sender(const json_t *body, struct oci_error *err)
{
	const json_t *sender = json_object_get(body, "sender");

	if (!json_is_object(sender))
		return fail(err, "oci.https.missing-sender", NULL);
	if (empty(text_of(sender, "compartmentId")))
		return fail(err, "oci.https.missing-compartment", NULL);
	if (!json_is_object(json_object_get(sender, "senderAddress")))
		return fail(err, "oci.https.missing-sender", NULL);
	return check_address(json_object_get(sender, "senderAddress"), err);
}

static int check_recipients(const json_t *body, struct oci_error *err)
{
	const json_t *r = json_object_get(body, "recipients");
	size_t count = 0;

	if (!json_is_object(r))
		return fail(err, "oci.https.missing-recipients", NULL);
	if (check_list(json_object_get(r, "to"), &count, err) < 0 ||
	    check_list(json_object_get(r, "cc"), &count, err) < 0 ||
	    check_list(json_object_get(r, "bcc"), &count, err) < 0)
		return -1;
	if (count == 0)
		return fail(err, "oci.https.missing-recipients", NULL);
	if (count > OCI_MAX_RECIPIENTS)
		return fail(err, "oci.https.too-many-recipients", NULL);
	return 0;
}

/* Headers the service builds itself: a request may not set them. */
static const char *const reserved_headers[] = {"From",
                                               "To",
                                               "Cc",
                                               "Bcc",
                                               "Reply-To",
                                               "Subject",
                                               "Message-ID",
                                               "Date",
                                               "Sender",
                                               "Return-Path",
                                               "MIME-Version",
                                               "Content-Type",
                                               "Content-Transfer-Encoding",
                                               NULL};

static int check_headers(const json_t *body, struct oci_error *err)
{
	const json_t *fields = json_object_get(body, "headerFields"), *v;
	const char *key;

	if (fields == NULL || json_is_null(fields))
		return 0;
	if (!json_is_object(fields))
		return fail(err, "oci.https.empty-header-key", NULL);
	json_object_foreach((json_t *)fields, key, v)
	{
		(void)v;
		if (*key == '\0' || strspn(key, " \t") == strlen(key))
			return fail(err, "oci.https.empty-header-key", NULL);
		for (const char *p = key; *p != '\0'; p++)
			if ((unsigned char)*p > 126 || (unsigned char)*p < 33 || *p == ':')
				return fail(err, "oci.https.non-ascii-header-key", key);
		for (size_t i = 0; reserved_headers[i] != NULL; i++)
			if (strcasecmp(key, reserved_headers[i]) == 0)
				return fail(err, "oci.https.reserved-header", key);
	}
	return 0;
}

static int dot_atom_text(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' && s[i + 1] == '.')
			return 0;
		if (c != '.' && !isalnum(c) && strchr("!#$%&'*+-/=?^_`{|}~", c) == NULL)
			return 0;
	}
	return 1;
}

int oci_msg_id_valid(const char *s)
{
	size_t len = s ? strlen(s) : 0;
	const char *at;

	if (len < 5 || s[0] != '<' || s[len - 1] != '>')
		return 0;
	at = memchr(s, '@', len);
	if (at == NULL || !dot_atom_text(s + 1, (size_t)(at - s - 1)))
		return 0;
	if (at[1] == '[')
		return s[len - 2] == ']' && len - (size_t)(at - s) > 4;
	return dot_atom_text(at + 1, (size_t)(s + len - 1 - at - 1));
}

int oci_submit_check(const json_t *body, struct oci_error *err)
{
	const json_t *reply_to = json_object_get(body, "replyTo");
	const char *message_id = text_of(body, "messageId");
	size_t ignored = 0;

	if (!json_is_object(body))
		return fail(err, "oci.https.missing-sender", NULL);
	if (check_sender(body, err) < 0 || check_recipients(body, err) < 0 ||
	    check_list(reply_to, &ignored, err) < 0)
		return -1;
	if (empty(text_of(body, "subject")))
		return fail(err, "oci.https.missing-subject", NULL);
	if (empty(text_of(body, "bodyText")) && empty(text_of(body, "bodyHtml")))
		return fail(err, "oci.https.missing-body", NULL);
	if (json_object_get(body, "messageId") != NULL &&
	    !json_is_null(json_object_get(body, "messageId")) && !oci_msg_id_valid(message_id))
		return fail(err, "oci.https.invalid-message-id", NULL);
	return check_headers(body, err);
}

static void add_list(const json_t *list, const char ***out, size_t *n)
{
	size_t i;
	const json_t *addr;

	if (!json_is_array(list))
		return;
	json_array_foreach(list, i, addr)
	{
		const char **grown = realloc(*out, (*n + 1) * sizeof **out);
		if (grown == NULL)
			return;
		*out = grown;
		(*out)[(*n)++] = text_of(addr, "email");
	}
}

size_t oci_submit_recipients(const json_t *body, const char ***out)
{
	const json_t *r = json_object_get(body, "recipients");
	size_t n = 0;

	*out = NULL;
	add_list(json_object_get(r, "to"), out, &n);
	add_list(json_object_get(r, "cc"), out, &n);
	add_list(json_object_get(r, "bcc"), out, &n);
	return n;
}

/* ---- building the message -------------------------------------------------------- */

struct text {
	char *buf;
	size_t len, cap;
	int failed; /* a piece could not be added: the text is incomplete */
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		char *grown;
		while (cap < t->len + n + 1)
			cap *= 2;
		if ((grown = realloc(t->buf, cap)) == NULL) {
			t->failed = 1;
			return;
		}
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

static int ascii_only(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 126 || ((unsigned char)*s < 32 && *s != '\t'))
			return 0;
	return 1;
}

/* RFC 2047 "B" encoded words of at most 75 characters, split on UTF-8
 * character boundaries, separated by CRLF SP (folding). */
static void put_encoded_words(struct text *t, const char *s)
{
	size_t len = strlen(s), pos = 0;
	unsigned char out[64];

	while (pos < len) {
		size_t take = len - pos < 45 ? len - pos : 45;
		while (pos + take < len && take > 0 &&
		       ((unsigned char)s[pos + take] & 0xC0) == 0x80)
			take--; /* do not cut a UTF-8 character */
		EVP_EncodeBlock(out, (const unsigned char *)s + pos, (int)take);
		if (pos > 0)
			puts_(t, "\r\n ");
		puts_(t, "=?UTF-8?B?");
		puts_(t, (const char *)out);
		puts_(t, "?=");
		pos += take;
	}
}

static void put_phrase(struct text *t, const char *s)
{
	if (ascii_only(s)) {
		put(t, LIT("\""));
		for (; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				put(t, LIT("\\"));
			put(t, s, 1);
		}
		put(t, LIT("\""));
	} else {
		put_encoded_words(t, s);
	}
}

static void put_address(struct text *t, const json_t *addr)
{
	const char *name = text_of(addr, "name"), *email = text_of(addr, "email");

	if (!empty(name)) {
		put_phrase(t, name);
		puts_(t, " ");
	}
	puts_(t, "<");
	puts_(t, email ? email : "");
	puts_(t, ">");
}

static void put_address_header(struct text *t, const char *name, const json_t *list)
{
	size_t i;
	const json_t *addr;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return;
	puts_(t, name);
	puts_(t, ": ");
	json_array_foreach(list, i, addr)
	{
		if (i > 0)
			puts_(t, ",\r\n ");
		put_address(t, addr);
	}
	puts_(t, "\r\n");
}

/* Body text with CRLF line ends. */
static void put_body(struct text *t, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\n' && (t->len == 0 || t->buf[t->len - 1] != '\r'))
			put(t, LIT("\r"));
		put(t, s, 1);
	}
	if (t->len < 2 || memcmp(t->buf + t->len - 2, LIT("\r\n")) != 0)
		puts_(t, "\r\n");
}

static void put_part_headers(struct text *t, const char *type)
{
	puts_(t, "Content-Type: ");
	puts_(t, type);
	puts_(t, "; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
}

char *oci_submit_message(const json_t *body, const char *message_id, double now, size_t *len)
{
	const json_t *r = json_object_get(body, "recipients"), *fields, *v;
	const char *text = text_of(body, "bodyText"), *html = text_of(body, "bodyHtml");
	const char *given = text_of(body, "messageId"), *key;
	struct text t = {0};
	char date[64], boundary[64];

	clock_format_rfc5322(now, date, sizeof date);
	puts_(&t, "Date: ");
	puts_(&t, date);
	puts_(&t, "\r\nFrom: ");
	put_address(&t, json_object_get(json_object_get(body, "sender"), "senderAddress"));
	puts_(&t, "\r\n");
	put_address_header(&t, "To", json_object_get(r, "to"));
	put_address_header(&t, "Cc", json_object_get(r, "cc"));
	put_address_header(&t, "Reply-To", json_object_get(body, "replyTo"));
	puts_(&t, "Subject: ");
	if (ascii_only(text_of(body, "subject")))
		puts_(&t, text_of(body, "subject"));
	else
		put_encoded_words(&t, text_of(body, "subject"));
	puts_(&t, "\r\nMessage-ID: ");
	puts_(&t, !empty(given) ? given : message_id);
	puts_(&t, "\r\nMIME-Version: 1.0\r\n");
	fields = json_object_get(body, "headerFields");
	if (json_is_object(fields))
		json_object_foreach((json_t *)fields, key, v)
		{
			puts_(&t, key);
			puts_(&t, ": ");
			puts_(&t, json_is_string(v) ? json_string_value(v) : "");
			puts_(&t, "\r\n");
		}
	if (!empty(text) && !empty(html)) {
		snprintf(boundary, sizeof boundary, "edsim-alt-%llx",
		         (unsigned long long)(now * 1000.0));
		puts_(&t, "Content-Type: multipart/alternative; boundary=\"");
		puts_(&t, boundary);
		puts_(&t, "\"\r\n\r\n--");
		puts_(&t, boundary);
		puts_(&t, "\r\n");
		put_part_headers(&t, "text/plain");
		put_body(&t, text);
		puts_(&t, "--");
		puts_(&t, boundary);
		puts_(&t, "\r\n");
		put_part_headers(&t, "text/html");
		put_body(&t, html);
		puts_(&t, "--");
		puts_(&t, boundary);
		puts_(&t, "--\r\n");
	} else {
		put_part_headers(&t, !empty(text) ? "text/plain" : "text/html");
		put_body(&t, !empty(text) ? text : html);
	}
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}
