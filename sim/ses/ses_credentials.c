/*
 * ses_credentials.c - the SigV4 signing key and the SES SMTP password,
 * each an HMAC-SHA256 chain over the secret access key.
 */
#include "ses_credentials.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

void ses_hmac_sha256(const unsigned char *key, size_t keylen, const void *data, size_t len,
                     unsigned char out[SES_KEY_LEN])
{
	unsigned char digest[SES_KEY_LEN];
	unsigned int digestlen = sizeof digest;

	HMAC(EVP_sha256(), key, (int)keylen, data, len, digest, &digestlen);
	memcpy(out, digest, sizeof digest);
	OPENSSL_cleanse(digest, sizeof digest);
}

/* One link of a key chain: out = HMAC-SHA256(key, text). */
static void hmac_step(const unsigned char *key, size_t keylen, const char *text,
                      unsigned char out[SES_KEY_LEN])
{
	ses_hmac_sha256(key, keylen, text, strlen(text), out);
}

void ses_signing_key(const char *secret, const char *date, const char *region, const char *service,
                     unsigned char key[SES_KEY_LEN])
{
	size_t len = 4 + strlen(secret);
	char *first = xmalloc(len + 1);

	memcpy(first, "AWS4", 4);
	memcpy(first + 4, secret, len - 4 + 1);
	hmac_step((const unsigned char *)first, len, date, key);
	hmac_step(key, SES_KEY_LEN, region, key);
	hmac_step(key, SES_KEY_LEN, service, key);
	hmac_step(key, SES_KEY_LEN, "aws4_request", key);
	OPENSSL_cleanse(first, len);
	free(first);
}

void ses_smtp_password(const char *secret, const char *region, char out[SES_SMTP_PASSWORD_LEN + 1])
{
	unsigned char raw[1 + SES_KEY_LEN];

	raw[0] = 0x04; /* the version of the derivation */
	ses_signing_key(secret, "11111111", region, "ses", raw + 1);
	hmac_step(raw + 1, SES_KEY_LEN, "SendRawEmail", raw + 1);
	EVP_EncodeBlock((unsigned char *)out, raw, (int)sizeof raw);
	OPENSSL_cleanse(raw, sizeof raw);
}
