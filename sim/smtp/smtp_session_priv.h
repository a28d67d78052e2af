/*
 * smtp_session_priv.h - what the SMTP session's files share: the session
 * itself and the few functions one of them calls in another.
 *
 *   smtp_session.c  the protocol: the command table, AUTH, the final dot and
 *                   the commit, replies, accepting and draining sessions
 *   smtp_hooks.c    the scenario's verdicts in SMTP: forced replies, delays,
 *                   trickles (the session's pair: see its header)
 *   smtp_conn.c     the connection: bufferevents, TLS, close, free; reports
 *                   up only through conn_events
 *   smtp_tx.c       the transaction and its message data (smtp_tx.h)
 */
#ifndef EDSIM_SMTP_SESSION_PRIV_H
#define EDSIM_SMTP_SESSION_PRIV_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "events.h"
#include "policy.h"
#include "scenario.h"
#include "scenario_engine.h"
#include "env.h"
#include "smtp_replies.h"
#include "smtp_auth.h"
#include "store.h"
#include "smtp_tx.h"
#include "tls.h"

enum state {
	ST_TLS_HANDSHAKE, /* implicit TLS or STARTTLS handshake in progress */
	ST_COMMAND,
	ST_AUTH_PLAIN,      /* waiting for the PLAIN response */
	ST_AUTH_LOGIN_USER, /* waiting for the LOGIN user name */
	ST_AUTH_LOGIN_PASS, /* waiting for the LOGIN password */
	ST_DATA,
	ST_COMMIT, /* message handed to the store, reply pending */
	ST_WAIT,   /* a scenario rule delays the reply */
	ST_CLOSING,
};

struct session;

/* What a session's connection (smtp_conn.c) reports to the protocol. */
struct conn_events {
	void (*input)(struct session *s);     /* bytes arrived */
	void (*tls_ready)(struct session *s); /* a TLS handshake completed */
	void (*timeout)(struct session *s);   /* silent past the command timeout */
	void (*freeing)(struct session *s);   /* about to be freed: let go of what is yours */
};

/* The engine: its handles, its replies, its sessions. */
struct smtp_server {
	struct env env;
	const struct conn_events *conn_events;
	const struct cat_entry *replies[R_COUNT];
	TAILQ_HEAD(, session) sessions; /* open sessions */
	size_t nsessions;
	uint64_t next_connection;
	int draining;
	void (*drained)(void *arg);
	void *arg;
};

/* One connection. Its state says what the next input line is; the flags
 * say what the connection has been through. */
struct session {
	TAILQ_ENTRY(session) entry; /* in srv->sessions */
	struct smtp_server *srv;
	const struct env *env; /* &srv->env */
	struct bufferevent *bev;
	evutil_socket_t fd;
	enum state state;
	uint64_t id;
	char ip[64];
	bool bev_owns_fd : 1;         /* the TLS bufferevent closes fd; the plain one does not */
	bool counted : 1;             /* holds a connection slot for its IP */
	bool refused : 1;             /* over the per-IP limit: 421 instead of the greeting */
	bool implicit_tls : 1;        /* the smtps port */
	bool tls : 1;                 /* TLS is up */
	bool helo : 1;                /* EHLO or HELO seen (since the last TLS start) */
	bool authed : 1;              /* AUTH succeeded */
	bool draining : 1;            /* close with 421 4.3.0 after the current transaction */
	bool dead : 1;                /* freed as soon as the pending commit calls back */
	bool skip_line : 1;           /* discarding the rest of an over-long line */
	bool close_after_reply : 1;   /* a rule said close after the native reply */
	bool accept_auth : 1;         /* a rule accepts the credentials */
	bool resuming : 1;            /* a delayed command runs at last */
	bool trickling : 1;           /* a rule's reply leaves slowly: input waits */
	bool close_after_trickle : 1; /* and the connection closes after it */
	char user[AUTH_FIELD_MAX];
	char login_user[AUTH_FIELD_MAX];
	char helo_name[256]; /* the client's EHLO/HELO argument */
	struct transcript *transcript;
	struct evbuffer *replies; /* replies not yet handed to the bufferevent */
	const char *command;      /* verb of the command being answered */
	const char *stage;        /* scenario stage of that command: connect, ehlo, mail, ... */
	/* scenario */
	uint64_t scenario_conn;         /* this connection's number since the scenario started */
	uint64_t ncommands;             /* commands received on this connection */
	const char *line;               /* the command line being answered */
	char rule_label[48];            /* the rule that acted on the command, or "" */
	const struct rule *forced_rule; /* a delayed rule, acting now */
	struct event *resume_timer;     /* ends a delay */
	char *resume_line;              /* the delayed command */
	enum scenario_stage resume_stage;
	enum state wait_from; /* the state a rule's delay interrupted */
	struct evbuffer *trickle_buf;
	unsigned long long forced_trickle; /* bytes a second */
	struct event *trickle_timer;
	struct smtp_tx tx;
};

#define VARS(...)                                                                                  \
	((const struct cat_var[]){__VA_ARGS__}),                                                   \
	    (sizeof((const struct cat_var[]){__VA_ARGS__}) / sizeof(struct cat_var))
#define NOVARS NULL, 0

/* smtp_session.c */
void session_write_line(struct session *s, const char *line, size_t len);
void session_record_event(struct session *s, const char *type, int code, const char *text,
                          const char *message);
void session_reply_lines(struct session *s, enum smtp_reply r, const struct cat_var *vars,
                         size_t nvars_per_line, size_t nlines);
void session_reply(struct session *s, enum smtp_reply r, const struct cat_var *vars, size_t nvars);
/* A reply the engine does not name (a provider's refusal). */
void session_reply_entry(struct session *s, const struct cat_entry *e, const struct cat_var *vars,
                         size_t nvars);
void session_reset_transaction(struct session *s);
void session_send_greeting(struct session *s);
void session_read(struct session *s);
const char *session_user_label(const struct session *s);
int session_sender_refused(struct session *s, const char *address);

void session_proceed_command(struct session *s, const char *line);
void session_data_end(struct session *s);
void session_data_body(struct session *s);

/* smtp_conn.c */
/* The socket's bufferevent (TLS on the smtps port); -1 when it cannot be made. */
int session_open_conn(struct session *s, evutil_socket_t fd);
/* Hands the replies gathered so far to the socket. */
void session_flush_replies(struct session *s);
/* Closes once every reply has left. */
void session_close(struct session *s);
/* Frees the session (or marks it dead while a commit is in flight). */
void session_free(struct session *s);
/* The STARTTLS 220 has been queued: the handshake follows once it leaves. */
void session_start_tls(struct session *s);
/* Closes without sending what was about to be sent. */
void session_drop(struct session *s);
void session_unlink(struct smtp_server *ss, struct session *s);

/* smtp_session.c, for smtp_hooks.c */
void session_idle(struct session *s);

/* smtp_hooks.c */
enum hook_result {
	HOOK_NATIVE, /* no rule: native behaviour */
	HOOK_ACCEPT, /* a rule overrides the stage's native rejections */
	HOOK_DONE,   /* a rule replied (code says how) or dropped the connection */
	HOOK_WAIT,   /* a rule delays; the command runs again when the delay ends */
};

struct hook_outcome {
	enum hook_result result;
	const struct rule *rule;
	int code; /* the forced reply's code, 0 without one */
};

/* Asks the active scenario about this stage; ctx carries the stage and its
 * matchers, the session fills in counters, user and client IP. */
struct hook_outcome smtp_hook(struct session *s, struct hook_ctx *ctx, int defer_success);
/* With defer_success, a forced reply below 400 is not sent: the caller
 * sends it with smtp_hook_send() once its work is done (data-end: after the
 * commit). */
int smtp_hook_send(struct session *s, const struct rule *r, const struct hook_ctx *ctx);
void smtp_hook_cancel(struct session *s);
/* Implicit TLS, before the handshake: 1 when a connect rule makes it fail. */
int smtp_hook_before_tls(struct session *s);
/* The scenario is about to change: forget every rule of the old one. */
void smtp_hook_scenario_changed(struct session *s);

#endif
