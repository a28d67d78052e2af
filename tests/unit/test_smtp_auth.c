/*
 * test_smtp_auth.c - strict base64 and SASL PLAIN / LOGIN decoding
 * (sim/smtp_auth.c).
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "smtp_auth.h"
#include "unit.h"

/* ---- auth_base64_decode ------------------------------------------------------ */

static void test_base64_valid(void)
{
	unsigned char out[64];

	CU_ASSERT_EQUAL(auth_base64_decode("dGVzdA==", out, sizeof out), 4);
	CU_ASSERT_STRING_EQUAL((char *)out, "test");
	CU_ASSERT_EQUAL(auth_base64_decode("c2VjcmV0", out, sizeof out), 6);
	CU_ASSERT_STRING_EQUAL((char *)out, "secret");
	CU_ASSERT_EQUAL(auth_base64_decode("dXNlcnBhc3M=", out, sizeof out), 8);
	CU_ASSERT_STRING_EQUAL((char *)out, "userpass");
	CU_ASSERT_EQUAL(auth_base64_decode("YQ==", out, sizeof out), 1);
	CU_ASSERT_STRING_EQUAL((char *)out, "a");
	CU_ASSERT_EQUAL(auth_base64_decode("+/+/", out, sizeof out), 3);
	CU_ASSERT_EQUAL(out[0], 0xfb);
	CU_ASSERT_EQUAL(out[1], 0xff);
	CU_ASSERT_EQUAL(out[2], 0xbf);
}

static void test_base64_binary(void)
{
	unsigned char out[16];

	/* "\0user\0pass": the NULs are kept and counted */
	CU_ASSERT_EQUAL(auth_base64_decode("AHVzZXIAcGFzcw==", out, sizeof out), 10);
	CU_ASSERT_EQUAL(memcmp(out, "\0user\0pass", 10), 0);
	CU_ASSERT_EQUAL(out[10], '\0');
}

static void test_base64_equals_alone(void)
{
	unsigned char out[4] = {'x', 'x', 'x', 'x'};

	CU_ASSERT_EQUAL(auth_base64_decode("=", out, sizeof out), 0);
	CU_ASSERT_EQUAL(out[0], '\0');
}

static void test_base64_bad_length(void)
{
	unsigned char out[64];

	CU_ASSERT_EQUAL(auth_base64_decode("dGVzdA=", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVzdA", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGV", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVzdA===", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("==", out, sizeof out), -1);
}

static void test_base64_bad_chars(void)
{
	unsigned char out[64];

	CU_ASSERT_EQUAL(auth_base64_decode("dGV*dA==", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVz dA=", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVz\tdA=", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVzdA-_", out, sizeof out), -1); /* base64url */
	CU_ASSERT_EQUAL(auth_base64_decode("!!!!", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVz\xc3\xa9==", out, sizeof out), -1);
}

static void test_base64_misplaced_padding(void)
{
	unsigned char out[64];

	CU_ASSERT_EQUAL(auth_base64_decode("dG=zdA==", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVzd=A=", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVzdA=A", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("=GVz", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("dGVz=Q==", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("A===", out, sizeof out), -1);
	CU_ASSERT_EQUAL(auth_base64_decode("====", out, sizeof out), -1);
}

static void test_base64_small_output(void)
{
	unsigned char out[4];

	/* "c2VjcmV0" needs 6 bytes plus the NUL */
	CU_ASSERT_EQUAL(auth_base64_decode("c2VjcmV0", out, sizeof out), -1);
}

/* ---- auth_decode_plain ------------------------------------------------------- */

static void test_plain_empty_authzid(void)
{
	struct auth_credentials cred;

	memset(&cred, 'x', sizeof cred);
	CU_ASSERT_EQUAL(auth_decode_plain("AHVzZXIAcGFzcw==", &cred),
	                AUTH_DECODED); /* \0user\0pass */
	CU_ASSERT_STRING_EQUAL(cred.user, "user");
	CU_ASSERT_STRING_EQUAL(cred.password, "pass");
}

static void test_plain_with_authzid(void)
{
	struct auth_credentials cred;

	memset(&cred, 'x', sizeof cred);
	/* authz\0user\0pass: the authorisation identity is not the user */
	CU_ASSERT_EQUAL(auth_decode_plain("YXV0aHoAdXNlcgBwYXNz", &cred), AUTH_DECODED);
	CU_ASSERT_STRING_EQUAL(cred.user, "user");
	CU_ASSERT_STRING_EQUAL(cred.password, "pass");
}

static void test_plain_empty_fields(void)
{
	struct auth_credentials cred;

	CU_ASSERT_EQUAL(auth_decode_plain("AAA=", &cred), AUTH_DECODED); /* \0\0 */
	CU_ASSERT_STRING_EQUAL(cred.user, "");
	CU_ASSERT_STRING_EQUAL(cred.password, "");
}

static void test_plain_no_nul(void)
{
	struct auth_credentials cred;

	CU_ASSERT_EQUAL(auth_decode_plain("dXNlcnBhc3M=", &cred), AUTH_NO_NUL); /* userpass */
	CU_ASSERT_EQUAL(auth_decode_plain("=", &cred), AUTH_NO_NUL);            /* empty */
}

static void test_plain_no_second_nul(void)
{
	struct auth_credentials cred;

	CU_ASSERT_EQUAL(auth_decode_plain("AHVzZXJwYXNz", &cred),
	                AUTH_NO_SECOND_NUL);                                       /* \0userpass */
	CU_ASSERT_EQUAL(auth_decode_plain("dXNlcgA=", &cred), AUTH_NO_SECOND_NUL); /* user\0 */
}

static void test_plain_bad_base64(void)
{
	struct auth_credentials cred;

	CU_ASSERT_EQUAL(auth_decode_plain("!!!!", &cred), AUTH_BAD_BASE64);
	CU_ASSERT_EQUAL(auth_decode_plain("AHVzZXIAcGFzcw=", &cred), AUTH_BAD_BASE64);
	CU_ASSERT_EQUAL(auth_decode_plain("", &cred), AUTH_BAD_BASE64);
	CU_ASSERT_EQUAL(auth_decode_plain("AHVz ZXIA", &cred), AUTH_BAD_BASE64);
}

/* base64 of "\0" + n x 'u' + "\0p" into out. */
static void encode_long_plain(size_t n, char *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[1024];
	size_t len = 0, o = 0;

	raw[len++] = '\0';
	memset(raw + len, 'u', n);
	len += n;
	raw[len++] = '\0';
	raw[len++] = 'p';
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)raw[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)raw[i + 1] << 8;
		if (i + 2 < len)
			v |= raw[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
}

static void test_plain_field_limits(void)
{
	struct auth_credentials cred;
	char b64[1400];

	encode_long_plain(AUTH_FIELD_MAX - 1, b64);
	CU_ASSERT_EQUAL(auth_decode_plain(b64, &cred), AUTH_DECODED);
	CU_ASSERT_EQUAL(strlen(cred.user), AUTH_FIELD_MAX - 1);
	CU_ASSERT_STRING_EQUAL(cred.password, "p");
	encode_long_plain(AUTH_FIELD_MAX, b64);
	CU_ASSERT_NOT_EQUAL(auth_decode_plain(b64, &cred), AUTH_DECODED);
}

/* ---- auth_decode_login ------------------------------------------------------- */

static void test_login(void)
{
	char out[AUTH_FIELD_MAX];

	CU_ASSERT_EQUAL(auth_decode_login("dXNlcg==", out, sizeof out), AUTH_DECODED);
	CU_ASSERT_STRING_EQUAL(out, "user");
	CU_ASSERT_EQUAL(auth_decode_login("c2VjcmV0", out, sizeof out), AUTH_DECODED);
	CU_ASSERT_STRING_EQUAL(out, "secret");
	CU_ASSERT_EQUAL(auth_decode_login("=", out, sizeof out), AUTH_DECODED);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_login_errors(void)
{
	char out[AUTH_FIELD_MAX], small[4];

	CU_ASSERT_EQUAL(auth_decode_login("!!!!", out, sizeof out), AUTH_BAD_BASE64);
	CU_ASSERT_EQUAL(auth_decode_login("dXNlcg=", out, sizeof out), AUTH_BAD_BASE64);
	CU_ASSERT_EQUAL(auth_decode_login("", out, sizeof out), AUTH_BAD_BASE64);
	/* "user" does not fit in 4 bytes with its NUL; "use" would */
	CU_ASSERT_EQUAL(auth_decode_login("dXNlcg==", small, sizeof small), AUTH_BAD_BASE64);
	CU_ASSERT_EQUAL(auth_decode_login("dXNl", small, sizeof small), AUTH_DECODED);
	CU_ASSERT_STRING_EQUAL(small, "use");
}

int register_smtp_auth_tests(void)
{
	static const struct unit_test base64[] = {
	    {"valid", test_base64_valid},
	    {"binary with NULs", test_base64_binary},
	    {"\"=\" alone is empty", test_base64_equals_alone},
	    {"bad length", test_base64_bad_length},
	    {"bad characters", test_base64_bad_chars},
	    {"misplaced padding", test_base64_misplaced_padding},
	    {"output buffer too small", test_base64_small_output},
	};
	static const struct unit_test sasl[] = {
	    {"PLAIN with empty authzid", test_plain_empty_authzid},
	    {"PLAIN with authzid", test_plain_with_authzid},
	    {"PLAIN with empty user and password", test_plain_empty_fields},
	    {"PLAIN without NUL", test_plain_no_nul},
	    {"PLAIN without second NUL", test_plain_no_second_nul},
	    {"PLAIN bad base64", test_plain_bad_base64},
	    {"PLAIN field length limit", test_plain_field_limits},
	    {"LOGIN steps", test_login},
	    {"LOGIN errors", test_login_errors},
	};

	if (unit_add_suite("smtp_auth: auth_base64_decode", base64, UNIT_COUNT(base64)) < 0 ||
	    unit_add_suite("smtp_auth: SASL PLAIN and LOGIN", sasl, UNIT_COUNT(sasl)) < 0)
		return -1;
	return 0;
}
