/*
 * smtp_client.h - one outgoing SMTP connection of the relay.
 *
 * A client connects to the first target that answers (the next on a refused
 * connection, a timeout or a greeting other than 220), says EHLO, takes
 * STARTTLS when the policy asks for it, authenticates with AUTH PLAIN (only
 * under TLS), and then runs one mail transaction at a time: MAIL, RCPT for
 * each recipient, DATA and the dot-stuffed message, pipelined when the
 * server offers PIPELINING. Replies are kept per recipient.
 *
 * Callbacks run on the loop's thread: ready() when the connection can take
 * a transaction (after the greeting, and again after each transaction),
 * done() when a transaction has all its replies, failed() when the
 * connection is gone; the client is freed right after failed() returns.
 * After smtp_client_quit() only closed() is called, once, when the server
 * has answered QUIT or the connection is gone, and the client is freed right
 * after it returns: until then the caller still owns c (and must free it
 * with smtp_client_free() if it stops earlier, at shutdown). Nothing is
 * called back after smtp_client_free().
 */
#ifndef EDSIM_SMTP_CLIENT_H
#define EDSIM_SMTP_CLIENT_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "config.h"
#include "resolver.h"

struct event_base;
struct smtp_client;

struct hop_reply {
	int code;       /* 0: no reply (the connection failed, timed out, ...) */
	int permanent;  /* retrying cannot help (a 5xx from the server) */
	char text[512]; /* the reply's last line with its code, or what went wrong */
};

struct smtp_txn {
	const char *mail_from; /* "" for the null sender */
	const char *const *rcpts;
	size_t nrcpt;
	const char *raw; /* the message as stored: CRLF lines, not dot-stuffed */
	size_t raw_len;
	/* filled in by the client */
	struct hop_reply *rcpt_replies; /* nrcpt of them, owned by the caller */
	struct hop_reply final;         /* the reply to the final dot, or why not */
};

struct smtp_client_opts {
	const char *helo;
	enum relay_tls tls;
	SSL_CTX *ssl_ctx;     /* a client context, needed unless tls is none */
	const char *tls_name; /* server name for SNI and certificate checks */
	const char *user, *password;
	double timeout; /* seconds, for connecting and for each reply */
};

struct smtp_client_cb {
	void (*ready)(void *arg, struct smtp_client *c);
	void (*done)(void *arg, struct smtp_client *c, struct smtp_txn *t);
	void (*failed)(void *arg, struct smtp_client *c, struct smtp_txn *t,
	               const struct hop_reply *why);
	void (*closed)(void *arg, struct smtp_client *c); /* after smtp_client_quit() */
};

/* Starts connecting to targets[0..n) in order; the options and targets are
 * copied. NULL on failure to start (no callback then). */
struct smtp_client *smtp_client_connect(struct event_base *base, const struct mx_target *targets,
                                        size_t n, const struct smtp_client_opts *opts,
                                        const struct smtp_client_cb *cb, void *arg);
/* Runs t (after ready()); t stays the caller's and must live until done()
 * or failed(). Returns -1 when the client is not ready. */
int smtp_client_send(struct smtp_client *c, struct smtp_txn *t);
/* Says QUIT and closes; c is freed once the server answers or soon after
 * (at most a second), right after closed(). */
void smtp_client_quit(struct smtp_client *c);
void smtp_client_free(struct smtp_client *c);
/* "host [address]:port" of the server it talks to. */
const char *smtp_client_peer(const struct smtp_client *c);
int smtp_client_tls(const struct smtp_client *c);

#endif
