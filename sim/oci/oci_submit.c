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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "mime_build.h"

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

static void put_address(struct mime_text *t, const json_t *addr)
{
	const char *name = text_of(addr, "name"), *email = text_of(addr, "email");

	if (!empty(name)) {
		mime_put_phrase(t, name);
		mime_puts(t, " ");
	}
	mime_puts(t, "<");
	mime_puts(t, email ? email : "");
	mime_puts(t, ">");
}

static void put_address_header(struct mime_text *t, const char *name, const json_t *list)
{
	size_t i;
	const json_t *addr;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return;
	mime_puts(t, name);
	mime_puts(t, ": ");
	json_array_foreach(list, i, addr)
	{
		if (i > 0)
			mime_puts(t, ",\r\n ");
		put_address(t, addr);
	}
	mime_puts(t, "\r\n");
}

char *oci_submit_message(const json_t *body, const char *message_id, double now, size_t *len)
{
	const json_t *r = json_object_get(body, "recipients"), *fields, *v;
	const char *given = text_of(body, "messageId"), *key;
	struct mime_text t = {0};

	mime_put_date(&t, now);
	mime_puts(&t, "From: ");
	put_address(&t, json_object_get(json_object_get(body, "sender"), "senderAddress"));
	mime_puts(&t, "\r\n");
	put_address_header(&t, "To", json_object_get(r, "to"));
	put_address_header(&t, "Cc", json_object_get(r, "cc"));
	put_address_header(&t, "Reply-To", json_object_get(body, "replyTo"));
	mime_put_header(&t, "Subject", text_of(body, "subject"));
	mime_put_header(&t, "Message-ID", !empty(given) ? given : message_id);
	mime_puts(&t, "MIME-Version: 1.0\r\n");
	fields = json_object_get(body, "headerFields");
	if (json_is_object(fields))
		json_object_foreach((json_t *)fields, key, v)
		{
			mime_puts(&t, key);
			mime_puts(&t, ": ");
			mime_puts(&t, json_is_string(v) ? json_string_value(v) : "");
			mime_puts(&t, "\r\n");
		}
	mime_put_bodies(&t, text_of(body, "bodyText"), NULL, text_of(body, "bodyHtml"), NULL, now);
	return mime_take(&t, len);
}
