/*
 * ses_message.h - what SES reads in and removes from a message's header
 * section, the same over SMTP (end of DATA) and the APIs (raw content):
 * X-SES-CONFIGURATION-SET, a second copy of a field that may occur once,
 * the Sender field, the To/Cc/Bcc recipients; and the removal of SES's own
 * X-SES-* fields before the message is stored and relayed.
 */
#ifndef EDSIM_SES_MESSAGE_H
#define EDSIM_SES_MESSAGE_H

#include <stddef.h>

#include "message.h"

struct ses_account;

struct ses_header_scan {
	char config_set[HDR_VALUE_MAX + 1]; /* X-SES-CONFIGURATION-SET, or "" */
	char duplicate[128];                /* the first once-only field seen twice, or "" */
	char sender[256];                   /* the Sender field's address, or "" */
};

/* Reads the first header_bytes of raw (message_parse_headers' measure). */
void ses_message_scan(const char *raw, size_t header_bytes, struct ses_header_scan *sc);
/* The addresses of the To, Cc and Bcc fields, in that order (at most max,
 * each as the field wrote it); returns how many there are (may exceed max). */
size_t ses_message_recipients(const char *raw, size_t header_bytes, char out[][256], size_t max);
/* Removes every X-SES-* field in place (SES does before it sends): *len
 * shrinks; returns the new header_bytes. */
size_t ses_message_strip(char *raw, size_t *len, size_t header_bytes);
/* The account's region as SES prints it in its refusals: upper case. */
void ses_region_upper(const struct ses_account *a, char *out, size_t len);

#endif
