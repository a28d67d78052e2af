/*
 * ses_events.h - what SES tells about a message after the send: the event
 * records of configuration-set event publishing (`eventType`: Send, Reject,
 * Bounce, Complaint, Delivery, DeliveryDelay, Rendering Failure) and the
 * identity notifications (`notificationType`: Bounce, Complaint, Delivery),
 * built in SES's documented JSON shapes and handed to SNS (sns.h) for every
 * matching, enabled SNS destination of the message's configuration set and
 * every notification topic of its identity.
 *
 * The `mail` object of each accepted message (timestamp, messageId, source,
 * sourceArn, sendingAccountId, destination, headersTruncated, headers,
 * commonHeaders, tags) is built once, at ses_events_sent(), and kept (the
 * newest SES_EVENTS_KEEP messages) for the events that follow; an event for
 * a message edsim no longer remembers gets a mail object with only its id.
 *
 * Invariants: one record per (message, recipient, outcome) except Bounce
 * and Complaint, which may list several recipients; times are the virtual
 * clock's wall time (vclock_wall()); every record published is also kept
 * (GET /api/v1/ses/events) whether or not a destination took it.
 */
#ifndef EDSIM_SES_EVENTS_H
#define EDSIM_SES_EVENTS_H

#include <jansson.h>
#include <stddef.h>

#define SES_EVENTS_KEEP 10000

struct env;
struct sns;
struct ses_account;
struct ses_events;

/* One accepted (or silently dropped) message as SES describes it. */
struct ses_mail_info {
	const char *message_id;
	const char *source;   /* the From/Source as written ("Name <a@b>") */
	const char *identity; /* the verified identity used: sourceArn's */
	const char *const *destination; /* bare recipient addresses */
	size_t ndestination;
	const char *raw; /* the message (headers, commonHeaders); NULL: none */
	size_t header_len;      /* of raw's header section */
	const char *config_set; /* NULL: none */
	const char *const (*tags)[2]; /* custom tags {name, value} */
	size_t ntags;
	const char *operation;       /* ses:operation: "SendEmail", "SendRawEmail", "SendSmtpEmail", ... */
	const char *source_ip;       /* the client's address */
	const char *caller_identity; /* the access key's user ("ses_user") */
};

struct ses_events *ses_events_new(const struct env *env, struct ses_account *a, struct sns *sns);
void ses_events_free(struct ses_events *e);
void ses_events_reset(struct ses_events *e);

/* The message was accepted: remembered, and a Send event. */
void ses_events_sent(struct ses_events *e, const struct ses_mail_info *m);
/* Accepted but not sent: its template could not be rendered. */
void ses_events_rendering_failure(struct ses_events *e, const struct ses_mail_info *m,
                                  const char *template_name, const char *error);
/* Accepted but not sent: a virus ("Bad content"). */
void ses_events_reject(struct ses_events *e, const struct ses_mail_info *m);

struct ses_recipient_outcome {
	const char *address;
	const char *status;          /* "5.1.1" */
	const char *diagnostic_code; /* "smtp; 550 5.1.1 user unknown" */
};

void ses_events_delivery(struct ses_events *e, const char *message_id, const char *recipient,
                         const char *smtp_response, const char *reporting_mta);
/* type: Permanent | Transient | Undetermined; subtype as SES's table. */
void ses_events_bounce(struct ses_events *e, const char *message_id, const char *type,
                       const char *subtype, const struct ses_recipient_outcome *rcpts,
                       size_t n, const char *reporting_mta);
/* expiration: virtual-clock seconds when SES gives up on the recipient. */
void ses_events_delay(struct ses_events *e, const char *message_id, const char *delay_type,
                      const struct ses_recipient_outcome *rcpt, double expiration,
                      const char *reporting_mta);
/* feedback_type: abuse, ...; subtype NULL or "OnAccountSuppressionList". */
void ses_events_complaint(struct ses_events *e, const char *message_id,
                          const char *const *recipients, size_t n, const char *feedback_type,
                          const char *subtype);

/* Every record published, oldest first (GET /api/v1/ses/events). */
json_t *ses_events_json(const struct ses_events *e);

#endif
