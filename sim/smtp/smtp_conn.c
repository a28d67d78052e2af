/*
 * smtp_conn.c - an SMTP session's connection: its bufferevent (plain, or
 * OpenSSL for implicit TLS and after STARTTLS), the replies it writes,
 * closing after the last reply has left, and freeing the session.
 *
 * It knows nothing of the protocol: what arrives, a completed handshake and
 * a silent client are reported to the session through the server's
 * conn_events (smtp_session.c sets them), and freeing tells it first.
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
#include "smtp_session_priv.h"

static void set_callbacks(struct session *s);

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	s->srv->conn_events->input(s);
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
		s->srv->conn_events->tls_ready(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (s->state == ST_COMMIT || s->state == ST_WAIT)) {
		bufferevent_enable(s->bev, EV_READ | EV_WRITE); /* the reply is on its way */
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state != ST_CLOSING && s->state != ST_COMMIT &&
	    s->state != ST_TLS_HANDSHAKE) {
		s->srv->conn_events->timeout(s);
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

int session_open_conn(struct session *s, evutil_socket_t fd)
{
	const struct env *env = s->env;
	SSL *ssl = NULL;

	if (s->implicit_tls && (ssl = SSL_new(tls_context(env->tls))) == NULL)
		return -1;
	/* Replies are whole lines written at once: never hold one back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	s->fd = fd;
	s->bev = s->implicit_tls
	             ? bufferevent_openssl_socket_new(env->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                              BEV_OPT_CLOSE_ON_FREE)
	             : bufferevent_socket_new(env->base, fd, 0);
	if (s->bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	s->bev_owns_fd = s->implicit_tls;
	if (s->implicit_tls)
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	set_callbacks(s);
	return 0;
}

void session_flush_replies(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	if (s->trickling)
		return; /* the trickle timer sends them */
	if (evbuffer_get_length(s->replies) == 0)
		return;
	if (!s->bev_owns_fd && evbuffer_get_length(out) == 0)
		evbuffer_write(s->replies, s->fd);
	if (evbuffer_get_length(s->replies) > 0)
		evbuffer_add_buffer(out, s->replies);
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

/* Closes with no reply at all: whatever was about to be sent is dropped. */
void session_drop(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	evbuffer_drain(s->replies, evbuffer_get_length(s->replies));
	evbuffer_drain(out, evbuffer_get_length(out));
	session_close(s);
}

void session_unlink(struct smtp_server *ss, struct session *s)
{
	TAILQ_REMOVE(&ss->sessions, s, entry);
	ss->nsessions--;
}

void session_free(struct session *s)
{
	struct smtp_server *ss = s->srv;

	if (s->state == ST_COMMIT) {
		s->dead = 1;
		return;
	}
	ss->conn_events->freeing(s);
	session_unlink(ss, s);
	if (s->counted)
		policy_connection_close(ss->env.policy, s->ip);
	transcript_close(ss->env.events, s->transcript);
	bufferevent_free(s->bev);
	evbuffer_free(s->replies);
	if (!s->bev_owns_fd)
		evutil_closesocket(s->fd);
	free(s);
	if (ss->draining && ss->nsessions == 0 && ss->drained != NULL)
		ss->drained(ss->arg);
}
