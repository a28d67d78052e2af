/*
 * ses_mime.c - the message of Simple content (see ses_mime.h), written
 * with mime_build.c.
 */
#include "ses_mime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "mime_build.h"
#include "ses_send.h"

/* An address as the client wrote it; a display name that is not ASCII
 * becomes encoded words, the address stays as it is. */
static void put_address(struct mime_text *t, const char *written)
{
	const char *angle = strrchr(written, '<');
	char name[512];
	size_t n;

	if (mime_ascii_only(written) || angle == NULL) {
		mime_puts(t, written);
		return;
	}
	n = (size_t)(angle - written);
	while (n > 0 && written[n - 1] == ' ')
		n--;
	snprintf(name, sizeof name, "%.*s", (int)n, written);
	if (name[0] == '"' && n > 1 && name[n - 1] == '"') {
		memmove(name, name + 1, n - 2);
		name[n - 2] = '\0';
	}
	mime_put_encoded_words(t, name);
	mime_puts(t, " ");
	mime_puts(t, angle);
}

static void put_list(struct mime_text *t, const char *field, const struct ses_list *l)
{
	if (l->n == 0)
		return;
	mime_puts(t, field);
	mime_puts(t, ": ");
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0)
			mime_puts(t, ",\r\n ");
		put_address(t, l->v[i]);
	}
	mime_puts(t, "\r\n");
}

static void put_headers(struct mime_text *t, const struct ses_send *s, const char *message_id,
                        double now)
{
	mime_put_date(t, now);
	mime_puts(t, "From: ");
	put_address(t, s->from);
	mime_puts(t, "\r\n");
	put_list(t, "To", &s->to);
	put_list(t, "Cc", &s->cc);
	put_list(t, "Reply-To", &s->reply_to);
	mime_put_header(t, "Subject", s->subject ? s->subject : "");
	mime_put_header(t, "Message-ID", message_id);
	mime_puts(t, "MIME-Version: 1.0\r\n");
	for (size_t i = 0; i < s->nheaders; i++)
		mime_put_header(t, s->headers[i].name, s->headers[i].value);
}

/* One attachment as a base64 part: -1 when its content is not base64. */
static int put_attachment(struct mime_text *t, const struct ses_attachment *a)
{
	size_t len = 0;
	int bad = 0;
	unsigned char *data =
	    base64_decode_alloc(a->content_b64, strlen(a->content_b64), &len, &bad);

	if (data == NULL) {
		if (!bad)
			t->w.failed = 1; /* out of memory: the message is not made */
		return bad ? -1 : 0;
	}
	mime_puts(t, "Content-Type: ");
	mime_puts(t, a->content_type ? a->content_type : "application/octet-stream");
	mime_puts(t, "; name=\"");
	mime_puts(t, a->filename);
	mime_puts(t, "\"\r\nContent-Disposition: ");
	mime_puts(t, a->disposition ? a->disposition : "attachment");
	mime_puts(t, "; filename=\"");
	mime_puts(t, a->filename);
	mime_puts(t, "\"\r\n");
	if (a->content_id != NULL)
		mime_put_header(t, "Content-ID", a->content_id);
	if (a->description != NULL)
		mime_put_header(t, "Content-Description", a->description);
	mime_puts(t, "Content-Transfer-Encoding: base64\r\n\r\n");
	mime_put_base64(t, data, len);
	free(data);
	return 0;
}

char *ses_mime_simple(const struct ses_send *s, const char *message_id, double now, size_t *len,
                      int *bad)
{
	struct mime_text t = {0};
	char boundary[64];

	*bad = 0;
	put_headers(&t, s, message_id, now);
	if (s->nattachments == 0) {
		mime_put_bodies(&t, s->text, s->text_charset, s->html, s->html_charset, now);
		return mime_take(&t, len);
	}
	snprintf(boundary, sizeof boundary, "edsim-mixed-%llx", (unsigned long long)(now * 1000.0));
	mime_open_multipart(&t, "mixed", boundary);
	mime_put_boundary(&t, boundary, 0);
	mime_put_bodies(&t, s->text, s->text_charset, s->html, s->html_charset, now);
	for (size_t i = 0; i < s->nattachments && !*bad; i++) {
		mime_put_boundary(&t, boundary, 0);
		*bad = put_attachment(&t, &s->attachments[i]) < 0;
	}
	mime_put_boundary(&t, boundary, 1);
	if (*bad) {
		jsonw_free(&t.w);
		return NULL;
	}
	return mime_take(&t, len);
}
