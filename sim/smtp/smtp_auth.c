/*
 * smtp_auth.c - SASL PLAIN and LOGIN decoding with strict base64 (base64.c:
 * OpenSSL's decoder, the alphabet and padding checked first).
 */
#include "smtp_auth.h"

#include "base64.h"

#include <string.h>

long auth_base64_decode(const char *in, unsigned char *out, size_t outlen)
{
	if (strcmp(in, "=") == 0) {
		out[0] = '\0';
		return 0;
	}
	return base64_decode(in, strlen(in), out, outlen);
}

enum auth_decode auth_decode_plain(const char *b64, struct auth_credentials *cred)
{
	unsigned char buf[3 * AUTH_FIELD_MAX + 4];
	const unsigned char *nul1, *nul2;
	long n = auth_base64_decode(b64, buf, sizeof buf);
	size_t userlen, passlen;

	if (n < 0)
		return AUTH_BAD_BASE64;
	nul1 = memchr(buf, '\0', (size_t)n);
	if (nul1 == NULL)
		return AUTH_NO_NUL;
	nul2 = memchr(nul1 + 1, '\0', (size_t)(buf + n - nul1 - 1));
	if (nul2 == NULL)
		return AUTH_NO_SECOND_NUL;
	userlen = (size_t)(nul2 - nul1 - 1);
	passlen = (size_t)(buf + n - nul2 - 1);
	if (userlen >= AUTH_FIELD_MAX || passlen >= AUTH_FIELD_MAX)
		return AUTH_BAD_BASE64;
	memcpy(cred->user, nul1 + 1, userlen);
	cred->user[userlen] = '\0';
	memcpy(cred->password, nul2 + 1, passlen);
	cred->password[passlen] = '\0';
	return AUTH_DECODED;
}

enum auth_decode auth_decode_login(const char *b64, char *out, size_t outlen)
{
	unsigned char buf[3 * AUTH_FIELD_MAX + 4];
	long n = auth_base64_decode(b64, buf, sizeof buf);

	if (n < 0 || (size_t)n >= outlen)
		return AUTH_BAD_BASE64;
	memcpy(out, buf, (size_t)n + 1);
	return AUTH_DECODED;
}
