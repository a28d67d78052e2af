/*
 * mime_build.h - writing an RFC 5322 / MIME message piece by piece: header
 * text (RFC 2047 encoded words when it is not ASCII), bodies with CRLF line
 * ends, single parts, multipart/alternative and multipart/mixed, base64
 * attachments. The providers' APIs build their messages with it (OCI's
 * submitEmail, SES's Simple content).
 *
 * The text grows in one buffer (a jsonw used as a byte buffer); a piece
 * that cannot be added marks the text failed, and mime_take() then gives
 * NULL, so that a message is built whole or not at all.
 */
#ifndef EDSIM_MIME_BUILD_H
#define EDSIM_MIME_BUILD_H

#include <stddef.h>

#include "jsonw.h"

struct mime_text {
	struct jsonw w;
};

void mime_put(struct mime_text *t, const char *s, size_t n);
void mime_puts(struct mime_text *t, const char *s);
/* Printable ASCII (and tab) only. */
int mime_ascii_only(const char *s);
/* s as RFC 2047 "B" encoded words (UTF-8) of at most 75 characters, split
 * on character boundaries, folded with CRLF SP. */
void mime_put_encoded_words(struct mime_text *t, const char *s);
/* s as it is when ASCII, else as encoded words. */
void mime_put_header_text(struct mime_text *t, const char *s);
/* A display name: a quoted string when ASCII, else encoded words. */
void mime_put_phrase(struct mime_text *t, const char *s);
/* "Name: value\r\n" (value ASCII or encoded words). */
void mime_put_header(struct mime_text *t, const char *name, const char *value);
/* "Date: <now, RFC 5322>\r\n". */
void mime_put_date(struct mime_text *t, double now);
/* Body text with CRLF line ends, ending in CRLF. */
void mime_put_body(struct mime_text *t, const char *s);
/* Content-Type (type; charset=...) and 8bit transfer encoding, then the
 * blank line. */
void mime_put_part_headers(struct mime_text *t, const char *type, const char *charset);
/* A text and/or an HTML body: one part, or multipart/alternative when both
 * are given (the boundary made from now); charsets NULL: UTF-8. */
void mime_put_bodies(struct mime_text *t, const char *text, const char *text_charset,
                     const char *html, const char *html_charset, double now);
/* The start of a multipart body: its Content-Type and the blank line. */
void mime_open_multipart(struct mime_text *t, const char *subtype, const char *boundary);
/* "--boundary\r\n", or the closing "--boundary--\r\n". */
void mime_put_boundary(struct mime_text *t, const char *boundary, int last);
/* n bytes as base64 in lines of 76 characters. */
void mime_put_base64(struct mime_text *t, const unsigned char *data, size_t n);
/* The message (malloc'ed, NUL-terminated) and its length; NULL when a
 * piece could not be added. */
char *mime_take(struct mime_text *t, size_t *len);

#endif
