/*
 * address.c - mailbox address syntax (RFC 5321 sections 4.1.2 and 4.1.3).
 */
#include "address.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

static int is_atext(int c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int local_part_valid(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return 0;
	if (s[0] == '"') {
		if (len < 2 || s[len - 1] != '"')
			return 0;
		for (size_t i = 1; i < len - 1; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\' && i + 1 < len - 1)
				i++;
			else if (c < 32 || c > 126 || c == '"' || c == '\\')
				return 0;
		}
		return 1;
	}
	if (s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return 0;
		if (s[i] != '.' && !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* "1.2.3.4]" or "IPv6:...]" (RFC 5321 section 4.1.3), after the '['. */
static int address_literal_valid(const char *s, size_t len)
{
	struct in6_addr v6;
	struct in_addr v4;
	char text[64];

	if (len < 2 || len > sizeof text || s[len - 1] != ']')
		return 0;
	memcpy(text, s, len - 1);
	text[len - 1] = '\0';
	if (strncasecmp(text, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, text + 5, &v6) == 1;
	return inet_pton(AF_INET, text, &v4) == 1;
}

static int domain_valid(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return 0;
	if (s[0] == '[')
		return address_literal_valid(s + 1, len - 1);
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

int address_is_valid(const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || strlen(addr) > 254)
		return 0;
	return local_part_valid(addr, (size_t)(at - addr)) && domain_valid(at + 1);
}
