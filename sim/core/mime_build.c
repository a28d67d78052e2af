/*
 * mime_build.c - writing an RFC 5322 / MIME message (see mime_build.h).
 */
#include "mime_build.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "util.h"

void mime_put(struct mime_text *t, const char *s, size_t n)
{
	jsonw_raw(&t->w, s, n);
}

void mime_puts(struct mime_text *t, const char *s)
{
	mime_put(t, s, strlen(s));
}

int mime_ascii_only(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 126 || ((unsigned char)*s < 32 && *s != '\t'))
			return 0;
	return 1;
}

void mime_put_encoded_words(struct mime_text *t, const char *s)
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
			mime_puts(t, "\r\n ");
		mime_puts(t, "=?UTF-8?B?");
		mime_puts(t, (const char *)out);
		mime_puts(t, "?=");
		pos += take;
	}
}

void mime_put_header_text(struct mime_text *t, const char *s)
{
	if (mime_ascii_only(s))
		mime_puts(t, s);
	else
		mime_put_encoded_words(t, s);
}

void mime_put_phrase(struct mime_text *t, const char *s)
{
	if (!mime_ascii_only(s)) {
		mime_put_encoded_words(t, s);
		return;
	}
	mime_put(t, LIT("\""));
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			mime_put(t, LIT("\\"));
		mime_put(t, s, 1);
	}
	mime_put(t, LIT("\""));
}

void mime_put_header(struct mime_text *t, const char *name, const char *value)
{
	mime_puts(t, name);
	mime_puts(t, ": ");
	mime_put_header_text(t, value);
	mime_puts(t, "\r\n");
}

void mime_put_date(struct mime_text *t, double now)
{
	char date[64];

	clock_format_rfc5322(now, date, sizeof date);
	mime_puts(t, "Date: ");
	mime_puts(t, date);
	mime_puts(t, "\r\n");
}

void mime_put_body(struct mime_text *t, const char *s)
{
	const struct jsonw *w = &t->w;

	for (; *s != '\0'; s++) {
		if (*s == '\n' && (w->len == 0 || w->buf[w->len - 1] != '\r'))
			mime_put(t, LIT("\r"));
		mime_put(t, s, 1);
	}
	if (w->len < 2 || memcmp(w->buf + w->len - 2, LIT("\r\n")) != 0)
		mime_puts(t, "\r\n");
}

void mime_put_part_headers(struct mime_text *t, const char *type, const char *charset)
{
	mime_puts(t, "Content-Type: ");
	mime_puts(t, type);
	mime_puts(t, "; charset=");
	mime_puts(t, charset ? charset : "UTF-8");
	mime_puts(t, "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
}

void mime_open_multipart(struct mime_text *t, const char *subtype, const char *boundary)
{
	mime_puts(t, "Content-Type: multipart/");
	mime_puts(t, subtype);
	mime_puts(t, "; boundary=\"");
	mime_puts(t, boundary);
	mime_puts(t, "\"\r\n\r\n");
}

void mime_put_boundary(struct mime_text *t, const char *boundary, int last)
{
	mime_puts(t, "--");
	mime_puts(t, boundary);
	mime_puts(t, last ? "--\r\n" : "\r\n");
}

void mime_put_bodies(struct mime_text *t, const char *text, const char *text_charset,
                     const char *html, const char *html_charset, double now)
{
	char boundary[64];

	if (text == NULL || *text == '\0' || html == NULL || *html == '\0') {
		int is_text = text != NULL && *text != '\0';
		mime_put_part_headers(t, is_text ? "text/plain" : "text/html",
		                      is_text ? text_charset : html_charset);
		mime_put_body(t, is_text ? text : html ? html : "");
		return;
	}
	snprintf(boundary, sizeof boundary, "edsim-alt-%llx", (unsigned long long)(now * 1000.0));
	mime_open_multipart(t, "alternative", boundary);
	mime_put_boundary(t, boundary, 0);
	mime_put_part_headers(t, "text/plain", text_charset);
	mime_put_body(t, text);
	mime_put_boundary(t, boundary, 0);
	mime_put_part_headers(t, "text/html", html_charset);
	mime_put_body(t, html);
	mime_put_boundary(t, boundary, 1);
}

void mime_put_base64(struct mime_text *t, const unsigned char *data, size_t n)
{
	unsigned char line[80];

	for (size_t pos = 0; pos < n; pos += 57) { /* 57 bytes: 76 characters */
		size_t take = n - pos < 57 ? n - pos : 57;
		int len = EVP_EncodeBlock(line, data + pos, (int)take);
		mime_put(t, (const char *)line, (size_t)len);
		mime_puts(t, "\r\n");
	}
}

char *mime_take(struct mime_text *t, size_t *len)
{
	size_t n = t->w.len;
	char *text = jsonw_take(&t->w);

	if (text != NULL)
		*len = n;
	return text;
}
