/*
 * tls.c - the TLS contexts, the generated certificate, and the check at start.
 *
 * The generated key is ECDSA P-256: it is made in about a millisecond, so a
 * first start stays fast. The pair is written with mode 0600 (key) and 0644
 * (certificate) to state_dir/edsim-cert.pem and state_dir/edsim-key.pem.
 *
 * tls_check() runs in a forked child what tls_context() and
 * tls_client_context_new() will do later in edsim itself (the same
 * functions, so the same errors), and sends back the first error through a
 * pipe; the child leaves with _exit(), so none of OpenSSL's state, nor the
 * parent's stdio buffers, is touched twice. When no child can be made
 * (fork() refused), the check runs in edsim itself: slower to leave, same
 * verdict. The server's context is then made by the first TLS connection
 * (a few milliseconds, once) and kept until tls_free().
 */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

struct tls {
	char *cert, *key, *state_dir; /* cert and key NULL: the generated pair */
	SSL_CTX *ctx;                 /* made by the first tls_context() */
};

static void openssl_error(char *err, size_t errlen, const char *what)
{
	char detail[256];

	ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
	snprintf(err, errlen, "%.600s: %s", what, detail);
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
		snprintf(err, errlen, "cannot write %.480s or %.480s", cert_path, key_path);
	else
		rc = 0;
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return rc;
}

/* The server's context from its files, generating the pair first when it is
 * the generated one and missing. */
static SSL_CTX *server_context_new(const char *cert, const char *key, const char *state_dir,
                                   char *err, size_t errlen)
{
	char cert_path[4096], key_path[4096];
	SSL_CTX *ctx;

	ERR_clear_error();
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

SSL_CTX *tls_client_context_new(const char *ca, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "relay: cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			snprintf(err, errlen, "relay.ca: cannot read %s", ca);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}

/* ---- the check at start ------------------------------------------------------ */

struct check {
	const char *cert, *key, *state_dir, *client_ca;
};

/* Makes (and frees) every context the files are for. */
static int check_here(const struct check *c, char *err, size_t errlen)
{
	SSL_CTX *ctx = server_context_new(c->cert, c->key, c->state_dir, err, errlen);

	if (ctx == NULL)
		return -1;
	SSL_CTX_free(ctx);
	if (c->client_ca == NULL)
		return 0;
	if ((ctx = tls_client_context_new(c->client_ca, err, errlen)) == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

/* The child's answer: "+" when every context was made, "-" and the message
 * when one was not. */
static void check_in_child(const struct check *c, int out)
{
	char answer[1024];
	int rc;
	size_t len, done = 0;

	rc = check_here(c, answer + 1, sizeof answer - 1);
	answer[0] = rc < 0 ? '-' : '+';
	len = rc < 0 ? 1 + strlen(answer + 1) : 1;
	while (done < len) {
		ssize_t n = write(out, answer + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	_exit(rc < 0 ? 1 : 0);
}

/* Reads the child's answer and reaps it. The answer decides, not the exit
 * status: with SIGCHLD ignored by whoever started edsim, the child is
 * reaped by the kernel and waitpid() cannot tell. No answer: it died. */
static int check_verdict(pid_t pid, int in, char *err, size_t errlen)
{
	char answer[1024];
	size_t len = 0;
	int status = 0, reaped;
	ssize_t n;

	while (len + 1 < sizeof answer &&
	       ((n = read(in, answer + len, sizeof answer - 1 - len)) > 0 ||
	        (n < 0 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	answer[len] = '\0';
	close(in);
	while ((reaped = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (len >= 1 && answer[0] == '+')
		return 0;
	if (len >= 2 && answer[0] == '-')
		snprintf(err, errlen, "%s", answer + 1);
	else if (reaped == pid && WIFSIGNALED(status))
		snprintf(err, errlen, "checking the TLS files: the check was killed by signal %d",
		         WTERMSIG(status));
	else
		snprintf(err, errlen, "checking the TLS files: the check gave no answer");
	return -1;
}

void tls_check_start(struct tls_check *tc, const char *cert, const char *key, const char *state_dir,
                     const char *client_ca)
{
	const struct check c = {cert, key, state_dir, client_ca};
	int fds[2];

	*tc = (struct tls_check){.pid = -1, .fd = -1};
	if (pipe2(fds, O_CLOEXEC) < 0) {
		tc->rc = check_here(&c, tc->err, sizeof tc->err);
		return;
	}
	if ((tc->pid = fork()) < 0) {
		log_debug("tls: cannot fork (%s): checking the files in this process",
		          strerror(errno));
		close(fds[0]);
		close(fds[1]);
		tc->rc = check_here(&c, tc->err, sizeof tc->err);
		return;
	}
	if (tc->pid == 0) {
		close(fds[0]);
		check_in_child(&c, fds[1]);
	}
	close(fds[1]);
	tc->fd = fds[0];
}

int tls_check_finish(struct tls_check *tc, char *err, size_t errlen)
{
	int rc = tc->rc;

	if (tc->pid > 0)
		rc = check_verdict(tc->pid, tc->fd, tc->err, sizeof tc->err);
	tc->pid = -1;
	tc->fd = -1;
	tc->rc = rc;
	if (rc < 0)
		snprintf(err, errlen, "%s", tc->err);
	return rc;
}

/* ---- the server's context, on first use ------------------------------------- */

struct tls *tls_new(const char *cert, const char *key, const char *state_dir)
{
	struct tls *t = xcalloc(1, sizeof *t);

	t->cert = xstrdup(cert);
	t->key = xstrdup(key);
	t->state_dir = xstrdup(state_dir);
	return t;
}

SSL_CTX *tls_context(struct tls *t)
{
	char err[1024];

	if (t == NULL || t->ctx != NULL)
		return t != NULL ? t->ctx : NULL;
	t->ctx = server_context_new(t->cert, t->key, t->state_dir, err, sizeof err);
	if (t->ctx == NULL)
		log_err("TLS: %s", err);
	return t->ctx;
}

void tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->ctx != NULL)
		SSL_CTX_free(t->ctx);
	free(t->cert);
	free(t->key);
	free(t->state_dir);
	free(t);
}
