/*
 * smtp_auth.h - decoding of SASL PLAIN and LOGIN payloads (RFC 4616, 4954).
 *
 * Pure functions: they turn base64 text into credentials or say which
 * documented error applies. Whether the credentials are good is policy.c's
 * business.
 */
#ifndef EDSIM_SMTP_AUTH_H
#define EDSIM_SMTP_AUTH_H

#include <stddef.h>

enum auth_decode {
	AUTH_DECODED,
	AUTH_BAD_BASE64,    /* oci.smtp.auth-bad-base64 */
	AUTH_NO_NUL,        /* oci.smtp.auth-no-nul */
	AUTH_NO_SECOND_NUL, /* oci.smtp.auth-no-second-nul */
};

#define AUTH_FIELD_MAX 512

struct auth_credentials {
	char user[AUTH_FIELD_MAX];
	char password[AUTH_FIELD_MAX];
};

/* Strict base64 (RFC 4648 alphabet, padding); "=" alone decodes to "".
 * Returns the decoded length or -1. out must hold 3/4 of strlen(in) + 1. */
long auth_base64_decode(const char *in, unsigned char *out, size_t outlen);
enum auth_decode auth_decode_plain(const char *b64, struct auth_credentials *cred);
/* One LOGIN step (user name or password) into out. */
enum auth_decode auth_decode_login(const char *b64, char *out, size_t outlen);

#endif
