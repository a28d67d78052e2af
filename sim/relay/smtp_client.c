/*
 * smtp_client.c - one outgoing SMTP connection of the relay.
 *
 * The client writes commands and keeps the replies it waits for in a queue
 * (steps), oldest first: with PIPELINING a whole transaction (MAIL, every
 * RCPT, DATA) is written at once and the replies are matched in order;
 * without it the next command is written when the previous reply arrives.
 * Invariant: steps[head..tail) are the replies still due, in the order the
 * commands were written; a transaction is in `txn` from send until done()
 * or failed().
 */
#include "smtp_client.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "xmalloc.h"

#define MAX_STEPS      (2 * 1024 + 8)
#define MAX_REPLY_LINE 2048

enum step { S_GREETING, S_EHLO, S_STARTTLS, S_AUTH, S_MAIL, S_RCPT, S_DATA, S_DOT, S_RSET, S_QUIT };

struct smtp_client {
	struct event_base *base;
	struct bufferevent *bev;
	struct smtp_client_opts opts; /* strings owned */
	struct smtp_client_cb cb;
	void *arg;
	struct mx_target *targets;
	size_t ntargets, target; /* the one being tried */
	char peer[400];
	enum step steps[MAX_STEPS];
	size_t head, tail;
	int pipelining, starttls_offered, auth_plain_offered, size_offered;
	int tls_active, ready, quitting;
	struct smtp_txn *txn;
	size_t next_rcpt;    /* without PIPELINING: the next RCPT to write */
	size_t rcpt_replies; /* RCPT replies seen */
	int mail_ok, accepted;
	struct hop_reply mail_reply;
	struct hop_reply reply; /* the reply being read (multi-line) */
	int starting;           /* in smtp_client_connect(): failures return NULL */
	int failed_early;
	int reading; /* in on_read(): freeing waits until it returns */
	int dead;    /* failed while reading: free when on_read() returns */
};

static void start_target(struct smtp_client *c);
static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void set_reply(struct hop_reply *r, int code, int permanent, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_reply(struct hop_reply *r, int code, int permanent, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	r->permanent = permanent;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
}

static void free_opts(struct smtp_client_opts *o)
{
	free((char *)o->helo);
	free((char *)o->tls_name);
	free((char *)o->user);
	free((char *)o->password);
}

void smtp_client_free(struct smtp_client *c)
{
	if (c == NULL)
		return;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free_opts(&c->opts);
	free(c->targets);
	free(c);
}

const char *smtp_client_peer(const struct smtp_client *c)
{
	return c->peer;
}

int smtp_client_tls(const struct smtp_client *c)
{
	return c->tls_active;
}

/* The connection is gone: tell the owner (failed() with the transaction it
 * had, or closed() after a QUIT), then free. */
static void fail(struct smtp_client *c, const struct hop_reply *why)
{
	struct smtp_txn *t = c->txn;

	if (c->dead)
		return;
	if (c->starting) {
		c->failed_early = 1;
		return;
	}
	c->txn = NULL;
	if (!c->quitting) {
		log_debug("relay: %s: %s", c->peer, why->text);
		c->cb.failed(c->arg, c, t, why);
	} else if (c->cb.closed != NULL) {
		c->cb.closed(c->arg, c);
	}
	if (c->reading)
		c->dead = 1;
	else
		smtp_client_free(c);
}

/* Before the greeting: the next target, if there is one. */
static void next_target_or_fail(struct smtp_client *c, const struct hop_reply *why)
{
	if (!c->ready && !c->quitting && c->txn == NULL && c->target + 1 < c->ntargets) {
		log_debug("relay: %s: %s; trying the next address", c->peer, why->text);
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->target++;
		start_target(c);
		return;
	}
	fail(c, why);
}

static void push(struct smtp_client *c, enum step s)
{
	if (c->tail < MAX_STEPS)
		c->steps[c->tail++] = s;
}

static void send_line(struct smtp_client *c, enum step s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void send_line(struct smtp_client *c, enum step s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	push(c, s);
}

static void describe_peer(struct smtp_client *c)
{
	const struct mx_target *t = &c->targets[c->target];
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (t->addr.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&t->addr;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
	} else if (t->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&t->addr;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
	}
	snprintf(c->peer, sizeof c->peer, "%s [%s]:%d", t->host, ip, port);
}

static void set_timeouts(struct smtp_client *c)
{
	struct timeval tv;

	tv.tv_sec = (time_t)c->opts.timeout;
	tv.tv_usec = (suseconds_t)((c->opts.timeout - (double)tv.tv_sec) * 1e6);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

static void start_target(struct smtp_client *c)
{
	const struct mx_target *t = &c->targets[c->target];
	struct hop_reply why;

	describe_peer(c);
	c->head = c->tail = 0;
	c->tls_active = c->pipelining = c->starttls_offered = 0;
	c->auth_plain_offered = c->size_offered = 0;
	c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		set_reply(&why, 0, 0, "cannot create a socket for %s", c->peer);
		next_target_or_fail(c, &why);
		return;
	}
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	push(c, S_GREETING);
	if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&t->addr, (int)t->addrlen) <
	    0) {
		set_reply(&why, 0, 0, "cannot connect to %s", c->peer);
		next_target_or_fail(c, &why);
	}
}

struct smtp_client *smtp_client_connect(struct event_base *base, const struct mx_target *targets,
                                        size_t n, const struct smtp_client_opts *opts,
                                        const struct smtp_client_cb *cb, void *arg)
{
	struct smtp_client *c;

	if (n == 0)
		return NULL;
	c = xcalloc(1, sizeof *c);
	c->base = base;
	c->cb = *cb;
	c->arg = arg;
	c->opts = *opts;
	c->opts.helo = xstrdup(opts->helo);
	c->opts.tls_name = xstrdup(opts->tls_name);
	c->opts.user = xstrdup(opts->user);
	c->opts.password = xstrdup(opts->password);
	c->targets = xmalloc(n * sizeof *targets);
	memcpy(c->targets, targets, n * sizeof *targets);
	c->ntargets = n;
	c->starting = 1;
	start_target(c);
	c->starting = 0;
	if (c->failed_early) {
		smtp_client_free(c);
		return NULL;
	}
	return c;
}

static void become_ready(struct smtp_client *c)
{
	c->ready = 1;
	c->cb.ready(c->arg, c);
}

static void send_auth(struct smtp_client *c)
{
	size_t ulen = strlen(c->opts.user), plen = strlen(c->opts.password);
	size_t len = ulen + plen + 2;
	unsigned char *plain = xmalloc(len), *b64 = xmalloc(4 * ((len + 2) / 3) + 1);

	plain[0] = '\0';
	memcpy(plain + 1, c->opts.user, ulen);
	plain[ulen + 1] = '\0';
	memcpy(plain + ulen + 2, c->opts.password, plen);
	EVP_EncodeBlock(b64, plain, (int)len);
	send_line(c, S_AUTH, "AUTH PLAIN %s", (const char *)b64);
	OPENSSL_cleanse(plain, len);
	free(plain);
	free(b64);
}

/* After EHLO: STARTTLS, AUTH or ready, as the policy and the offer say. */
static void after_ehlo(struct smtp_client *c)
{
	struct hop_reply why;

	if (!c->tls_active && c->opts.tls != RELAY_TLS_NONE && c->starttls_offered) {
		send_line(c, S_STARTTLS, "STARTTLS");
		return;
	}
	if (!c->tls_active && c->opts.tls == RELAY_TLS_ENCRYPT) {
		set_reply(&why, 0, 0,
		          "TLS is required (relay.tls: encrypt) but %s offers no STARTTLS",
		          c->peer);
		fail(c, &why);
		return;
	}
	if (c->opts.user != NULL && !c->tls_active) {
		set_reply(&why, 0, 0, "AUTH is not sent in clear, and %s offers no STARTTLS",
		          c->peer);
		fail(c, &why);
		return;
	}
	if (c->opts.user != NULL) {
		send_auth(c);
		return;
	}
	become_ready(c);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg);

static void start_tls(struct smtp_client *c)
{
	SSL *ssl = SSL_new(c->opts.ssl_ctx);
	struct bufferevent *tls;
	struct hop_reply why;

	if (ssl == NULL) {
		set_reply(&why, 0, 0, "cannot start TLS with %s", c->peer);
		fail(c, &why);
		return;
	}
	if (c->opts.tls_name != NULL) {
		SSL_set_tlsext_host_name(ssl, c->opts.tls_name);
		SSL_set1_host(ssl, c->opts.tls_name);
	}
	tls = bufferevent_openssl_filter_new(c->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		set_reply(&why, 0, 0, "cannot start TLS with %s", c->peer);
		fail(c, &why);
		return;
	}
	c->bev = tls;
	bufferevent_setcb(c->bev, on_read, NULL, on_tls_event, c);
	set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		c->tls_active = 1;
		c->pipelining = c->starttls_offered = c->auth_plain_offered = c->size_offered = 0;
		send_line(c, S_EHLO, "EHLO %s", c->opts.helo);
		return;
	}
	on_event(bev, what, arg);
}

static void note_capability(struct smtp_client *c, const char *line)
{
	const char *kw = line + 4;

	if (strncasecmp(kw, "PIPELINING", 10) == 0)
		c->pipelining = 1;
	else if (strncasecmp(kw, "STARTTLS", 8) == 0)
		c->starttls_offered = 1;
	else if (strncasecmp(kw, "SIZE", 4) == 0)
		c->size_offered = 1;
	else if (strncasecmp(kw, "AUTH", 4) == 0 && strcasestr(kw, "PLAIN") != NULL)
		c->auth_plain_offered = 1;
}

/* The message, dot-stuffed, every line ending in CRLF, then the final dot. */
static void send_body(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *p = c->txn->raw, *end = p + c->txn->raw_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t len = (size_t)(line_end - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > 0 && p[0] == '.')
			evbuffer_add(out, ".", 1);
		evbuffer_add(out, p, len);
		evbuffer_add(out, "\r\n", 2);
		p = nl ? nl + 1 : end;
	}
	evbuffer_add(out, ".\r\n", 3);
	push(c, S_DOT);
}

static void send_rcpt(struct smtp_client *c)
{
	send_line(c, S_RCPT, "RCPT TO:<%s>", c->txn->rcpts[c->next_rcpt++]);
}

/* The transaction has its answer: hand it back and wait for the next. */
static void finish_txn(struct smtp_client *c, const struct hop_reply *final, int reset)
{
	struct smtp_txn *t = c->txn;

	t->final = *final;
	c->txn = NULL;
	if (reset)
		send_line(c, S_RSET, "RSET");
	c->ready = 1;
	c->cb.done(c->arg, c, t);
}

static void txn_refused(struct smtp_client *c, const struct hop_reply *why)
{
	struct hop_reply r = *why;

	if (r.code == 0)
		set_reply(&r, 0, 0, "no recipient was accepted");
	finish_txn(c, &r, 1);
}

static void on_mail_reply(struct smtp_client *c, const struct hop_reply *r)
{
	c->mail_reply = *r;
	c->mail_ok = r->code >= 200 && r->code < 300;
	if (c->pipelining)
		return;
	if (!c->mail_ok) {
		for (size_t i = 0; i < c->txn->nrcpt; i++)
			c->txn->rcpt_replies[i] = *r;
		txn_refused(c, r);
		return;
	}
	send_rcpt(c);
}

static void on_rcpt_reply(struct smtp_client *c, const struct hop_reply *r)
{
	struct smtp_txn *t = c->txn;
	size_t i = c->rcpt_replies++;

	if (i < t->nrcpt)
		t->rcpt_replies[i] = c->mail_ok || !c->pipelining ? *r : c->mail_reply;
	if (c->mail_ok && r->code >= 200 && r->code < 300)
		c->accepted++;
	if (c->pipelining)
		return;
	if (c->next_rcpt < t->nrcpt)
		send_rcpt(c);
	else if (c->accepted > 0)
		send_line(c, S_DATA, "DATA");
	else
		txn_refused(c, &(struct hop_reply){0});
}

static void on_data_reply(struct smtp_client *c, const struct hop_reply *r)
{
	if (r->code == 354 && c->accepted > 0) {
		send_body(c);
		return;
	}
	if (r->code == 354) { /* no recipient: end the empty message, ignore its reply */
		bufferevent_write(c->bev, ".\r\n", 3);
		push(c, S_RSET);
		txn_refused(c, &(struct hop_reply){0});
		return;
	}
	txn_refused(c, c->mail_ok ? (c->accepted ? r : &(struct hop_reply){0}) : &c->mail_reply);
}

static void on_session_reply(struct smtp_client *c, enum step s, const struct hop_reply *r)
{
	int ok = r->code >= 200 && r->code < 400;

	switch (s) {
	case S_GREETING:
		if (r->code != 220) {
			next_target_or_fail(c, r);
			return;
		}
		send_line(c, S_EHLO, "EHLO %s", c->opts.helo);
		break;
	case S_EHLO:
		if (!ok) {
			fail(c, r);
			return;
		}
		after_ehlo(c);
		break;
	case S_STARTTLS:
		if (r->code == 220)
			start_tls(c);
		else if (c->opts.tls == RELAY_TLS_ENCRYPT)
			fail(c, r);
		else {
			c->starttls_offered = 0;
			after_ehlo(c);
		}
		break;
	case S_AUTH:
		if (r->code != 235) {
			struct hop_reply why;
			set_reply(&why, 0, 0, "AUTH failed at %s: %s", c->peer, r->text);
			fail(c, &why);
			return;
		}
		become_ready(c);
		break;
	default:
		break;
	}
}

static void on_reply(struct smtp_client *c, const struct hop_reply *r)
{
	enum step s;

	if (c->head == c->tail) /* an answer nobody asked for */
		return;
	s = c->steps[c->head++];
	if (c->head == c->tail)
		c->head = c->tail = 0;
	switch (s) {
	case S_MAIL:
		on_mail_reply(c, r);
		break;
	case S_RCPT:
		on_rcpt_reply(c, r);
		break;
	case S_DATA:
		on_data_reply(c, r);
		break;
	case S_DOT:
		finish_txn(c, r, 0);
		break;
	case S_RSET:
		break;
	case S_QUIT:
		fail(c, r);
		break;
	default:
		on_session_reply(c, s, r);
	}
}

/* One reply line; a complete reply goes to on_reply(). Returns -1 when the
 * line is not SMTP. */
static int take_line(struct smtp_client *c, const char *line)
{
	size_t len = strlen(line);
	int more;

	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	more = len > 3 && line[3] == '-';
	if (more && c->head < c->tail && c->steps[c->head] == S_EHLO)
		note_capability(c, line);
	if (more)
		return 0;
	if (c->head < c->tail && c->steps[c->head] == S_EHLO)
		note_capability(c, line);
	set_reply(&c->reply, atoi(line), line[0] == '5', "%.500s", line);
	on_reply(c, &c->reply);
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	c->reading = 1;
	/* A reply may end the client (dead) or start TLS (a new bufferevent
	 * reads from then on): stop reading from this one then. */
	while (!c->dead && c->bev == bev &&
	       (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		if (n > MAX_REPLY_LINE || take_line(c, line) < 0) {
			struct hop_reply why;
			set_reply(&why, 0, 0, "%s answered something that is not SMTP: %.80s",
			          c->peer, line);
			fail(c, &why);
		}
		free(line);
	}
	c->reading = 0;
	if (c->dead)
		smtp_client_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;
	struct hop_reply why;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT)
		set_reply(&why, 0, 0, "timeout after %.0f s waiting for %s", c->opts.timeout,
		          c->peer);
	else if (what & BEV_EVENT_EOF)
		set_reply(&why, 0, 0, "%s closed the connection", c->peer);
	else if (c->head < c->tail && c->steps[c->head] == S_GREETING)
		set_reply(&why, 0, 0, "cannot connect to %s: %s", c->peer,
		          evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		set_reply(&why, 0, 0, "connection to %s lost%s", c->peer,
		          c->tls_active || (c->head < c->tail && c->steps[c->head] == S_EHLO)
		              ? " (TLS)"
		              : "");
	next_target_or_fail(c, &why);
}

int smtp_client_send(struct smtp_client *c, struct smtp_txn *t)
{
	if (!c->ready || c->txn != NULL || c->quitting)
		return -1;
	c->ready = 0;
	c->txn = t;
	c->next_rcpt = c->rcpt_replies = 0;
	c->mail_ok = c->accepted = 0;
	memset(&c->mail_reply, 0, sizeof c->mail_reply);
	for (size_t i = 0; i < t->nrcpt; i++)
		memset(&t->rcpt_replies[i], 0, sizeof t->rcpt_replies[i]);
	if (c->size_offered)
		send_line(c, S_MAIL, "MAIL FROM:<%s> SIZE=%zu", t->mail_from, t->raw_len);
	else
		send_line(c, S_MAIL, "MAIL FROM:<%s>", t->mail_from);
	if (!c->pipelining)
		return 0;
	while (c->next_rcpt < t->nrcpt)
		send_rcpt(c);
	send_line(c, S_DATA, "DATA");
	return 0;
}

void smtp_client_quit(struct smtp_client *c)
{
	struct timeval tv = {1, 0};

	if (c->quitting)
		return;
	c->quitting = 1;
	send_line(c, S_QUIT, "QUIT");
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}
