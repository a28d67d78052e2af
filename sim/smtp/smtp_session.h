/*
 * smtp_session.h - the SMTP engine: its sessions, one per connection, from
 * greeting to close.
 *
 * The composition root makes one smtp_server with the handles it uses
 * (env.h) and the catalog-id prefix of the running profile; it hands every
 * accepted socket to smtp_accept(). The engine owns its sessions and tells
 * the root through drained() when a drain has closed the last one.
 */
#ifndef EDSIM_SMTP_SESSION_H
#define EDSIM_SMTP_SESSION_H

#include <event2/util.h>
#include <stddef.h>

#include "env.h"

struct sockaddr;
struct smtp_server;

/* Looks up every reply the engine uses in env's catalog, as the profile's
 * reply prefix + the reply's name ("oci.smtp." + "greeting") unless the
 * profile names it otherwise; NULL with err naming a missing id. drained(arg) is called when a
 * drain has closed the last session. */
struct smtp_server *smtp_server_new(const struct env *env, void (*drained)(void *arg), void *arg,
                                    char *err, size_t errlen);
/* Closes what is left without a word and frees the engine. */
void smtp_server_free(struct smtp_server *ss);
/* Takes over an accepted socket. implicit_tls: the smtps port. */
void smtp_accept(struct smtp_server *ss, evutil_socket_t fd, const struct sockaddr *sa,
                 int implicit_tls);
/* Open sessions. */
size_t smtp_server_sessions(const struct smtp_server *ss);
/* Shutdown: 421 4.3.0 now to idle sessions, after the transaction in
 * progress to busy ones. */
void smtp_server_drain(struct smtp_server *ss);
/* Shutdown deadline passed: 421 4.3.0 and close, whatever the state. */
void smtp_server_abort(struct smtp_server *ss);
/* The active scenario is about to change (its rules will be freed). */
void smtp_server_scenario_changed(struct smtp_server *ss);

#endif
