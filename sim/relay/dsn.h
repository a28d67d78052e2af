/*
 * dsn.h - bounce reports: delivery status notifications (RFC 3464).
 *
 * A report is a multipart/report message from the null sender to the
 * original envelope sender: a human-readable part naming each failed
 * recipient and the reply that failed it, the machine-readable
 * message/delivery-status part (Reporting-MTA, Arrival-Date, and per
 * recipient Final-Recipient, Action: failed, Status, Remote-MTA,
 * Diagnostic-Code, Last-Attempt-Date), and the original message's header
 * as text/rfc822-headers.
 */
#ifndef EDSIM_DSN_H
#define EDSIM_DSN_H

#include <stddef.h>

struct dsn_recipient {
	const char *address;
	const char *reply;      /* "550 5.1.1 User unknown", or what went wrong */
	const char *remote_mta; /* where the last attempt went, or NULL */
	int expired;            /* given up after the maximum age */
};

struct dsn_report {
	const char *reporting_mta; /* edsim's hostname */
	const char *sender;        /* the original envelope sender: the report's recipient */
	const char *envelope_id;   /* edsim's id of the original message */
	double arrival, now;       /* Unix times */
	const char *original;      /* the original message (its header is quoted) */
	size_t original_len;
	const struct dsn_recipient *rcpts;
	size_t nrcpt;
};

/* The status (RFC 3463) a reply stands for: its enhanced code when it has
 * one ("5.1.1"), else 5.0.0 or 4.0.0 by its class; 4.4.7 when expired. */
void dsn_status(const struct dsn_recipient *r, char *out, size_t outlen);
/* The whole report as a message (CRLF lines), malloc'ed; message_id is
 * used for its Message-ID header. NULL only when libevent cannot make a
 * buffer. */
char *dsn_build(const struct dsn_report *rep, const char *message_id, size_t *len);

#endif
