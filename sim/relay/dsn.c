/*
 * dsn.c - bounce reports (RFC 3464 multipart/report, delivery-status).
 *
 * Everything is built into one evbuffer with CRLF line ends; the original
 * header is copied up to its empty line (or 64 KB) and never its body.
 */
#include "dsn.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "xmalloc.h"

#define QUOTED_HEADER_MAX (64 * 1024)

void dsn_status(const struct dsn_recipient *r, char *out, size_t outlen)
{
	const char *t = r->reply ? r->reply : "";
	int cls, sub, det;

	if (r->expired) {
		snprintf(out, outlen, "4.4.7");
		return;
	}
	if (strlen(t) > 4 && sscanf(t + 4, "%1d.%3d.%3d", &cls, &sub, &det) == 3 &&
	    (cls == 2 || cls == 4 || cls == 5)) {
		snprintf(out, outlen, "%d.%d.%d", cls, sub, det);
		return;
	}
	snprintf(out, outlen, "%s", t[0] == '5' ? "5.0.0" : "4.0.0");
}

/* The original header, up to the empty line that ends it. */
static size_t header_length(const char *raw, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (raw[i] == '\n' && (raw[i + 1] == '\n' ||
		                       (raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n')))
			return i + 1;
	return len;
}

/* Copies text with every line ending in CRLF. */
static void add_crlf_lines(struct evbuffer *b, const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		evbuffer_add(b, p, n);
		evbuffer_add(b, "\r\n", 2);
		p = nl ? nl + 1 : end;
	}
}

static void add_human_part(struct evbuffer *b, const struct dsn_report *rep, const char *boundary)
{
	evbuffer_add_printf(b,
	                    "--%s\r\n"
	                    "Content-Type: text/plain; charset=us-ascii\r\n"
	                    "Content-Description: Notification\r\n\r\n"
	                    "This is the mail system at %s.\r\n\r\n"
	                    "Your message %s could not be delivered to one or more recipients.\r\n"
	                    "It has not been delivered to them and will not be retried.\r\n\r\n",
	                    boundary, rep->reporting_mta, rep->envelope_id);
	for (size_t i = 0; i < rep->nrcpt; i++) {
		const struct dsn_recipient *r = &rep->rcpts[i];
		evbuffer_add_printf(b, "<%s>: %s%s\r\n", r->address,
		                    r->expired ? "delivery time expired; last reply: " : "",
		                    r->reply ? r->reply : "failed");
	}
	evbuffer_add(b, "\r\n", 2);
}

static void add_status_part(struct evbuffer *b, const struct dsn_report *rep, const char *boundary)
{
	char arrival[64], now[64], status[16];

	clock_format_rfc5322(rep->arrival, arrival, sizeof arrival);
	clock_format_rfc5322(rep->now, now, sizeof now);
	evbuffer_add_printf(b,
	                    "--%s\r\n"
	                    "Content-Type: message/delivery-status\r\n"
	                    "Content-Description: Delivery report\r\n\r\n"
	                    "Reporting-MTA: dns; %s\r\n"
	                    "X-Edsim-Envelope-Id: %s\r\n"
	                    "Arrival-Date: %s\r\n",
	                    boundary, rep->reporting_mta, rep->envelope_id, arrival);
	for (size_t i = 0; i < rep->nrcpt; i++) {
		const struct dsn_recipient *r = &rep->rcpts[i];
		dsn_status(r, status, sizeof status);
		evbuffer_add_printf(
		    b, "\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: %s\r\n",
		    r->address, status);
		if (r->remote_mta != NULL)
			evbuffer_add_printf(b, "Remote-MTA: dns; %s\r\n", r->remote_mta);
		if (r->reply != NULL && isdigit((unsigned char)r->reply[0]))
			evbuffer_add_printf(b, "Diagnostic-Code: smtp; %s\r\n", r->reply);
		else if (r->reply != NULL)
			evbuffer_add_printf(b, "Diagnostic-Code: X-edsim; %s\r\n", r->reply);
		evbuffer_add_printf(b, "Last-Attempt-Date: %s\r\n", now);
	}
	evbuffer_add(b, "\r\n", 2);
}

char *dsn_build(const struct dsn_report *rep, const char *message_id, size_t *len)
{
	struct evbuffer *b = evbuffer_new();
	char boundary[96], date[64], *out = NULL;
	size_t hlen = header_length(rep->original ? rep->original : "", rep->original_len);

	if (b == NULL)
		return NULL;
	snprintf(boundary, sizeof boundary, "edsim-dsn-%s", rep->envelope_id);
	clock_format_rfc5322(rep->now, date, sizeof date);
	evbuffer_add_printf(b,
	                    "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	                    "To: <%s>\r\n"
	                    "Subject: Undelivered Mail Returned to Sender\r\n"
	                    "Date: %s\r\n"
	                    "Message-ID: %s\r\n"
	                    "Auto-Submitted: auto-replied\r\n"
	                    "MIME-Version: 1.0\r\n"
	                    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	                    "\tboundary=\"%s\"\r\n\r\n"
	                    "This is a MIME-encapsulated message.\r\n\r\n",
	                    rep->reporting_mta, rep->sender, date, message_id, boundary);
	add_human_part(b, rep, boundary);
	add_status_part(b, rep, boundary);
	evbuffer_add_printf(b,
	                    "--%s\r\nContent-Type: text/rfc822-headers\r\n"
	                    "Content-Description: Undelivered Message Headers\r\n\r\n",
	                    boundary);
	add_crlf_lines(b, rep->original ? rep->original : "",
	               hlen < QUOTED_HEADER_MAX ? hlen : QUOTED_HEADER_MAX);
	evbuffer_add_printf(b, "\r\n--%s--\r\n", boundary);
	*len = evbuffer_get_length(b);
	out = xmalloc(*len + 1);
	evbuffer_remove(b, out, *len);
	out[*len] = '\0';
	evbuffer_free(b);
	return out;
}
