/*
 * server.h - the server context: everything that lives for the whole run.
 *
 * There is no global mutable state: the event loop, configuration, catalog,
 * TLS, store, policy counters, events and the list of sessions all
 * hang off struct server, which main() owns.
 */
#ifndef EDSIM_SERVER_H
#define EDSIM_SERVER_H

#include <event2/event.h>
#include <event2/listener.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"
#include "events.h"
#include "policy.h"
#include "store.h"
#include "tls.h"

struct rule_do;

/* Every reply the SMTP engine sends natively, by catalog id. */
#define SMTP_REPLIES(X)                                                                            \
	X(R_GREETING, "oci.smtp.greeting")                                                         \
	X(R_EHLO_OK, "oci.smtp.ehlo-ok")                                                           \
	X(R_HELO_OK, "oci.smtp.helo-ok")                                                           \
	X(R_MAIL_OK, "oci.smtp.mail-ok")                                                           \
	X(R_RCPT_OK, "oci.smtp.rcpt-ok")                                                           \
	X(R_DATA_GO, "oci.smtp.data-go")                                                           \
	X(R_ACCEPTED, "oci.smtp.accepted")                                                         \
	X(R_RSET_OK, "oci.smtp.rset-ok")                                                           \
	X(R_NOOP_OK, "oci.smtp.noop-ok")                                                           \
	X(R_BYE, "oci.smtp.bye")                                                                   \
	X(R_STARTTLS_GO, "oci.smtp.starttls-go")                                                   \
	X(R_AUTH_OK, "oci.smtp.auth-ok")                                                           \
	X(R_AUTH_CHALLENGE, "oci.smtp.auth-challenge")                                             \
	X(R_AUTH_CANCELLED, "oci.smtp.auth-cancelled")                                             \
	X(R_TLS_REQUIRED, "oci.smtp.tls-required")                                                 \
	X(R_ALREADY_AUTHENTICATED, "oci.smtp.already-authenticated")                               \
	X(R_BAD_SEQUENCE, "oci.smtp.bad-sequence")                                                 \
	X(R_UNKNOWN_COMMAND, "oci.smtp.unknown-command")                                           \
	X(R_SYNTAX_ERROR, "oci.smtp.syntax-error")                                                 \
	X(R_LINE_TOO_LONG, "oci.smtp.line-too-long")                                               \
	X(R_NOT_IMPLEMENTED, "oci.smtp.not-implemented")                                           \
	X(R_PARAM_UNSUPPORTED, "oci.smtp.param-unsupported")                                       \
	X(R_TOO_MANY_RECIPIENTS, "oci.smtp.too-many-recipients")                                   \
	X(R_TLS_UNAVAILABLE, "oci.smtp.tls-unavailable")                                           \
	X(R_TLS_ALREADY, "oci.smtp.tls-already")                                                   \
	X(R_SUPPRESSED, "oci.smtp.suppressed")                                                     \
	X(R_TIMEOUT, "oci.smtp.timeout")                                                           \
	X(R_TOO_MANY_CONNECTIONS, "oci.smtp.too-many-connections")                                 \
	X(R_TOO_MANY_AUTH_FAILURES, "oci.smtp.too-many-auth-failures")                             \
	X(R_MAIL_SYSTEM_FAILURE, "oci.smtp.mail-system-failure")                                   \
	X(R_STORAGE_ERROR, "oci.smtp.storage-error")                                               \
	X(R_RATE_MINUTE, "oci.smtp.rate-minute")                                                   \
	X(R_RATE_DAY, "oci.smtp.rate-day")                                                         \
	X(R_AUTH_BAD_BASE64, "oci.smtp.auth-bad-base64")                                           \
	X(R_AUTH_NO_NUL, "oci.smtp.auth-no-nul")                                                   \
	X(R_AUTH_NO_SECOND_NUL, "oci.smtp.auth-no-second-nul")                                     \
	X(R_NEED_RCPT, "oci.smtp.need-rcpt")                                                       \
	X(R_AUTH_METHOD_UNSUPPORTED, "oci.smtp.auth-method-unsupported")                           \
	X(R_AUTH_MECHANISM_MISMATCH, "oci.smtp.auth-mechanism-mismatch")                           \
	X(R_SIZE_EXCEEDED, "oci.smtp.size-exceeded")                                               \
	X(R_AUTH_INVALID, "oci.smtp.auth-invalid")                                                 \
	X(R_AUTH_REQUIRED, "oci.smtp.auth-required")                                               \
	X(R_SENDER_NOT_AUTHORIZED, "oci.smtp.sender-not-authorized")                               \
	X(R_INVALID_ADDRESS, "oci.smtp.invalid-address")                                           \
	X(R_PARSE_ERROR, "oci.smtp.parse-error")

#define SMTP_REPLY_ENUM(name, id) name,
enum smtp_reply { SMTP_REPLIES(SMTP_REPLY_ENUM) R_COUNT };

struct session;
struct control_api;
struct https_api;
struct relay;
struct dkim;
struct webhooks;

struct server {
	struct event_base *base;
	struct config *cfg;            /* in force: base, the scenario's settings, rules' set */
	const struct config *base_cfg; /* as edsim started */
	double clock_speed;            /* the scenario's virtual clock */
	double clock_origin_real, clock_origin_virtual;
	struct catalog catalog;
	const struct cat_entry *replies[R_COUNT];
	struct tls *tls; /* its SSL_CTX made on first use: tls_context() */
	struct store *store;
	struct policy *policy;
	struct engine *engine; /* the active scenario, if any */
	struct events *events;
	struct evconnlistener *smtp_listener;
	struct evconnlistener *smtps_listener;
	struct control_api *control;
	struct https_api *https;
	struct relay *relay;       /* the queue behind the store (mailflow.c) */
	struct dkim *dkim;         /* NULL without dkim keys */
	struct webhooks *webhooks; /* NULL without webhooks */
	struct session *sessions;  /* open sessions, a doubly linked list */
	size_t nsessions;
	uint64_t next_connection;
	int draining;
	double started; /* clock_now() at start */
	struct event *sigterm, *sigint, *drain_timer, *flush_timer;
	char ready_path[4096];
	int smtp_port, smtps_port, https_port, control_port; /* as bound (0: not listening) */
};

/* Builds everything and binds the listeners; nothing is served before
 * server_run(). Returns -1 with a message in err. */
int server_init(struct server *srv, struct config *cfg, const char *scenario_file, char *err,
                size_t errlen);
struct scenario;
/* Parses a scenario against the server's catalog (NULL and *errors on failure). */
struct scenario *server_load_scenario(struct server *srv, const char *file, const char *text,
                                      size_t len, char **errors);
int server_run(struct server *srv);
void server_free(struct server *srv);
/* Makes sc (or none) the active scenario with its settings and clock;
 * -1 with *errors when its settings do not apply (the old one stays). */
int server_use_scenario(struct server *srv, struct scenario *sc, char **errors);
/* POST /api/v1/reset: the active scenario starts afresh (its settings
 * without any rule's set, its counters at zero). */
int server_restart_scenario(struct server *srv);
/* What a rule does besides answering, in every front end: its `set` lays
 * settings over the configuration in force, its `use_quota` counts messages
 * against user's quotas (NULL: the anonymous user). */
void server_apply_effects(struct server *srv, const struct rule_do *act, const char *user);
/* The virtual clock (seconds, monotonic): real time times the scenario's speed. */
double server_now(const struct server *srv);
/* Called by a session when it is freed, so a drain can finish. */
void server_session_gone(struct server *srv);

#endif
