/*
 * base64.c - strict base64 on OpenSSL's decoder (see base64.h).
 */
#include "base64.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static int well_formed(const char *in, size_t len, size_t *padding)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	*padding = 0;
	if (len == 0 || len % 4 != 0)
		return 0;
	for (i = 0; i < len && in[i] != '='; i++)
		if (in[i] == '\0' || strchr(alphabet, in[i]) == NULL)
			return 0;
	*padding = len - i;
	if (*padding > 2)
		return 0;
	for (; i < len; i++)
		if (in[i] != '=')
			return 0;
	return 1;
}

long base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t padding;
	int n;

	if (!well_formed(in, len, &padding) || len / 4 * 3 + 1 > outlen || len > (size_t)1 << 30)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return -1;
	n -= (int)padding;
	out[n] = '\0';
	return n;
}

unsigned char *base64_decode_alloc(const char *in, size_t len, size_t *outlen, int *bad)
{
	char *packed = malloc(len + 1);
	unsigned char *out = NULL;
	size_t n = 0;
	long got;

	*bad = 0;
	if (packed == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (strchr(" \t\r\n", in[i]) == NULL || in[i] == '\0')
			packed[n++] = in[i];
	if ((out = malloc(n / 4 * 3 + 1)) == NULL) {
		free(packed);
		return NULL;
	}
	if ((got = base64_decode(packed, n, out, n / 4 * 3 + 1)) < 0) {
		free(out);
		out = NULL;
		*bad = 1;
	} else {
		*outlen = (size_t)got;
	}
	free(packed);
	return out;
}
