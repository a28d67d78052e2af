/*
 * tls.h - the server's TLS context.
 *
 * One SSL_CTX serves every TLS listener (STARTTLS and implicit TLS). TLS 1.2
 * is the minimum. With no certificate configured, a self-signed pair for
 * localhost, 127.0.0.1 and ::1 is generated once into the state directory
 * and reused on later starts.
 */
#ifndef EDSIM_TLS_H
#define EDSIM_TLS_H

#include <openssl/ssl.h>

/* Returns a ready SSL_CTX or NULL with a message in err. */
SSL_CTX *tls_context_new(const char *cert, const char *key, const char *state_dir, char *err,
                         size_t errlen);

#endif
