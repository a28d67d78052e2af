/*
 * tls.h - edsim's TLS contexts: the server's and the relay's client one.
 *
 * One server SSL_CTX serves every TLS listener (STARTTLS, implicit TLS, the
 * HTTPS API). TLS 1.2 is the minimum. With no certificate configured, a
 * self-signed pair for localhost, 127.0.0.1 and ::1 is generated into the
 * state directory at the first start and reused on later starts.
 *
 * Contexts are made when a connection first needs one, not at start:
 * OpenSSL's first real use in a process (its providers and algorithm
 * tables) makes about 2.5 MB of libcrypto resident, which an edsim that
 * never sees a TLS client does not pay. Start-up still fails at once on a
 * certificate, key or relay CA that does not load: tls_check() loads them,
 * and generates the pair, in a child process.
 */
#ifndef EDSIM_TLS_H
#define EDSIM_TLS_H

#include <openssl/ssl.h>
#include <sys/types.h>

struct tls;

/* The check at start: tls_check_start(), before any thread, makes the
 * generated pair if it is needed and missing, then loads the certificate
 * and key (and client_ca, the relay's CA file, unless NULL) as the contexts
 * will, in a child process so that none of it stays in this one, while the
 * start goes on; tls_check_finish() waits for its verdict: 0, or -1 with
 * the message the context would have failed with (naming the file) in err.
 * Every started check must be finished. */
struct tls_check {
	pid_t pid; /* the child, or -1: the check ran here (no fork) */
	int fd;    /* the child's answer */
	int rc;
	char err[1024];
};
void tls_check_start(struct tls_check *tc, const char *cert, const char *key, const char *state_dir,
                     const char *client_ca);
int tls_check_finish(struct tls_check *tc, char *err, size_t errlen);

/* The server's TLS (cert and key NULL: the generated pair in state_dir).
 * Only copies the names. */
struct tls *tls_new(const char *cert, const char *key, const char *state_dir);
/* The server's SSL_CTX, made at the first call; NULL (logged) when it
 * cannot be made, and the next call tries again. */
SSL_CTX *tls_context(struct tls *t);
void tls_free(struct tls *t);

/* A client context for the relay: TLS 1.2 minimum, peers verified against
 * ca (unless NULL: then not verified). NULL with a message in err. */
SSL_CTX *tls_client_context_new(const char *ca, char *err, size_t errlen);

#endif
