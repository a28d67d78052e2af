/*
 * oci_signature.c - HTTP Signature (draft-cavage) as OCI applies it, with
 * OpenSSL for the hash, base64 and RSA. The decoded signature is as long as
 * the client's header: its buffer is checked (no buffer, not verified).
 */
#include "oci_signature.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static int copy_value(const char *start, size_t len, char *out, size_t outlen)
{
	if (len >= outlen)
		return -1;
	memcpy(out, start, len);
	out[len] = '\0';
	return 0;
}

int oci_sig_parse(const char *authorization, struct oci_sig *out)
{
	static const char scheme[] = "Signature ";
	const char *p;

	memset(out, 0, sizeof *out);
	if (authorization == NULL || strncmp(authorization, scheme, sizeof scheme - 1) != 0)
		return -1;
	for (p = authorization + sizeof scheme - 1; *p != '\0';) {
		const char *eq = strchr(p, '='), *end;
		size_t keylen;
		while (*p == ' ' || *p == ',')
			p++;
		eq = strchr(p, '=');
		if (eq == NULL || eq[1] != '"' || (end = strchr(eq + 2, '"')) == NULL)
			return *p == '\0' ? 0 : -1;
		keylen = (size_t)(eq - p);
		if (LIT_EQ(p, keylen, "keyId"))
			copy_value(eq + 2, (size_t)(end - eq - 2), out->key_id, sizeof out->key_id);
		else if (LIT_EQ(p, keylen, "headers"))
			copy_value(eq + 2, (size_t)(end - eq - 2), out->headers,
			           sizeof out->headers);
		else if (LIT_EQ(p, keylen, "signature"))
			copy_value(eq + 2, (size_t)(end - eq - 2), out->signature,
			           sizeof out->signature);
		else if (LIT_EQ(p, keylen, "algorithm"))
			copy_value(eq + 2, (size_t)(end - eq - 2), out->algorithm,
			           sizeof out->algorithm);
		else if (LIT_EQ(p, keylen, "version"))
			copy_value(eq + 2, (size_t)(end - eq - 2), out->version,
			           sizeof out->version);
		p = end + 1;
	}
	for (char *h = out->headers; *h != '\0'; h++)
		*h = (char)tolower((unsigned char)*h);
	return out->key_id[0] && out->signature[0] && out->headers[0] ? 0 : -1;
}

int oci_sig_user(const struct oci_sig *sig, char *out, size_t len)
{
	const char *first = strchr(sig->key_id, '/'), *second;

	if (first == NULL || (second = strchr(first + 1, '/')) == NULL || second == first + 1)
		return -1;
	return copy_value(first + 1, (size_t)(second - first - 1), out, len);
}

int oci_sig_covers(const struct oci_sig *sig, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = sig->headers; *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (len == n && strncasecmp(p, name, n) == 0)
			return 1;
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

int oci_sig_signing_string(const struct oci_sig *sig, const char *method, const char *target,
                           const char *(*get)(void *arg, const char *name), void *arg, char *out,
                           size_t len)
{
	size_t used = 0;
	char name[128];

	out[0] = '\0';
	for (const char *p = sig->headers; *p != '\0';) {
		size_t n = strcspn(p, " ");
		const char *value;
		int w;
		if (n == 0 || n >= sizeof name)
			return -1;
		memcpy(name, p, n);
		name[n] = '\0';
		if (strcmp(name, "(request-target)") == 0) {
			w = snprintf(out + used, len - used,
			             "%s(request-target): ", used ? "\n" : "");
			for (const char *m = method; *m != '\0' && used + (size_t)w < len - 1;
			     m++, w++)
				out[used + (size_t)w] = (char)tolower((unsigned char)*m);
			w +=
			    snprintf(out + used + (size_t)w, len - used - (size_t)w, " %s", target);
		} else {
			if ((value = get(arg, name)) == NULL)
				return -1;
			w = snprintf(out + used, len - used, "%s%s: %s", used ? "\n" : "", name,
			             value);
		}
		if (w < 0 || used + (size_t)w >= len)
			return -1;
		used += (size_t)w;
		p += n;
		while (*p == ' ')
			p++;
	}
	return 0;
}

int oci_sig_verify(const char *pem_file, const char *text, const char *signature_b64)
{
	size_t b64len = strlen(signature_b64);
	unsigned char *sig = malloc(b64len / 4 * 3 + 4);
	FILE *f = pem_file ? fopen(pem_file, "r") : NULL;
	EVP_PKEY *key = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int siglen, ok = 0;

	if (f != NULL)
		fclose(f);
	if (sig != NULL && key != NULL && ctx != NULL && b64len % 4 == 0 &&
	    (siglen = EVP_DecodeBlock(sig, (const unsigned char *)signature_b64, (int)b64len)) >
	        0) {
		while (b64len > 0 && signature_b64[b64len - 1] == '=') {
			b64len--;
			siglen--;
		}
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		     EVP_DigestVerify(ctx, sig, (size_t)siglen, (const unsigned char *)text,
		                      strlen(text)) == 1;
	}
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	free(sig);
	return ok;
}

void oci_sig_body_hash(const void *data, size_t len, char *out)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)out, digest, (int)n);
}
