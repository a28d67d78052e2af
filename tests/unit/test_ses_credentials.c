/*
 * test_ses_credentials.c - the SigV4 signing key and the SES SMTP password
 * (sim/ses/ses_credentials.c) against published values: AWS's own example
 * of a derived signing key, and the SMTP password vectors of
 * ../shared/reference/ses.md section 8.6 (the same strings as independent
 * implementations' golden tests).
 */
#include <stdio.h>
#include <string.h>

#include "ses_credentials.h"
#include "unit.h"

static void test_signing_key_aws_example(void)
{
	/* AWS General Reference, "Examples of how to derive a signing key for
	 * Signature Version 4": IAM, us-east-1, 2012-02-15 */
	unsigned char key[SES_KEY_LEN];
	char hex[2 * SES_KEY_LEN + 1];

	ses_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam",
	                key);
	for (size_t i = 0; i < sizeof key; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

static void test_smtp_password_vectors(void)
{
	static const struct {
		const char *region, *password;
	} vectors[] = {
	    {"us-east-1", "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"},
	    {"us-west-2", "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd"},
	    {"eu-west-1", "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk"},
	};
	char out[SES_SMTP_PASSWORD_LEN + 1];

	for (size_t i = 0; i < UNIT_COUNT(vectors); i++) {
		memset(out, 'x', sizeof out);
		ses_smtp_password("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", vectors[i].region,
		                  out);
		CU_ASSERT_STRING_EQUAL(out, vectors[i].password);
	}
}

static void test_smtp_password_shape(void)
{
	char a[SES_SMTP_PASSWORD_LEN + 1], b[SES_SMTP_PASSWORD_LEN + 1];

	ses_smtp_password("another-secret", "ap-south-1", a);
	ses_smtp_password("another-secret", "ap-south-2", b);
	CU_ASSERT_EQUAL(strlen(a), SES_SMTP_PASSWORD_LEN);
	CU_ASSERT_EQUAL(a[0], 'B');       /* the version byte 0x04 */
	CU_ASSERT_STRING_NOT_EQUAL(a, b); /* the credentials are regional */
}

int register_ses_credentials_tests(void)
{
	static const struct unit_test tests[] = {
	    {"SigV4 signing key: AWS's published example", test_signing_key_aws_example},
	    {"SMTP password: the published vectors for three regions", test_smtp_password_vectors},
	    {"SMTP password: 44 characters, 'B' first, regional", test_smtp_password_shape},
	};
	return unit_add_suite("ses: derived credentials", tests, UNIT_COUNT(tests));
}
