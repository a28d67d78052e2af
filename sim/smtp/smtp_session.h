/*
 * smtp_session.h - one SMTP connection, from greeting to close.
 */
#ifndef EDSIM_SMTP_SESSION_H
#define EDSIM_SMTP_SESSION_H

#include <event2/util.h>
#include <stddef.h>

struct server;
struct sockaddr;
struct session;

/* Looks up every reply the engine uses in the catalog; -1 names the missing id. */
int smtp_resolve_replies(struct server *srv, char *err, size_t errlen);
/* Takes over an accepted socket. implicit_tls: the smtps port. */
void smtp_session_start(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
                        int implicit_tls);
/* Shutdown: 421 4.3.0 now when idle, or after the transaction in progress. */
void smtp_session_drain(struct session *s);
/* Shutdown deadline passed: 421 4.3.0 and close, whatever the state. */
void smtp_session_abort(struct session *s);
struct session *smtp_session_next(struct session *s);
/* The active scenario is about to change (its rules will be freed). */
void smtp_session_scenario_changed(struct session *s);

#endif
