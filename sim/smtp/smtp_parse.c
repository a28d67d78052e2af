/*
 * smtp_parse.c - SMTP command and address syntax (RFC 5321 sections 4.1).
 *
 * Lenient where real clients commonly deviate (a space after "FROM:", a
 * missing pair of angle brackets), strict on the address itself.
 */
#include "smtp_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
    {"EHLO", VERB_EHLO}, {"HELO", VERB_HELO}, {"STARTTLS", VERB_STARTTLS}, {"AUTH", VERB_AUTH},
    {"MAIL", VERB_MAIL}, {"RCPT", VERB_RCPT}, {"DATA", VERB_DATA},         {"RSET", VERB_RSET},
    {"NOOP", VERB_NOOP}, {"QUIT", VERB_QUIT}, {"VRFY", VERB_VRFY},         {"EXPN", VERB_EXPN},
    {"HELP", VERB_HELP},
};

void smtp_parse_command(const char *line, struct smtp_command *out)
{
	size_t len = strcspn(line, " ");

	out->verb = VERB_UNKNOWN;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strlen(verbs[i].name) == len && strncasecmp(line, verbs[i].name, len) == 0)
			out->verb = verbs[i].verb;
	line += len;
	while (*line == ' ')
		line++;
	out->arg = line;
}

const char *smtp_verb_name(enum smtp_verb verb)
{
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "UNKNOWN";
}

enum path_result smtp_parse_path(const char *arg, const char *prefix, char *addr, size_t addrlen,
                                 const char **params)
{
	size_t plen = strlen(prefix), alen;
	const char *p = arg, *end;

	if (strncasecmp(p, prefix, plen) != 0)
		return PATH_SYNTAX;
	p += plen;
	while (*p == ' ')
		p++;
	if (*p == '<') {
		end = strchr(++p, '>');
		if (end == NULL)
			return PATH_SYNTAX;
		alen = (size_t)(end - p);
		end++;
	} else {
		alen = strcspn(p, " ");
		if (alen == 0)
			return PATH_SYNTAX;
		end = p + alen;
	}
	if (*end != '\0' && *end != ' ')
		return PATH_SYNTAX;
	while (*end == ' ')
		end++;
	*params = end;
	if (alen >= addrlen) {
		memcpy(addr, p, addrlen - 1);
		addr[addrlen - 1] = '\0';
		return PATH_INVALID_ADDRESS;
	}
	memcpy(addr, p, alen);
	addr[alen] = '\0';
	return PATH_OK;
}

static int next_param(const char **cursor, char *key, size_t keylen, const char **value,
                      size_t *valuelen)
{
	const char *p = *cursor, *eq;
	size_t len;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	len = strcspn(p, " ");
	eq = memchr(p, '=', len);
	if ((size_t)((eq ? eq : p + len) - p) >= keylen)
		return -1;
	memcpy(key, p, (size_t)((eq ? eq : p + len) - p));
	key[(eq ? eq : p + len) - p] = '\0';
	*value = eq ? eq + 1 : NULL;
	*valuelen = eq ? (size_t)(p + len - eq - 1) : 0;
	*cursor = p + len;
	return 1;
}

enum param_result smtp_parse_mail_params(const char *params, unsigned long long *size)
{
	const char *cursor = params, *value;
	size_t valuelen;
	char key[32], *end;
	int rc;

	*size = 0;
	while ((rc = next_param(&cursor, key, sizeof key, &value, &valuelen)) > 0) {
		if (strcasecmp(key, "SIZE") == 0) {
			if (value == NULL || valuelen == 0 || !isdigit((unsigned char)*value))
				return PARAM_SYNTAX;
			*size = strtoull(value, &end, 10);
			if (end != value + valuelen)
				return PARAM_SYNTAX;
		} else if (strcasecmp(key, "BODY") == 0) {
			if (value == NULL ||
			    !((valuelen == 4 && strncasecmp(value, "7BIT", 4) == 0) ||
			      (valuelen == 8 && strncasecmp(value, "8BITMIME", 8) == 0)))
				return PARAM_SYNTAX;
		} else if (strcasecmp(key, "AUTH") != 0) {
			return PARAM_UNSUPPORTED;
		}
	}
	return rc < 0 ? PARAM_UNSUPPORTED : PARAM_OK;
}

enum param_result smtp_parse_rcpt_params(const char *params)
{
	while (*params == ' ')
		params++;
	return *params == '\0' ? PARAM_OK : PARAM_UNSUPPORTED;
}
