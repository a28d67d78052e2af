/*
 * message.c - header section parsing (RFC 5322 section 2.2 and 3.6).
 *
 * The message is CRLF-normalised by the session before it gets here. The
 * header section ends at the first empty line, or at the end of the message
 * when there is no body. A first line that is not a header field means the
 * message has no header section at all.
 */
#include "message.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static size_t line_length(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
}

static size_t strip_eol(const char *p, size_t len)
{
	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

/* Length of the field name if the line starts "name:", else 0. */
static size_t field_name_length(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && p[i] >= 33 && p[i] <= 126 && p[i] != ':')
		i++;
	return (i > 0 && i < len && p[i] == ':') ? i : 0;
}

/* Appends an unfolded piece of a field value to dst, trimming outer blanks. */
static void value_append(char *dst, const char *src, size_t len)
{
	size_t used = strlen(dst);

	while (len > 0 && (*src == ' ' || *src == '\t')) {
		src++;
		len--;
	}
	while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\t'))
		len--;
	if (used > 0 && len > 0 && used < HDR_VALUE_MAX)
		dst[used++] = ' ';
	if (len > HDR_VALUE_MAX - used)
		len = HDR_VALUE_MAX - used;
	memcpy(dst + used, src, len);
	dst[used + len] = '\0';
}

enum header_result message_parse_headers(const char *msg, size_t len, size_t max_header_bytes,
                                         struct header_info *out)
{
	char from_value[HDR_VALUE_MAX + 1];
	const char *p = msg, *end = msg + len;
	char *current = NULL;

	memset(out, 0, sizeof *out);
	from_value[0] = '\0';
	while (p < end) {
		size_t raw = line_length(p, end), n = strip_eol(p, raw), name;
		if (n == 0) { /* the blank line that ends the header section */
			out->body_offset = (size_t)(p + raw - msg);
			break;
		}
		if ((size_t)(p - msg) + raw > max_header_bytes)
			return HDR_TOO_LARGE;
		if (*p == ' ' || *p == '\t') {
			if (p == msg)
				return HDR_NO_HEADERS;
			if (current != NULL)
				value_append(current, p, n);
		} else if ((name = field_name_length(p, n)) > 0) {
			current = NULL;
			if (LIT_CASE_EQ(p, name, "Message-ID"))
				current = out->message_id;
			else if (LIT_CASE_EQ(p, name, "Subject"))
				current = out->subject;
			else if (LIT_CASE_EQ(p, name, "From"))
				current = from_value;
			if (current != NULL) {
				current[0] = '\0';
				value_append(current, p + name + 1, n - name - 1);
			}
		} else {
			return p == msg ? HDR_NO_HEADERS : HDR_MALFORMED;
		}
		p += raw;
		out->header_bytes = (size_t)(p - msg);
	}
	if (out->header_bytes == 0)
		return HDR_NO_HEADERS;
	if (p >= end)
		out->body_offset = len;
	out->nfrom = message_parse_address_list(from_value, out->from, HDR_FROM_MAX);
	return HDR_OK;
}

int message_next_field(const char *msg, size_t header_bytes, size_t *pos, struct header_field *f)
{
	const char *p = msg + *pos, *end = msg + header_bytes;
	size_t raw, n;

	if (p >= end || (n = strip_eol(p, raw = line_length(p, end))) == 0 ||
	    (f->name_len = field_name_length(p, n)) == 0)
		return 0;
	f->offset = *pos;
	f->name = p;
	f->value[0] = '\0';
	value_append(f->value, p + f->name_len + 1, n - f->name_len - 1);
	for (p += raw; p < end && (*p == ' ' || *p == '\t'); p += raw)
		value_append(f->value, p, strip_eol(p, raw = line_length(p, end)));
	f->len = (size_t)(p - msg) - f->offset;
	*pos = (size_t)(p - msg);
	return 1;
}

/* Steps over s[*i] in an address list and returns 1 when that character
 * stands outside quoted strings and comments; quoted pairs (\x) inside
 * either are consumed whole, so an escaped quote or paren changes nothing. */
static int lex_plain(const char *s, size_t len, size_t *i, int *quoted, int *comment)
{
	char c = s[*i];

	if (*quoted || *comment) {
		if (c == '\\' && *i + 1 < len)
			(*i)++;
		else if (*quoted && c == '"')
			*quoted = 0;
		else if (*comment && c == '(')
			(*comment)++;
		else if (*comment && c == ')')
			(*comment)--;
		return 0;
	}
	if (c == '"')
		*quoted = 1;
	else if (c == '(')
		*comment = 1;
	return !*quoted && !*comment;
}

/* Copies one address out of an element such as "Name" <a@b> or a@b (c):
 * comments and blanks go, quoted strings stay as written. */
static void element_address(const char *s, size_t len, char *out)
{
	const char *lt = NULL, *gt = NULL;
	size_t o = 0;
	int quoted = 0, comment = 0;

	for (size_t i = 0; i < len; i++)
		if (lex_plain(s, len, &i, &quoted, &comment)) {
			if (s[i] == '<')
				lt = s + i;
			else if (s[i] == '>' && lt)
				gt = s + i;
		}
	if (lt && gt) {
		s = lt + 1;
		len = (size_t)(gt - lt - 1);
	}
	quoted = comment = 0;
	for (size_t i = 0; i < len; i++) {
		size_t from = i;
		int in_comment = comment > 0 || (!quoted && s[i] == '(');
		if (lex_plain(s, len, &i, &quoted, &comment)) {
			if (!isspace((unsigned char)s[i]) && o < 255)
				out[o++] = s[i];
		} else if (!in_comment) {
			for (; from <= i && o < 255; from++)
				out[o++] = s[from];
		}
	}
	out[o] = '\0';
}

size_t message_parse_address_list(const char *value, char out[][256], size_t max)
{
	size_t count = 0, start = 0, i, len = strlen(value);
	int quoted = 0, angle = 0, comment = 0;

	for (i = 0;; i++) {
		char c = value[i];
		int plain = c != '\0' && lex_plain(value, len, &i, &quoted, &comment);
		if (plain && c == '<')
			angle = 1;
		else if (plain && c == '>')
			angle = 0;
		if (c == '\0' || (plain && c == ',' && !angle)) {
			char addr[256];
			element_address(value + start, i - start, addr);
			if (addr[0] != '\0') {
				if (count < max)
					memcpy(out[count], addr, sizeof addr);
				count++;
			}
			start = i + 1;
		}
		if (c == '\0')
			break;
	}
	return count;
}
