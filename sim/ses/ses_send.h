/*
 * ses_send.h - the send path the v2 SendEmail and the v1 SendEmail and
 * SendRawEmail share: a request as both APIs read it (struct ses_send),
 * SES's checks on it, the account's verdict, the message (built from
 * Simple content, or the raw one with SES's own X-SES-* fields removed),
 * the commit and the answer with SES's MessageId.
 *
 * Order of the checks, the first failure answering (each a catalog row
 * ses.<v1|v2>.<name>): template content (no templates exist yet), the raw
 * message's base64, the message size (v1 10 MB, v2 40 MB: SES's
 * documented limits), the sender (FromEmailAddress / Source, else a raw
 * message's From), the recipients (Destination, else a raw message's
 * To/Cc/Bcc; at least one, at most 50), every address's syntax, the
 * configuration set (ConfigurationSetName or X-SES-CONFIGURATION-SET), a
 * raw message's duplicated once-only field; then the scenario's submit
 * stage, and the account (suspended, paused, unverified identities, send
 * rate, daily quota) unless a rule lifted the native rejections.
 *
 * Invariants: the request's strings belong to the caller's parse and are
 * only read; the message and everything it grows with are checked
 * allocations, a failure answering internal-failure.
 */
#ifndef EDSIM_SES_SEND_H
#define EDSIM_SES_SEND_H

#include <stddef.h>

#include "ses_reply.h"

#define SES_MAX_RECIPIENTS 50
#define SES_V1_MAX_BYTES   10485760 /* "10 MB per message (after base64 encoding)" */
#define SES_V2_MAX_BYTES   41943040 /* 40 MB, v2 and SMTP */

struct ses_api;
struct https_req;

/* Addresses as the client wrote them ("Name <a@example.com>" or bare). */
struct ses_list {
	const char **v;
	size_t n;
};

/* A header of Simple content, or a message tag. */
struct ses_field {
	const char *name, *value;
};

struct ses_attachment {
	const char *content_b64; /* RawContent, base64 */
	const char *filename, *content_type, *disposition, *description, *content_id;
};

enum ses_content { SES_CONTENT_SIMPLE, SES_CONTENT_RAW, SES_CONTENT_TEMPLATE };

struct ses_send {
	enum ses_proto proto;
	const char *action; /* v1: the Action, for the answer's element names */
	enum ses_content content;
	const char *from;        /* FromEmailAddress / Source, or NULL */
	const char *return_path; /* v1 ReturnPath, v2 FeedbackForwardingEmailAddress */
	struct ses_list to, cc, bcc, reply_to;
	const char *config_set;
	/* Simple */
	const char *subject, *subject_charset;
	const char *text, *text_charset, *html, *html_charset;
	const struct ses_field *headers;
	size_t nheaders;
	const struct ses_attachment *attachments;
	size_t nattachments;
	/* Raw: base64 */
	const char *raw_b64;
	size_t raw_b64_len;
	/* Template */
	const char *template_name;
};

/* Runs the send and answers the request: an error, or the MessageId once
 * the message is committed. user: the signing key id, or NULL; h: the
 * request hook's answer (2: native rejections lifted). */
void ses_send_run(struct ses_api *api, struct https_req *r, const struct ses_send *s,
                  const char *user, int h);

/* The syntax of one address as SES checks it (the addr-spec inside angle
 * brackets when there are any): NULL when good, else the condition's name
 * ("invalid-address-local", ...). bare gets the addr-spec. */
const char *ses_address_problem(const char *written, char *bare, size_t len);
/* A domain identity's syntax: dot-separated labels of letters, digits, '-'
 * and '_', at most 63 characters each and 253 in all. */
int ses_domain_ok(const char *s);
/* A message tag's name or value: 1 to 256 ASCII letters, digits, '_' and
 * '-'. */
int ses_tag_ok(const char *s);

#endif
