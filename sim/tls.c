/*
 * tls.c - builds the SSL_CTX, generating a self-signed certificate if needed.
 *
 * The generated key is ECDSA P-256: it is made in about a millisecond, so a
 * first start stays fast. The pair is written with mode 0600 (key) and 0644
 * (certificate) to state_dir/edsim-cert.pem and state_dir/edsim-key.pem.
 */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void openssl_error(char *err, size_t errlen, const char *what)
{
	char detail[256];

	ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
	snprintf(err, errlen, "%s: %s", what, detail);
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

static X509 *make_certificate(EVP_PKEY *pkey)
{
	X509 *cert = X509_new();
	X509_NAME *name;

	if (cert == NULL)
		return NULL;
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
	X509_set_pubkey(cert, pkey);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"edsim", -1, -1,
	                           0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
	                           -1, 0);
	X509_set_issuer_name(cert, name);
	if (add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1") <
	        0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    X509_sign(cert, pkey, EVP_sha256()) == 0) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *cert)
{
	FILE *f;
	int ok;

	unlink(path);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	chmod(path, mode);
	ok = pkey ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
	          : PEM_write_X509(f, cert);
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int generate_pair(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *cert = pkey ? make_certificate(pkey) : NULL;
	int rc = -1;

	if (cert == NULL)
		openssl_error(err, errlen, "cannot generate a self-signed certificate");
	else if (write_pem(key_path, 0600, pkey, NULL) < 0 ||
	         write_pem(cert_path, 0644, NULL, cert) < 0)
		snprintf(err, errlen, "cannot write %s or %s", cert_path, key_path);
	else
		rc = 0;
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return rc;
}

SSL_CTX *tls_context_new(const char *cert, const char *key, const char *state_dir, char *err,
                         size_t errlen)
{
	char cert_path[4096], key_path[4096];
	SSL_CTX *ctx;

	if (cert == NULL) {
		snprintf(cert_path, sizeof cert_path, "%s/edsim-cert.pem", state_dir);
		snprintf(key_path, sizeof key_path, "%s/edsim-key.pem", state_dir);
		if ((access(cert_path, R_OK) != 0 || access(key_path, R_OK) != 0) &&
		    generate_pair(cert_path, key_path, err, errlen) < 0)
			return NULL;
		cert = cert_path;
		key = key_path;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		openssl_error(err, errlen, "cannot create the TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		openssl_error(err, errlen, cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		openssl_error(err, errlen, key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
