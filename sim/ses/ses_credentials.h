/*
 * ses_credentials.h - Amazon SES's derived secrets: the AWS Signature
 * Version 4 signing key of a secret access key, and the SES SMTP password
 * derived from the same key for one region.
 *
 * Both are HMAC-SHA256 chains (OpenSSL's HMAC), as AWS documents them: the
 * signing key is HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
 * service), "aws4_request"); the SMTP password is base64(0x04 ||
 * HMAC(signing key for date "11111111", service "ses", "SendRawEmail")), so
 * every such password is 44 characters and starts with 'B'.
 */
#ifndef EDSIM_SES_CREDENTIALS_H
#define EDSIM_SES_CREDENTIALS_H

#include <stddef.h>

#define SES_KEY_LEN           32 /* an HMAC-SHA256 digest */
#define SES_SMTP_PASSWORD_LEN 44

/* out = HMAC-SHA256(key, data); out may alias key. The one HMAC of the SES
 * code: the key chains below and the SigV4 signature (sigv4.c) use it. */
void ses_hmac_sha256(const unsigned char *key, size_t keylen, const void *data, size_t len,
                     unsigned char out[SES_KEY_LEN]);
/* The SigV4 signing key for date ("YYYYMMDD"), region and service. */
void ses_signing_key(const char *secret, const char *date, const char *region, const char *service,
                     unsigned char key[SES_KEY_LEN]);
/* The SMTP password of secret in region, NUL-terminated (out holds at
 * least SES_SMTP_PASSWORD_LEN + 1 bytes). */
void ses_smtp_password(const char *secret, const char *region, char out[SES_SMTP_PASSWORD_LEN + 1]);

#endif
