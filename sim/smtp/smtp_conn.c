/*
 * smtp_conn.c - the life of an SMTP connection: accepting it, its
 * bufferevent (plain, or OpenSSL for implicit TLS and after STARTTLS),
 * timeouts, closing after the last reply has left, and the shutdown drain.
 *
 * Invariant: a session is freed only when no commit is in flight for it;
 * otherwise it is marked dead and freed by the commit's callback.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "smtp_session.h"
#include "smtp_session_priv.h"

static void set_callbacks(struct session *s);

/* ---- connection life ----------------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_read(arg);
}

static void on_drained(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_free(s);
}

static void note_tls_error(struct session *s, const char *what)
{
	char msg[300];
	unsigned long e = bufferevent_get_openssl_error(s->bev);

	if (e == 0)
		e = ERR_peek_last_error();
	snprintf(msg, sizeof msg, "%s: %s", what,
	         e ? ERR_reason_error_string(e) : "connection closed");
	transcript_note(s->transcript, "%s", msg);
	log_info("connection %llu from %s: %s", (unsigned long long)s->id, s->ip, msg);
	ERR_clear_error();
}

static void note_tls_established(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	transcript_note(s->transcript, "TLS established: %s %s", SSL_get_version(ssl),
	                SSL_get_cipher_name(ssl));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		s->tls = 1;
		note_tls_established(s);
		if (s->implicit_tls && !s->helo && s->state == ST_TLS_HANDSHAKE)
			session_send_greeting(s);
		else
			s->state = ST_COMMAND;
		session_read(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (s->state == ST_COMMIT || s->state == ST_WAIT)) {
		bufferevent_enable(s->bev, EV_READ | EV_WRITE); /* the reply is on its way */
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state != ST_CLOSING && s->state != ST_COMMIT &&
	    s->state != ST_TLS_HANDSHAKE) {
		session_idle(s);
		return;
	}
	if (s->state == ST_TLS_HANDSHAKE && (what & BEV_EVENT_ERROR))
		note_tls_error(s, "TLS handshake failed");
	else if (what & BEV_EVENT_EOF)
		transcript_note(s->transcript, "client closed the connection");
	if (s->state == ST_COMMIT) {
		s->dead = 1;
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	session_free(s);
}

static void set_callbacks(struct session *s)
{
	struct timeval tv;
	double t = vclock_real(s->env->clock, s->env->cfg->limits.command_timeout);

	tv.tv_sec = (long)t;
	tv.tv_usec = (long)((t - (double)tv.tv_sec) * 1e6);
	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* The 220 for STARTTLS has left: switch the socket to a TLS bufferevent. */
static void on_starttls_flushed(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	ssl = SSL_new(tls_context(s->env->tls));
	bufferevent_free(s->bev);
	s->bev =
	    ssl ? bufferevent_openssl_socket_new(s->env->base, s->fd, ssl,
	                                         BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)
	        : NULL;
	if (s->bev == NULL) {
		SSL_free(ssl);
		s->state = ST_CLOSING;
		session_free(s);
		return;
	}
	s->bev_owns_fd = 1;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	set_callbacks(s);
}

void session_start_tls(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	session_flush_replies(s);
	/* Anything pipelined after STARTTLS is plaintext injection: drop it. */
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_disable(s->bev, EV_READ);
	s->state = ST_TLS_HANDSHAKE;
	s->helo = 0;
	session_reset_transaction(s);
	bufferevent_setcb(s->bev, NULL, on_starttls_flushed, on_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_trigger(s->bev, EV_WRITE,
	                    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
}

void session_close(struct session *s)
{
	if (s->trickling) { /* a rule's slow reply is still leaving */
		s->close_after_trickle = 1;
		return;
	}
	session_flush_replies(s);
	s->state = ST_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setcb(s->bev, NULL, on_drained, on_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE,
		                    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
}

/* The client was silent past the command timeout: 421 and close, unless a
 * scenario rule at stage idle answers otherwise or keeps the line open. */
void session_idle(struct session *s)
{
	struct hook_ctx ctx = {.stage = STAGE_IDLE};
	struct hook_outcome h;

	s->command = NULL;
	s->stage = "idle";
	h = smtp_hook(s, &ctx, 0);
	if (h.result == HOOK_WAIT)
		return;
	if (h.result == HOOK_NATIVE) {
		session_reply(s, R_TIMEOUT, NOVARS);
		return;
	}
	if (s->state != ST_CLOSING) {
		bufferevent_enable(s->bev, EV_READ);
		session_flush_replies(s);
	}
}

/* Closes with no reply at all: whatever was about to be sent is dropped. */
void session_drop(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	evbuffer_drain(s->replies, evbuffer_get_length(s->replies));
	evbuffer_drain(out, evbuffer_get_length(out));
	session_close(s);
}

static void unlink_session(struct smtp_server *ss, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		ss->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ss->nsessions--;
}

void session_free(struct session *s)
{
	struct smtp_server *ss = s->srv;

	if (s->state == ST_COMMIT) {
		s->dead = 1;
		return;
	}
	unlink_session(ss, s);
	if (s->counted)
		policy_connection_close(ss->env.policy, s->ip);
	transcript_close(ss->env.events, s->transcript);
	smtp_hook_cancel(s);
	bufferevent_free(s->bev);
	evbuffer_free(s->replies);
	if (!s->bev_owns_fd)
		evutil_closesocket(s->fd);
	session_reset_transaction(s);
	free(s);
	if (ss->draining && ss->nsessions == 0 && ss->drained != NULL)
		ss->drained(ss->arg);
}

void smtp_accept(struct smtp_server *ss, evutil_socket_t fd, const struct sockaddr *sa,
                 int implicit_tls)
{
	const struct env *env = &ss->env;
	struct session *s = calloc(1, sizeof *s);
	const void *addr = sa->sa_family == AF_INET6
	                       ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                       : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	SSL *ssl = NULL;

	if (s == NULL || (s->replies = evbuffer_new()) == NULL ||
	    (implicit_tls && (ssl = SSL_new(tls_context(env->tls))) == NULL)) {
		if (s != NULL && s->replies != NULL)
			evbuffer_free(s->replies);
		free(s);
		evutil_closesocket(fd);
		return;
	}
	/* Replies are whole lines written at once: never hold one back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	s->srv = ss;
	s->env = env;
	s->id = ++ss->next_connection;
	s->implicit_tls = implicit_tls;
	evutil_inet_ntop(sa->sa_family, addr, s->ip, sizeof s->ip);
	s->counted = policy_connection_open(env->policy, s->ip) == 0;
	s->scenario_conn = engine_connection_opened(env->engine);
	s->refused = !s->counted;
	s->transcript = transcript_open(env->events, s->id, s->ip);
	s->bev = implicit_tls
	             ? bufferevent_openssl_socket_new(env->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                              BEV_OPT_CLOSE_ON_FREE)
	             : bufferevent_socket_new(env->base, fd, 0);
	s->fd = fd;
	s->bev_owns_fd = implicit_tls;
	s->next = ss->sessions;
	if (ss->sessions)
		ss->sessions->prev = s;
	ss->sessions = s;
	ss->nsessions++;
	if (s->bev == NULL) {
		SSL_free(ssl);
		evbuffer_free(s->replies);
		evutil_closesocket(fd);
		s->state = ST_CLOSING;
		transcript_close(env->events, s->transcript);
		s->transcript = NULL;
		unlink_session(ss, s);
		if (s->counted)
			policy_connection_close(env->policy, s->ip);
		free(s);
		return;
	}
	if (implicit_tls)
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	set_callbacks(s);
	if (implicit_tls && smtp_hook_before_tls(s)) {
		session_drop(s); /* the handshake never starts */
		return;
	}
	if (implicit_tls)
		s->state = ST_TLS_HANDSHAKE;
	else
		session_send_greeting(s);
}

static void drain_session(struct session *s)
{
	s->draining = 1;
	if (s->state == ST_TLS_HANDSHAKE)
		session_free(s);
	else if (s->state == ST_COMMAND || s->state == ST_AUTH_PLAIN ||
	         s->state == ST_AUTH_LOGIN_USER || s->state == ST_AUTH_LOGIN_PASS ||
	         s->state == ST_WAIT) {
		smtp_hook_cancel(s);
		s->command = NULL;
		s->stage = "shutdown";
		session_reply(s, R_MAIL_SYSTEM_FAILURE, NOVARS);
	}
}

static void abort_session(struct session *s)
{
	if (s->state == ST_CLOSING || s->state == ST_COMMIT)
		return;
	smtp_hook_cancel(s);
	s->command = NULL;
	s->stage = "shutdown";
	session_reply(s, R_MAIL_SYSTEM_FAILURE, NOVARS);
}

void smtp_server_drain(struct smtp_server *ss)
{
	struct session *s, *next;

	ss->draining = 1;
	for (s = ss->sessions; s != NULL; s = next) {
		next = s->next;
		drain_session(s);
	}
	if (ss->nsessions == 0 && ss->drained != NULL)
		ss->drained(ss->arg);
}

void smtp_server_abort(struct smtp_server *ss)
{
	struct session *s, *next;

	for (s = ss->sessions; s != NULL; s = next) {
		next = s->next;
		abort_session(s);
	}
}

void smtp_server_scenario_changed(struct smtp_server *ss)
{
	for (struct session *s = ss->sessions; s != NULL; s = s->next)
		smtp_hook_scenario_changed(s);
}

size_t smtp_server_sessions(const struct smtp_server *ss)
{
	return ss->nsessions;
}
