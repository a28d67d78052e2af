/*
 * ses_message.c - SES's reading of a header section (see ses_message.h).
 */
#include "ses_message.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ses_account.h"

/* Header fields a message may hold once (RFC 5322 section 3.6 and the MIME
 * fields); SES refuses a second one. */
static const char *const single_fields[] = {"Date",
                                            "From",
                                            "Sender",
                                            "Reply-To",
                                            "To",
                                            "Cc",
                                            "Bcc",
                                            "Message-ID",
                                            "In-Reply-To",
                                            "References",
                                            "Subject",
                                            "MIME-Version",
                                            "Content-Type",
                                            "Content-Transfer-Encoding",
                                            NULL};

static int name_is(const struct header_field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

static int is_ses_field(const struct header_field *f)
{
	return f->name_len > 6 && strncasecmp(f->name, "X-SES-", 6) == 0;
}

static void note_duplicates(const struct header_field *f, unsigned *seen,
                            struct ses_header_scan *sc)
{
	for (size_t i = 0; single_fields[i] != NULL; i++)
		if (name_is(f, single_fields[i])) {
			if ((*seen & (1u << i)) && sc->duplicate[0] == '\0')
				snprintf(sc->duplicate, sizeof sc->duplicate, "%.*s",
				         (int)f->name_len, f->name);
			*seen |= 1u << i;
		}
}

void ses_message_scan(const char *raw, size_t header_bytes, struct ses_header_scan *sc)
{
	struct header_field f;
	size_t pos = 0;
	unsigned seen = 0;
	char list[1][256];

	memset(sc, 0, sizeof *sc);
	while (message_next_field(raw, header_bytes, &pos, &f)) {
		note_duplicates(&f, &seen, sc);
		if (name_is(&f, "X-SES-CONFIGURATION-SET"))
			snprintf(sc->config_set, sizeof sc->config_set, "%s", f.value);
		else if (name_is(&f, "Sender") && message_parse_address_list(f.value, list, 1) == 1)
			snprintf(sc->sender, sizeof sc->sender, "%s", list[0]);
	}
}

size_t ses_message_recipients(const char *raw, size_t header_bytes, char out[][256], size_t max)
{
	static const char *const fields[] = {"To", "Cc", "Bcc"};
	struct header_field f;
	size_t n = 0;

	for (size_t k = 0; k < 3; k++) {
		size_t pos = 0;
		while (message_next_field(raw, header_bytes, &pos, &f))
			if (name_is(&f, fields[k]))
				n += message_parse_address_list(f.value, out + (n < max ? n : max),
				                                n < max ? max - n : 0);
	}
	return n;
}

size_t ses_message_strip(char *raw, size_t *len, size_t header_bytes)
{
	struct header_field f;
	size_t pos = 0, out = 0;

	while (message_next_field(raw, header_bytes, &pos, &f)) {
		if (is_ses_field(&f))
			continue;
		memmove(raw + out, raw + f.offset, f.len);
		out += f.len;
	}
	if (out == pos)
		return header_bytes;
	memmove(raw + out, raw + pos, *len - pos);
	*len -= pos - out;
	return out;
}

void ses_region_upper(const struct ses_account *a, char *out, size_t len)
{
	const char *region = ses_account_region(a);
	size_t i;

	for (i = 0; i + 1 < len && region[i]; i++)
		out[i] = (char)toupper((unsigned char)region[i]);
	out[i] = '\0';
}
