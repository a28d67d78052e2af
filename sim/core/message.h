/*
 * message.h - the header section of an RFC 5322 message.
 *
 * Finds the header section, checks that every line in it is a header field
 * or a folded continuation, bounds its size, and extracts what edsim keeps
 * and checks: Message-ID, Subject and the From addresses.
 */
#ifndef EDSIM_MESSAGE_H
#define EDSIM_MESSAGE_H

#include <stddef.h>

enum header_result { HDR_OK, HDR_NO_HEADERS, HDR_TOO_LARGE, HDR_MALFORMED };

#define HDR_VALUE_MAX 998
#define HDR_FROM_MAX  8

struct header_info {
	size_t header_bytes; /* bytes of the header section, without the blank line */
	size_t body_offset;  /* where the body starts (len when there is none) */
	char message_id[HDR_VALUE_MAX + 1];
	char subject[HDR_VALUE_MAX + 1];
	char from[HDR_FROM_MAX][256]; /* addresses in From, in order */
	size_t nfrom;                 /* how many addresses From holds (may exceed HDR_FROM_MAX) */
};

enum header_result message_parse_headers(const char *msg, size_t len, size_t max_header_bytes,
                                         struct header_info *out);
/* One field of a header section: where it is (the whole field, folded
 * lines and line ends included), its name and its unfolded value. */
struct header_field {
	size_t offset, len;
	const char *name;
	size_t name_len;
	char value[HDR_VALUE_MAX + 1];
};

/* The field at *pos in the first header_bytes of msg (as message_parse_headers
 * measured them); advances *pos. Returns 0 when there is no further field. */
int message_next_field(const char *msg, size_t header_bytes, size_t *pos, struct header_field *f);
/* Splits an address-list header value into bare addresses. Returns the count. */
size_t message_parse_address_list(const char *value, char out[][256], size_t max);

#endif
