/*
 * oci_signature.h - OCI request signatures (the HTTP Signature scheme the
 * OCI SDKs use): parsing the Authorization header, rebuilding the signing
 * string from the listed headers, and checking it with the user's RSA key.
 */
#ifndef EDSIM_OCI_SIGNATURE_H
#define EDSIM_OCI_SIGNATURE_H

#include <stddef.h>

struct oci_sig {
	char version[8];
	char key_id[512];     /* "<tenancy ocid>/<user ocid>/<key fingerprint>" */
	char algorithm[32];   /* rsa-sha256 */
	char headers[1024];   /* the signed header names, space-separated, lower case */
	char signature[2048]; /* base64 */
};

/* 0 when authorization is a well-formed `Signature k="v",...` header with a
 * keyId, headers and a signature; -1 otherwise. */
int oci_sig_parse(const char *authorization, struct oci_sig *out);
/* The user OCID inside keyId; -1 when keyId has not three parts. */
int oci_sig_user(const struct oci_sig *sig, char *out, size_t len);
/* True when name is one of the signed headers. */
int oci_sig_covers(const struct oci_sig *sig, const char *name);
/* The signing string: "name: value" lines joined by \n, with
 * "(request-target): method path". get returns a header's value or NULL.
 * -1 when a listed header is missing or out is too small. */
int oci_sig_signing_string(const struct oci_sig *sig, const char *method, const char *target,
                           const char *(*get)(void *arg, const char *name), void *arg, char *out,
                           size_t len);
/* 1 when signature_b64 is a valid RSA-SHA256 signature of text by the
 * public key in pem_file; 0 otherwise. */
int oci_sig_verify(const char *pem_file, const char *text, const char *signature_b64);
/* base64(SHA-256(data)) into out (>= 45 bytes). */
void oci_sig_body_hash(const void *data, size_t len, char *out);

#endif
