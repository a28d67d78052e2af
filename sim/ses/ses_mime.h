/*
 * ses_mime.h - the RFC 5322 message SES makes of Simple content: Date,
 * From, To, Cc (never Bcc), Reply-To, Subject (RFC 2047 words when it is
 * not ASCII), Message-ID, MIME-Version, the request's own headers, then
 * the text and/or HTML body (multipart/alternative when both) with their
 * charsets, all inside multipart/mixed with one base64 part per attachment
 * when there are attachments.
 */
#ifndef EDSIM_SES_MIME_H
#define EDSIM_SES_MIME_H

#include <stddef.h>

struct ses_send;

/* The message (malloc'ed, CRLF line ends) and its length; NULL when memory
 * ran out or an attachment's RawContent is not base64 (*bad set). */
char *ses_mime_simple(const struct ses_send *s, const char *message_id, double now, size_t *len,
                      int *bad);

#endif
